//! [`ThreadPool`]: Python's `multiprocessing.pool.ThreadPool` (and
//! `multiprocessing.dummy.Pool`) — the API of [`Pool`](crate::Pool) on
//! threads of this process — and its lifecycle (`close`, `terminate`,
//! `join`, drop).

mod builder;
mod engine;
mod jobs;
mod submit;
mod with_state;

use mp_sys::thread_spawn::JoinHandle;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::PoolError;
use crate::lock::lock;
use mp_sys::time::Deadline;

pub use builder::ThreadPoolBuilder;
pub use jobs::ThreadStarFn;

use engine::{Engine, RunState};

/// A pool of worker threads in this process (Python's
/// `multiprocessing.pool.ThreadPool`), with the methods of
/// [`Pool`](crate::Pool): `apply`, `apply_async(_with)`, `map(_chunked)`,
/// `map_async(_with)`, `starmap`, `starmap_async(_with)`, `imap(_chunked)`,
/// `imap_unordered(_chunked)`, `close`, `terminate`, `join`, the `*_opts`
/// forms (a progress hook; a task timeout is refused) and the
/// `*_with_state` calls (a worker state per thread), and the same result
/// types ([`AsyncResult`](crate::AsyncResult),
/// [`Callbacks`](crate::Callbacks), [`IMapIterator`](crate::IMapIterator),
/// [`TaskError`](crate::TaskError)).
///
/// Unlike [`Pool`](crate::Pool), nothing is encoded: task functions are any
/// `Fn + Send + Sync + 'static`, capturing closures included, and inputs and
/// results any `Send + 'static` values. Threads are named
/// `ThreadPoolWorker-N`. There is no `maxtasksperchild` (a thread has no
/// state to shed; Python's `ThreadPool` has none either), no
/// `max_memory_per_child` and no task timeout (refused at `build()`: a
/// thread can be neither replaced to give memory back nor killed), and no
/// start method.
///
/// ```
/// use std::sync::Arc;
/// use mp_pool::ThreadPool;
///
/// let offset = Arc::new(10u64);
/// let pool = ThreadPool::with_threads(2)?;
/// let o = offset.clone();
/// assert_eq!(pool.map(move |x: u64| x + *o, 0..4)?, vec![10, 11, 12, 13]);
/// let r = pool.apply_async(|a: u64, b: u64| a * b, (6, 7))?;
/// assert_eq!(r.get()?, 42);
/// let mut squares: Vec<u64> = pool
///     .imap_unordered(|x: u64| x * x, 0..4)?
///     .map(Result::unwrap)
///     .collect();
/// squares.sort();
/// assert_eq!(squares, vec![0, 1, 4, 9]);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
///
/// # Callbacks
/// [`Callbacks`](crate::Callbacks) run on the pool thread that finished the
/// call's last chunk, right after it (CPython runs them on the pool's one
/// result-handler thread), before the result becomes ready. A callback that
/// panics is reported and the pool carries on. A callback, like a task,
/// occupies its thread while it runs.
///
/// # Failures
/// A panic in a task is that task's `Err` ([`TaskError::Panic`](crate::TaskError::Panic)
/// with its message and location, recorded quietly by mp-process's panic
/// hook; if the program replaced that hook with its own `panic::set_hook`
/// since, the panic is printed by that hook and the location is
/// `<unknown>`).
/// Waiting from a task for another call of the same pool can deadlock when
/// every thread waits, as in Python.
///
/// # Cancelling
/// [`AsyncResult::cancel`](crate::AsyncResult::cancel) and
/// [`IMapIterator::cancel`](crate::IMapIterator::cancel) (or dropping the
/// iterator) drop the call's tasks no thread has begun; a task already
/// running finishes and its result is dropped (a thread cannot be killed, so
/// `cancel_and_kill` does the same).
///
/// # Dropping and terminating
/// Dropping a `ThreadPool` **terminates** it, as Python's
/// `with ThreadPool() as p:` does at the end of the block: queued tasks are
/// dropped and every unfinished result becomes [`PoolError::Terminated`].
/// To let queued work finish, call [`close`](Self::close) and
/// [`join`](Self::join) first. A thread cannot be stopped from outside: a
/// thread in the middle of a task when the pool terminates finishes that
/// task in the background (its result is discarded) and then exits;
/// `terminate` and `join` do not wait for it (CPython's `join` does).
///
/// # Forked copies
/// Only the process that made a pool may use it. A child forked with a
/// copy of it (a closure's capture) has none of its threads: its calls
/// fail with [`PoolError::NotOwner`] before taking any lock (the pool's may
/// be held for ever there by a thread it does not have), `close` and
/// `terminate` do nothing there, and dropping the copy waits for nothing.
pub struct ThreadPool {
    engine: Arc<Engine>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl ThreadPool {
    fn from_parts(engine: Arc<Engine>, handles: Vec<JoinHandle<()>>) -> ThreadPool {
        ThreadPool {
            engine,
            handles: Mutex::new(handles),
        }
    }

    /// A pool of [`cpu_count()`](mp_process::cpu_count) threads (Python's
    /// `ThreadPool()`).
    pub fn new() -> Result<ThreadPool, PoolError> {
        ThreadPoolBuilder::default().build()
    }

    /// A pool of `threads` threads (Python's `ThreadPool(processes)`); 0 is
    /// [`PoolError::InvalidArgument`].
    pub fn with_threads(threads: usize) -> Result<ThreadPool, PoolError> {
        ThreadPoolBuilder::default().threads(threads).build()
    }

    /// Options: threads, initializer, worker state.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::default()
    }

    /// The number of threads the pool started.
    pub fn threads(&self) -> usize {
        self.engine.threads
    }

    /// Whether the calling process made this pool (see
    /// [`PoolError::NotOwner`]).
    pub(crate) fn is_owner(&self) -> bool {
        self.engine.is_owner()
    }

    fn state(&self) -> RunState {
        if !self.is_owner() {
            // Not ours to look at (its lock may be held for ever here).
            return RunState::Terminate;
        }
        self.engine.state().run
    }

    /// Stops accepting work; the threads exit once every submitted task is
    /// done (Python's `close()`). Idempotent. Does nothing in a process
    /// other than the pool's maker (see [`PoolError::NotOwner`]).
    pub fn close(&self) {
        if self.is_owner() {
            self.engine.close();
        }
    }

    /// Stops the pool now (Python's `terminate()`): queued tasks are dropped
    /// and every unfinished result becomes [`PoolError::Terminated`] (in
    /// Python they never become ready). Waits until the idle threads have
    /// exited, not for threads in the middle of a task (see the type's
    /// docs), and not at all when called from one of the pool's threads.
    /// Does nothing in a process other than the pool's maker: dropping a
    /// forked child's copy leaves the parent's pool alone.
    pub fn terminate(&self) {
        if !self.is_owner() {
            return;
        }
        self.engine.terminate();
        if !self.engine.on_pool_thread() {
            if let Some(all_exited) = self.engine.wait_threads(Deadline::NEVER) {
                self.finish(all_exited);
            }
        }
    }

    /// Waits until the threads have exited (Python's `join()`); requires
    /// [`close`](Self::close) or [`terminate`](Self::terminate) first, else
    /// [`PoolError::StillRunning`]. After `terminate`, threads in the middle
    /// of a task are not waited for. Called from one of the pool's own
    /// threads, it returns at once. [`PoolError::NotOwner`] in a process
    /// other than the pool's maker.
    pub fn join(&self) -> Result<(), PoolError> {
        self.join_inner(Deadline::NEVER).map(|_| ())
    }

    /// [`join`](Self::join) waiting at most `timeout`; returns whether the
    /// pool has finished (`false` on timeout).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, PoolError> {
        self.join_inner(Deadline::after(Some(timeout)))
    }

    fn join_inner(&self, deadline: Deadline) -> Result<bool, PoolError> {
        self.engine.check_owner()?;
        if self.state() == RunState::Run {
            return Err(PoolError::StillRunning);
        }
        if self.engine.on_pool_thread() {
            return Ok(false);
        }
        match self.engine.wait_threads(deadline) {
            Some(all_exited) => {
                self.finish(all_exited);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Joins the threads that have exited; lets the rest (busy in a task
    /// after `terminate`) go.
    fn finish(&self, all_exited: bool) {
        let handles = std::mem::take(&mut *lock(&self.handles));
        for h in handles {
            if all_exited || h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Python's repr: `<multiprocessing.pool.ThreadPool state=RUN pool_size=2>`.
impl fmt::Display for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<multiprocessing.pool.ThreadPool state={} pool_size={}>",
            engine::describe(self.state()),
            self.threads()
        )
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
