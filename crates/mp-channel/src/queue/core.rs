//! The shared part of every queue: the [`Ring`], the writer and reader
//! locks, and the side socket that carries fds; writing and reading whole
//! messages.
//!
//! # Messages with fds
//! Fds cannot live in shared memory. A message that carries some (a
//! `Connection`, a `SharedMemory`, a `Queue` inside the item) sends them
//! first, under the writer lock, through a Unix socket pair that every
//! holder of the queue shares, tagged with the ring position its record
//! will start at; its record is flagged [`FDS`]. The consumer that takes
//! the record reads side messages until the tag matches, dropping any left
//! by a producer that died between the two steps.
//!
//! # Dead processes
//! The writer and reader locks are mp-sync locks: the next party that
//! takes one from a dead holder is told so; a producer repairs the ring
//! before anything else ([`Ring::repair_writer`]; see [`ring`](super::ring)
//! for the counting), a consumer has nothing to repair (each of its
//! claims is one compare-and-swap). A producer killed between the
//! chunks of a large message leaves a run without `LAST`: the consumer
//! assembling it drops it at the [`ABORT`] record the next writer puts
//! first, or — if no producer comes — notices, every [`RECHECK`], that it can
//! take the writer lock (mp-sync hands a dead holder's lock over), repairs
//! and drops the partial message; a new `FIRST` also discards it. A
//! consumer killed mid-run leaves chunks without `FIRST`, which the next
//! consumer skips. Fds a producer sent before dying are tagged with a
//! position no later record starts at (the `ABORT` takes it), so consumers
//! drop them.

use std::cell::Cell;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::Duration;

use mp_sync::{AcquireError, Lock, LockGuard, TryAcquireError};
use mp_sys::socket::{self, Blocking};
use mp_wire::{DecodeError, Message, SharedFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ring::{
    Ring, Wait, ABORT, FDS, FIRST, LARGE, LAST, LEFT, RECHECK, RECORD_HEADER, SMALL_RECORD,
    SPIN_MAX_BYTES,
};
use crate::reader::{Deadline, LazyDeadline};
use crate::scratch;

/// Everything the processes sharing a queue share.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Core {
    pub(crate) ring: Ring,
    pub(crate) writer: Lock,
    pub(crate) reader: Lock,
    /// Producers send fds here...
    side_tx: SharedFd,
    /// ...and consumers receive them here.
    side_rx: SharedFd,
    /// `maxsize`; 0 = unbounded.
    pub(crate) maxsize: u64,
    /// How this process's consumers wait for data (see
    /// [`Core::wait_for_first`]); not shared.
    #[serde(skip)]
    pace: Pace,
}

/// Whether a process's consumers of a queue are caught up with a producer
/// streaming items, and so wait a little before looking for the next, and
/// whether the item they wait for is likely large
/// ([`Core::wait_for_first`]). A hint: threads of one process share it.
#[derive(Debug, Default)]
struct Pace {
    /// The last wait for data ended within [`AT_HEELS`] pauses (or a
    /// delayed one found several records).
    caught_up: AtomicBool,
    /// Waits left that look at once whatever `caught_up` says: set when a
    /// delayed look found a single record (a reply, not a stream).
    undelayed: AtomicU32,
    /// The last message taken whole from the ring was a large record read
    /// in place ([`Read::InPlace`]); the next wait for data takes it back.
    large: AtomicBool,
}

impl Pace {
    /// A large record was read in place.
    #[inline]
    fn took_large(&self) {
        if !self.large.load(Relaxed) {
            self.large.store(true, Relaxed);
        }
    }

    /// Whether the wait for data about to start follows a large record
    /// (and so may yield: `false`); clears the mark.
    #[inline]
    fn may_yield(&self) -> bool {
        !(self.large.load(Relaxed) && self.large.swap(false, Relaxed))
    }

    /// Pauses a wait for data lets pass before its first look.
    fn first_look(&self) -> u32 {
        let undelayed = self.undelayed.load(Relaxed);
        if undelayed > 0 {
            self.undelayed.store(undelayed - 1, Relaxed);
            return 0;
        }
        if self.caught_up.load(Relaxed) {
            CAUGHT_UP_DELAY
        } else {
            0
        }
    }

    /// A wait whose first look came after `first_look` pauses saw data
    /// after `spun` pauses (`None`: it went to sleep); `several()` tells
    /// whether more than one record is there now.
    fn waited(&self, first_look: u32, spun: Option<u32>, several: impl FnOnce() -> bool) {
        let caught_up = match spun {
            Some(_) if first_look > 0 => {
                let stream = several();
                if !stream {
                    self.undelayed.store(UNDELAYED_WAITS, Relaxed);
                }
                stream
            }
            Some(n) => n <= AT_HEELS,
            None => false,
        };
        self.caught_up.store(caught_up, Relaxed);
    }
}

/// Pauses within which the data a consumer waits for must arrive for it to
/// count as caught up with a streaming producer (about 85 ns here: a
/// producer's next small item is 30-60 ns away).
const AT_HEELS: u32 = 4;
/// Pauses a consumer caught up with a producer lets pass before it looks
/// for data again (about 0.7 µs here).
const CAUGHT_UP_DELAY: u32 = 32;
/// Waits that look at once after a delayed look found a single record.
const UNDELAYED_WAITS: u32 = 256;

/// Flags of a message that is one record without fds.
const FIRST_LAST: u32 = FIRST | LAST;

/// Where [`Core::read`] left a message.
#[derive(Debug)]
pub(crate) enum Read {
    /// In the caller's buffer: `buf[..len]`.
    Copied(usize),
    /// Still in the ring, untaken: the record at `at` of `len` payload
    /// bytes (see [`Ring::take_in_place`]).
    InPlace { at: u64, len: u64 },
}

/// A record in the ring, as a source of bytes to decode.
struct InRing<'a> {
    ring: &'a Ring,
    at: u64,
    len: u64,
}

impl mp_wire::CopySource for InRing<'_> {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn copy_to(&self, offset: usize, buf: &mut [u8]) {
        debug_assert!(offset + buf.len() <= self.len as usize);
        self.ring.read_payload(self.at, offset as u64, buf);
    }

    fn append_to(&self, offset: usize, len: usize, buf: &mut Vec<u8>) {
        debug_assert!(offset + len <= self.len as usize);
        self.ring
            .append_payload(self.at, offset as u64, len as u64, buf);
    }
}

/// Why a message could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Timeout,
    Io(io::Error),
    /// The message was longer than the reader's limit: taken and dropped
    /// (`len` bytes, or at least that many if it was dropped as it came).
    TooLarge {
        len: u64,
        max: usize,
    },
}

/// Decodes the item of `len` bytes that [`Ring::pop_small`] took into
/// `record`.
#[inline]
pub(crate) fn small_item<T: DeserializeOwned>(
    record: &[u8; SMALL_RECORD],
    len: usize,
) -> Result<T, DecodeError> {
    mp_wire::decode_from(&record[RECORD_HEADER as usize..][..len], Vec::new())
}

/// [`ReadError::TooLarge`] (off the hot path).
#[cold]
fn too_large(len: u64, max: usize) -> ReadError {
    ReadError::TooLarge { len, max }
}

/// A lock taken, and whether it was taken from a dead holder.
type Taken<'a> = (LockGuard<'a>, bool);

/// The writer lock, held: the only way to write into the ring. Dropping
/// it releases the lock, then wakes the consumer if a whole message was
/// published meanwhile (see `ring`'s module docs, "Publication and
/// wake-ups").
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    core: &'a Core,
    /// Where the first `LAST` record published under this hold starts, or
    /// [`NO_WAKE`].
    wake_from: Cell<u64>,
}

/// [`Writer::wake_from`] before a whole message is published: odd, so no
/// record starts there (every record starts 8-aligned).
const NO_WAKE: u64 = u64::MAX;

impl Drop for Writer<'_> {
    #[inline]
    fn drop(&mut self) {
        // The writer holds the lock in place of its guard, given up when
        // the lock was taken ([`Core::writer_taken`]): two plain words, where
        // an `Option` guard and an `Option` start cost a small item's `put`
        // about 14 instructions and 0.7 ns (`queue_op_cost ring`).
        // Released with a plain store (the lock is asymmetric: its waiters,
        // and consumers before they sleep, make the costly fence instead):
        // the swap it replaces was a sixth of a small item's time.
        let _ = self.core.writer.release_asymmetric();
        let start = self.wake_from.get();
        if start != NO_WAKE {
            self.core.ring.wake_consumer(start);
        }
    }
}

/// The reader lock, held; dropping it releases the lock, then wakes
/// producers waiting for space or a slot (see `ring`'s module docs).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    ring: &'a Ring,
    guard: Option<LockGuard<'a>>,
}

impl Drop for Reader<'_> {
    #[inline]
    fn drop(&mut self) {
        drop(self.guard.take());
        self.ring.wake_producers();
    }
}

/// Takes `lock` until `deadline` (`None` on timeout), reading the clock
/// only if the lock is busy; a dead holder's lock is taken over.
#[inline]
fn acquire<'a>(lock: &'a Lock, deadline: &mut LazyDeadline) -> Option<Taken<'a>> {
    // Uncontended, the first try succeeds without the waiting path (whose
    // layers cost a small item's `put` or `get` about 5 % when taken
    // every time).
    if let Some(taken) = try_acquire(lock) {
        return Some(taken);
    }
    acquire_contended(lock, deadline)
}

/// [`acquire`] once the lock was found busy.
#[inline(never)]
fn acquire_contended<'a>(lock: &'a Lock, deadline: &mut LazyDeadline) -> Option<Taken<'a>> {
    if deadline.is_never() {
        return Some(match lock.lock() {
            Ok(g) => (g, false),
            Err(died) => (died.into_inner(), true),
        });
    }
    match deadline.get().remaining() {
        Some(Duration::ZERO) => None,
        left => match lock.lock_timeout(left.unwrap_or(Duration::MAX)) {
            Ok(g) => Some((g, false)),
            Err(AcquireError::OwnerDied(died)) => Some((died.into_inner(), true)),
            Err(AcquireError::Timeout) => None,
        },
    }
}

/// Takes `lock` if that is possible without waiting (a dead holder's lock
/// is taken over).
#[inline]
fn try_acquire(lock: &Lock) -> Option<Taken<'_>> {
    match lock.try_lock() {
        Ok(g) => Some((g, false)),
        Err(TryAcquireError::OwnerDied(died)) => Some((died.into_inner(), true)),
        Err(TryAcquireError::WouldBlock) => None,
    }
}

impl Core {
    /// A new queue core with a ring of `cap` bytes.
    pub(crate) fn new(cap: usize, maxsize: usize) -> io::Result<Core> {
        let (tx, rx) = socket::socketpair()?;
        Ok(Core {
            ring: Ring::new(cap)?,
            writer: Lock::new_asymmetric()?,
            reader: Lock::new()?,
            side_tx: SharedFd::from(tx),
            side_rx: SharedFd::from(rx),
            maxsize: maxsize as u64,
            pace: Pace::default(),
        })
    }

    /// Takes the writer lock until `deadline` (`None` on timeout),
    /// repairing the ring if its holder died.
    #[inline]
    pub(crate) fn lock_writer(&self, deadline: &mut LazyDeadline) -> Option<Writer<'_>> {
        acquire(&self.writer, deadline).map(|t| self.writer_taken(t))
    }

    /// Takes the writer lock if that is possible without waiting,
    /// repairing the ring if its holder died.
    #[inline]
    pub(crate) fn try_lock_writer(&self) -> Option<Writer<'_>> {
        try_acquire(&self.writer).map(|t| self.writer_taken(t))
    }

    /// The writer lock, just taken (`died`: from a dead holder; the ring
    /// is repaired first).
    #[inline]
    pub(crate) fn writer_taken<'a>(&'a self, (guard, died): Taken<'a>) -> Writer<'a> {
        if died {
            self.ring.repair_writer();
        }
        // Released by the writer's drop instead (see there).
        std::mem::forget(guard);
        Writer {
            core: self,
            wake_from: Cell::new(NO_WAKE),
        }
    }

    /// Takes the reader lock until `deadline` (`None` on timeout), also
    /// from a dead holder.
    #[inline]
    pub(crate) fn lock_reader(&self, deadline: &mut LazyDeadline) -> Option<Reader<'_>> {
        acquire(&self.reader, deadline).map(|t| self.reader_taken(t))
    }

    /// The reader lock, just taken. A dead holder leaves nothing to
    /// repair: each of its claims of a record was one compare-and-swap,
    /// and the chunks of a message it was reading are skipped by
    /// [`read`](Self::read) (they lack a `FIRST` record).
    #[inline]
    pub(crate) fn reader_taken<'a>(&'a self, (guard, _died): Taken<'a>) -> Reader<'a> {
        Reader {
            ring: &self.ring,
            guard: Some(guard),
        }
    }

    /// Takes a whole small message without fds into `out` without the
    /// reader lock, with one compare-and-swap ([`Ring::pop_small`]), if
    /// one is at `head` and no consumer holds that lock (one waiting
    /// there for data came first and is not passed). Returns its length,
    /// having woken producers waiting for the space.
    #[inline]
    pub(crate) fn take_small(&self, out: &mut [u8; SMALL_RECORD]) -> Option<usize> {
        if self.reader.locked() {
            return None;
        }
        let len = self.ring.pop_small(out)?;
        self.ring.wake_producers();
        Some(len)
    }

    /// Waits until `ready()` (`true`) or `deadline` (`false`): a consumer
    /// for data, a producer for space or a slot ([`Ring::wait_until`],
    /// ordered with the producers' unlocks or the consumers' claims).
    pub(crate) fn wait_until(
        &self,
        wait: Wait,
        spin: bool,
        deadline: Deadline,
        ready: impl Fn() -> bool,
    ) -> bool {
        self.ring
            .wait_until(wait, spin, deadline, &self.writer, ready)
    }

    /// The largest payload of one record.
    pub(crate) fn max_chunk(&self) -> u64 {
        self.ring.cap() / 2 - RECORD_HEADER
    }

    /// Whether `msg` can be written as one record (if there is room).
    pub(crate) fn fits_one_record(&self, msg: &Message) -> bool {
        msg.bytes.len() as u64 <= self.max_chunk()
    }

    /// Holding the reader lock (`reader`): reads one whole message into
    /// this thread's read buffer, waiting until `deadline` for its first
    /// record, releases the lock (sets `reader` to `None`; a slow decode
    /// holds up no other consumer) and decodes the message.
    ///
    /// A message of one record of at least [`LARGE`] bytes without
    /// fds is decoded from the ring instead ([`mp_wire::decode_copied`]):
    /// an item that is a byte string or text (`ByteBuf`, `String`) is
    /// copied once, into its own buffer, not into the read buffer and then
    /// again. The record is taken and the lock released as soon as its
    /// bytes are copied out, before any of the item's code runs.
    ///
    /// A small message without fds that is there now (the usual case) is
    /// taken onto the stack and decoded there ([`Ring::pop_small`]): no
    /// read buffer, no assembly loop.
    #[inline]
    pub(crate) fn read_item<T: DeserializeOwned>(
        &self,
        reader: &mut Option<Reader<'_>>,
        deadline: &mut LazyDeadline,
        max: usize,
    ) -> Result<Result<T, DecodeError>, ReadError> {
        let mut small = [0u8; SMALL_RECORD];
        if let Some(len) = self.ring.pop_small(&mut small) {
            *reader = None;
            if len > max {
                return Err(too_large(len as u64, max));
            }
            return Ok(small_item(&small, len));
        }
        scratch::with_read_buffer(|buf| {
            let mut fds = Vec::new();
            match self.read(deadline, buf, &mut fds, true, max)? {
                Read::Copied(len) => {
                    *reader = None;
                    Ok(mp_wire::decode_from(&buf[..len], fds))
                }
                Read::InPlace { at, len } if len > max as u64 => {
                    self.ring.take_in_place(at, len);
                    *reader = None;
                    Err(too_large(len, max))
                }
                Read::InPlace { at, len } => {
                    let record = InRing {
                        ring: &self.ring,
                        at,
                        len,
                    };
                    Ok(mp_wire::decode_copied(&record, buf, || {
                        self.ring.take_in_place(at, len);
                        *reader = None;
                    }))
                }
            }
        })
    }

    /// Holding the reader lock: reads one whole message into `buf[..len]`,
    /// waiting until `deadline` for its first record; returns `len`, and
    /// puts the message's fds in `fds`. `buf` is overwritten in place,
    /// grown if needed. (The fds go out through a parameter: a returned
    /// `(usize, Vec)` cost a small item's `get` store-forwarding stalls.)
    /// With `in_place`, a message of one record of at least
    /// [`LARGE`] bytes without fds is left in the ring, untaken,
    /// and reported as [`Read::InPlace`] (whatever `max`: the caller checks
    /// its length).
    ///
    /// A message of more than `max` bytes is taken all the same, its
    /// chunks dropped as they come once it passes `max` (so `buf` holds at
    /// most `max` bytes and a chunk), its fds closed, and reported as
    /// [`ReadError::TooLarge`]: a peer cannot make this process assemble a
    /// message without end.
    pub(crate) fn read(
        &self,
        deadline: &mut LazyDeadline,
        buf: &mut Vec<u8>,
        fds: &mut Vec<OwnedFd>,
        mut in_place: bool,
        max: usize,
    ) -> Result<Read, ReadError> {
        // Bytes of the message being assembled, at the start of `buf`.
        let mut filled = 0;
        // Start position and fd flag of the message being assembled.
        let mut current: Option<(u64, bool)> = None;
        // The bytes of the message being taken, once it passed `max`.
        let mut over: Option<u64> = None;
        // Whether a `LAST` record was taken (and skipped) under this hold,
        // or a corrupt ring emptied (flags 0), and producers waiting for
        // the space may not be woken yet.
        let mut freed = false;
        loop {
            let mark = filled;
            let leave = if in_place && current.is_none() {
                LARGE
            } else {
                u64::MAX
            };
            let Some((flags, pos)) = self.ring.pop(buf, &mut filled, leave) else {
                if std::mem::take(&mut freed) {
                    self.ring.wake_producers_now();
                }
                self.wait_for_data(&mut current, &mut filled, deadline)?;
                continue;
            };
            if flags == LEFT {
                if let Some((FIRST_LAST, len, at)) = self.ring.peek() {
                    self.pace.took_large();
                    return Ok(Read::InPlace { at, len });
                }
                // A header whose flags are `LEFT`'s bits (garbage): taken
                // as any other record.
                in_place = false;
                continue;
            }
            freed |= flags & LAST != 0 || flags == 0;
            if flags & ABORT != 0 {
                filled = 0; // the producer of the message died
                current = None;
                over = None;
                continue;
            }
            if flags & FIRST != 0 {
                buf.copy_within(mark..filled, 0);
                filled -= mark;
                current = Some((pos, flags & FDS != 0));
                over = None;
            } else if current.is_none() {
                filled = mark; // the rest of a message whose reader died
                continue;
            }
            if let Some(bytes) = &mut over {
                *bytes += (filled - mark) as u64;
                filled = 0;
            } else if filled > max {
                over = Some(filled as u64);
                filled = 0;
            }
            if flags & LAST != 0 {
                let Some((start, has_fds)) = current else {
                    continue;
                };
                if has_fds {
                    *fds = self.recv_fds(start).map_err(ReadError::Io)?;
                }
                if let Some(len) = over {
                    fds.clear();
                    return Err(too_large(len, max));
                }
                return Ok(Read::Copied(filled));
            }
        }
    }

    /// Waits for a message to start until `deadline`. A producer killed
    /// in the middle of a commit — after its journal, or between counting
    /// an item and publishing it — leaves a whole item unpublished (the
    /// journal ahead of `tail`, written before the count) until the
    /// writer lock's next holder completes the commit: so this consumer
    /// sleeps at most [`RECHECK`] at a time and, finding the ring like
    /// that, tries to be that holder (the lock is taken only from a dead
    /// holder, never from a producer still committing).
    ///
    /// A consumer that keeps finding the ring empty just before the next
    /// item arrives (within [`AT_HEELS`] pauses) is caught up with a
    /// producer streaming items: then each item's record and `tail` move
    /// between the two CPUs' caches while the producer is still writing
    /// next to them, and both sides slow down (SimpleQueue, small items,
    /// two CPUs: 17 M items/s, against 27-30 M when the consumer lags).
    /// So a caught-up consumer lets [`CAUGHT_UP_DELAY`] pauses pass before
    /// its first look, and takes the dozen or so items published meanwhile
    /// at once. If that look finds a single record, the items are
    /// requests or replies, which a delay only makes later: the next
    /// [`UNDELAYED_WAITS`] waits look at once whatever they see (a round
    /// trip of two processes through two queues pays the delay once per
    /// that many).
    ///
    /// A wait that follows a large item (one read in place, at least
    /// [`LARGE`] bytes) spins without the yield halfway
    /// ([`Ring::spin_until_after`]) before it sleeps: the next large item
    /// is a copy of tens of microseconds away, and a consumer that yields
    /// stays runnable on the CPU it shares with its producer, where one
    /// that sleeps is placed again by the wake-up. (Measured, M3b with both
    /// processes on CPU 0 for their first 20 ms and free after: 9.3 GB/s
    /// with the yield, 10.8 without, the raw ring's level; pinned to one
    /// CPU throughout or unpinned, level.)
    fn wait_for_first(&self, deadline: Deadline) -> Result<(), ReadError> {
        let ring = &self.ring;
        let data = || !ring.is_empty();
        if deadline.passed() {
            // `get_nowait` (and a timeout already over): one look, as
            // Python's answers at once; no spin of a few microseconds.
            if data() {
                return Ok(());
            }
        } else {
            let first_look = self.pace.first_look();
            let spun = ring.spin_until_after(first_look, self.pace.may_yield(), data);
            self.pace
                .waited(first_look, spun, || ring.holds_several_records());
            if spun.is_some() {
                return Ok(());
            }
        }
        loop {
            let slice = deadline.remaining().unwrap_or(RECHECK).min(RECHECK);
            if self.wait_until(Wait::Data, false, Deadline::after(Some(slice)), data) {
                return Ok(());
            }
            if deadline.passed() {
                return Err(ReadError::Timeout);
            }
            self.complete_a_dead_commit();
        }
    }

    /// For a consumer that found the ring empty for a while: if a commit
    /// looks cut short (a journal ahead of `tail`, which covers a count of
    /// `puts` ahead of it too), tries the writer lock, which is taken only
    /// from a dead holder and whose taking completes the commit (see
    /// `ring`).
    pub(crate) fn complete_a_dead_commit(&self) {
        let ring = &self.ring;
        if ring.is_empty() && ring.commit_cut_short() {
            drop(self.try_lock_writer());
        }
    }

    /// Waits for data; in the middle of a message, checks every [`RECHECK`]
    /// whether its producer died (then drops the partial message).
    fn wait_for_data(
        &self,
        current: &mut Option<(u64, bool)>,
        filled: &mut usize,
        deadline: &mut LazyDeadline,
    ) -> Result<(), ReadError> {
        let ring = &self.ring;
        if current.is_none() {
            return self.wait_for_first(deadline.get());
        }
        // Mid-message, the producer may be copying a large chunk: no spin.
        if self.wait_until(Wait::Data, false, Deadline::after(Some(RECHECK)), || {
            !ring.is_empty()
        }) {
            return Ok(());
        }
        // A live producer holds the writer lock from FIRST to LAST. If we
        // can take it, ours is gone (taking it repairs the ring).
        let mut probe = LazyDeadline::fixed(Deadline::after(Some(RECHECK)));
        if let Some(_guard) = self.lock_writer(&mut probe) {
            if ring.is_empty() {
                *current = None;
                *filled = 0;
            }
        }
        Ok(())
    }

    /// Receives the fds tagged `tag` from the side socket, dropping older
    /// (orphaned) ones.
    fn recv_fds(&self, tag: u64) -> io::Result<Vec<OwnedFd>> {
        loop {
            let mut buf = [0u8; 8];
            let mut got = 0;
            let mut fds = Vec::new();
            while got < 8 {
                if got > 0 {
                    self.wait_for_rest_of_tag()?;
                }
                let r = match socket::recv_vectored_with_fds(
                    &self.side_rx,
                    &mut [IoSliceMut::new(&mut buf[got..])],
                    mp_wire::MAX_FDS_PER_FRAME,
                    Blocking::DontWait,
                ) {
                    // (Readable a moment ago: look again.)
                    Err(e) if got > 0 && e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => r?,
                };
                if r.bytes == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                if got == 0 {
                    fds = r.fds;
                }
                got += r.bytes;
            }
            match u64::from_le_bytes(buf) {
                t if t == tag => return Ok(fds),
                t if t < tag => continue,
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "fds for a message are missing from the queue's side socket",
                    ))
                }
            }
        }
    }

    /// Waits until the side socket has more of a tag whose first bytes
    /// were read. A producer sends a tag under the writer lock, whole
    /// unless the socket is nearly full (then the rest follows as soon as
    /// a consumer reads), so it comes at once; unless its producer died
    /// between two parts of it, or another process wrote stray bytes.
    /// So after each [`RECHECK`] without it, a writer lock that can be
    /// taken (free, or a dead holder's) says nobody is sending it: an
    /// error then, where a blocking read waited for ever holding the
    /// reader lock.
    fn wait_for_rest_of_tag(&self) -> io::Result<()> {
        loop {
            if socket::poll_readable(&self.side_rx, Some(RECHECK))? {
                return Ok(());
            }
            if let Some(_writer) = self.try_lock_writer() {
                // What a sender sent holding the lock is there by now.
                if socket::poll_readable(&self.side_rx, Some(Duration::ZERO))? {
                    return Ok(());
                }
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the queue's side socket holds part of an fd tag that no \
                     producer is sending",
                ));
            }
        }
    }
}

impl Writer<'_> {
    /// Writes one record and publishes it ([`Ring::push`]); returns
    /// whether it fit. A `LAST` record's consumer is woken on drop.
    #[inline]
    fn push(&self, payload: &[u8], flags: u32) -> bool {
        let Some(start) = self.core.ring.push(payload, flags) else {
            return false;
        };
        if flags & LAST != 0 {
            self.published_at(start);
        }
        true
    }

    /// A whole message was published at `start`: the consumer is woken
    /// on drop from the first such record of this hold.
    #[inline]
    fn published_at(&self, start: u64) {
        if self.wake_from.get() == NO_WAKE {
            self.wake_from.set(start);
        }
    }

    /// The ring, to write a record in place ([`Ring::in_place_room`],
    /// [`Ring::write_payload`]); publish it with
    /// [`publish_in_place`](Self::publish_in_place).
    pub(crate) fn ring(&self) -> &Ring {
        &self.core.ring
    }

    /// Publishes the whole message written in place at `at` ([`Ring::publish_in_place`]);
    /// its consumer is woken on drop.
    pub(crate) fn publish_in_place(&self, at: u64, len: u64) {
        self.core.ring.publish_in_place(at, len);
        self.published_at(at);
    }

    /// Writes `msg` only if it fits whole right now, without waiting for
    /// anything. Returns whether it was written.
    #[inline]
    pub(crate) fn try_write(&self, msg: &Message) -> io::Result<bool> {
        if !self.core.fits_one_record(msg) {
            return Ok(false);
        }
        if msg.fds.is_empty() {
            // `push` checks the room itself.
            return Ok(self.push(&msg.bytes, FIRST | LAST));
        }
        self.try_write_with_fds(msg)
    }

    /// [`try_write_small`](Self::try_write_small) of a message that lies
    /// in `record` after room for its header ([`Ring::push_small`]).
    #[inline]
    pub(crate) fn try_write_small_record(
        &self,
        record: &mut [u8; SMALL_RECORD],
        len: usize,
    ) -> bool {
        let Some(start) = self.core.ring.push_small(record, len) else {
            return false;
        };
        self.published_at(start);
        true
    }

    /// [`try_write`](Self::try_write) of a message of `bytes` without fds
    /// that surely fits one record (at most [`SMALL_ITEM`](super::direct::SMALL_ITEM)
    /// bytes): whether it was written.
    #[inline]
    pub(crate) fn try_write_small(&self, bytes: &[u8]) -> bool {
        debug_assert!(bytes.len() as u64 <= self.core.max_chunk());
        self.push(bytes, FIRST | LAST)
    }

    /// [`try_write`](Self::try_write) of a message with fds: they go out
    /// only once the record is sure to fit.
    #[inline(never)]
    fn try_write_with_fds(&self, msg: &Message) -> io::Result<bool> {
        let ring = &self.core.ring;
        let need = ring.need(msg.bytes.len() as u64);
        if need > ring.free_for(need) {
            return Ok(false);
        }
        match self.send_fds(msg, Blocking::DontWait) {
            Ok(()) => Ok(self.push(&msg.bytes, FIRST | LAST | FDS)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes `msg`, in chunks if needed, waiting
    /// for room until `deadline`. `Ok(false)` if the deadline passed: then
    /// nothing was published, or the chunks that were are abandoned as a
    /// dead producer's are (consumers drop them at the [`ABORT`] the next
    /// writer owes).
    pub(crate) fn write(&self, msg: &Message, deadline: Deadline) -> io::Result<bool> {
        self.write_then(msg, deadline, |publish| publish())
    }

    /// [`write`](Self::write), publishing the last record inside
    /// `publish_last` (which must call the function it is given): the
    /// feeder counts the item out of its buffer there, atomically for its
    /// own process. An error after `publish_last` ran means that record
    /// could not be published (see [`room_lost`](Self::room_lost)).
    pub(crate) fn write_then(
        &self,
        msg: &Message,
        deadline: Deadline,
        publish_last: impl FnOnce(&mut dyn FnMut()),
    ) -> io::Result<bool> {
        let (core, ring) = (self.core, &self.core.ring);
        let max = core.max_chunk() as usize;
        let mut flags = FIRST;
        let mut rest = &msg.bytes[..];
        loop {
            let n = rest.len().min(max);
            let last = n == rest.len();
            let need = ring.need(n as u64);
            let spin = need <= SPIN_MAX_BYTES;
            let room = || ring.free_for(need) >= need;
            let want = Wait::Space(ring.space_to_want(need));
            if !core.wait_until(want, spin, deadline, room) {
                if flags & FIRST == 0 {
                    ring.abandon();
                }
                return Ok(false);
            }
            if flags & FIRST != 0 && !msg.fds.is_empty() {
                self.send_fds(msg, Blocking::Wait)?;
                flags |= FDS;
            }
            let mut pushed = false;
            if last {
                publish_last(&mut || pushed = self.push(rest, flags | LAST));
                return if pushed {
                    Ok(true)
                } else {
                    Err(self.room_lost())
                };
            }
            if !self.push(&rest[..n], flags) {
                return Err(self.room_lost());
            }
            rest = &rest[n..];
            flags = 0;
        }
    }

    /// A record did not fit although its room was waited for under the
    /// writer lock: only another process writing the ring's shared words
    /// (`head`, `abort`) does that. The message is given up as a dead
    /// producer's is (consumers drop what was published of it at the
    /// [`ABORT`] the next writer owes, and any fds sent for it as older
    /// than the next record), and this is the error.
    #[cold]
    fn room_lost(&self) -> io::Error {
        self.core.ring.abandon();
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the queue's ring lost the room waited for under its writer lock \
             (another process wrote its shared words): the item was dropped",
        )
    }

    /// Sends `msg`'s fds on the side socket, tagged with the position its
    /// record will start at.
    fn send_fds(&self, msg: &Message, blocking: Blocking) -> io::Result<()> {
        let tag = self.core.ring.next_record();
        let fds: Vec<_> = msg.fds.iter().map(AsFd::as_fd).collect();
        let bytes = tag.to_le_bytes();
        let mut sent = 0;
        while sent < bytes.len() {
            let attach = if sent == 0 { &fds[..] } else { &[] };
            let b = if sent == 0 { blocking } else { Blocking::Wait };
            sent += socket::send_vectored_with_fds(
                &self.core.side_tx,
                &[io::IoSlice::new(&bytes[sent..])],
                attach,
                b,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize, byte: u8) -> Message {
        Message {
            bytes: vec![byte; len],
            fds: Vec::new(),
        }
    }

    /// Writes `msg` under the writer lock until `deadline`.
    fn write(core: &Core, msg: &Message, deadline: Deadline) -> bool {
        let writer = core.try_lock_writer().expect("the writer lock is free");
        writer.write(msg, deadline).unwrap()
    }

    fn read_now(core: &Core) -> Message {
        let mut deadline = LazyDeadline::after(Some(Duration::from_secs(10)));
        let (mut buf, mut fds) = (Vec::new(), Vec::new());
        let read = core.read(&mut deadline, &mut buf, &mut fds, false, usize::MAX);
        let Ok(Read::Copied(len)) = read else {
            panic!("a message: {read:?}");
        };
        buf.truncate(len);
        Message { bytes: buf, fds }
    }

    /// The writer lock taken, a record and its commit's journal written,
    /// then the process ends holding the lock: a producer killed between
    /// journalling and committing.
    fn die_between_journal_and_commit(core: Core) {
        let writer = core.try_lock_writer().expect("the writer lock is free");
        core.ring.write_journal_only(b"orphan");
        std::mem::forget(writer);
    }

    /// A consumer waiting for data completes a dead producer's commit cut
    /// short after its journal (it used to wait until the next producer
    /// took the writer lock: the item then appeared after the queue had
    /// looked drained, and a fresh round found one item too many).
    #[test]
    fn a_consumer_completes_a_dead_producers_commit() {
        let core = Core::new(4096, 0).unwrap();
        let copy: Core = mp_wire::decode(mp_wire::encode(&core).unwrap()).unwrap();
        let mut p = mp_process::Process::new(die_between_journal_and_commit, (copy,));
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(p.exitcode(), Some(0));
        assert!(core.ring.commit_cut_short() && core.ring.is_empty());
        assert_eq!(core.ring.size(), 0);
        let reader = core.lock_reader(&mut LazyDeadline::after(Some(Duration::from_secs(10))));
        assert_eq!(read_now(&core).bytes, b"orphan");
        drop(reader);
        assert_eq!(core.ring.size(), 0);
        assert!(!core.ring.commit_cut_short());
    }

    #[test]
    fn a_write_out_of_time_mid_stream_is_abandoned_like_a_dead_one() {
        // 4 KiB ring, 1504 bytes taken: of 5000 bytes (chunks of 2040),
        // the first chunk fits, the second waits for room until the
        // deadline (nobody consumes).
        let core = Core::new(4096, 0).unwrap();
        assert!(write(&core, &message(1500, 1), Deadline::NEVER));
        let deadline = Deadline::after(Some(Duration::from_millis(30)));
        assert!(!write(&core, &message(5000, 2), deadline));
        assert_eq!(core.ring.size(), 1, "the abandoned message is not counted");
        assert_eq!(read_now(&core).bytes, vec![1; 1500]);
        assert!(write(&core, &message(10, 3), Deadline::NEVER));
        // The consumer drops the first chunk at the ABORT before "3".
        assert_eq!(read_now(&core).bytes, vec![3; 10]);
        assert!(core.ring.is_empty());
        assert_eq!(core.ring.size(), 0);
    }

    /// A record whose room was waited for under the writer lock, and that
    /// then does not fit: another process wrote the ring's words between
    /// the wait and the push (here the `abort` word, which makes the push
    /// need 8 bytes more). Before, a `debug_assert!` panicked (in release
    /// the item was silently counted as written).
    #[test]
    fn room_lost_under_the_writer_lock_is_an_error_not_a_panic() {
        // 4 KiB ring: a 2040-byte record takes half; a second fits exactly.
        let core = Core::new(4096, 0).unwrap();
        assert!(write(&core, &message(2040, 1), Deadline::NEVER));
        let writer = core.try_lock_writer().expect("the writer lock is free");
        let err = writer
            .write_then(&message(2040, 2), Deadline::NEVER, |publish| {
                core.ring.abandon(); // as another process's store
                publish();
            })
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        drop(writer);
        assert_eq!(core.ring.size(), 1, "the lost item is not counted");
        assert_eq!(read_now(&core).bytes, vec![1; 2040]);
        assert!(write(&core, &message(10, 3), Deadline::NEVER));
        assert_eq!(read_now(&core).bytes, vec![3; 10]);
        assert!(core.ring.is_empty());
    }

    /// Part of a tag on the side socket, and nobody holding the writer
    /// lock to send the rest (its producer died between two parts, or
    /// another process wrote stray bytes): an error within a few
    /// [`RECHECK`]s. Before, the blocking read for the rest waited for
    /// ever, holding the reader lock.
    #[test]
    fn a_partial_fd_tag_nobody_sends_is_an_error_not_a_hang() {
        let core = std::sync::Arc::new(Core::new(4096, 0).unwrap());
        let sent = socket::send_vectored_with_fds(
            &core.side_tx,
            &[io::IoSlice::new(&[1, 2, 3])],
            &[],
            Blocking::Wait,
        );
        assert_eq!(sent.unwrap(), 3);
        let (tx, rx) = std::sync::mpsc::channel();
        let consumer = std::sync::Arc::clone(&core);
        std::thread::spawn(move || {
            let _ = tx.send(consumer.recv_fds(0).map(|fds| fds.len()));
        });
        let got = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the consumer gives up on the tag");
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::InvalidData);
        // A whole tag sent in two parts by a producer holding the writer
        // lock is still read whole.
        let writer = core.try_lock_writer().expect("the writer lock is free");
        let tag = 8u64.to_le_bytes();
        let part = |bytes: &[u8]| {
            socket::send_vectored_with_fds(
                &core.side_tx,
                &[io::IoSlice::new(bytes)],
                &[],
                Blocking::Wait,
            )
            .unwrap()
        };
        assert_eq!(part(&tag[..5]), 5);
        let consumer = std::sync::Arc::clone(&core);
        let reading = std::thread::spawn(move || consumer.recv_fds(8).map(|fds| fds.len()));
        std::thread::sleep(RECHECK * 3);
        assert_eq!(part(&tag[5..]), 3);
        drop(writer);
        assert_eq!(reading.join().unwrap().unwrap(), 0);
    }

    #[test]
    fn a_consumer_delays_its_look_only_while_it_streams() {
        let pace = Pace::default();
        assert_eq!(pace.first_look(), 0);
        // Data a moment away: caught up; a stream seen after the delay
        // keeps it so.
        pace.waited(0, Some(AT_HEELS), || unreachable!());
        assert_eq!(pace.first_look(), CAUGHT_UP_DELAY);
        pace.waited(CAUGHT_UP_DELAY, Some(CAUGHT_UP_DELAY), || true);
        assert_eq!(pace.first_look(), CAUGHT_UP_DELAY);
        // A single record after the delay (a reply): no delay for the
        // next UNDELAYED_WAITS waits, however soon their data comes.
        pace.waited(CAUGHT_UP_DELAY, Some(CAUGHT_UP_DELAY), || false);
        for _ in 0..UNDELAYED_WAITS {
            assert_eq!(pace.first_look(), 0);
            pace.waited(0, Some(0), || unreachable!());
        }
        assert_eq!(pace.first_look(), CAUGHT_UP_DELAY);
        // Data later than that, or a sleep: looks at once again.
        pace.waited(0, Some(AT_HEELS + 1), || unreachable!());
        assert_eq!(pace.first_look(), 0);
        pace.waited(0, Some(0), || unreachable!());
        pace.waited(CAUGHT_UP_DELAY, None, || unreachable!());
        assert_eq!(pace.first_look(), 0);
    }

    #[test]
    fn only_the_wait_after_a_large_item_spins_without_yielding() {
        let pace = Pace::default();
        assert!(pace.may_yield());
        pace.took_large();
        pace.took_large();
        assert!(!pace.may_yield(), "the wait after a large item");
        assert!(pace.may_yield(), "the mark is taken by one wait");
    }

    /// A large record read in place marks the pace, a small one taken
    /// whole does not.
    #[test]
    fn a_large_record_read_in_place_marks_the_pace() {
        let core = Core::new(1 << 20, 0).unwrap();
        let mut deadline = LazyDeadline::after(Some(Duration::from_secs(10)));
        let (mut buf, mut fds) = (Vec::new(), Vec::new());
        assert!(write(&core, &message(64, 1), Deadline::NEVER));
        let read = core.read(&mut deadline, &mut buf, &mut fds, true, usize::MAX);
        assert!(matches!(read, Ok(Read::Copied(64))), "{read:?}");
        assert!(core.pace.may_yield());
        let len = LARGE as usize;
        assert!(write(&core, &message(len, 2), Deadline::NEVER));
        let read = core.read(&mut deadline, &mut buf, &mut fds, true, usize::MAX);
        let Ok(Read::InPlace { at, len: got }) = read else {
            panic!("in place: {read:?}");
        };
        assert_eq!(got, len as u64);
        core.ring.take_in_place(at, got);
        assert!(!core.pace.may_yield());
    }

    #[test]
    fn no_room_by_the_deadline_writes_nothing() {
        let core = Core::new(4096, 0).unwrap();
        assert!(write(&core, &message(1500, 1), Deadline::NEVER));
        assert!(write(&core, &message(1500, 2), Deadline::NEVER));
        let soon = Deadline::after(Some(Duration::from_millis(10)));
        assert!(!write(&core, &message(1500, 3), soon));
        assert_eq!(read_now(&core).bytes, vec![1; 1500]);
        assert_eq!(read_now(&core).bytes, vec![2; 1500]);
        assert!(core.ring.is_empty());
    }
}
