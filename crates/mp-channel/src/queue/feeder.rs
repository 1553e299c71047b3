//! The per-process half of [`Queue`](crate::Queue): a buffer of encoded
//! items and the feeder thread that moves them into the ring when `put`
//! could not (ring full, or the writer lock busy), so `put` never blocks.
//!
//! `put` writes straight into the ring when this process has nothing
//! buffered and the ring has room; otherwise it appends to the buffer and
//! wakes the feeder (started on first use, named `QueueFeederThread` as in
//! Python). Items of one process thus reach the ring in `put` order. When
//! the last handle in a process is dropped, the buffer is flushed and the
//! thread joined, unless [`cancel_join_thread`](Feeder::cancel_join_thread)
//! was called — a process does not exit until what it put is in the queue.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use mp_wire::Message;

use super::core::Core;
use super::error::{PutError, QueueStateError};
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
    /// The feeder is writing an item taken from `buf` (until it comes
    /// back for the next one): `put` must not overtake it.
    in_flight: bool,
    /// That item is not published yet: it still counts as buffered.
    unpublished: bool,
    closed: bool,
    cancel_join: bool,
    thread: Option<JoinHandle<()>>,
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
}

impl Feeder {
    pub(crate) fn new(core: Arc<Core>) -> Arc<Feeder> {
        Arc::new(Feeder {
            core,
            state: Mutex::new(State {
                pid: my_pid(),
                buf: VecDeque::new(),
                in_flight: false,
                unpublished: false,
                closed: false,
                cancel_join: false,
                thread: None,
            }),
            cv: Condvar::new(),
            closed_by: AtomicU32::new(0),
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
            st.in_flight = false;
            st.unpublished = false;
            st.closed = false;
            st.cancel_join = false;
            st.thread = None;
        }
        st
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed_by.load(Relaxed) == my_pid()
    }

    /// Puts an encoded item; never blocks on the ring.
    pub(crate) fn put(self: &Arc<Self>, msg: Message) -> Result<(), PutError> {
        let mut st = self.state();
        if st.closed {
            return Err(PutError::Closed);
        }
        if st.buf.is_empty() && !st.in_flight && self.core.fits_one_record(&msg) {
            if let Some(_guard) = self.core.try_lock_writer() {
                if self.core.try_write(&msg)? {
                    return Ok(());
                }
            }
        }
        st.buf.push_back(msg);
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

    /// The feeder thread's body.
    fn run(&self) {
        loop {
            let msg = {
                let mut st = self.state();
                st.in_flight = false;
                loop {
                    if let Some(m) = st.buf.pop_front() {
                        st.in_flight = true;
                        st.unpublished = true;
                        break m;
                    }
                    if st.closed {
                        return;
                    }
                    st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
            };
            let _guard = self.core.lock_writer(&mut LazyDeadline::after(None));
            // The item leaves the buffer's count as the ring's counts it.
            let written = self.core.write_then(&msg, Deadline::NEVER, |publish| {
                let mut st = self.state();
                publish();
                st.unpublished = false;
            });
            if let Err(e) = written {
                // Python prints the error and drops the item.
                eprintln!("multiprocess: queue feeder thread could not write an item: {e}");
                self.state().unpublished = false;
                self.core.ring.all_done().notify_all();
            }
        }
    }

    /// `shared()` (a count of the ring's) plus the items this process put
    /// that are not in the ring yet, read together: the feeder moves an
    /// item from one count to the other under the same mutex.
    pub(crate) fn count_with(&self, shared: impl FnOnce() -> u64) -> u64 {
        let st = self.state();
        shared() + st.buf.len() as u64 + u64::from(st.unpublished)
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
