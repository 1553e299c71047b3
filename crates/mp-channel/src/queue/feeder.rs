//! The per-process half of [`Queue`](crate::Queue): a buffer of encoded
//! items and the feeder thread that moves them into the ring when `put`
//! could not (ring full, or the writer lock busy), so `put` never blocks.
//!
//! `put` writes straight into the ring when this process has nothing
//! buffered and the ring has room; otherwise it appends to the buffer and
//! wakes the feeder (started on first use, named `QueueFeederThread` as in
//! Python). Items of one process thus reach the ring in `put` order. The
//! straight write takes no mutex: `put` reads the count of this process's
//! unwritten items ([`Feeder::queued`]) and writes only if it is 0. When
//! the last handle in a process is dropped, the buffer is flushed and the
//! thread joined, unless [`cancel_join_thread`](Feeder::cancel_join_thread)
//! was called — a process does not exit until what it put is in the queue.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use mp_wire::Message;

use super::core::Core;
use super::direct::Direct;
use super::error::{PutError, QueueStateError};
use super::scratch;
use crate::reader::{Deadline, LazyDeadline};

/// The calling process's pid, cached (`getpid` is a system call; the
/// cached identity is wiped on `fork`).
fn my_pid() -> u32 {
    mp_shm::ProcessIdent::current().pid()
}

/// Buffer and thread state of one process.
#[derive(Debug)]
struct State {
    /// The process this state belongs to (a forked child starts afresh).
    pid: u32,
    buf: VecDeque<Message>,
    closed: bool,
    cancel_join: bool,
    thread: Option<JoinHandle<()>>,
    /// The bytes of an item the feeder wrote, for the next `put` that
    /// buffers one to encode into: items that keep going through the
    /// buffer (large ones) reuse two allocations instead of faulting a
    /// fresh one in each.
    spare: Vec<u8>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Feeder {
    core: Arc<Core>,
    state: Mutex<State>,
    cv: Condvar,
    /// The pid of the process that closed its half (0: none), readable
    /// without the mutex; a forked child is not the closer.
    closed_by: AtomicU32,
    /// Items this process put that are not in the ring yet: those in the
    /// buffer, plus the one the feeder took and has not published. Changed
    /// under the mutex (the feeder lowers it as it publishes, `Release`);
    /// `put` reads it without: at 0, every item put before (in this
    /// process, as far as happens-before orders them) is in the ring, so
    /// writing straight in keeps the order.
    queued: AtomicU64,
}

impl Feeder {
    pub(crate) fn new(core: Arc<Core>) -> Arc<Feeder> {
        Arc::new(Feeder {
            core,
            state: Mutex::new(State {
                pid: my_pid(),
                buf: VecDeque::new(),
                closed: false,
                cancel_join: false,
                thread: None,
                spare: Vec::new(),
            }),
            cv: Condvar::new(),
            closed_by: AtomicU32::new(0),
            queued: AtomicU64::new(0),
        })
    }

    /// The state, reset if this is a forked copy of another process's.
    fn state(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = my_pid();
        if st.pid != pid {
            // The parent's buffer and thread are not ours. Forget the handle
            // without joining: the thread does not exist here.
            st.pid = pid;
            st.buf.clear();
            st.closed = false;
            st.cancel_join = false;
            st.thread = None;
            self.queued.store(0, Relaxed);
        }
        st
    }

    /// Lowers [`queued`](Self::queued) by one item: holding the mutex.
    fn unqueue(&self, _st: &mut State) {
        let n = self.queued.load(Relaxed);
        self.queued.store(n.saturating_sub(1), Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed_by.load(Relaxed) == my_pid()
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
            scratch::recycle(std::mem::take(&mut sink.msg.bytes));
            return Ok(());
        }
        self.put(&mut sink.msg)
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
        self.buffer(std::mem::take(msg), tried)
    }

    /// `put` under the mutex: writes `msg` straight in if `put` did not
    /// try and may, else buffers it for the feeder thread (started here).
    #[inline(never)]
    fn buffer(self: &Arc<Self>, msg: Message, tried: bool) -> Result<(), PutError> {
        let mut st = self.state();
        if st.closed {
            return Err(PutError::Closed);
        }
        // (A forked child's first put finds its parent's count reset here.)
        if !tried && self.queued.load(Relaxed) == 0 && self.write_now(&msg)? {
            drop(st);
            scratch::recycle(msg.bytes);
            return Ok(());
        }
        st.buf.push_back(msg);
        self.queued.store(self.queued.load(Relaxed) + 1, Relaxed);
        scratch::recycle(std::mem::take(&mut st.spare));
        if st.thread.is_none() {
            let me = Arc::clone(self);
            st.thread = Some(
                std::thread::Builder::new()
                    .name("QueueFeederThread".into())
                    .spawn(move || me.run())?,
            );
        }
        drop(st);
        self.cv.notify_one();
        Ok(())
    }

    /// Writes `msg` into the ring if the writer lock is free and the ring
    /// has room for it whole now; returns whether it did.
    #[inline]
    fn write_now(&self, msg: &Message) -> io::Result<bool> {
        // By reference: the writer is dropped where it lies (a move of it
        // cost a store-forwarding stall).
        match self.core.try_lock_writer() {
            Some(ref writer) => writer.try_write(msg),
            None => Ok(false),
        }
    }

    /// The feeder thread's body.
    fn run(&self) {
        let mut written: Option<Vec<u8>> = None;
        loop {
            let msg = {
                let mut st = self.state();
                if let Some(bytes) = written.take() {
                    if scratch::worth_keeping(&bytes) && bytes.capacity() > st.spare.capacity() {
                        st.spare = bytes;
                    }
                }
                loop {
                    // It stays counted in `queued` until published.
                    if let Some(m) = st.buf.pop_front() {
                        break m;
                    }
                    if st.closed {
                        return;
                    }
                    st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
            };
            let writer = self
                .core
                .lock_writer(&mut LazyDeadline::after(None))
                .expect("a wait without a deadline ends with the lock");
            // The item leaves the buffer's count as the ring's counts it.
            let result = writer.write_then(&msg, Deadline::NEVER, |publish| {
                let mut st = self.state();
                publish();
                self.unqueue(&mut st);
            });
            drop(writer);
            if let Err(e) = result {
                // Python prints the error and drops the item.
                eprintln!("multiprocess: queue feeder thread could not write an item: {e}");
                let mut st = self.state();
                self.unqueue(&mut st);
                drop(st);
                self.core.ring.all_done().notify_all();
            }
            written = Some(msg.bytes);
        }
    }

    /// `shared()` (a count of the ring's) plus the items this process put
    /// that are not in the ring yet, read together: the feeder moves an
    /// item from one count to the other under the same mutex.
    pub(crate) fn count_with(&self, shared: impl FnOnce() -> u64) -> u64 {
        let _st = self.state();
        shared() + self.queued.load(Relaxed)
    }

    /// No more puts from this process; the feeder flushes and exits.
    pub(crate) fn close(&self) {
        let mut st = self.state();
        st.closed = true;
        self.closed_by.store(st.pid, Relaxed);
        drop(st);
        self.cv.notify_all();
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
