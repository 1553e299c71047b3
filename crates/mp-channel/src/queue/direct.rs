//! [`Direct`]: where an unbounded [`Queue`](crate::Queue)'s `put` encodes
//! an item — this thread's encode buffer, and for a large item (from
//! [`LARGE`] bytes of encoding on) straight into the ring, so that its
//! bytes are copied once instead of into the buffer and then again.
//!
//! The encoding goes into the buffer first. When it is about to pass
//! [`LARGE`] bytes, and the straight write is allowed (nothing this
//! process put waits in its feeder), the writer lock is free, and the ring
//! has room, the sink takes the writer lock, copies what it has into a
//! record begun at `tail`, and writes the rest there as the item's
//! `Serialize` produces it. At the end the record is published as a whole
//! message, unless one of these says otherwise, in which case the bytes
//! are copied back out into the buffer (the lock released unpublished) and
//! `put` goes on as for any encoded item (buffered for the feeder):
//! - the ring runs out of room before the encoding ends;
//! - the item carries fds (they go out before the record, see `core`);
//! - this process has buffered an item meanwhile: a `Serialize` that puts
//!   on the same queue (its `put` finds the writer lock taken, by us, and
//!   buffers), or another thread's `put`. The item written in place must
//!   then not be published ahead of it: `put` keeps the order in which
//!   items of one process reach the ring, as when the item was encoded
//!   first and written after.
//!
//! While the record is open, the rest of the item's `Serialize` runs
//! holding the writer lock; nothing is published until it returns. A
//! `Serialize` that panics or fails leaves the record unpublished (the
//! lock is released as the sink drops), and a process killed meanwhile
//! leaves it as a dead writer's bytes beyond `tail`, which nobody reads
//! (see `ring`). Other producers of the queue wait for the lock meanwhile
//! (another process's unbounded `put` buffers instead), as they wait for
//! any large item's copy; so a `Serialize` that waits for another
//! producer's item on this queue (a `get` inside it) would wait for ever.

use mp_wire::{Message, Sink};

use super::core::{Core, Writer};
use super::ring::LARGE;
use super::scratch;

/// A record open in the ring: the lock, where it starts, payload bytes
/// written, and payload bytes it can hold.
struct Open<'a> {
    writer: Writer<'a>,
    at: u64,
    len: u64,
    room: u64,
}

/// See the module docs.
pub(crate) struct Direct<'a> {
    core: &'a Core,
    /// The encoding while it is not in the ring (and the fds, at the end).
    pub(crate) msg: Message,
    open: Option<Open<'a>>,
    /// Whether the item may go into the ring now.
    may_write: bool,
}

impl<'a> Direct<'a> {
    /// A sink on this thread's encode buffer; `may_write`: whether the item
    /// may be written straight into the ring (nothing of this process
    /// waits in its feeder).
    #[inline]
    pub(crate) fn new(core: &'a Core, may_write: bool) -> Direct<'a> {
        Direct {
            core,
            msg: Message::from_bytes(scratch::encode_buffer()),
            open: None,
            may_write,
        }
    }

    /// After the encoding: publishes the record written in place if it may
    /// (`fds` is empty and `still_may_write()` says nothing of this process
    /// was buffered meanwhile) and returns `true`; otherwise leaves the
    /// whole encoding, with `fds`, in [`msg`](Self::msg).
    #[inline]
    pub(crate) fn finish(
        &mut self,
        fds: Vec<std::os::fd::OwnedFd>,
        still_may_write: impl FnOnce() -> bool,
    ) -> bool {
        if let Some(open) = self.open.take() {
            if fds.is_empty() && still_may_write() {
                open.writer.publish_in_place(open.at, open.len);
                return true;
            }
            self.open = Some(open);
            self.take_back();
        }
        // Moved only if there are some: the move of an empty `Vec` just
        // returned through memory was a store-forwarding stall per item.
        if !fds.is_empty() {
            self.msg.fds = fds;
        }
        false
    }

    /// Opens a record in the ring for an encoding of `bytes.len()` more
    /// bytes than the buffer holds, copying the buffer into it; returns
    /// whether it did (if not, the item stays in the buffer for good).
    #[cold]
    fn open(&mut self, more: usize) -> bool {
        self.may_write = false;
        let Some(writer) = self.core.try_lock_writer() else {
            return false;
        };
        let ring = writer.ring();
        let Some((at, room)) = ring.in_place_room() else {
            return false;
        };
        let len = self.msg.bytes.len() as u64;
        if len + more as u64 > room {
            return false;
        }
        ring.write_payload(at, 0, &self.msg.bytes);
        self.msg.bytes.clear();
        self.open = Some(Open {
            writer,
            at,
            len,
            room,
        });
        true
    }

    /// Copies the open record's bytes back into the buffer and releases the
    /// writer lock without publishing them.
    #[cold]
    fn take_back(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let bytes = &mut self.msg.bytes;
        bytes.clear();
        open.writer
            .ring()
            .append_payload(open.at, 0, open.len, bytes);
        self.may_write = false;
    }

    /// Appends to the open record if it has room (looking at the ring's
    /// free space again first if not); returns whether it did.
    #[inline]
    fn append_in_ring(&mut self, bytes: &[u8]) -> bool {
        let Some(open) = &mut self.open else {
            return false;
        };
        let n = bytes.len() as u64;
        if open.len + n > open.room {
            let room = open
                .writer
                .ring()
                .in_place_room()
                .map_or(0, |(_, room)| room);
            if open.len + n > room {
                return false;
            }
            open.room = room;
        }
        open.writer.ring().write_payload(open.at, open.len, bytes);
        open.len += n;
        true
    }
}

impl Sink for Direct<'_> {
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        if self.open.is_some() {
            if self.append_in_ring(bytes) {
                return;
            }
            self.take_back();
        } else if self.may_write
            && (self.msg.bytes.len() + bytes.len()) as u64 >= LARGE
            && self.open(bytes.len())
        {
            self.append_in_ring(bytes);
            return;
        }
        Sink::append(&mut self.msg.bytes, bytes);
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        if self.open.is_none() && self.msg.bytes.len() + 1 < LARGE as usize {
            self.msg.bytes.push(byte);
        } else {
            self.append(&[byte]);
        }
    }
}
