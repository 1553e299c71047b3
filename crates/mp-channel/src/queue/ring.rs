//! The shared-memory ring under every queue: variable-length records in a
//! memfd, positions and futex words in its header.
//!
//! # Words (header of the region)
//! Each group sits on a cache line of its own, so the producer's and the
//! consumer's stores do not bounce one line between CPUs.
//!
//! | offset | word | type | meaning |
//! |--------|------|------|---------|
//! | 0   | `head` | u64 | bytes consumed since creation (consumers, under the reader lock) |
//! | 8   | `seen_tail` | u64 | a `tail` the consumers saw, `<= tail` (under the reader lock) |
//! | 16  | `gets` | u64 | items got since creation |
//! | 64  | `tail` | u64 | bytes published since creation (producers, under the writer lock) |
//! | 72  | `seen_head` | u64 | a `head` the producers saw, `<= head` (under the writer lock) |
//! | 128 | `puts` | u64 | items put (reserved) since creation; `qsize() = puts - gets` |
//! | 192 | `data` | 2×u32 | eventcount (`seq`, `waiters`): consumers wait on it for data |
//! | 256 | `space` | 2×u32 | eventcount: producers wait on it for space or a slot |
//! | 320 | `unfinished` | u32 | `JoinableQueue` tasks not yet `task_done()` |
//! | 324 | `all_done` | 2×u32 | eventcount: `JoinableQueue::join` waits on it for `unfinished == 0` |
//! | 384.. | data | | `cap` bytes, a power of two; positions are taken modulo `cap` |
//!
//! `seen_head` and `seen_tail` spare each side a read of the other's line
//! per record: `head` and `tail` only grow, so a stale copy only
//! under-estimates the free space or the data, and is refreshed then.
//!
//! # Records
//! An 8-byte header — payload length (`u32` LE) and flags (`u32` LE:
//! [`FIRST`], [`LAST`], [`FDS`]) — then the payload, padded to 8 bytes. A
//! message is one record flagged `FIRST | LAST`, or, if larger than the
//! ring has room for, a run of chunks from `FIRST` to `LAST` written under
//! the writer lock, so runs never interleave. A record may wrap around the
//! end of the data area.
//!
//! # Publication and wake-ups
//! A producer copies a record in, then publishes it with one `SeqCst` store
//! of `tail`: a record is never visible half-written, so a producer killed
//! mid-copy leaves nothing behind. Sleepers use mp-sync's [`EventCount`]
//! (register, re-check the condition, sleep); the other side changes the
//! condition with a `SeqCst` write, then notifies, which makes a system
//! call only if someone is registered. mp-sync's loom models check this
//! protocol, on a one-slot ring.

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

use mp_shm::Region;
use mp_sync::EventCount;
use serde::{Deserialize, Serialize};

use crate::reader::Deadline;

/// The payload of this record starts a message.
pub(crate) const FIRST: u32 = 1;
/// The payload of this record ends a message.
pub(crate) const LAST: u32 = 2;
/// The message carries fds, waiting on the queue's side socket.
pub(crate) const FDS: u32 = 4;

/// Bytes of a record header.
pub(crate) const RECORD_HEADER: u64 = 8;
/// Records up to this many bytes are quick enough to copy that waiting for
/// space for one is worth a spin.
pub(crate) const SPIN_MAX_BYTES: u64 = 4096;
/// Checks of a condition before a waiter sleeps (about 5 µs of spinning,
/// the price of a sleep and a wake-up).
const SPINS: u32 = 200;
/// Offset of the data area.
const DATA: usize = 384;

/// A ring in shared memory; cloning or sending it shares the same ring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ring {
    region: Region,
}

/// Rounds `n` up to a multiple of 8.
pub(crate) fn pad(n: u64) -> u64 {
    (n + 7) & !7
}

impl Ring {
    /// A new empty ring whose data area is `cap` bytes (rounded up to a
    /// power of two, at least 4 KiB).
    pub(crate) fn new(cap: usize) -> io::Result<Ring> {
        let cap = cap.max(4096).next_power_of_two();
        let region = Region::create("mp-queue", DATA + cap)?;
        Ok(Ring { region })
    }

    /// Bytes in the data area.
    pub(crate) fn cap(&self) -> u64 {
        (self.region.len() - DATA) as u64
    }

    fn u64_at(&self, off: usize) -> &AtomicU64 {
        self.region
            .atomic_u64(off)
            .expect("header words are in bounds")
    }

    fn u32_at(&self, off: usize) -> &AtomicU32 {
        self.region
            .atomic_u32(off)
            .expect("header words are in bounds")
    }

    pub(crate) fn head(&self) -> &AtomicU64 {
        self.u64_at(0)
    }
    fn seen_tail(&self) -> &AtomicU64 {
        self.u64_at(8)
    }
    fn gets(&self) -> &AtomicU64 {
        self.u64_at(16)
    }
    pub(crate) fn tail(&self) -> &AtomicU64 {
        self.u64_at(64)
    }
    fn seen_head(&self) -> &AtomicU64 {
        self.u64_at(72)
    }
    fn puts(&self) -> &AtomicU64 {
        self.u64_at(128)
    }
    fn eventcount_at(&self, off: usize) -> EventCount<'_> {
        // The last word first: its bounds check implies the other's.
        let waiters = self.u32_at(off + 4);
        EventCount::new(self.u32_at(off), waiters)
    }
    /// Consumers wait here for data.
    fn data(&self) -> EventCount<'_> {
        self.eventcount_at(192)
    }
    /// Producers wait here for space or a slot.
    fn space(&self) -> EventCount<'_> {
        self.eventcount_at(256)
    }
    /// `JoinableQueue`'s unfinished-task count.
    pub(crate) fn unfinished(&self) -> &AtomicU32 {
        self.u32_at(320)
    }
    /// `JoinableQueue::join` waits here for [`unfinished`](Self::unfinished)
    /// to reach zero.
    pub(crate) fn all_done(&self) -> EventCount<'_> {
        self.eventcount_at(324)
    }

    /// Items put (reserved) and not yet got: `qsize()`.
    pub(crate) fn size(&self) -> u64 {
        let gets = self.gets().load(SeqCst);
        let puts = self.puts().load(SeqCst);
        // Negative only while a failed put is being given back.
        (puts.wrapping_sub(gets) as i64).max(0) as u64
    }

    /// Counts an item put.
    pub(crate) fn count_put(&self) {
        self.puts().fetch_add(1, SeqCst);
    }

    /// Counts an item put if fewer than `max` are in the queue.
    pub(crate) fn try_count_put(&self, max: u64) -> bool {
        self.puts()
            .fetch_update(SeqCst, SeqCst, |p| {
                let gets = self.gets().load(SeqCst);
                (p.wrapping_sub(gets) < max).then_some(p.wrapping_add(1))
            })
            .is_ok()
    }

    /// Takes back the count of a put that failed, and wakes producers
    /// waiting for a slot.
    pub(crate) fn uncount_put(&self) {
        self.puts().fetch_sub(1, SeqCst);
        self.wake_producers();
    }

    /// Counts an item got, and wakes producers waiting for a slot. (Every
    /// item is counted as put before it is written, so `gets` stays at or
    /// below `puts` without reading the producers' line.)
    pub(crate) fn count_get(&self) {
        self.gets().fetch_add(1, SeqCst);
        self.wake_producers();
    }

    /// Bytes free for a producer (holding the writer lock) — at least
    /// `need` if that many are free.
    pub(crate) fn free_for(&self, need: u64) -> u64 {
        let tail = self.tail().load(SeqCst);
        let free = |head: u64| self.cap().saturating_sub(tail.wrapping_sub(head));
        let seen = self.seen_head().load(SeqCst);
        if free(seen) >= need {
            return free(seen);
        }
        let head = self.head().load(SeqCst);
        self.seen_head().store(head, SeqCst);
        free(head)
    }

    /// Whether no record is published.
    pub(crate) fn is_empty(&self) -> bool {
        self.tail().load(SeqCst) == self.head().load(SeqCst)
    }

    /// Copies `bytes` into the data area at ring position `pos`, wrapping.
    fn write_at(&self, pos: u64, bytes: &[u8]) {
        let cap = self.cap();
        let off = (pos % cap) as usize;
        let first = bytes.len().min(cap as usize - off);
        let ok = self.region.write(DATA + off, &bytes[..first]).is_ok()
            && self.region.write(DATA, &bytes[first..]).is_ok();
        debug_assert!(ok, "ring writes stay inside the data area");
    }

    /// Copies from ring position `pos` into `buf`, wrapping.
    fn read_at(&self, pos: u64, buf: &mut [u8]) {
        let cap = self.cap();
        let off = (pos % cap) as usize;
        let first = buf.len().min(cap as usize - off);
        let (a, b) = buf.split_at_mut(first);
        let ok = self.region.read(DATA + off, a).is_ok() && self.region.read(DATA, b).is_ok();
        debug_assert!(ok, "ring reads stay inside the data area");
    }

    /// Producer, holding the writer lock: writes one record at `tail` if it
    /// fits and publishes it. Returns whether it was written.
    pub(crate) fn push(&self, payload: &[u8], flags: u32) -> bool {
        let need = RECORD_HEADER + pad(payload.len() as u64);
        if need > self.free_for(need) {
            return false;
        }
        let tail = self.tail().load(SeqCst);
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        header[4..].copy_from_slice(&flags.to_le_bytes());
        self.write_at(tail, &header);
        self.write_at(tail + RECORD_HEADER, payload);
        self.tail().store(tail + need, SeqCst);
        self.data().notify_all();
        true
    }

    /// Consumer, holding the reader lock: takes the record at `head`,
    /// appending its payload to `out`; returns its flags and start position.
    ///
    /// A header that cannot be right (length beyond the published bytes)
    /// means the ring is corrupt: everything published is dropped and the
    /// record is reported with flags 0, so callers skip it.
    pub(crate) fn pop(&self, out: &mut Vec<u8>) -> Option<(u32, u64)> {
        let head = self.head().load(SeqCst);
        let mut tail = self.seen_tail().load(SeqCst);
        if tail.wrapping_sub(head) as i64 <= 0 {
            tail = self.tail().load(SeqCst);
            if head == tail {
                return None;
            }
            self.seen_tail().store(tail, SeqCst);
        }
        let mut header = [0u8; 8];
        self.read_at(head, &mut header);
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let flags = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let need = RECORD_HEADER + pad(len);
        if need > tail.wrapping_sub(head) {
            self.advance(tail);
            return Some((0, head));
        }
        let start = out.len();
        out.resize(start + len as usize, 0);
        self.read_at(head + RECORD_HEADER, &mut out[start..]);
        self.advance(head + need);
        Some((flags, head))
    }

    /// Moves `head` to `to` and wakes producers waiting for space.
    fn advance(&self, to: u64) {
        self.head().store(to, SeqCst);
        self.wake_producers();
    }

    /// Wakes producers waiting for space or a slot, if any sleep.
    pub(crate) fn wake_producers(&self) {
        self.space().notify_all();
    }

    /// Waits until `ready()` holds (`true`) or the deadline passes
    /// (`false`), sleeping on the `data` (consumers) or `space` (producers)
    /// eventcount.
    /// With `spin`, looks again for a few microseconds first: worth it when
    /// the other side is about to publish a small record, harmful (it takes
    /// a CPU from the other side's copy) when that is a large one.
    pub(crate) fn wait_until(
        &self,
        consumer: bool,
        spin: bool,
        deadline: Deadline,
        ready: impl Fn() -> bool,
    ) -> bool {
        // The other side is usually a few hundred nanoseconds away on
        // another CPU: look again for a while before paying for a sleep.
        for _ in 0..if spin { SPINS } else { 0 } {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        let ec = if consumer { self.data() } else { self.space() };
        ec.wait_until(deadline.remaining(), ready)
    }
}
