//! The shared-memory ring under every queue: variable-length records in a
//! memfd, positions and futex words in its header.
//!
//! # Words (header of the region)
//! Each group sits on a cache line of its own, so the producer's and the
//! consumer's stores do not bounce one line between CPUs.
//!
//! | offset | word | type | meaning |
//! |--------|------|------|---------|
//! | 0   | `head` | u64 | bytes consumed since creation (consumers, each change a compare-and-swap, [`claim`](Ring::claim)) |
//! | 8   | `seen_tail` | u64 | a `tail` a consumer saw, `<= tail` |
//! | 64  | `tail` | u64 | bytes published since creation (producers, under the writer lock) |
//! | 72  | `seen_head` | u64 | a `head` the producers saw, `<= head` (under the writer lock) |
//! | 80  | `next_tail` | u64 | journal: the `tail` a producer is committing |
//! | 88  | `next_puts` | u64 | journal: the `puts` that goes with it |
//! | 96  | `abort` | u64 | 1: a producer died holding the writer lock; the next record written is [`ABORT`] |
//! | 104 | `seen_first` | u64 | `puts` less the count a producer last saw: never past the number of the message at `head` (under the writer lock; a bounded queue's slot check, [`has_slot`](Ring::has_slot)) |
//! | 128 | `puts` | u64 | messages published since creation (under the writer lock) |
//! | 192 | `data` | 2×u32 | eventcount (`seq`, `waiters`): consumers wait on it for data |
//! | 256 | `space` | 2×u32 | eventcount: producers wait on it for space or a slot |
//! | 264 | `space_wanted` | u64 | free bytes a sleeping producer waits for (the most any wants; 0: none asked since the last wake-up) |
//! | 320 | `done` | u64 | `JoinableQueue` tasks marked done; unfinished = `puts - done` |
//! | 328 | `all_done` | 2×u32 | eventcount: `JoinableQueue::join` waits on it for `done == puts` |
//! | 384.. | data | | `cap` bytes, a power of two; positions are taken modulo `cap` |
//!
//! `seen_head` and `seen_tail` spare each side a read of the other's line
//! per record: `head` and `tail` only grow, so a stale copy only
//! under-estimates the free space or the data, and is refreshed then.
//!
//! # Records
//! An 8-byte header — payload length (`u32` LE) and a flags word (`u32`
//! LE: the flags [`FIRST`], [`LAST`], [`FDS`], [`ABORT`] in its low 4 bits,
//! above them the record's *message number*, see "Counting") — then the
//! payload, padded to 8 bytes. A message is one record flagged `FIRST | LAST`, or, if larger
//! than the ring has room for, a run of chunks from `FIRST` to `LAST`
//! written under the writer lock, so runs never interleave. A record may
//! wrap around the end of the data area.
//!
//! # Counting: nothing leaks when a process dies
//! A message is counted where it becomes visible and where it is removed,
//! never before: the producer that publishes a `LAST` record raises
//! `puts`, under the writer lock, and every record a producer writes
//! carries the number of its message: `puts` before that message is
//! counted (modulo 2^28; a ring holds at most [`MAX_CAP`] bytes, so fewer
//! records). A consumer removes a record with one compare-and-swap of
//! `head` ([`claim`](Ring::claim)), and that is all it changes: `qsize()`
//! is `puts` less the number of the message at `head` (0 if nothing is
//! published), so a message counts until its `LAST` record is taken, or
//! skipped ([`size`](Ring::size)). There is no reservation held outside a
//! lock or a single atomic change, so a process killed anywhere holds
//! nothing.
//!
//! Under the writer lock, the commit of a `LAST` record moves two words
//! (`puts` and `tail`); it first writes both new values to the journal
//! words, then stores them, the position last, each a `Release` store (a
//! `mov` on x86): a process killed between two of them has made visible
//! exactly those before the kill, in program order, whatever their
//! ordering; the `Release` keeps that order for the other processes'
//! loads that run meanwhile. The next holder of the lock is told by
//! mp-sync that the previous one died ([`OwnerDied`]), and calls
//! [`repair_writer`](Ring::repair_writer): a journal ahead of `tail` is a
//! commit cut short, which is completed (the record was written whole
//! before the journal). Any other record the dead producer left
//! unpublished is ignored, as it lies beyond `tail`; the chunks of a
//! message it had begun are dropped by consumers when they reach the
//! [`ABORT`] record the next writer puts first.
//!
//! # Consumers
//! A whole message of one small record without fds is taken without the
//! reader lock, by whichever consumer claims it first: it copies the
//! record out, then claims it; a claim that fails (another consumer took
//! it, and the producer may have reused its bytes) takes nothing, and the
//! copy is dropped unread ([`pop_small`](Ring::pop_small)). Everything
//! else — chunks, fds, larger records, `ABORT`s, waiting for data — is
//! read under the reader lock, still claimed record by record: the lock
//! keeps a chunked message's reader alone with it, and a consumer that
//! holds it while it waits for data is not passed by one without it
//! ([`Core::take_small`](super::core::Core::take_small) looks at the lock
//! first). A consumer killed in the middle of a message leaves chunks
//! without `FIRST`, which the next consumer skips; there is nothing to
//! repair.
//!
//! # Publication and wake-ups
//! A producer copies a record in, then publishes it with one store of
//! `tail`: a record is never visible half-written. Sleepers use mp-sync's
//! [`EventCount`] (register, re-check the condition, sleep); the other
//! side changes the condition, then notifies, which makes a system call
//! only if someone is registered.
//!
//! A whole message (its `LAST` record) is published with a `Release` store
//! of `tail`; the producer looks for sleeping consumers only after
//! releasing the writer lock ([`wake_consumer`](Ring::wake_consumer)). A
//! consumer about to sleep registers, then orders itself with the writer
//! lock's release ([`Lock::order_with_unlock`], passed to
//! [`wait_until`](Ring::wait_until)), then looks at its condition.
//!
//! The writer lock is asymmetric ([`Lock::new_asymmetric`]): in a process
//! the kernel lets take part, a producer releases it with a plain store
//! (`Lock::release_asymmetric`), and its look at the waiters that follows
//! is ordered with that store (and with `tail`'s before it) for the
//! compiler only. The consumer's `order_with_unlock` makes the heavy side
//! of the fence, `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`
//! ([`mp_sys::membarrier`]): every running thread of the producers'
//! processes passes a full barrier before it returns, so either the
//! producer's stores reached memory first and the consumer's look sees
//! `tail`, or the producer's look at the waiters comes after the barrier,
//! after the registration, and wakes it. The kernel's barrier can miss a
//! producer's CPU for a while after the producer's process registered
//! (`mp_sys::membarrier` says when); a publication racing the
//! registration then neither shows nor wakes, so the consumer's first
//! sleep is at most the lock's [`settle`](Lock::settle) (1 ms) and it looks
//! again under the same registration, where the publication shows. A producer in a process that
//! could not register releases with a swap, a read-modify-write, and
//! `order_with_unlock` makes one too (a no-op on the lock word), so
//! there either that one follows the release in the word's order and
//! synchronizes with it, or precedes it and synchronizes the other way:
//! the language's memory model, not the kernel's barrier. Producers
//! sleeping for the writer lock itself make the same heavy fence after they
//! register (mp-sync). The swap the plain store replaces was a sixth of a
//! small item's time on one CPU, more across two.
//!
//! The other way round, a consumer's claim is itself a read-modify-write
//! of `head`, after which it looks for sleeping producers
//! ([`wake_producers`](Ring::wake_producers)); a producer about to sleep
//! registers, makes a no-op read-modify-write of `head`
//! ([`order_with_claims`](Ring::order_with_claims)) and then looks at the
//! free space, the same argument in the language's model. So no wake-up is
//! lost, and a producer pays one locked instruction per message (its
//! lock's CAS), a consumer of a small message one (its claim).
//!
//! A chunk before the `LAST` one, published while the writer lock is
//! still held (the consumer may wait for it meanwhile), keeps a `SeqCst`
//! store followed at once by the look at the waiters: the eventcount's own
//! Dekker pair. mp-sync's loom models check these protocols with the
//! swap release, on rings of one to three slots, with a consumer claiming
//! without the reader lock beside one sleeping under it (and that a
//! wake-up is lost without the no-op read-modify-writes). Loom cannot model
//! the kernel's barrier; `mp_sys::membarrier`'s store-buffering test checks
//! that fence itself.
//!
//! A producer notifies consumers only when the consumer has reached its
//! record ([`wake_consumer`](Ring::wake_consumer) says why that loses no
//! wake-up): a consumer still waking up costs one system call, not one per
//! record published meanwhile.
//! A process killed between
//! the write and the notify would leave sleepers unwoken although their
//! condition holds, so every wait (for data, space, a slot, or all tasks
//! done) looks at its condition again every [`RECHECK`], whatever its
//! deadline.
//!
//! [`OwnerDied`]: mp_sync::OwnerDied

use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::Duration;

use mp_shm::Region;
use mp_sync::{EventCount, Lock};
use mp_sys::mmap::Span;
use serde::{Deserialize, Serialize};

use crate::reader::Deadline;

/// The payload of this record starts a message.
pub(crate) const FIRST: u32 = 1;
/// The payload of this record ends a message.
pub(crate) const LAST: u32 = 2;
/// The message carries fds, waiting on the queue's side socket.
pub(crate) const FDS: u32 = 4;
/// An empty record: the producer of the message being assembled died; drop it.
pub(crate) const ABORT: u32 = 8;
/// The bits of a header's flags word that are flags; above them, the
/// record's message number (see the module docs, "Counting").
const KIND: u32 = 0xf;
/// Where a record's message number starts in its flags word.
const NUMBER_SHIFT: u32 = 4;
/// Message numbers are counted modulo this (`qsize()` is exact while
/// fewer messages are in the ring: a ring of at most [`MAX_CAP`] bytes
/// holds fewer, each record taking at least 8).
const NUMBERS: u64 = 1 << (32 - NUMBER_SHIFT);
/// The largest data area a ring may have.
pub(crate) const MAX_CAP: usize = 1 << 30;
// Its records (8 bytes at least) are fewer than the message numbers.
const _: () = assert!((MAX_CAP / 8) as u64 <= NUMBERS);

/// Items whose encoding is at least this large are copied straight between
/// the ring and their own buffers (`direct`, [`Core::read_item`](super::core::Core::read_item)).
/// A round figure, not tuned: below it the copy saved is small beside an
/// item's fixed costs, and small items keep the path tuned for them (a
/// record assembled on the stack, one copy in).
pub(crate) const LARGE: u64 = 16 << 10;

/// Not a record's flag: [`Ring::pop`] left a message in place.
pub(crate) const LEFT: u32 = 1 << 31;

/// Bytes of a record header.
pub(crate) const RECORD_HEADER: u64 = 8;
/// Records up to this many bytes are quick enough to copy that waiting for
/// space for one is worth a spin.
pub(crate) const SPIN_MAX_BYTES: u64 = 4096;
/// Checks of a condition before a waiter sleeps (about 5 µs of spinning,
/// the price of a sleep and a wake-up).
const SPINS: u32 = 200;
/// How long a waiter sleeps before it looks at its condition again, in
/// case the process that made it true died before notifying; also how
/// often a consumer in the middle of a chunked message checks that its
/// producer is still alive.
pub(crate) const RECHECK: Duration = Duration::from_millis(100);
/// Records up to this many bytes (header included) are assembled on the
/// stack and copied in at once.
pub(crate) const SMALL_RECORD: usize = 64;
/// Offset of the data area.
const DATA: usize = 384;
/// Offset of the `data` eventcount (`seq`, then `waiters`).
const DATA_EVENTCOUNT: usize = 192;
/// Offset of the `space` eventcount (`seq`, then `waiters`).
const SPACE_EVENTCOUNT: usize = 256;

/// What a [`Ring::wait_until`] waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// A consumer, for data.
    Data,
    /// A producer, for space or a slot: to be woken once this many bytes
    /// are free (see [`Ring::wake_producers`]; at least 1).
    Space(u64),
}

/// A ring in shared memory; cloning or sending it shares the same ring.
/// One received from another process is checked to have a ring's shape
/// ([`Ring::from_region`]).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ring {
    region: Region,
    /// All of `region`'s bytes, reached through this: its start and length
    /// lie in the ring itself, where the region's are two pointers away
    /// (which the compiler loaded again after every atomic operation: three
    /// dependent loads before each access to the header or the data).
    #[serde(skip)]
    span: Span,
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ring, D::Error> {
        let region = Region::deserialize(d)?;
        Ring::from_region(region).map_err(serde::de::Error::custom)
    }
}

/// Words of the header, as 8-byte words.
const HEADER_WORDS: usize = DATA / 8;

/// The words of a ring's header (see the module docs for their offsets),
/// bounds-checked once ([`Ring::header`]).
#[derive(Clone, Copy)]
struct Header<'a> {
    /// The header as 8-byte words.
    words: &'a [AtomicU64; HEADER_WORDS],
    /// The same bytes as 4-byte words, for the eventcounts (no word is
    /// reached both ways).
    halves: &'a [AtomicU32; 2 * HEADER_WORDS],
}

impl<'a> Header<'a> {
    #[inline]
    fn u64_at(self, off: usize) -> &'a AtomicU64 {
        &self.words[off / 8]
    }
    #[inline]
    fn u32_at(self, off: usize) -> &'a AtomicU32 {
        &self.halves[off / 4]
    }
    #[inline]
    fn head(self) -> &'a AtomicU64 {
        self.u64_at(0)
    }
    #[inline]
    fn seen_tail(self) -> &'a AtomicU64 {
        self.u64_at(8)
    }
    #[inline]
    fn tail(self) -> &'a AtomicU64 {
        self.u64_at(64)
    }
    #[inline]
    fn seen_head(self) -> &'a AtomicU64 {
        self.u64_at(72)
    }
    #[inline]
    fn next_tail(self) -> &'a AtomicU64 {
        self.u64_at(80)
    }
    #[inline]
    fn next_puts(self) -> &'a AtomicU64 {
        self.u64_at(88)
    }
    #[inline]
    fn abort(self) -> &'a AtomicU64 {
        self.u64_at(96)
    }
    #[inline]
    fn seen_first(self) -> &'a AtomicU64 {
        self.u64_at(104)
    }
    #[inline]
    fn puts(self) -> &'a AtomicU64 {
        self.u64_at(128)
    }
    #[inline]
    fn eventcount_at(self, off: usize) -> EventCount<'a> {
        EventCount::new(self.u32_at(off), self.u32_at(off + 4))
    }
    /// Consumers wait here for data.
    #[inline]
    fn data(self) -> EventCount<'a> {
        self.eventcount_at(DATA_EVENTCOUNT)
    }
    /// The `data` eventcount's `waiters` word.
    #[inline]
    fn data_waiters(self) -> &'a AtomicU32 {
        self.u32_at(DATA_EVENTCOUNT + 4)
    }
    /// Producers wait here for space or a slot.
    #[inline]
    fn space(self) -> EventCount<'a> {
        self.eventcount_at(SPACE_EVENTCOUNT)
    }
    /// The `space` eventcount's `waiters` word.
    #[inline]
    fn space_waiters(self) -> &'a AtomicU32 {
        self.u32_at(SPACE_EVENTCOUNT + 4)
    }
    /// Free bytes a sleeping producer waits for (see [`Ring::wake_producers`]).
    #[inline]
    fn space_wanted(self) -> &'a AtomicU64 {
        self.u64_at(264)
    }
    /// `JoinableQueue`'s count of tasks marked done.
    #[inline]
    fn done(self) -> &'a AtomicU64 {
        self.u64_at(320)
    }
    /// `JoinableQueue::join` waits here for every task to be done.
    #[inline]
    fn all_done(self) -> EventCount<'a> {
        self.eventcount_at(328)
    }
}

/// Rounds `n` up to a multiple of 8.
pub(crate) fn pad(n: u64) -> u64 {
    (n + 7) & !7
}

/// Copies `src` into `dst` (of the same length) without a `memcpy` call
/// for up to 16 bytes (a varint is at most 10): overlapping word copies,
/// as `memcpy` itself does them, whose call cost a small item's `put`
/// more than the copy (a loop of bytes is turned into the call).
#[inline]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    match n {
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        0 => {}
        _ => dst.copy_from_slice(src),
    }
}

/// A record header: payload length and flags, little-endian.
#[inline]
fn header(len: u64, flags: u32) -> [u8; 8] {
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&(len as u32).to_le_bytes());
    header[4..].copy_from_slice(&flags.to_le_bytes());
    header
}

/// Whether position or count `a` is past `b` (both only grow).
fn ahead(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) > 0
}

impl Ring {
    /// A new empty ring whose data area is `cap` bytes (rounded up to a
    /// power of two, at least 4 KiB).
    /// More than [`MAX_CAP`] bytes is refused (`InvalidInput`).
    pub(crate) fn new(cap: usize) -> io::Result<Ring> {
        if cap > MAX_CAP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a queue's ring holds at most {MAX_CAP} bytes, not {cap}"),
            ));
        }
        let cap = cap.max(4096).next_power_of_two();
        let region = Region::create("mp-queue", DATA + cap)?;
        Ring::with_span(region).map_err(io::Error::other)
    }

    /// The ring in `region`, which another process sent: its header, then
    /// a data area of a power of two from 4 KiB to [`MAX_CAP`] (as [`new`](Self::new)
    /// makes it; positions are taken modulo it with a mask, and the header's
    /// words must lie inside).
    fn from_region(region: Region) -> Result<Ring, String> {
        let len = region.len();
        match len.checked_sub(DATA) {
            Some(cap) if (4096..=MAX_CAP).contains(&cap) && cap.is_power_of_two() => {
                Ring::with_span(region).map_err(|e| e.to_string())
            }
            _ => Err(format!(
                "a shared region of {len} bytes is not a queue's ring \
                 ({DATA} bytes of header, then a power of two from 4096 to {MAX_CAP})"
            )),
        }
    }

    /// The ring of `region`, whose shape the caller checked.
    fn with_span(region: Region) -> Result<Ring, mp_sys::mmap::OutOfBounds> {
        let span = region.span(0, region.len())?;
        Ok(Ring { region, span })
    }

    /// Bytes in the data area.
    #[inline]
    pub(crate) fn cap(&self) -> u64 {
        (self.span.len() - DATA) as u64
    }

    /// The offset in the data area of ring position `pos` (`pos` modulo the
    /// capacity, a power of two: a mask, where `%` compiled to a division
    /// of 20 to 40 cycles per use on the small-item path).
    #[inline]
    fn offset(&self, pos: u64) -> usize {
        (pos & (self.cap() - 1)) as usize
    }

    /// The header's words, checked against the mapping once: an operation
    /// takes this first and reaches every word through it. (A check per
    /// word made the compiler reload the mapping's bounds after each
    /// atomic store: about a hundred instructions per small item's `put`
    /// and `get`.)
    #[inline]
    fn header(&self) -> Header<'_> {
        Header {
            words: self
                .span
                .atomic_u64s(0)
                .expect("the header is in bounds (`from_region`)"),
            halves: self
                .span
                .atomic_u32s(0)
                .expect("the header is in bounds (`from_region`)"),
        }
    }

    /// Consumers wait here for data.
    pub(crate) fn data(&self) -> EventCount<'_> {
        self.header().data()
    }
    /// Producers wait here for space or a slot.
    pub(crate) fn space(&self) -> EventCount<'_> {
        self.header().space()
    }
    /// `JoinableQueue::join` waits here for every task to be done.
    pub(crate) fn all_done(&self) -> EventCount<'_> {
        self.header().all_done()
    }

    /// Messages published and not yet taken: `qsize()` (without items
    /// still in a producer's feeder buffer).
    ///
    /// `puts` less the number of the message at `head` (see the module
    /// docs, "Counting"); 0 if nothing is published. The record at `head`
    /// is read without the reader lock: it counts only if `head` has not
    /// moved meanwhile (a consumer may have taken it, and the producer
    /// reused its bytes); after a few tries the count is an
    /// over-estimate at most the ring's records. Holding the writer lock
    /// (a bounded queue's check for a slot), no record is reused while it
    /// is read, and a record taken meanwhile only over-estimates.
    pub(crate) fn size(&self) -> u64 {
        let h = self.header();
        let mut tries = 0;
        loop {
            let head = h.head().load(Acquire);
            let tail = h.tail().load(Acquire);
            if head == tail {
                return 0;
            }
            // `puts` after `tail`: at least the count that goes with it.
            let puts = h.puts().load(Acquire);
            let (word, _) = self.header_at(head);
            tries += 1;
            if h.head().load(Acquire) == head || tries == 8 {
                let number = u64::from(word >> NUMBER_SHIFT);
                let size = puts.wrapping_sub(number) & (NUMBERS - 1);
                return size.min(self.cap() / RECORD_HEADER);
            }
        }
    }

    /// Producer, holding the writer lock: whether the queue holds fewer
    /// than `max` messages, as [`size`](Self::size)` < max` says, without
    /// reading the consumers' side while the count a producer last saw
    /// there, plus the messages published since, leaves a slot free.
    ///
    /// `seen_first` is `puts` less that count: the number of a message at
    /// `head` then, and `head` only moves on, so `puts - seen_first` never
    /// falls below the count now. A producer killed anywhere here leaves
    /// at most an older value, which only sends the next check to `size`.
    #[inline]
    pub(crate) fn has_slot(&self, max: u64) -> bool {
        let h = self.header();
        let puts = h.puts().load(Relaxed);
        if puts.wrapping_sub(h.seen_first().load(Relaxed)) < max {
            return true;
        }
        self.has_slot_now(max, puts)
    }

    /// [`has_slot`](Self::has_slot) once the count last seen says the
    /// queue may be full: counts again, and keeps what it saw.
    #[inline(never)]
    fn has_slot_now(&self, max: u64, puts: u64) -> bool {
        let size = self.size();
        self.header()
            .seen_first()
            .store(puts.wrapping_sub(size), Relaxed);
        size < max
    }

    /// Messages published and not yet marked done (`JoinableQueue`).
    pub(crate) fn unfinished(&self) -> u64 {
        let h = self.header();
        // `done` first: it never passes the `puts` read after it.
        let done = h.done().load(SeqCst);
        let puts = h.puts().load(SeqCst);
        puts.saturating_sub(done)
    }

    /// Counts one task done, unless every published message already is;
    /// wakes joiners. Returns whether it was counted.
    pub(crate) fn count_done(&self) -> bool {
        let h = self.header();
        let counted = h
            .done()
            .fetch_update(SeqCst, SeqCst, |d| {
                ahead(h.puts().load(SeqCst), d).then_some(d.wrapping_add(1))
            })
            .is_ok();
        if counted {
            h.all_done().notify_all();
        }
        counted
    }

    /// Bytes free for a producer (holding the writer lock) — at least
    /// `need` if that many are free.
    pub(crate) fn free_for(&self, need: u64) -> u64 {
        let h = self.header();
        self.free_after(h.tail().load(SeqCst), need)
    }

    /// [`free_for`](Self::free_for) with `tail` already read.
    #[inline]
    fn free_after(&self, tail: u64, need: u64) -> u64 {
        let h = self.header();
        let free = |head: u64| self.cap().saturating_sub(tail.wrapping_sub(head));
        // `seen_head` is only touched under the writer lock, which orders
        // it between holders: no fence (a `SeqCst` store is an `xchg`).
        let seen = h.seen_head().load(Relaxed);
        if free(seen) >= need {
            return free(seen);
        }
        let head = h.head().load(Acquire);
        h.seen_head().store(head, Relaxed);
        free(head)
    }

    /// Whether `need` bytes look free, to a producer that does not hold
    /// the writer lock: a hint to wait on (the feeder thread's wait for
    /// room), to be checked again under the lock. Unlike
    /// [`free_for`](Self::free_for) it stores nothing (`seen_head` is the
    /// lock holder's).
    pub(crate) fn has_room(&self, need: u64) -> bool {
        let h = self.header();
        // As `wake_producers`: a `head` read after `tail` may have passed
        // it (then the room looks like none, and is looked at again).
        let used = h.tail().load(Acquire).wrapping_sub(h.head().load(Acquire));
        self.cap().saturating_sub(used) >= need
    }

    /// Bytes a producer (holding the writer lock) needs free to write a
    /// record of `len` payload bytes next, counting an owed [`ABORT`].
    pub(crate) fn need(&self, len: u64) -> u64 {
        RECORD_HEADER + pad(len) + self.abort_owed() * RECORD_HEADER
    }

    /// 1 if the next record must be preceded by an [`ABORT`], else 0.
    #[inline]
    fn abort_owed(&self) -> u64 {
        let h = self.header();
        h.abort().load(SeqCst).min(1)
    }

    /// Where the next record a producer (holding the writer lock) writes
    /// starts: the tag of its fds.
    pub(crate) fn next_record(&self) -> u64 {
        let h = self.header();
        h.tail().load(SeqCst) + self.abort_owed() * RECORD_HEADER
    }

    /// Whether a commit was journalled and not completed (see the module
    /// docs): a producer between the two, or killed there, holding the
    /// writer lock (whose next holder completes it).
    pub(crate) fn commit_cut_short(&self) -> bool {
        let h = self.header();
        ahead(h.next_tail().load(SeqCst), h.tail().load(SeqCst))
    }

    /// Test only: writes a whole `FIRST | LAST` record at `tail` and the
    /// journal of its commit, and stops there, as a producer killed
    /// between the two does.
    #[cfg(test)]
    pub(crate) fn write_journal_only(&self, payload: &[u8]) {
        let h = self.header();
        let tail = h.tail().load(SeqCst);
        self.write_record(tail, payload, FIRST | LAST);
        let end = tail + RECORD_HEADER + pad(payload.len() as u64);
        h.next_puts()
            .store(h.puts().load(SeqCst).wrapping_add(1), SeqCst);
        h.next_tail().store(end, SeqCst);
    }

    /// Whether no record is published.
    pub(crate) fn is_empty(&self) -> bool {
        let h = self.header();
        h.tail().load(SeqCst) == h.head().load(SeqCst)
    }

    /// Copies `bytes` into the data area at ring position `pos`, wrapping.
    #[inline]
    fn write_at(&self, pos: u64, bytes: &[u8]) {
        let cap = self.cap();
        let off = self.offset(pos);
        let first = bytes.len().min(cap as usize - off);
        let ok = if first == bytes.len() {
            self.span.write(DATA + off, bytes).is_ok()
        } else {
            self.span.write(DATA + off, &bytes[..first]).is_ok()
                && self.span.write(DATA, &bytes[first..]).is_ok()
        };
        debug_assert!(ok, "ring writes stay inside the data area");
    }

    /// Copies from ring position `pos` into `buf`, wrapping.
    #[inline]
    fn read_at(&self, pos: u64, buf: &mut [u8]) {
        let cap = self.cap();
        let off = self.offset(pos);
        let first = buf.len().min(cap as usize - off);
        let ok = if first == buf.len() {
            self.span.read(DATA + off, buf).is_ok()
        } else {
            let (a, b) = buf.split_at_mut(first);
            self.span.read(DATA + off, a).is_ok() && self.span.read(DATA, b).is_ok()
        };
        debug_assert!(ok, "ring reads stay inside the data area");
    }

    /// Writes a record header at `pos`.
    #[inline]
    fn write_header(&self, pos: u64, len: u64, flags: u32) {
        self.write_at(pos, &self.record_header(len, flags));
    }

    /// Producer, holding the writer lock: the header of a record of `len`
    /// payload bytes flagged `flags`, numbered with the message it belongs
    /// to (`puts` before that message is counted; see the module docs,
    /// "Counting").
    #[inline]
    fn record_header(&self, len: u64, flags: u32) -> [u8; 8] {
        let number = self.header().puts().load(Relaxed) & (NUMBERS - 1);
        header(len, flags | (number as u32) << NUMBER_SHIFT)
    }

    /// Writes a record (header and payload) at `pos`: a small one
    /// assembled in a stack buffer without a `memcpy` call, then copied in
    /// at once (one bounds check).
    #[inline]
    fn write_record(&self, pos: u64, payload: &[u8], flags: u32) {
        let len = payload.len();
        if len <= SMALL_RECORD - RECORD_HEADER as usize {
            let mut record = [0u8; SMALL_RECORD];
            record[..8].copy_from_slice(&self.record_header(len as u64, flags));
            copy_short(&mut record[8..8 + len], payload);
            self.write_small_record(pos, &record, 8 + pad(len as u64) as usize);
        } else {
            self.write_header(pos, len as u64, flags);
            self.write_at(pos + RECORD_HEADER, payload);
        }
    }

    /// Copies the first `n` bytes of `record` (a multiple of 8, at most
    /// [`SMALL_RECORD`]) to ring position `pos`: one copy of a size known
    /// at compile time per case (a few moves, where a `memcpy` call of a
    /// 16-byte record cost more than the copy), unless it wraps.
    #[inline]
    fn write_small_record(&self, pos: u64, record: &[u8; SMALL_RECORD], n: usize) {
        let off = self.offset(pos);
        if off + n > self.cap() as usize {
            return self.write_at(pos, &record[..n]);
        }
        let at = DATA + off;
        let ok = match n {
            8 => self.span.write(at, &record[..8]),
            16 => self.span.write(at, &record[..16]),
            24 => self.span.write(at, &record[..24]),
            32 => self.span.write(at, &record[..32]),
            40 => self.span.write(at, &record[..40]),
            48 => self.span.write(at, &record[..48]),
            56 => self.span.write(at, &record[..56]),
            _ => self.span.write(at, &record[..n]),
        }
        .is_ok();
        debug_assert!(ok, "ring writes stay inside the data area");
    }

    /// Producer, holding the writer lock: writes one record at `tail` if it
    /// fits (after an owed [`ABORT`]) and publishes it, counting the
    /// message if it is the `LAST` record. Returns where it starts (the
    /// `tail` before it), or `None` if it did not fit.
    ///
    /// A chunk before the `LAST` one is published with a `SeqCst` store
    /// and the consumer woken at once (it may be waiting for it while this
    /// producer still holds the lock). A `LAST` record is published with a
    /// `Release` store only: the caller wakes the consumer with
    /// [`wake_consumer`](Self::wake_consumer) after releasing the writer
    /// lock (see the module docs).
    #[inline]
    pub(crate) fn push(&self, payload: &[u8], flags: u32) -> Option<u64> {
        let h = self.header();
        let owed = self.abort_owed();
        let need = RECORD_HEADER + pad(payload.len() as u64) + owed * RECORD_HEADER;
        let start = h.tail().load(Relaxed);
        if need > self.free_after(start, need) {
            return None;
        }
        let mut tail = start;
        let abort = owed == 1;
        if abort {
            self.write_header(tail, 0, ABORT);
            tail += RECORD_HEADER;
        }
        self.write_record(tail, payload, flags);
        let end = tail + RECORD_HEADER + pad(payload.len() as u64);
        self.publish(start, end, flags);
        if abort {
            h.abort().store(0, Release);
        }
        Some(start)
    }

    /// Producer, holding the writer lock: [`push`](Self::push) of a whole
    /// message of `len` payload bytes that lies in `record` after room for
    /// the record's header (`put` encodes a small item there,
    /// [`Direct`](super::direct::Direct); the bytes past them, which become
    /// the record's padding, are never read). The record goes into the
    /// ring from there, the header from a register, where `push` copied
    /// the payload into a record of its own first.
    #[inline]
    pub(crate) fn push_small(&self, record: &mut [u8; SMALL_RECORD], len: usize) -> Option<u64> {
        let payload_max = SMALL_RECORD - RECORD_HEADER as usize;
        debug_assert!(len <= payload_max);
        if self.abort_owed() != 0 {
            return self.push(
                &record[RECORD_HEADER as usize..][..len.min(payload_max)],
                FIRST | LAST,
            );
        }
        let h = self.header();
        let n = RECORD_HEADER + pad(len as u64);
        let start = h.tail().load(Relaxed);
        let free = self.free_after(start, n);
        if n > free {
            return None;
        }
        let header = self.record_header(len as u64, FIRST | LAST);
        let off = self.offset(start);
        if off + n as usize <= self.cap() as usize {
            // Word by word, the header from a register: a wider load of
            // the stack record would span the narrower stores that just
            // wrote it (the header's, the encoding's), which the CPU cannot
            // forward and waits out (a store-forwarding stall per `put`:
            // `queue_op_cost ring`, `put` 19.3 -> 16.4 ns).
            let at = DATA + off;
            let mut ok = self.span.write(at, &header).is_ok();
            for word in 1..n as usize / 8 {
                let bytes = &record[8 * word..][..8];
                ok &= self.span.write(at + 8 * word, bytes).is_ok();
            }
            debug_assert!(ok, "ring writes stay inside the data area");
        } else {
            // Across the ring's end.
            record[..8].copy_from_slice(&header);
            self.write_small_record(start, record, n as usize);
        }
        self.publish(start, start + n, FIRST | LAST);
        Some(start)
    }

    /// Producer, holding the writer lock: publishes the records written
    /// from `start` (the `tail`) to `end`, the last flagged `flags`,
    /// counting the message if that is a `LAST` record (see
    /// [`push`](Self::push) for who wakes the consumer).
    #[inline]
    fn publish(&self, start: u64, end: u64, flags: u32) {
        let h = self.header();
        if flags & LAST != 0 {
            // Journal, then commit, the position last (see the module
            // docs). A process killed stops between two of these stores in
            // program order whatever the ordering; `Release` keeps `puts`
            // ahead of `tail` for readers.
            let puts = h.puts().load(Relaxed).wrapping_add(1);
            h.next_puts().store(puts, Release);
            h.next_tail().store(end, Release);
            h.puts().store(puts, Release);
            h.tail().store(end, Release);
        } else {
            h.tail().store(end, SeqCst);
            self.wake_consumer(start);
        }
    }

    /// Producer, holding the writer lock: where a record written in place
    /// (its payload with [`write_payload`](Self::write_payload), then
    /// [`publish_in_place`](Self::publish_in_place)) starts, and the most
    /// payload bytes it can hold now; `None` if an [`ABORT`] is owed first
    /// (then [`push`](Self::push) writes it).
    pub(crate) fn in_place_room(&self) -> Option<(u64, u64)> {
        let h = self.header();
        if self.abort_owed() != 0 {
            return None;
        }
        let tail = h.tail().load(Relaxed);
        let free = self.free_after(tail, self.cap());
        let room = free.saturating_sub(RECORD_HEADER) & !7;
        Some((tail, room.min(self.cap() / 2 - RECORD_HEADER)))
    }

    /// Producer, holding the writer lock: copies `bytes` into the payload
    /// of the record begun at `at`, from `offset` on (the caller keeps it
    /// within the room [`in_place_room`](Self::in_place_room) gave).
    #[inline]
    pub(crate) fn write_payload(&self, at: u64, offset: u64, bytes: &[u8]) {
        self.write_at(at + RECORD_HEADER + offset, bytes);
    }

    /// Producer, holding the writer lock: publishes the record begun at
    /// `at` (the `tail`) whose `len` payload bytes are written, as a whole
    /// message; the caller wakes the consumer after releasing the lock.
    pub(crate) fn publish_in_place(&self, at: u64, len: u64) {
        self.write_header(at, len, FIRST | LAST);
        self.publish(at, at + RECORD_HEADER + pad(len), FIRST | LAST);
    }

    /// Wakes the consumer waiting for data, if one sleeps and has taken
    /// every record before `start`, where the records just published begin
    /// (for a `LAST` record: called after releasing the writer lock).
    ///
    /// Only the holder of the reader lock waits for data, and only once it
    /// saw `head == tail`; `head` stays put while it waits. So if `head`,
    /// read after publishing, is short of `start`, a record before ours was
    /// not taken yet: the waiter, if any, saw the ring empty before that
    /// record was published, and the notify of the producer that published
    /// the record at `head` (which found `head` at or past its start) woke
    /// it. A producer streaming into a ring whose consumer is waking up
    /// thus makes one wake-up call, not one per record.
    ///
    /// The waiter count is read first (`notify_all` reads it again): with
    /// no waiter, `head` is not read, so the producer does not pull the
    /// consumers' line, which they write for every record, into its cache
    /// once per record (the consumer's next store to it would then miss).
    ///
    /// The look at the waiter count is inlined into every `put`; the rest,
    /// with a sleeper, is a call of its own.
    #[inline]
    pub(crate) fn wake_consumer(&self, start: u64) {
        let h = self.header();
        // The `data` eventcount's `waiters` word, read `SeqCst` after the
        // `SeqCst` publication as `notify_all` reads it.
        if h.data_waiters().load(SeqCst) != 0 {
            self.wake_sleeping_consumer(start);
        }
    }

    /// [`wake_consumer`](Self::wake_consumer) once a consumer sleeps.
    #[inline(never)]
    fn wake_sleeping_consumer(&self, start: u64) {
        let h = self.header();
        if !ahead(start, h.head().load(SeqCst)) {
            h.data().notify_all();
        }
    }

    /// Holding the writer lock taken from a dead producer: completes a
    /// commit it cut short, and owes consumers an [`ABORT`] (it may have
    /// been in the middle of a message).
    pub(crate) fn repair_writer(&self) {
        let h = self.header();
        let next = h.next_tail().load(SeqCst);
        if ahead(next, h.tail().load(SeqCst)) {
            h.puts().store(h.next_puts().load(SeqCst), SeqCst);
            h.tail().store(next, SeqCst);
            h.data().notify_all();
        }
        self.abandon();
    }

    /// Holding the writer lock, giving up a message begun: consumers are
    /// owed an [`ABORT`], as after a death.
    pub(crate) fn abandon(&self) {
        let h = self.header();
        h.abort().store(1, SeqCst);
    }

    /// Consumer, holding the reader lock: takes the record at `head`,
    /// copying its payload to `out[*filled..]` (growing `out` if it is too
    /// short; what lies beyond is left as it was) and advancing `filled`
    /// past it, then claiming it ([`claim`](Self::claim); if a consumer
    /// without the lock claimed a small message there first, the next
    /// record is taken instead); returns its flags and start position.
    ///
    /// Taking a chunk before the `LAST` one wakes producers at once (one may
    /// be waiting for the room while the consumer still holds the lock);
    /// after a `LAST` record the caller wakes them after releasing the
    /// reader lock ([`wake_producers`](Self::wake_producers), or
    /// [`wake_producers_now`](Self::wake_producers_now) if it goes on
    /// waiting for data under the lock).
    ///
    /// A message of one record (`FIRST | LAST`) of at least `leave`
    /// payload bytes is not taken: it is reported with the flags [`LEFT`]
    /// and `out` is untouched ([`peek`](Self::peek) tells its length).
    ///
    /// A header that cannot be right (length beyond the published bytes,
    /// or beyond the ring's capacity: only another process writing the
    /// shared words at random makes one) means the ring is corrupt, if
    /// `head` has not moved meanwhile: everything published is dropped
    /// (and so counted as taken) and the record is reported with flags 0,
    /// so callers skip it.
    #[inline]
    pub(crate) fn pop(
        &self,
        out: &mut Vec<u8>,
        filled: &mut usize,
        leave: u64,
    ) -> Option<(u32, u64)> {
        let h = self.header();
        loop {
            let (flags, len, head, tail) = self.front()?;
            let need = RECORD_HEADER + pad(len);
            if need > tail.wrapping_sub(head) || need > self.cap() {
                // Corrupt only if nobody took the record meanwhile (its
                // bytes may then have been reused).
                if h.head().load(Acquire) != head {
                    continue;
                }
                if !self.claim(head, tail) {
                    continue;
                }
                return Some((0, head));
            }
            if len >= leave && flags == FIRST | LAST {
                return Some((LEFT, head));
            }
            let (start, end) = (*filled, *filled + len as usize);
            if out.len() < end {
                out.resize(end, 0);
            }
            self.read_at(head + RECORD_HEADER, &mut out[start..end]);
            if !self.claim(head, head + need) {
                // A whole small message, taken by a consumer without the
                // reader lock ([`pop_small`](Self::pop_small)).
                continue;
            }
            *filled = end;
            if flags & LAST == 0 {
                self.wake_producers();
            }
            return Some((flags, head));
        }
    }

    /// Consumer, with or without the reader lock: takes the record at
    /// `head` if it is a whole message without fds (`FIRST | LAST`) of at
    /// most [`SMALL_RECORD`] bytes with its header, copied into `record`
    /// (the payload after the header), then claimed (again at the next
    /// record if another consumer claimed it first); returns its payload's
    /// length. Anything else (no record, a chunk, fds, an `ABORT`, a
    /// larger or corrupt record) is left for [`pop`](Self::pop). The
    /// caller wakes producers (after releasing the lock, if it holds it).
    ///
    /// The copy is of all of `record`, past the record's end too (one copy
    /// of a size known at compile time; copying the header first and then
    /// only the record's bytes measured level): bytes that may be a record
    /// still being written, or free space, which are not used.
    #[inline]
    pub(crate) fn pop_small(&self, record: &mut [u8; SMALL_RECORD]) -> Option<usize> {
        loop {
            let (head, tail) = self.published()?;
            let off = self.offset(head);
            if off + SMALL_RECORD <= self.cap() as usize {
                let ok = self.span.read(DATA + off, record).is_ok();
                debug_assert!(ok, "ring reads stay inside the data area");
            } else {
                self.read_across_the_end(head, record);
            }
            let len = u64::from(u32::from_le_bytes([
                record[0], record[1], record[2], record[3],
            ]));
            let word = u32::from_le_bytes([record[4], record[5], record[6], record[7]]);
            let need = RECORD_HEADER + pad(len);
            if word & KIND != FIRST | LAST
                || need > SMALL_RECORD as u64
                || need > tail.wrapping_sub(head)
            {
                return None;
            }
            if self.claim(head, head + need) {
                return Some(len as usize);
            }
        }
    }

    /// [`pop_small`](Self::pop_small)'s copy of a record that may run
    /// across the ring's end: out of line, so that the usual copy's path
    /// saves no registers for the two copies of this one.
    #[cold]
    #[inline(never)]
    fn read_across_the_end(&self, head: u64, record: &mut [u8; SMALL_RECORD]) {
        self.read_at(head, record);
    }

    /// Consumer, holding the reader lock: whether more is published than
    /// the record at `head`.
    pub(crate) fn holds_several_records(&self) -> bool {
        self.front()
            .is_some_and(|(_, len, head, tail)| tail.wrapping_sub(head) > RECORD_HEADER + pad(len))
    }

    /// Consumer, holding the reader lock: the record at `head` if one is
    /// published whole — its flags, payload length and start — without
    /// taking it. A header that cannot be right is not reported (`pop`
    /// handles it).
    pub(crate) fn peek(&self) -> Option<(u32, u64, u64)> {
        let (flags, len, head, tail) = self.front()?;
        let need = RECORD_HEADER + pad(len);
        (need <= tail.wrapping_sub(head) && need <= self.cap()).then_some((flags, len, head))
    }

    /// Consumer, holding the reader lock: the header at `head` if a record
    /// is published there — its flags and payload length — with `head`
    /// and the `tail` seen.
    ///
    /// Consumers need not hold the reader lock: the record read may be
    /// taken by another consumer meanwhile (then the claim of it fails,
    /// [`claim`](Self::claim)), and its bytes reused by the producer
    /// (then they are garbage, which is not used: the claim fails).
    /// `seen_tail` is any consumer's: a `tail` read at some time, so never
    /// past the present one; stored `Release` and read `Acquire`, it
    /// passes on the producer's publication of the records before it.
    #[inline]
    fn front(&self) -> Option<(u32, u64, u64, u64)> {
        let (head, tail) = self.published()?;
        let (word, len) = self.header_at(head);
        Some((word & KIND, len, head, tail))
    }

    /// `head`, and a `tail` past it if records are published (see
    /// [`front`](Self::front) on `seen_tail`).
    #[inline]
    fn published(&self) -> Option<(u64, u64)> {
        let h = self.header();
        let head = h.head().load(Acquire);
        let mut tail = h.seen_tail().load(Acquire);
        if tail.wrapping_sub(head) as i64 <= 0 {
            tail = h.tail().load(Acquire);
            if head == tail {
                return None;
            }
            h.seen_tail().store(tail, Release);
        }
        Some((head, tail))
    }

    /// The record header at `pos`: its flags word (flags and message
    /// number) and payload length.
    #[inline]
    fn header_at(&self, pos: u64) -> (u32, u64) {
        let mut header = [0u8; 8];
        self.read_at(pos, &mut header);
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let word = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        (word, len)
    }

    /// Consumer: takes what lies from `head` to `to` (a record, or all
    /// that is published), if `head` is still there — another consumer
    /// may have taken it since it was read. The one read-modify-write of a
    /// consumer's commit: `head` is the whole of the consumers' state, and
    /// every change of it is a compare-and-swap (see the module docs,
    /// "Publication and wake-ups").
    #[inline]
    fn claim(&self, head: u64, to: u64) -> bool {
        self.header()
            .head()
            .compare_exchange(head, to, SeqCst, Relaxed)
            .is_ok()
    }

    /// A producer about to sleep for space: a read-modify-write of `head`
    /// that changes nothing, ordering this look with the consumers'
    /// claims (see the module docs, "Publication and wake-ups").
    #[inline]
    fn order_with_claims(&self) {
        self.header().head().fetch_add(0, SeqCst);
    }

    /// Consumer, holding the reader lock: appends a copy of `len` payload
    /// bytes of the record starting at `at`, from `offset` on, to `buf`
    /// (into its spare capacity: no zeroing first).
    pub(crate) fn append_payload(&self, at: u64, offset: u64, len: u64, buf: &mut Vec<u8>) {
        let cap = self.cap();
        let off = self.offset(at + RECORD_HEADER + offset);
        let first = (len as usize).min(cap as usize - off);
        buf.reserve(len as usize);
        let ok = self.span.read_append(DATA + off, first, buf).is_ok()
            && self
                .span
                .read_append(DATA, len as usize - first, buf)
                .is_ok();
        debug_assert!(ok, "ring reads stay inside the data area");
    }

    /// Consumer, holding the reader lock: copies payload bytes of the
    /// record starting at `at`, from `offset` on, into `buf`.
    pub(crate) fn read_payload(&self, at: u64, offset: u64, buf: &mut [u8]) {
        self.read_at(at + RECORD_HEADER + offset, buf);
    }

    /// Consumer, holding the reader lock: takes the `LAST` record of
    /// `len` payload bytes at `head` (found by [`peek`](Self::peek),
    /// its payload copied out) and counts its message; the caller wakes
    /// producers after releasing the lock.
    pub(crate) fn take_in_place(&self, head: u64, len: u64) {
        // Only a holder of the reader lock takes a record this large.
        let taken = self.claim(head, head + RECORD_HEADER + pad(len));
        debug_assert!(taken, "a large record is the reader lock holder's");
    }

    /// Wakes producers waiting for space or a slot, if any sleep and the
    /// free space reaches what they asked for (`space_wanted`, which this
    /// resets): after releasing the reader lock (see the module docs).
    ///
    /// A producer that sleeps for space asks for room for its record and at
    /// least a sixteenth of the ring ([`space_to_want`](Self::space_to_want));
    /// one waiting for a slot asks for a byte. So a consumer taking items from a full ring wakes its
    /// producer once per sixteenth of the ring, not once per item: woken
    /// per item, the producer went back to sleep after each one and both
    /// sides paid a system call per item (measured: M3c at 2 M items/s
    /// instead of 8-12 whenever the ring filled up once). A producer asking
    /// for more than the ring will free is still woken: the ring, emptied,
    /// has room for any record and a sixteenth more. Its own looks (every
    /// [`RECHECK`] at the latest) take the record as soon as it fits.
    ///
    /// The look at the waiter count is inlined into every `get`; the rest,
    /// with a sleeper, is a call of its own.
    #[inline]
    pub(crate) fn wake_producers(&self) {
        let h = self.header();
        // The `space` eventcount's `waiters` word, read `SeqCst` as
        // `notify_all` reads it: after a chunk's `SeqCst` store of `head`
        // this is the second half of a Dekker pair.
        if h.space_waiters().load(SeqCst) != 0 {
            self.wake_sleeping_producers();
        }
    }

    /// [`wake_producers`](Self::wake_producers) once a producer sleeps.
    #[inline(never)]
    fn wake_sleeping_producers(&self) {
        let h = self.header();
        let wanted = h.space_wanted().load(SeqCst);
        if wanted == 0 {
            return;
        }
        let used = h.tail().load(Acquire).wrapping_sub(h.head().load(Relaxed));
        if self.cap().saturating_sub(used) >= wanted && h.space_wanted().swap(0, SeqCst) != 0 {
            h.space().notify_all();
        }
    }

    /// The free bytes a producer sleeping for room for a record of `need`
    /// bytes asks for: the record, and at least a sixteenth of the ring (a
    /// large record's own wake-up is worth its system call; a small one
    /// waits for room for many).
    pub(crate) fn space_to_want(&self, need: u64) -> u64 {
        need.max(self.cap() / 16)
    }

    /// A producer about to look at its condition a last time before
    /// sleeping on `space` asks to be woken once `bytes` are free.
    pub(crate) fn want_space(&self, bytes: u64) {
        let h = self.header();
        h.space_wanted().fetch_max(bytes, SeqCst);
    }

    /// [`wake_producers`](Self::wake_producers) for a consumer still
    /// holding the reader lock after taking a `LAST` record (it skipped
    /// the record and waits for more): a `SeqCst` fence orders the
    /// `Release` publication before the look at the waiter count, as a
    /// `SeqCst` store would have (a rare path).
    pub(crate) fn wake_producers_now(&self) {
        std::sync::atomic::fence(SeqCst);
        self.wake_producers();
    }

    /// Looks at `ready()` for a few microseconds; returns whether it held.
    /// The other side is usually a few hundred nanoseconds away on another
    /// CPU: worth a look before paying for a sleep. Halfway, it yields the
    /// CPU once: if the other side waits for this very CPU (the scheduler
    /// put both on one), it runs now instead of after the spin and a sleep
    /// (M3a pinned to one CPU: 13.2 → 14.9 M items/s); with nothing else
    /// to run, the yield returns at once and the spin goes on.
    pub(crate) fn spin_until(&self, ready: impl Fn() -> bool) -> bool {
        self.spin_until_after(0, true, ready).is_some()
    }

    /// [`spin_until`](Self::spin_until), looking first after `first_look`
    /// pauses (of the same budget), and yielding halfway only if
    /// `may_yield`; returns after how many pauses `ready()` held, `None` if
    /// it did not.
    pub(crate) fn spin_until_after(
        &self,
        first_look: u32,
        may_yield: bool,
        ready: impl Fn() -> bool,
    ) -> Option<u32> {
        for _ in 0..first_look {
            std::hint::spin_loop();
        }
        for i in first_look..SPINS {
            if ready() {
                return Some(i);
            }
            if may_yield && i == SPINS / 2 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        None
    }

    /// Waits until `ready()` holds (`true`) or the deadline passes
    /// (`false`), sleeping on the `data` (consumers) or `space` (producers)
    /// eventcount, as `wait` says. Each look after registering as a
    /// sleeper is preceded, for a consumer, by the writer lock's
    /// [`order_with_unlock`](Lock::order_with_unlock) (`writer`), for a
    /// producer, by its [`want_space`](Self::want_space) and
    /// [`order_with_claims`](Self::order_with_claims) (see the module docs).
    /// With `spin`, looks again for a few microseconds first: worth it when
    /// the other side is about to publish a small record, harmful (it takes
    /// a CPU from the other side's copy) when that is a large one.
    pub(crate) fn wait_until(
        &self,
        wait: Wait,
        spin: bool,
        deadline: Deadline,
        writer: &Lock,
        ready: impl Fn() -> bool,
    ) -> bool {
        if spin && self.spin_until(&ready) {
            return true;
        }
        let (ec, want) = match wait {
            // A release of the writer lock without a fence may race the
            // registration unseen: the first sleep is short (`Lock::settle`).
            Wait::Data => (self.data().settling(writer.settle()), 0),
            Wait::Space(bytes) => (self.space(), bytes.max(1)),
        };
        Self::sliced(ec, deadline, || {
            if want != 0 {
                self.want_space(want);
                self.order_with_claims();
            } else {
                writer.order_with_unlock();
            }
            ready()
        })
    }

    /// Waits on the `all_done` eventcount until `ready()` (`true`: every
    /// task is done) or the deadline passes (`false`): `JoinableQueue::join`.
    pub(crate) fn wait_all_done(&self, deadline: Deadline, ready: impl Fn() -> bool) -> bool {
        Self::sliced(self.all_done(), deadline, ready)
    }

    /// Sleeps on `ec` until `ready()` or the deadline, looking again every
    /// [`RECHECK`]: a process killed between changing the condition and
    /// notifying leaves the sleepers unwoken, and a wait without a
    /// deadline would never end although the condition holds.
    fn sliced(ec: EventCount<'_>, deadline: Deadline, ready: impl Fn() -> bool) -> bool {
        loop {
            if ec.wait_until(deadline.slice(Some(RECHECK)), &ready) {
                return true;
            }
            if deadline.passed() {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The repairs, on states a process killed between two stores leaves
    //! (random kills land in these few-nanosecond windows too rarely for
    //! the integration tests to reach them reliably).
    use super::*;

    #[test]
    fn a_record_longer_than_the_ring_is_corruption() {
        let ring = Ring::new(4096).unwrap();
        // Another process's writes: a header claiming 1 GiB, and `tail` as
        // far ahead, so that the record looks published whole.
        ring.write_header(0, 1 << 30, FIRST | LAST);
        ring.header()
            .tail()
            .store(RECORD_HEADER + (1 << 30), SeqCst);
        ring.header().puts().store(1, SeqCst);
        assert!(ring.peek().is_none());
        let (mut out, mut filled) = (Vec::new(), 0);
        // Dropped as corrupt, nothing read or allocated (it read 1 GiB out
        // of a 4 KiB ring, wrapping, and failed a debug assertion).
        assert_eq!(ring.pop(&mut out, &mut filled, u64::MAX), Some((0, 0)));
        assert!(out.is_empty());
        assert!(ring.is_empty());
    }

    #[test]
    fn a_region_not_shaped_as_a_ring_is_refused() {
        for len in [64, DATA, DATA + 2048, DATA + 5000, DATA + 12288] {
            let region = Region::create("t", len).unwrap();
            assert!(Ring::from_region(region.clone()).is_err(), "{len}");
            // As a peer sends it: a decode error, not a ring to use.
            let sent = mp_wire::decode::<Ring>(mp_wire::encode(&region).unwrap());
            assert!(sent.is_err(), "{len}");
        }
        let ring = Ring::new(8192).unwrap();
        let back: Ring = mp_wire::decode(mp_wire::encode(&ring).unwrap()).unwrap();
        assert_eq!(back.cap(), 8192);
    }

    /// Takes the record at `head`, appending its payload to `out`.
    fn pop(ring: &Ring, out: &mut Vec<u8>) -> Option<(u32, u64)> {
        let mut filled = out.len();
        let popped = ring.pop(out, &mut filled, u64::MAX);
        out.truncate(filled);
        popped
    }

    /// Writes a whole `FIRST | LAST` record at `tail` without publishing
    /// it; returns where it ends.
    fn write_unpublished(ring: &Ring, payload: &[u8]) -> u64 {
        let tail = ring.header().tail().load(SeqCst);
        ring.write_header(tail, payload.len() as u64, FIRST | LAST);
        ring.write_at(tail + RECORD_HEADER, payload);
        tail + RECORD_HEADER + pad(payload.len() as u64)
    }

    #[test]
    fn a_commit_cut_short_after_the_journal_is_completed() {
        // Killed after the journal, before and after storing `puts`.
        for store_puts in [false, true] {
            let ring = Ring::new(4096).unwrap();
            assert!(ring.push(b"one", FIRST | LAST).is_some());
            let end = write_unpublished(&ring, b"two");
            ring.header().next_puts().store(2, SeqCst);
            ring.header().next_tail().store(end, SeqCst);
            if store_puts {
                ring.header().puts().store(2, SeqCst);
            }
            ring.repair_writer();
            assert_eq!(ring.size(), 2);
            let mut out = Vec::new();
            assert_eq!(pop(&ring, &mut out).map(|p| p.0), Some(FIRST | LAST));
            out.clear();
            assert_eq!(pop(&ring, &mut out).map(|p| p.0), Some(FIRST | LAST));
            assert_eq!(out, b"two");
            assert_eq!((ring.size(), ring.is_empty()), (0, true));
        }
    }

    #[test]
    fn a_record_written_before_the_journal_stays_unpublished() {
        let ring = Ring::new(4096).unwrap();
        assert!(ring.push(b"one", FIRST | LAST).is_some());
        write_unpublished(&ring, b"two");
        ring.header().next_puts().store(2, SeqCst); // the first journal store only
        ring.repair_writer();
        assert_eq!(ring.size(), 1);
        let mut out = Vec::new();
        assert!(pop(&ring, &mut out).is_some());
        assert!(pop(&ring, &mut out).is_none());
        assert_eq!(ring.size(), 0);
    }

    #[test]
    fn after_a_writer_repair_the_next_record_is_preceded_by_an_abort() {
        let ring = Ring::new(4096).unwrap();
        assert!(ring.push(b"half", FIRST).is_some());
        ring.repair_writer();
        let at = ring.next_record();
        assert_eq!(at, ring.header().tail().load(SeqCst) + RECORD_HEADER);
        assert!(ring.push(b"whole", FIRST | LAST).is_some());
        let mut out = Vec::new();
        let flags: Vec<u32> = std::iter::from_fn(|| pop(&ring, &mut out).map(|p| p.0)).collect();
        assert_eq!(flags, [FIRST, ABORT, FIRST | LAST]);
        assert_eq!(ring.size(), 0);
        // The ABORT is owed once.
        assert!(ring.push(b"x", FIRST | LAST).is_some());
        assert_eq!(pop(&ring, &mut out).map(|p| p.0), Some(FIRST | LAST));
    }

    /// A ring of more than [`MAX_CAP`] bytes could hold more messages
    /// than its message numbers tell apart: refused.
    #[test]
    fn a_ring_larger_than_max_cap_is_refused() {
        let err = Ring::new(MAX_CAP + 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    /// A claim is one compare-and-swap of `head`: a consumer that read the
    /// record at `head` and lost it to another takes nothing, and a
    /// consumer killed anywhere leaves `head` either before the record or
    /// past it, with the count right either way.
    #[test]
    fn a_record_is_claimed_once() {
        let ring = Ring::new(4096).unwrap();
        assert!(ring.push(b"one", FIRST | LAST).is_some());
        assert!(ring.push(b"two", FIRST | LAST).is_some());
        let (_, len, head, _) = ring.front().expect("a record");
        let end = head + RECORD_HEADER + pad(len);
        assert_eq!(ring.size(), 2);
        // Another consumer took "one" first.
        let mut out = [0u8; SMALL_RECORD];
        assert_eq!(ring.pop_small(&mut out), Some(3));
        assert_eq!(&out[8..11], b"one");
        assert!(!ring.claim(head, end), "taken twice");
        assert_eq!(ring.size(), 1);
        let mut all = Vec::new();
        assert!(pop(&ring, &mut all).is_some());
        assert_eq!(all, b"two");
        assert_eq!((ring.size(), ring.is_empty()), (0, true));
    }

    /// `qsize()` is `puts` less the number of the message at `head`: a
    /// message counts from its `LAST` record's publication until that
    /// record is taken, whatever chunks and `ABORT`s lie before it.
    #[test]
    fn the_count_follows_the_message_at_head() {
        let ring = Ring::new(4096).unwrap();
        let mut out = Vec::new();
        // A chunked message: not counted before its LAST record.
        assert!(ring.push(b"a1", FIRST).is_some());
        assert_eq!(ring.size(), 0);
        assert!(ring.push(b"a2", LAST).is_some());
        assert!(ring.push(b"b", FIRST | LAST).is_some());
        assert_eq!(ring.size(), 2);
        // Taking the first chunk leaves its message counted.
        assert_eq!(pop(&ring, &mut out).map(|p| p.0), Some(FIRST));
        assert_eq!(ring.size(), 2);
        assert_eq!(pop(&ring, &mut out).map(|p| p.0), Some(LAST));
        assert_eq!(ring.size(), 1);
        // A dead writer's chunk and the ABORT owed after it count nothing.
        assert!(ring.push(b"c1", FIRST).is_some());
        ring.repair_writer();
        assert!(ring.push(b"d", FIRST | LAST).is_some());
        assert_eq!(ring.size(), 2);
        let flags: Vec<u32> = std::iter::from_fn(|| pop(&ring, &mut out).map(|p| p.0)).collect();
        assert_eq!(flags, [FIRST | LAST, FIRST, ABORT, FIRST | LAST]);
        assert_eq!(ring.size(), 0);
        // Counted modulo `NUMBERS`: still exact across the wrap.
        ring.header().puts().store(NUMBERS - 1, SeqCst);
        for _ in 0..3 {
            assert!(ring.push(b"w", FIRST | LAST).is_some());
        }
        assert_eq!(ring.size(), 3);
        assert!(pop(&ring, &mut out).is_some());
        assert_eq!(ring.size(), 2);
    }

    /// A consumer killed between freeing space and notifying: a producer
    /// waiting for space without a deadline must still see the room (it
    /// used to sleep until the next notify, for ever if none came).
    #[test]
    fn a_wait_without_deadline_sees_a_change_nobody_notified() {
        let ring = Ring::new(4096).unwrap();
        let before = ring.header().head().load(SeqCst);
        let waiter = {
            let ring = ring.clone();
            let writer = Lock::new().unwrap();
            std::thread::spawn(move || {
                ring.wait_until(Wait::Space(1), false, Deadline::NEVER, &writer, || {
                    ring.header().head().load(SeqCst) != before
                })
            })
        };
        while ring.space().waiters() == 0 {
            std::thread::yield_now();
        }
        // The dead consumer's store; its notify never came.
        ring.header().head().store(before + 8, SeqCst);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(waiter.join().unwrap()));
        let seen = rx.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(seen, Ok(true), "the waiter never looked again");
    }

    #[test]
    fn pop_small_takes_only_a_whole_small_message_without_fds() {
        let ring = Ring::new(4096).unwrap();
        let mut out = [0u8; SMALL_RECORD];
        let state = |ring: &Ring| (ring.header().head().load(SeqCst), ring.size());
        // Not taken, and nothing moved: a chunk, fds, a larger record,
        // an ABORT owed by a dead writer, and nothing at all.
        assert_eq!(ring.pop_small(&mut out), None);
        for (payload, flags) in [
            (&b"chunk"[..], FIRST),
            (&b"fds"[..], FIRST | LAST | FDS),
            (&[9u8; 57][..], FIRST | LAST),
        ] {
            let ring = Ring::new(4096).unwrap();
            assert!(ring.push(payload, flags).is_some());
            let before = state(&ring);
            assert_eq!(ring.pop_small(&mut out), None, "flags {flags}");
            assert_eq!(state(&ring), before);
        }
        ring.repair_writer();
        assert!(ring.push(b"after", FIRST | LAST).is_some());
        assert_eq!(ring.pop_small(&mut out), None, "the ABORT first");
        let mut all = Vec::new();
        assert_eq!(pop(&ring, &mut all).map(|p| p.0), Some(ABORT));
        // Taken whole and counted: up to 56 bytes, at the ring's end too.
        assert_eq!(ring.pop_small(&mut out), Some(5));
        assert_eq!(&out[8..13], b"after");
        assert_eq!(ring.size(), 0);
        for len in (0..=56).chain([56; 200]) {
            let payload: Vec<u8> = (0..len).map(|i| (i + len) as u8).collect();
            assert!(ring.push(&payload, FIRST | LAST).is_some());
            assert_eq!(ring.pop_small(&mut out), Some(len));
            assert_eq!(out[8..8 + len], payload[..]);
        }
        assert_eq!((ring.size(), ring.is_empty()), (0, true));
    }

    /// A record `put` assembled on the stack ([`Ring::push_small`]) reads
    /// back as the same message [`Ring::push`] writes: every small length,
    /// across the ring's end, after an `ABORT` owed, and not at all when
    /// the ring has no room.
    #[test]
    fn push_small_publishes_what_push_does() {
        let ring = Ring::new(4096).unwrap();
        let record_of = |payload: &[u8]| {
            let mut record = [0u8; SMALL_RECORD];
            record[RECORD_HEADER as usize..][..payload.len()].copy_from_slice(payload);
            record
        };
        let mut out = Vec::new();
        for len in (0..=56).chain([56; 200]) {
            let payload: Vec<u8> = (0..len).map(|i| (i * 3 + len) as u8).collect();
            let at = ring.header().tail().load(SeqCst);
            assert_eq!(ring.push_small(&mut record_of(&payload), len), Some(at));
            assert_eq!(ring.size(), 1);
            out.clear();
            let (flags, _) = pop(&ring, &mut out).expect("the record");
            assert_eq!(
                (flags, &out[..]),
                (FIRST | LAST, &payload[..]),
                "{len} bytes"
            );
        }
        // A dead writer's ABORT goes first, once.
        assert!(ring.push(b"half", FIRST).is_some());
        ring.repair_writer();
        assert!(ring.push_small(&mut record_of(b"whole"), 5).is_some());
        assert!(ring.push_small(&mut record_of(b"next"), 4).is_some());
        let flags: Vec<u32> = std::iter::from_fn(|| pop(&ring, &mut out).map(|p| p.0)).collect();
        assert_eq!(flags, [FIRST, ABORT, FIRST | LAST, FIRST | LAST]);
        // No room: nothing written, nothing counted.
        while ring.push(&[1; 1000], FIRST | LAST).is_some() {}
        let (tail, size) = (ring.header().tail().load(SeqCst), ring.size());
        while ring.push_small(&mut record_of(&[2; 56]), 56).is_some() {}
        let tail_full = ring.header().tail().load(SeqCst);
        assert!(ring.push_small(&mut record_of(&[2; 56]), 56).is_none());
        assert_eq!(ring.header().tail().load(SeqCst), tail_full);
        assert!(tail_full - tail < 1000 && ring.size() >= size);
    }

    /// [`Ring::has_slot`] agrees with `size() < max` at every step, though
    /// it reads the consumers' side only when its last count says the
    /// queue may be full.
    #[test]
    fn has_slot_is_size_below_max_counted_lazily() {
        let ring = Ring::new(4096).unwrap();
        let mut out = Vec::new();
        let max = 3;
        let mut taken = 0;
        for step in 0..40u32 {
            // Two puts, then a take, then a put: the count climbs to `max`
            // and stays around it.
            if step % 4 == 2 {
                if pop(&ring, &mut out).is_some() {
                    taken += 1;
                }
            } else if ring.has_slot(max) {
                assert!(ring.push(&step.to_le_bytes(), FIRST | LAST).is_some());
            }
            assert_eq!(ring.has_slot(max), ring.size() < max, "step {step}");
            assert!(ring.size() <= max, "never past maxsize");
        }
        assert!(taken > 5);
        // What a dead producer can leave (`seen_first` behind): only a
        // recount, never a wrong answer.
        ring.header().seen_first().store(0, SeqCst);
        assert_eq!(ring.has_slot(max), ring.size() < max);
        // Counted without the consumers' side while the count allows.
        while pop(&ring, &mut out).is_some() {}
        assert!(ring.has_slot(max));
        let head = ring.header().head().load(SeqCst);
        ring.header().head().store(head + (1 << 40), SeqCst); // a garbage `head`
        assert!(ring.has_slot(max), "not read: the last count leaves slots");
        ring.header().head().store(head, SeqCst);
    }

    /// [`Ring::push_small`] writes its record's bytes and nothing past
    /// them: with less than a stack record free, the records not yet taken
    /// (just past the free space) come out whole.
    #[test]
    fn push_small_leaves_untaken_records_alone() {
        for free_left in (16..=64).step_by(8) {
            let ring = Ring::new(4096).unwrap();
            let mut record = [0u8; SMALL_RECORD];
            let mut put = Vec::new();
            let mut i = 0u8;
            while ring.cap()
                - (ring.header().tail().load(SeqCst) - ring.header().head().load(SeqCst))
                > free_left
            {
                i = i.wrapping_add(1);
                record[RECORD_HEADER as usize..][..8].copy_from_slice(&[i; 8]);
                assert!(ring.push_small(&mut record, 8).is_some());
                put.push(i);
            }
            // Taken from the front, so the free space lies before `head`.
            let mut out = Vec::new();
            for _ in 0..3 {
                assert!(pop(&ring, &mut out).is_some());
            }
            let taken = put.drain(..3).collect::<Vec<_>>();
            assert_eq!(out, taken.iter().flat_map(|&b| [b; 8]).collect::<Vec<_>>());
            while ring.push_small(&mut record, 1).is_some() {
                put.push(record[RECORD_HEADER as usize]);
            }
            for b in put {
                out.clear();
                assert!(pop(&ring, &mut out).is_some());
                assert_eq!(out[0], b, "{free_left} bytes left free");
            }
        }
    }

    #[test]
    fn tasks_are_done_at_most_once_per_published_item() {
        let ring = Ring::new(4096).unwrap();
        assert!(!ring.count_done());
        assert!(ring.push(b"a", FIRST).is_some());
        assert_eq!(ring.unfinished(), 0, "a message counts once whole");
        assert!(ring.push(b"b", LAST).is_some());
        assert_eq!(ring.unfinished(), 1);
        assert!(ring.count_done());
        assert!(!ring.count_done());
        assert_eq!(ring.unfinished(), 0);
    }
}
