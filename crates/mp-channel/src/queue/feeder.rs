//! The per-process half of [`Queue`](crate::Queue): a buffer of encoded
//! items and the feeder thread that moves them into the ring when `put`
//! could not (ring full, or the writer lock busy), so `put` never blocks.
//!
//! `put` writes straight into the ring when this process has nothing
//! buffered and the ring has room; otherwise it appends to the buffer (a
//! small encoding without fds inline, [`Buffered::Small`]; any other as
//! the message it is) and,
//! if the buffer was empty (the feeder sleeps only then), wakes the feeder
//! (started on first use, named `QueueFeederThread` as in Python). Items
//! of one process thus reach the ring in `put` order. The straight write
//! takes no mutex: `put` reads the count of this process's
//! unwritten items ([`Feeder::queued`]) and writes only if it is 0. When
//! the last handle in a process is dropped, the buffer is flushed and the
//! thread joined, unless [`cancel_join_thread`](Feeder::cancel_join_thread)
//! was called — a process does not exit until what it put is in the queue.
//!
//! # The producer helps
//! A `put` that finds items buffered first writes as many of them as the
//! ring has room for now, from the front (taking the writer lock only if
//! it is free: it waits for neither the lock nor the consumer, and copies
//! at most the ring's free space of bytes already encoded), then the new
//! item straight in if the buffer emptied. So once the consumer catches up, the
//! producer is back on the one-copy path (`direct`) instead of encoding
//! into the buffer for the feeder to copy again for the rest of the run.
//! For that the feeder waits for room without holding an item: it takes
//! the front item only under the writer lock and the mutex, once it fits
//! (items that fit one record and carry no fds). An item that needs more —
//! chunks, or fds the side socket cannot take now — it takes out *in
//! flight* and writes waiting for room under the writer lock, as before;
//! no `put` writes while one is in flight, so nothing passes it.
//!
//! # A full ring
//! A `put` that finds the ring full with nothing of this process buffered
//! offers its CPU once (`sched_yield`) before it buffers, then looks
//! again. When a consumer shares the CPU (more processes than CPUs, or
//! both pinned to one), the consumer runs now and empties the ring, and
//! the producer goes on writing straight in: without the yield it ran its
//! whole time slice, buffering every item past the ring's capacity
//! (memory faulted in for the buffer, a mutex per item, a second copy
//! by the feeder), while the consumer could not run. With nothing else
//! to run on this CPU the yield returns at once (a system call per
//! buffering episode, not per item: a `put` that finds items of its own
//! buffered does not yield), and the item is buffered as before.
//!
//! A large item is looked at earlier, while it is encoded (`direct`): when
//! its encoding is about to go into the ring in place and the ring lacks
//! room for the bytes known then (80 KiB or more: a byte buffer's whole
//! length), the `put` waits for that room, holding nothing, about as long
//! as copying the bytes aside would take (128 µs a MiB). A consumer that
//! keeps up frees it within that, and the item goes in with one copy
//! instead of three (into the buffer, into the ring, out), with no feeder
//! thread woken and no buffer memory faulted in. A consumer that does not
//! costs that wait once per buffering episode, as the yield above: `put`
//! waits for a consumer at most about as long as the copy it saves, and
//! never behind items already buffered.
//!
//! # Forked copies
//! A feeder serves the process that made it. A process forked from it
//! holds copies of the parent's handles, and of its feeder: a copy whose
//! mutex another thread of the parent may have held at the fork (locked
//! for ever in the child), whose buffer and thread are the parent's, and
//! whose handles' count never reaches zero in the child (the parent's own
//! handles are copied with it), so no `Drop` would flush what the child
//! put. So a queue handle holds its feeder in a
//! [`ProcessLocal`](crate::process_local::ProcessLocal), and every use
//! goes through it: in a forked child it makes (lock-free, once) a feeder
//! of the child's own ([`Feeder::forked_from`]), chained to the copy it
//! came from, and registered to be flushed when the child ends (an exit
//! finalizer: the child ends only once what it put is in the queue, as
//! Python's feeder is joined at exit).
//!
//! Lock order: the writer lock, then the mutex. A thread holding the
//! mutex never waits for the writer lock (`put` only tries it); the feeder
//! waits for it holding nothing, and both may then wait for the mutex. A
//! buffered item is copied into the ring under the mutex, one per hold.

use mp_sys::thread_spawn::JoinHandle;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use mp_wire::Message;

use super::core::{Core, Writer};
use super::direct::{Direct, SMALL_ITEM};
use super::error::{PutError, QueueStateError};
use super::ring::{Wait, RECORD_HEADER, SMALL_RECORD, SPIN_MAX_BYTES};
use crate::reader::{Deadline, LazyDeadline};
use crate::scratch;

/// Written items' buffers kept for the next ones to encode into (items
/// that keep going through the buffer, large ones, then reuse a few
/// allocations instead of faulting a fresh one in each).
const SPARES: usize = 4;

/// An item in the buffer: a small encoding without fds, inline (buffering
/// it allocates nothing: a `malloc` in `put` and a `free` in the feeder
/// thread were a sixth of M3d's time), or any other message.
#[derive(Debug)]
enum Buffered {
    Small { len: u8, bytes: [u8; SMALL_ITEM] },
    Message(Message),
}

impl Buffered {
    /// `bytes` (at most [`SMALL_ITEM`] of them), inline.
    fn small(bytes: &[u8]) -> Buffered {
        let mut inline = [0; SMALL_ITEM];
        inline[..bytes.len()].copy_from_slice(bytes);
        Buffered::Small {
            len: bytes.len() as u8,
            bytes: inline,
        }
    }

    /// Holding the writer lock: writes the item if it fits whole now.
    fn try_write(&self, writer: &Writer<'_>) -> io::Result<bool> {
        match self {
            Buffered::Small { len, bytes } => Ok(writer.try_write_small(&bytes[..*len as usize])),
            Buffered::Message(msg) => writer.try_write(msg),
        }
    }

    /// What a written item leaves to reuse: a message's buffer.
    fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Buffered::Small { .. } => None,
            Buffered::Message(msg) => Some(msg.bytes),
        }
    }
}

/// Buffer and thread state of one process.
#[derive(Debug)]
struct State {
    buf: VecDeque<Buffered>,
    /// The feeder holds an item it took from `buf` and has not published
    /// or dropped yet: no `put` writes into the ring until it has (it
    /// would pass that item). So with none in flight, `queued == buf.len()`.
    in_flight: bool,
    closed: bool,
    cancel_join: bool,
    thread: Option<JoinHandle<()>>,
    /// The bytes of written items, for the next `put`s that buffer one to
    /// encode into (at most [`SPARES`]).
    spares: Vec<Vec<u8>>,
}

impl State {
    /// Keeps the bytes of a written item for a later one.
    fn keep_spare(&mut self, bytes: Option<Vec<u8>>) {
        let Some(bytes) = bytes else {
            return;
        };
        if self.spares.len() < SPARES && bytes.capacity() > 0 && scratch::worth_keeping(&bytes) {
            self.spares.push(bytes);
        }
    }
}

/// Offers this CPU to whatever else may run on it (`sched_yield`): a
/// consumer that shares it empties the ring meanwhile.
fn offer_cpu() {
    #[cfg(test)]
    tests::AT_OFFER.with(|at| {
        if let Some(consumer) = at.borrow_mut().as_mut() {
            consumer();
        }
    });
    std::thread::yield_now();
}

/// Says on stderr that the feeder dropped an item it could not write
/// (as Python's feeder prints the error).
fn report_dropped(e: &io::Error) {
    eprintln!("multiprocess: queue feeder thread could not write an item: {e}");
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Feeder {
    core: Arc<Core>,
    state: Mutex<State>,
    cv: Condvar,
    /// This process closed its half (readable without the mutex).
    closed: AtomicBool,
    /// Items this process put that are not in the ring yet: those in the
    /// buffer, plus the one in flight. Changed under the mutex (lowered,
    /// `Release`, as each is published); `put` reads it without: at 0,
    /// every item put before (in this process, as far as happens-before
    /// orders them) is in the ring, so writing straight in keeps the order.
    queued: AtomicU64,
}

impl Feeder {
    /// The feeder of the calling process.
    pub(crate) fn new(core: Arc<Core>) -> Arc<Feeder> {
        Arc::new(Feeder {
            core,
            state: Mutex::new(State {
                buf: VecDeque::new(),
                in_flight: false,
                closed: false,
                cancel_join: false,
                thread: None,
                spares: Vec::new(),
            }),
            cv: Condvar::new(),
            closed: AtomicBool::new(false),
            queued: AtomicU64::new(0),
        })
    }

    /// The feeder of a process forked from the one `parent` serves (a
    /// copy, read for its queue only), registered to be flushed when the
    /// process ends (see the module docs): what a queue handle's
    /// [`ProcessLocal`](crate::process_local::ProcessLocal) makes there.
    pub(crate) fn forked_from(parent: &Arc<Feeder>) -> Arc<Feeder> {
        let mine = Feeder::new(Arc::clone(&parent.core));
        flush_at_exit(&mine);
        mine
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lowers [`queued`](Self::queued) by one item: holding the mutex.
    fn unqueue(&self, _st: &mut State) {
        let n = self.queued.load(Relaxed);
        self.queued.store(n.saturating_sub(1), Release);
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Encodes and puts `item` (a large one straight into the ring if it
    /// may, see `direct`); never blocks on the ring.
    ///
    /// # Errors
    /// [`PutError::Encode`] (nothing put), and as [`put`](Self::put).
    #[inline]
    pub(crate) fn put_item<T: serde::Serialize + ?Sized>(
        self: &Arc<Self>,
        item: &T,
    ) -> Result<(), PutError> {
        let mut sink = Direct::new(&self.core, self.queued.load(Acquire) == 0);
        let fds = mp_wire::encode_to_sink(item, &mut sink)?;
        if sink.finish(fds, || self.queued.load(Acquire) == 0) {
            sink.recycle();
            return Ok(());
        }
        if let Some((record, len)) = sink.small_record() {
            // As `put`, the straight write from the stack.
            let tried = self.queued.load(Acquire) == 0;
            if tried && self.write_small_now(record, len) {
                return Ok(());
            }
            return self.buffer(
                Buffered::small(&record[RECORD_HEADER as usize..][..len]),
                tried,
            );
        }
        self.put(sink.msg())
    }

    /// Puts an encoded item (from `scratch::encode`, whose buffer it
    /// recycles; `msg` is left empty); never blocks on the ring.
    #[inline]
    pub(crate) fn put(self: &Arc<Self>, msg: &mut Message) -> Result<(), PutError> {
        // Nothing of ours waits: straight in if the writer lock is free and
        // the ring has room, without the mutex.
        let tried = self.queued.load(Acquire) == 0;
        if tried && self.write_now(msg)? {
            scratch::recycle(std::mem::take(&mut msg.bytes));
            return Ok(());
        }
        self.buffer(Buffered::Message(std::mem::take(msg)), tried)
    }

    /// `put` when it could not write straight in: if it just tried and the
    /// ring was full, offers the CPU once and looks again; writes the
    /// buffered items that fit now (if the writer lock is free), then,
    /// under the mutex, `item` straight in if nothing of ours is left
    /// before it and `put` did not just try (or room was found), else
    /// buffers it for the feeder thread (started here).
    #[inline(never)]
    fn buffer(self: &Arc<Self>, item: Buffered, mut tried: bool) -> Result<(), PutError> {
        if tried && self.ring_is_full_for(&item) {
            // The CPU is offered once, then the ring looked at again (module
            // docs, "A full ring").
            offer_cpu();
            tried = false;
        }
        let mut writer = None;
        let mut helped = false;
        if self.queued.load(Acquire) > 0 && !self.is_closed() {
            // The producer helps (module docs). An error writing a
            // buffered item is the feeder's to report (it drops the item).
            writer = self.core.try_lock_writer();
            if let Some(w) = &writer {
                helped = self.drain(w).unwrap_or(0) > 0;
            }
        }
        let mut st = self.state();
        if st.closed {
            return Err(PutError::Closed);
        }
        // (A forked child's first put finds its parent's count reset here.)
        if (!tried || helped) && self.queued.load(Relaxed) == 0 {
            let written = match &writer {
                Some(w) => item.try_write(w)?,
                None => self.with_free_writer(|w| item.try_write(w))?,
            };
            if written {
                drop(writer);
                let spare = st.spares.pop();
                drop(st);
                if let Some(bytes) = item.into_bytes() {
                    scratch::recycle(bytes);
                }
                if let Some(spare) = spare {
                    scratch::recycle(spare);
                }
                return Ok(());
            }
        }
        drop(writer);
        let took_a_buffer = matches!(item, Buffered::Message(_));
        st.buf.push_back(item);
        // The feeder thread sleeps on `cv` only once it found the buffer
        // empty under the mutex, so only the item that ends that wakes it:
        // std's `notify_one` makes a system call whether or not anyone
        // waits, once per buffered item before.
        let wake = st.buf.len() == 1;
        self.queued.store(self.queued.load(Relaxed) + 1, Relaxed);
        // The item took this thread's encode buffer with it: a spare
        // takes its place.
        if took_a_buffer {
            if let Some(spare) = st.spares.pop() {
                scratch::recycle(spare);
            }
        }
        if st.thread.is_none() {
            let me = Arc::clone(self);
            st.thread = Some(
                mp_sys::thread_spawn::Builder::new("QueueFeederThread").spawn(move || me.run())?,
            );
        }
        drop(st);
        if wake {
            self.cv.notify_one();
        }
        Ok(())
    }

    /// Whether the ring has no room for `item` now (items written in
    /// flight, chunks or fds, never count as full).
    fn ring_is_full_for(&self, item: &Buffered) -> bool {
        self.room_to_wait_for(item)
            .is_some_and(|need| !self.core.ring.has_room(need))
    }

    /// Writes `msg` into the ring if the writer lock is free and the ring
    /// has room for it whole now; returns whether it did.
    #[inline]
    fn write_now(&self, msg: &Message) -> io::Result<bool> {
        self.with_free_writer(|writer| writer.try_write(msg))
    }

    /// [`write_now`](Self::write_now) of a small encoding without fds.
    #[inline]
    fn write_small_now(&self, record: &mut [u8; SMALL_RECORD], len: usize) -> bool {
        self.with_free_writer(|writer| Ok(writer.try_write_small_record(record, len)))
            .unwrap_or(false)
    }

    /// `write(writer)` if the writer lock is free now; else `Ok(false)`.
    #[inline]
    fn with_free_writer(
        &self,
        write: impl FnOnce(&Writer<'_>) -> io::Result<bool>,
    ) -> io::Result<bool> {
        // By reference: the writer is dropped where it lies (a move of it
        // cost a store-forwarding stall).
        match self.core.try_lock_writer() {
            Some(ref writer) => write(writer),
            None => Ok(false),
        }
    }

    /// Holding the writer lock: writes buffered items from the front while
    /// each fits whole now, each counted out of [`queued`](Self::queued)
    /// as it is published; stops at an item in flight (nothing may pass
    /// it). Takes the mutex for each item: one copy per hold, as a
    /// publication from the buffer always was (a thread that forks
    /// meanwhile leaves its child this mutex locked). Returns how many it
    /// wrote; an error leaves the item that met it at the front.
    fn drain(&self, writer: &Writer<'_>) -> io::Result<usize> {
        let mut written = 0;
        loop {
            let mut st = self.state();
            if st.in_flight {
                return Ok(written);
            }
            let Some(front) = st.buf.front() else {
                return Ok(written);
            };
            if !front.try_write(writer)? {
                return Ok(written);
            }
            let item = st.buf.pop_front().expect("the front item is there");
            self.unqueue(&mut st);
            st.keep_spare(item.into_bytes());
            written += 1;
        }
    }

    /// The free bytes the feeder waits for before it writes `item` under
    /// the mutex, or `None` if it writes `item` in flight (chunks or fds).
    fn room_to_wait_for(&self, item: &Buffered) -> Option<u64> {
        match item {
            Buffered::Small { len, .. } => Some(self.core.ring.need(u64::from(*len))),
            Buffered::Message(msg) => (msg.fds.is_empty() && self.core.fits_one_record(msg))
                .then(|| self.core.ring.need(msg.bytes.len() as u64)),
        }
    }

    /// The feeder thread's body.
    fn run(&self) {
        let ring = &self.core.ring;
        loop {
            let need = {
                let mut st = self.state();
                loop {
                    if let Some(front) = st.buf.front() {
                        break self.room_to_wait_for(front);
                    }
                    if st.closed {
                        return;
                    }
                    st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
            };
            if let Some(need) = need {
                // Holding neither the item nor the lock: a `put` meanwhile
                // may write it itself (then `queued` may reach 0).
                let ready = || ring.has_room(need) || self.queued.load(Acquire) == 0;
                let want = Wait::Space(ring.space_to_want(need));
                self.core
                    .wait_until(want, need <= SPIN_MAX_BYTES, Deadline::NEVER, ready);
            }
            let writer = self
                .core
                .lock_writer(&mut LazyDeadline::after(None))
                .expect("a wait without a deadline ends with the lock");
            if let Err(e) = self.drain(&writer) {
                let mut st = self.state();
                st.buf.pop_front();
                self.dropped(st, &e);
                continue;
            }
            let mut st = self.state();
            let Some(front) = st.buf.front() else {
                continue;
            };
            // Someone took the room meanwhile: wait again. (Only a message
            // is ever written in flight: a small item always waits above.)
            if self.room_to_wait_for(front).is_some() || !matches!(front, Buffered::Message(_)) {
                continue;
            }
            // Under the same hold of the mutex: the front just looked at.
            let Some(Buffered::Message(msg)) = st.buf.pop_front() else {
                continue;
            };
            st.in_flight = true;
            drop(st);
            // The item leaves the buffer's count as the ring's counts it.
            let result = writer.write_then(&msg, Deadline::NEVER, |publish| {
                let mut st = self.state();
                publish();
                self.unqueue(&mut st);
                st.in_flight = false;
            });
            drop(writer);
            match result {
                Err(e) => {
                    let mut st = self.state();
                    // Still in flight: the error came before `publish_last`.
                    if std::mem::take(&mut st.in_flight) {
                        self.dropped(st, &e);
                    } else {
                        // Counted out by `publish_last` already, whose
                        // record then could not be published (`write_then`):
                        // the item is lost all the same.
                        drop(st);
                        report_dropped(&e);
                        self.core.ring.all_done().notify_all();
                    }
                }
                Ok(_) => self.state().keep_spare(Some(msg.bytes)),
            }
        }
    }

    /// The item the feeder took could not be written: Python prints the
    /// error and drops the item.
    fn dropped(&self, mut st: MutexGuard<'_, State>, e: &io::Error) {
        report_dropped(e);
        self.unqueue(&mut st);
        drop(st);
        self.core.ring.all_done().notify_all();
    }

    /// `shared()` (a count of the ring's) plus the items this process put
    /// that are not in the ring yet, read together: an item moves from one
    /// count to the other under the same mutex. (Saturating: the ring's
    /// counts are shared words another process may have damaged.)
    pub(crate) fn count_with(&self, shared: impl FnOnce() -> u64) -> u64 {
        let _st = self.state();
        shared().saturating_add(self.queued.load(Relaxed))
    }

    /// No more puts from this process; the feeder flushes and exits.
    pub(crate) fn close(&self) {
        let mut st = self.state();
        st.closed = true;
        self.closed.store(true, Relaxed);
        drop(st);
        self.cv.notify_all();
        // A feeder waiting for room for an item a `put` wrote meanwhile
        // sees so now rather than at its next periodic look.
        self.core.ring.space().notify_all();
    }

    /// Waits for the feeder to flush and exit (after [`close`](Self::close)).
    pub(crate) fn join_thread(&self) -> Result<(), QueueStateError> {
        let handle = {
            let mut st = self.state();
            if !st.closed {
                return Err(QueueStateError::NotClosed);
            }
            st.thread.take()
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
        Ok(())
    }

    /// Don't wait for the feeder when the last handle goes away.
    pub(crate) fn cancel_join_thread(&self) {
        self.state().cancel_join = true;
    }

    /// The last handle in this process is gone: close, and flush unless cancelled.
    pub(crate) fn finish(&self) {
        self.close();
        let handle = {
            let mut st = self.state();
            if st.cancel_join {
                None
            } else {
                st.thread.take()
            }
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Feeders made for forked copies ([`Feeder::forked_from`]), flushed when the
/// process ends ([`flush_forked`]); their handles are copies whose count
/// never reaches zero here.
static FORKED: Mutex<Vec<Weak<Feeder>>> = Mutex::new(Vec::new());

fn forked() -> MutexGuard<'static, Vec<Weak<Feeder>>> {
    FORKED.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// [`FORKED`]'s lock, held by the forking thread across a fork.
    static HELD: RefCell<Option<MutexGuard<'static, Vec<Weak<Feeder>>>>> =
        const { RefCell::new(None) };
}

/// Registers `f` to be flushed when this process ends; the first one also
/// registers the exit finalizer and the fork hook that holds [`FORKED`]
/// across later forks (a child forked while another thread held it would
/// wait for it for ever) and clears it in the child (its feeders are the
/// parent's).
fn flush_at_exit(f: &Arc<Feeder>) {
    static HOOKED: AtomicBool = AtomicBool::new(false);
    mp_sys::fork_hooks::register_once(
        &HOOKED,
        mp_sys::fork_hooks::ForkHook {
            prepare: || HELD.with(|h| *h.borrow_mut() = Some(forked())),
            parent: || HELD.with(|h| drop(h.borrow_mut().take())),
            child: || {
                HELD.with(|h| {
                    if let Some(mut list) = h.borrow_mut().take() {
                        list.clear();
                    }
                })
            },
        },
    );
    mp_sys::exit::register_finalizer(flush_forked);
    let mut list = forked();
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(f));
}

/// Closes and flushes (unless cancelled) the feeders made for forked
/// copies: an exit finalizer.
fn flush_forked() {
    let list = std::mem::take(&mut *forked());
    for f in list.iter().filter_map(Weak::upgrade) {
        f.finish();
    }
}

#[cfg(test)]
mod tests {
    //! The producer's help, step by step: without a feeder thread (a
    //! finished one stands in for it), so that only `put` moves buffered
    //! items and every step's outcome is known; and the feeder thread's
    //! wake-up, with a real one.
    use std::time::Duration;

    use super::*;
    use crate::process_local::ProcessLocal;
    use crate::queue::core::Read;

    const ITEM: usize = 1000;

    thread_local! {
        /// What runs where `put` offers the CPU (a consumer that shares
        /// it, in the tests that set one).
        pub(super) static AT_OFFER: RefCell<Option<Box<dyn FnMut()>>> = RefCell::new(None);
    }

    /// A queue of 4 KiB: four 1000-byte records fit.
    fn feeder() -> Arc<Feeder> {
        let feeder = Feeder::new(Arc::new(Core::new(4096, 0).unwrap()));
        let done = mp_sys::thread_spawn::Builder::new("test").spawn(|| {});
        feeder.state().thread = Some(done.unwrap());
        feeder
    }

    fn put(feeder: &Arc<Feeder>, n: u8) {
        let mut msg = Message::from_bytes(vec![n; ITEM]);
        feeder.put(&mut msg).unwrap();
    }

    /// The next message, one of `put`'s: its byte.
    fn get(feeder: &Feeder) -> u8 {
        let buf = get_bytes(feeder);
        assert_eq!(buf.len(), ITEM);
        assert!(buf.iter().all(|&b| b == buf[0]));
        buf[0]
    }

    /// The next message's bytes, whatever their length.
    fn get_bytes(feeder: &Feeder) -> Vec<u8> {
        let mut deadline = LazyDeadline::after(Some(Duration::from_secs(10)));
        let (mut buf, mut fds) = (Vec::new(), Vec::new());
        let _reader = feeder.core.lock_reader(&mut deadline).unwrap();
        let read = feeder
            .core
            .read(&mut deadline, &mut buf, &mut fds, false, usize::MAX);
        let Ok(Read::Copied(len)) = read else {
            panic!("a message: {read:?}");
        };
        buf.truncate(len);
        buf
    }

    fn queued(feeder: &Feeder) -> u64 {
        feeder.queued.load(Relaxed)
    }

    /// `qsize`'s count: in the ring plus buffered.
    fn count(feeder: &Feeder) -> u64 {
        feeder.count_with(|| feeder.core.ring.size())
    }

    #[test]
    fn a_damaged_message_count_does_not_overflow_the_count() {
        let f = feeder();
        for n in 0..5 {
            put(&f, n);
        }
        assert_eq!(queued(&f), 1, "the ring is full: one buffered");
        // Another process writes the ring's `puts` word (@128): before,
        // adding the buffered item overflowed (a panic in debug builds).
        // The ring's count is at most the records it can hold.
        let region: mp_shm::Region =
            mp_wire::decode(mp_wire::encode(&f.core.ring).unwrap()).unwrap();
        region
            .atomic_u64(128)
            .unwrap()
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(count(&f), f.core.ring.cap() / 8 + 1);
    }

    /// A queue of 256 KiB without a feeder thread (as [`feeder`]): two
    /// [`BIG`] items fit, each written in place (`Direct`).
    fn big_feeder() -> Arc<Feeder> {
        let feeder = Feeder::new(Arc::new(Core::new(256 << 10, 0).unwrap()));
        let done = mp_sys::thread_spawn::Builder::new("test").spawn(|| {});
        feeder.state().thread = Some(done.unwrap());
        feeder
    }

    const BIG: usize = 100 << 10;

    fn put_big(feeder: &Arc<Feeder>, n: u8) {
        feeder
            .put_item(&serde_bytes::Bytes::new(&vec![n; BIG]))
            .unwrap();
    }

    /// The next message, one of `put_big`'s: its byte.
    fn get_big(feeder: &Feeder) -> u8 {
        let bytes = get_bytes(feeder);
        let item: serde_bytes::ByteBuf = mp_wire::decode(Message::from_bytes(bytes)).unwrap();
        assert_eq!(item.len(), BIG);
        item[0]
    }

    /// A large item that finds the ring full waits for the room a consumer
    /// frees, and goes in place (before, it was encoded aside and
    /// buffered at once).
    #[test]
    fn a_large_put_waits_for_room_a_consumer_frees() {
        let f = big_feeder();
        put_big(&f, 1);
        put_big(&f, 2);
        assert_eq!(queued(&f), 0, "two fit");
        crate::queue::direct::ROOM_WAIT.with(|w| w.set(Some(Duration::from_secs(60))));
        let consumer = {
            let f = Arc::clone(&f);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                get_big(&f)
            })
        };
        put_big(&f, 3);
        crate::queue::direct::ROOM_WAIT.with(|w| w.set(None));
        assert_eq!(queued(&f), 0, "it waited for room and went in, not aside");
        assert_eq!(consumer.join().unwrap(), 1);
        assert_eq!((get_big(&f), get_big(&f)), (2, 3));
    }

    /// A large item whose room does not come within its wait is buffered,
    /// and the next `put` behind it does not wait.
    #[test]
    fn a_large_put_buffers_when_no_room_comes_in_time() {
        let f = big_feeder();
        put_big(&f, 1);
        put_big(&f, 2);
        crate::queue::direct::ROOM_WAIT.with(|w| w.set(Some(Duration::from_millis(20))));
        put_big(&f, 3);
        assert_eq!(queued(&f), 1, "no room came: buffered");
        // Behind a buffered item: no wait at all (the hour set here would
        // hang the test, and the order rule forbids writing past item 3).
        crate::queue::direct::ROOM_WAIT.with(|w| w.set(Some(Duration::from_secs(3600))));
        put_big(&f, 4);
        crate::queue::direct::ROOM_WAIT.with(|w| w.set(None));
        assert_eq!(queued(&f), 2);
        assert_eq!((get_big(&f), get_big(&f)), (1, 2));
    }

    #[test]
    fn put_writes_buffered_items_first_then_goes_straight_in_again() {
        let f = feeder();
        for n in 0..4 {
            put(&f, n);
        }
        assert_eq!(queued(&f), 0, "four fit");
        for n in 4..7 {
            put(&f, n);
        }
        assert_eq!(queued(&f), 3, "the ring is full: buffered");
        assert_eq!((get(&f), get(&f)), (0, 1));
        put(&f, 7);
        assert_eq!(queued(&f), 2, "4 and 5 written by this put; 6 and 7 wait");
        assert_eq!(count(&f), 6);
        assert_eq!((get(&f), get(&f), get(&f)), (2, 3, 4));
        put(&f, 8);
        assert_eq!(queued(&f), 0, "6 and 7 written, then 8 straight in");
        assert_eq!(count(&f), 4);
        assert_eq!(get(&f), 5);
        put(&f, 9);
        assert_eq!(queued(&f), 0, "straight in: nothing buffered");
        for n in 6..10 {
            assert_eq!(get(&f), n);
        }
        assert_eq!(count(&f), 0);
    }

    /// A `put` that finds the ring full with nothing of its own buffered
    /// offers the CPU once, then writes straight in if a consumer made room
    /// meanwhile; if none did it buffers, and a `put` behind a buffered
    /// item does not offer the CPU again.
    #[test]
    fn a_put_offers_the_cpu_once_when_the_ring_is_full() {
        let f = feeder();
        for n in 0..4 {
            put(&f, n);
        }
        let offers = Arc::new(AtomicU64::new(0));
        let (consumer, counted) = (Arc::clone(&f), Arc::clone(&offers));
        AT_OFFER.with(|at| {
            *at.borrow_mut() = Some(Box::new(move || {
                // The first offer finds a consumer that takes two items;
                // later ones, none.
                if counted.fetch_add(1, Relaxed) == 0 {
                    assert_eq!((get(&consumer), get(&consumer)), (0, 1));
                }
            }))
        });
        put(&f, 4);
        assert_eq!(offers.load(Relaxed), 1, "the ring was full: one offer");
        assert_eq!(queued(&f), 0, "room made meanwhile: straight in");
        put(&f, 5);
        assert_eq!(offers.load(Relaxed), 1, "room for it: no offer");
        put(&f, 6);
        assert_eq!(offers.load(Relaxed), 2, "full again: an offer");
        assert_eq!(queued(&f), 1, "no room made: buffered");
        put(&f, 7);
        assert_eq!(offers.load(Relaxed), 2, "behind a buffered item: none");
        assert_eq!(queued(&f), 2);
        AT_OFFER.with(|at| at.borrow_mut().take());
        for n in 2..8 {
            assert_eq!(get(&f), n);
            put(&f, 100);
        }
        assert_eq!(offers.load(Relaxed), 2, "the buffered items went first");
    }

    /// A small item buffered inline keeps its place among the others and
    /// goes out with them when a later `put` helps.
    #[test]
    fn small_items_buffered_inline_keep_their_place() {
        let f = feeder();
        for n in 0..4 {
            put(&f, n); // 4 × 1008 bytes of the 4096
        }
        for n in 10..14u8 {
            f.put_item(&n).unwrap(); // 4 × 16: the ring is full
        }
        assert_eq!(queued(&f), 0);
        f.put_item(&20u8).unwrap();
        assert!(matches!(
            f.state().buf.front(),
            Some(Buffered::Small { len: 1, .. })
        ));
        put(&f, 21);
        f.put_item(&22u8).unwrap();
        assert_eq!((queued(&f), count(&f)), (3, 11));
        assert_eq!((get(&f), get(&f)), (0, 1));
        // 2016 bytes free: this put writes 20, 21 and 22, then itself.
        f.put_item(&23u8).unwrap();
        assert_eq!((queued(&f), count(&f)), (0, 10));
        assert_eq!((get(&f), get(&f)), (2, 3));
        for n in 10..14u8 {
            assert_eq!(get_bytes(&f), [n]);
        }
        assert_eq!(get_bytes(&f), [20]);
        assert_eq!(get(&f), 21);
        assert_eq!((get_bytes(&f), get_bytes(&f)), (vec![22], vec![23]));
        assert_eq!(count(&f), 0);
    }

    #[test]
    fn nothing_passes_an_item_in_flight() {
        let f = feeder();
        for n in 0..5 {
            put(&f, n);
        }
        assert_eq!(queued(&f), 1);
        // As if the feeder had taken a second item out to write it.
        f.state().in_flight = true;
        f.queued.fetch_add(1, Relaxed);
        assert_eq!((get(&f), get(&f)), (0, 1));
        put(&f, 5);
        assert_eq!(queued(&f), 3, "room, but the item in flight goes first");
        f.state().in_flight = false;
        f.queued.fetch_sub(1, Relaxed);
        put(&f, 6);
        assert_eq!(queued(&f), 1, "4 and 5 written; 6 waits for room");
        assert_eq!((get(&f), get(&f), get(&f), get(&f)), (2, 3, 4, 5));
        put(&f, 7);
        assert_eq!(queued(&f), 0);
        assert_eq!((get(&f), get(&f)), (6, 7));
    }

    #[test]
    fn a_forked_copy_is_served_by_a_feeder_of_its_own() {
        let f = feeder();
        let own = ProcessLocal::new(Arc::clone(&f));
        let local = own.local_or(Feeder::forked_from);
        assert!(Arc::ptr_eq(local, &f), "the maker's own");
        // A copy as a forked child finds it: another pid, a mutex held for
        // ever, items and an item in flight that are not the child's.
        let pid = mp_shm::ProcessIdent::current().pid();
        let inherited = Feeder::new(Arc::clone(&f.core));
        let copy = ProcessLocal::for_process(pid + 1, Arc::clone(&inherited));
        inherited.queued.store(2, Relaxed);
        let held = inherited.state();
        let mine = copy.local_or(Feeder::forked_from);
        assert!(!Arc::ptr_eq(mine, &inherited));
        assert_eq!(mine.queued.load(Relaxed), 0);
        assert!(!mine.state().in_flight && !mine.is_closed());
        assert!(
            Arc::ptr_eq(copy.local_or(Feeder::forked_from), mine),
            "made once"
        );
        put(mine, 1);
        assert_eq!(get(&f), 1);
        drop(held);
    }

    /// Waits up to 10 s for every item `f` buffered to reach the ring.
    fn flushed(f: &Feeder) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while queued(f) > 0 {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// The feeder thread is woken only by the item that ends its sleep on
    /// the condition variable (an empty buffer): here a lone item buffered
    /// after it flushed everything and went back to sleep, with no `put`
    /// after it to help.
    #[test]
    fn the_feeder_thread_wakes_for_an_item_buffered_after_it_slept() {
        let f = Feeder::new(Arc::new(Core::new(4096, 0).unwrap()));
        for n in 0..5 {
            put(&f, n);
        }
        assert_eq!(
            queued(&f),
            1,
            "the ring is full: buffered, a thread started"
        );
        assert_eq!(get(&f), 0);
        assert!(flushed(&f), "the feeder wrote item 4 once there was room");
        // Let it find the buffer empty and sleep on the condition variable.
        std::thread::sleep(Duration::from_millis(50));
        put(&f, 5);
        assert_eq!(queued(&f), 1, "the ring is full again: buffered");
        assert_eq!(get(&f), 1);
        assert!(flushed(&f), "the lone buffered item woke the feeder");
        for n in 2..6 {
            assert_eq!(get(&f), n);
        }
        f.finish();
    }
}
