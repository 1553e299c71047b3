//! Per-thread buffers that a queue's `put` and a connection's `send`
//! encode into and a queue's `get` reads into (unless the item is small:
//! see `queue::direct` and `Core::read_item`), so that moving an item
//! allocates nothing once the buffers have grown (a fresh allocation per
//! item cost small items a `malloc` and a `free` each, and large ones a
//! page fault per 4 KiB on both sides).
//!
//! A buffer is taken out of its thread-local slot for the duration of a
//! call and put back after, so a `Serialize` or `Deserialize` impl that
//! uses a queue itself just gets an empty one. Buffers larger than
//! [`KEEP`] are not kept: one huge item does not pin its size for the life
//! of the thread.

use std::cell::Cell;

use mp_wire::{EncodeError, Message};
use serde::Serialize;

/// The largest buffer kept for the next item (4 MiB: a few of the default
/// ring's sizes).
const KEEP: usize = 4 << 20;

thread_local! {
    static ENCODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static READ: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Encodes `item` into `msg` (the caller's, empty), whose bytes become
/// this thread's encode buffer; hand them back with [`recycle`] once
/// written. In place: a `Message` returned by value cost a small item's
/// `put` store-forwarding stalls at every layer it was moved through.
#[inline]
pub(crate) fn encode<T: Serialize + ?Sized>(
    item: &T,
    msg: &mut Message,
) -> Result<(), EncodeError> {
    msg.bytes = ENCODE.take();
    mp_wire::encode_to(item, msg)
}

/// This thread's encode buffer (empty; hand it back with [`recycle`]).
#[inline]
pub(crate) fn encode_buffer() -> Vec<u8> {
    let mut buf = ENCODE.take();
    buf.clear();
    buf
}

/// Keeps `bytes` (an encoded item that was written) as this thread's
/// encode buffer, unless it is too large to keep or smaller than the one
/// there.
#[inline]
pub(crate) fn recycle(bytes: Vec<u8>) {
    // An empty `Vec` (a small item's encoding stayed on the stack) is
    // nothing to keep: no thread-local touched.
    if bytes.capacity() > 0 && worth_keeping(&bytes) {
        ENCODE.with(|slot| {
            let kept = slot.take();
            slot.set(if kept.capacity() > bytes.capacity() {
                kept
            } else {
                bytes
            });
        });
    }
}

/// Whether a used buffer is small enough to keep for the next item.
#[inline]
pub(crate) fn worth_keeping(buf: &Vec<u8>) -> bool {
    buf.capacity() <= KEEP
}

/// Runs `f` with this thread's read buffer. Its length is the largest it
/// has been (never less than its contents need): readers overwrite it in
/// place, and only growth pays for zeroing. Inlined, so that `f`'s result
/// is not returned through memory (a stall per small item).
#[inline]
pub(crate) fn with_read_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = READ.take();
    let result = f(&mut buf);
    if buf.capacity() <= KEEP {
        READ.set(buf);
    }
    result
}
