//! [`AsyncResult`]: the handle of an `apply_async` / `map_async` call, and the
//! [`Callbacks`] that run in the parent when it completes.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{PoolError, TaskError};
use crate::futures::Board;
use crate::imap::Arrivals;
// Re-exported for the modules that still take it from here (`thread_pool`).
use crate::lock::{lock, wait_until};
use mp_sys::time::Deadline;

#[cfg(feature = "async")]
#[path = "result_future.rs"]
mod future;
#[cfg(feature = "async")]
pub use future::ResultFuture;

/// What lets a thread waiting for a result read its task's worker itself
/// (the pool's engine implements it): a reply then wakes the waiter
/// directly instead of the engine thread, which would then wake the waiter.
pub(crate) trait Help: Send + Sync {
    /// Waits (until `deadline`) for replies of job `job` by reading the
    /// worker that holds it, delivering what arrives. `false` when it cannot
    /// help (the job's chunk is queued, or its worker is already being read):
    /// the engine delivers the result then.
    fn help(&self, job: u64, deadline: Deadline) -> bool;

    /// An iterator's [`help`](Self::help): reads (or waits until `deadline`
    /// for) every worker holding part of job `job`, delivering what
    /// arrives; a push from another thread meanwhile ends the wait
    /// (`arrivals`). `false` when it cannot help (nothing it may read holds
    /// the job): the engine delivers then.
    fn help_iter(&self, _job: u64, _deadline: Deadline, _arrivals: &dyn Arrivals) -> bool {
        false
    }

    /// A waiter gave up on a result still pending: the engine must read its
    /// worker from now on.
    fn stop_helping(&self);

    /// Cancels job `job` (see [`AsyncResult::cancel`]); `false` if it had
    /// already completed.
    fn cancel(&self, job: u64, kill: bool) -> bool;

    /// Whether job `job` is unfinished and some worker holds one of its
    /// chunks (`concurrent.futures`' "running").
    fn running(&self, job: u64) -> bool;

    /// Cancels job `job` only if no worker holds any of its chunks yet
    /// (`concurrent.futures.Future.cancel`); `false` otherwise.
    fn cancel_pending(&self, job: u64) -> bool;

    /// A result future's [`help`](Self::help): the worker holding job
    /// `job`, to await on the reactor (see `engine_async.rs`); `No` where a
    /// waiter cannot help.
    #[cfg(feature = "async")]
    fn watch(&self, _job: u64) -> crate::engine::Watched {
        crate::engine::Watched::No
    }

    /// Reads what a worker from [`watch`](Self::watch) sent, and delivers.
    #[cfg(feature = "async")]
    fn collect(&self, _worker: u64) {}
}

/// Run once when a result becomes ready (posting to a [`Board`], a done
/// callback).
pub(crate) type ReadyHook = Box<dyn FnOnce() + Send>;

enum Slot<T> {
    Pending,
    Ready(Result<T, PoolError>),
    /// Taken by `get`; remembers whether it was a success.
    Taken(bool),
}

/// What [`AsyncResult::peek`] sees.
pub(crate) enum Peek<'a, T> {
    Pending,
    Ready(&'a Result<T, PoolError>),
    /// Taken by `get`; whether it was a success.
    Taken(bool),
}

/// What is left to run once a result is stored (see [`ResultCell::store`]).
pub(crate) struct AfterStore {
    hooks: Vec<ReadyHook>,
    /// Futures await the result.
    #[cfg(feature = "async")]
    notify: bool,
}

impl AfterStore {
    /// Whether nothing is left to run.
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "async")]
        if self.notify {
            return false;
        }
        self.hooks.is_empty()
    }
}

/// Where a result lands; shared by the pool and the [`AsyncResult`].
pub(crate) struct ResultCell<T> {
    slot: Mutex<Slot<T>>,
    /// `slot` is no longer `Pending` (set under its lock after the result is
    /// stored, never cleared): a waiter looks here before locking it.
    stored: AtomicBool,
    ready: Condvar,
    /// How many threads wait on `ready` (changed under `slot`'s lock, so
    /// `set`, which reads it under that lock, never misses one). std's
    /// `notify_all` makes a system call even with nobody waiting; with
    /// this, a result that its caller read itself costs none.
    sleepers: AtomicUsize,
    /// Some hook waits for it (read and written under `slot`'s lock).
    observed: AtomicBool,
    /// What to run when it is ready.
    observers: Mutex<Vec<ReadyHook>>,
    /// Wakes the futures waiting for the result (`async` feature).
    #[cfg(feature = "async")]
    ready_async: event_listener::Event,
    /// Some future listens on `ready_async` (set under `slot`'s lock before
    /// it listens, read under it by `set`). A notification allocates the
    /// event's state on its first use, so a result nobody awaits skips it.
    #[cfg(feature = "async")]
    awaited: AtomicBool,
}

impl<T> ResultCell<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ResultCell {
            slot: Mutex::new(Slot::Pending),
            stored: AtomicBool::new(false),
            ready: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            observed: AtomicBool::new(false),
            observers: Mutex::new(Vec::new()),
            #[cfg(feature = "async")]
            ready_async: event_listener::Event::new(),
            #[cfg(feature = "async")]
            awaited: AtomicBool::new(false),
        })
    }

    /// Stores the result (once) and wakes every waiter.
    pub(crate) fn set(&self, r: Result<T, PoolError>) {
        let after = self.store(r);
        self.finish(after);
    }

    /// Stores the result (once) and wakes the threads waiting for it;
    /// returns what is left to run: the hooks waiting for it and (`async`)
    /// the futures' notification, whose wakers may run any code. A caller
    /// holding the pool's lock hands them to [`finish`](Self::finish) after
    /// letting go of it.
    pub(crate) fn store(&self, r: Result<T, PoolError>) -> AfterStore {
        let mut slot = lock(&self.slot);
        if matches!(*slot, Slot::Pending) {
            *slot = Slot::Ready(r);
        }
        self.stored.store(true, Ordering::Release);
        let observed = self.observed.load(Ordering::Relaxed);
        let sleepers = self.sleepers.load(Ordering::Relaxed);
        #[cfg(feature = "async")]
        let awaited = self.awaited.load(Ordering::Relaxed);
        drop(slot);
        if sleepers > 0 {
            self.ready.notify_all();
        }
        AfterStore {
            hooks: if observed {
                std::mem::take(&mut *lock(&self.observers))
            } else {
                Vec::new()
            },
            #[cfg(feature = "async")]
            notify: awaited,
        }
    }

    /// Runs what [`store`](Self::store) left.
    pub(crate) fn finish(&self, after: AfterStore) {
        #[cfg(feature = "async")]
        if after.notify {
            self.ready_async.notify(usize::MAX);
        }
        for hook in after.hooks {
            hook();
        }
    }

    /// A listener for the result's readiness, for a future; it then looks at
    /// the slot again (a result stored before the listener existed is seen
    /// there, one stored after notifies it).
    #[cfg(feature = "async")]
    fn listen(&self) -> event_listener::EventListener {
        {
            let _slot = lock(&self.slot);
            self.awaited.store(true, Ordering::Relaxed);
        }
        self.ready_async.listen()
    }

    /// Runs `hook` when the result is ready (at once if it is), on the
    /// thread that stores it.
    fn on_ready(&self, hook: ReadyHook) {
        let slot = lock(&self.slot);
        if matches!(*slot, Slot::Pending) {
            lock(&self.observers).push(hook);
            self.observed.store(true, Ordering::Relaxed);
        } else {
            drop(slot);
            hook();
        }
    }

    /// Waits until the result is ready or the deadline passes; returns the
    /// guard. With a `helper`, the waiting thread reads the worker's replies
    /// itself while it can (see [`Help`]).
    fn wait_until(&self, deadline: Deadline, helper: Option<&Helper>) -> MutexGuard<'_, Slot<T>> {
        if let Some(h) = helper {
            // A deadline already passed still allows one look without waiting.
            while !self.stored.load(Ordering::Acquire) {
                if !h.inner.help(h.job, deadline) || deadline.passed() {
                    break;
                }
            }
        }
        let mut slot = lock(&self.slot);
        let sleeping = matches!(*slot, Slot::Pending);
        if sleeping {
            self.sleepers.fetch_add(1, Ordering::Relaxed);
        }
        while matches!(*slot, Slot::Pending) {
            let waited;
            (slot, waited) = wait_until(&self.ready, slot, deadline);
            if !waited {
                break;
            }
        }
        if sleeping {
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
        slot
    }
}

/// The handle of a task submitted with `apply_async` (or of a whole
/// `map_async`/`starmap_async` call): Python's `AsyncResult`.
///
/// It never hangs on a dead worker: the task then fails with
/// [`TaskError::WorkerDied`]; if the pool is terminated (or dropped) first,
/// the result is [`PoolError::Terminated`].
pub struct AsyncResult<T> {
    cell: Arc<ResultCell<T>>,
    helper: Option<Helper>,
    /// The process that submitted the call: the only one whose pool
    /// delivers the result (a forked child's copy would wait for ever, or
    /// read its parent's workers).
    pub(crate) owner: u32,
}

/// The calling process's pid (cached).
fn my_pid() -> u32 {
    mp_shm::ProcessIdent::current().pid()
}

/// What a waiter needs to read its task's worker itself. It holds the pool's
/// engine state (as Python's `ApplyResult` holds its pool): a result that
/// outlives its pool keeps that state, whose workers are gone, until it is
/// dropped. A weak reference cost each wait an upgrade and a release, two
/// locked instructions, and each drop two more.
struct Helper {
    inner: Arc<dyn Help>,
    job: u64,
}

impl<T> AsyncResult<T> {
    pub(crate) fn new(cell: Arc<ResultCell<T>>) -> Self {
        AsyncResult {
            cell,
            helper: None,
            owner: my_pid(),
        }
    }

    /// Whether the calling process submitted the call (see
    /// [`PoolError::NotOwner`]).
    pub(crate) fn is_owner(&self) -> bool {
        self.owner == my_pid()
    }

    /// [`PoolError::NotOwner`] unless the calling process submitted the call.
    fn check_owner(&self) -> Result<(), PoolError> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(PoolError::NotOwner { owner: self.owner })
        }
    }

    /// A handle whose waiting may read the replies of job `job` of the pool
    /// `inner` itself, submitted by `owner` (the calling process, which
    /// the pool has just checked is its owner).
    pub(crate) fn with_helper<H: Help + 'static>(
        cell: Arc<ResultCell<T>>,
        inner: Arc<H>,
        job: u64,
        owner: u32,
    ) -> Self {
        debug_assert_eq!(owner, my_pid());
        let inner: Arc<dyn Help> = inner;
        AsyncResult {
            cell,
            helper: Some(Helper { inner, job }),
            owner,
        }
    }

    /// Waits for the result and returns it (Python's `get()`).
    /// [`PoolError::NotOwner`] in a process other than the one that
    /// submitted the call (a forked child's copy), where nothing would
    /// deliver it; so for every method that waits or looks.
    pub fn get(self) -> Result<T, PoolError> {
        self.check_owner()?;
        Self::take(&mut self.cell.wait_until(Deadline::NEVER, self.helper.as_ref()))
    }

    /// Waits at most `timeout`: [`PoolError::Timeout`] if the result is not
    /// ready by then (the handle stays usable), else the result. The value
    /// moves out: a later `get` gives [`PoolError::Taken`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, PoolError> {
        self.check_owner()?;
        let mut slot = self
            .cell
            .wait_until(Deadline::after(Some(timeout)), self.helper.as_ref());
        if matches!(*slot, Slot::Pending) {
            return Err(PoolError::Timeout);
        }
        Self::take(&mut slot)
    }

    fn take(slot: &mut Slot<T>) -> Result<T, PoolError> {
        match std::mem::replace(slot, Slot::Taken(false)) {
            Slot::Ready(r) => {
                *slot = Slot::Taken(r.is_ok());
                r
            }
            Slot::Taken(ok) => {
                *slot = Slot::Taken(ok);
                Err(PoolError::Taken)
            }
            Slot::Pending => {
                *slot = Slot::Pending;
                Err(PoolError::Timeout)
            }
        }
    }

    /// Waits until the result is ready (Python's `wait()`); returns at
    /// once in a process other than the submitter (see [`get`](Self::get)).
    pub fn wait(&self) {
        if !self.is_owner() {
            return;
        }
        drop(self.cell.wait_until(Deadline::NEVER, self.helper.as_ref()));
    }

    /// Waits at most `timeout`; returns whether the result is ready (Python's
    /// `wait(timeout)` returns `None`; check [`ready`](Self::ready) there).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        if !self.is_owner() {
            return false;
        }
        !matches!(
            *self
                .cell
                .wait_until(Deadline::after(Some(timeout)), self.helper.as_ref()),
            Slot::Pending
        )
    }

    /// Whether the call has completed, successfully or not (takes in a
    /// reply that has arrived, without waiting).
    pub fn ready(&self) -> bool {
        if !self.is_owner() {
            return false;
        }
        !matches!(
            *self
                .cell
                .wait_until(Deadline::at(Instant::now()), self.helper.as_ref()),
            Slot::Pending
        )
    }

    /// Cancels the call (like `concurrent.futures.Future.cancel`): its tasks
    /// that have not started never run, and the result reports
    /// [`TaskError::Cancelled`] at once (the error callback runs with it).
    /// Tasks already running finish, and their results are dropped; see
    /// [`cancel_and_kill`](Self::cancel_and_kill) to stop them. Returns
    /// `false` if the call had already completed (nothing changes then).
    ///
    /// A task already handed to a worker counts as started here: a map's
    /// small chunks prefetched into a busy worker's socket, or a task sent
    /// to an idle worker just before, still run (their results dropped)
    /// unless the call is cancelled with a kill. On a
    /// [`ThreadPool`](crate::ThreadPool) the queued tasks never run and a
    /// task a thread has begun finishes (its result dropped).
    pub fn cancel(&self) -> bool {
        self.cancel_with(false)
    }

    /// [`cancel`](Self::cancel), and the workers running one of its tasks
    /// (or about to: holding one of its chunks first) are stopped
    /// (`SIGTERM`, then `SIGKILL` after a grace period) and replaced, like
    /// pebble's `future.cancel()`. The other tasks those workers held run
    /// elsewhere. A thread cannot be killed: on a
    /// [`ThreadPool`](crate::ThreadPool) this is [`cancel`](Self::cancel).
    pub fn cancel_and_kill(&self) -> bool {
        self.cancel_with(true)
    }

    fn cancel_with(&self, kill: bool) -> bool {
        if !self.is_owner() {
            return false;
        }
        match self.helper.as_ref().map(|h| (&h.inner, h.job)) {
            Some((inner, job)) => inner.cancel(job, kill),
            None => false,
        }
    }

    /// Posts `index` on `board` when the result is ready.
    pub(crate) fn observe(&self, board: &Arc<Board>, index: usize) {
        let board = board.clone();
        self.on_ready(Box::new(move || board.post(index)));
    }

    /// Runs `hook` when the result is ready (at once if it is); nobody
    /// waiting reads the worker for it, so the engine must. Never in a
    /// process other than the submitter (a forked child's copy): nothing
    /// completes the result there, and the cell and the engine are left
    /// alone (their locks may be held for ever there).
    pub(crate) fn on_ready(&self, hook: ReadyHook) {
        if !self.is_owner() {
            return;
        }
        if let Some(h) = &self.helper {
            h.inner.stop_helping();
        }
        self.cell.on_ready(hook);
    }

    /// Whether the result is ready, without reading the worker.
    pub(crate) fn is_done(&self) -> bool {
        !matches!(*lock(&self.cell.slot), Slot::Pending)
    }

    /// A second handle on the same result (whichever takes the value first
    /// gets it).
    pub(crate) fn share(&self) -> AsyncResult<T> {
        AsyncResult {
            cell: self.cell.clone(),
            helper: self.helper.as_ref().map(|h| Helper {
                inner: h.inner.clone(),
                job: h.job,
            }),
            owner: self.owner,
        }
    }

    /// Looks at the result without taking it.
    pub(crate) fn peek<O>(&self, f: impl FnOnce(Peek<'_, T>) -> O) -> O {
        match &*lock(&self.cell.slot) {
            Slot::Pending => f(Peek::Pending),
            Slot::Ready(r) => f(Peek::Ready(r)),
            Slot::Taken(ok) => f(Peek::Taken(*ok)),
        }
    }

    /// Whether the call is unfinished and a worker holds it (see
    /// [`Help::running`]); `false` for a [`ThreadPool`](crate::ThreadPool)'s.
    pub(crate) fn running(&self) -> bool {
        !self.is_done()
            && self
                .helper
                .as_ref()
                .map(|h| h.inner.running(h.job))
                .unwrap_or(false)
    }

    /// Cancels the call only if no worker holds it yet (see
    /// [`Help::cancel_pending`]).
    pub(crate) fn cancel_pending(&self) -> bool {
        self.helper
            .as_ref()
            .map(|h| h.inner.cancel_pending(h.job))
            .unwrap_or(false)
    }

    /// Whether the call completed without error; [`PoolError::NotReady`]
    /// before it completed (Python's `ValueError`).
    pub fn successful(&self) -> Result<bool, PoolError> {
        self.check_owner()?;
        match &*lock(&self.cell.slot) {
            Slot::Pending => Err(PoolError::NotReady),
            Slot::Ready(r) => Ok(r.is_ok()),
            Slot::Taken(ok) => Ok(*ok),
        }
    }
}

impl<T> Drop for AsyncResult<T> {
    /// A pending result nobody will wait for any more: the engine thread
    /// must read its worker (it may not know the worker is busy).
    fn drop(&mut self) {
        if !self.is_owner() {
            return;
        }
        if let Some(h) = &self.helper {
            if !self.cell.stored.load(Ordering::Acquire) {
                h.inner.stop_helping();
            }
        }
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

type OnSuccess<R> = Box<dyn FnOnce(&R) + Send>;
type OnError = Box<dyn FnOnce(&TaskError) + Send>;

/// Python's `callback` and `error_callback`: closures run in the parent when
/// the call completes — exactly one of them, before the result becomes ready —
/// on the pool's result thread, or on a thread that was waiting on another
/// [`AsyncResult`] or taking from an `imap` iterator and read the reply
/// (waiters read their workers' replies themselves). A callback that panics is reported on stderr and does not
/// wedge the pool (CPython's pool hangs then).
///
/// ```
/// use mp_pool::Callbacks;
/// let cb = Callbacks::new()
///     .callback(|r: &f64| println!("Callback got: {r}"))
///     .error_callback(|e| eprintln!("failed: {e}"));
/// # drop(cb);
/// ```
pub struct Callbacks<R> {
    on_success: Option<OnSuccess<R>>,
    on_error: Option<OnError>,
}

impl<R> Default for Callbacks<R> {
    fn default() -> Self {
        Callbacks {
            on_success: None,
            on_error: None,
        }
    }
}

impl<R> fmt::Debug for Callbacks<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("callback", &self.on_success.is_some())
            .field("error_callback", &self.on_error.is_some())
            .finish()
    }
}

impl<R> Callbacks<R> {
    /// No callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether neither callback is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.on_success.is_none() && self.on_error.is_none()
    }

    /// Runs `f` with the result when the call succeeds.
    pub fn callback(mut self, f: impl FnOnce(&R) + Send + 'static) -> Self {
        self.on_success = Some(Box::new(f));
        self
    }

    /// Runs `f` with the error when the call fails.
    pub fn error_callback(mut self, f: impl FnOnce(&TaskError) + Send + 'static) -> Self {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Runs the matching callback (catching a panic), then stores the result.
    pub(crate) fn complete(self, cell: &ResultCell<R>, result: Result<R, PoolError>) {
        let outcome = match &result {
            Ok(v) => self
                .on_success
                .map(|f| panic::catch_unwind(AssertUnwindSafe(|| f(v)))),
            Err(PoolError::Task(e)) => self
                .on_error
                .map(|f| panic::catch_unwind(AssertUnwindSafe(|| f(e)))),
            Err(_) => None,
        };
        if let Some(Err(_)) = outcome {
            eprintln!("mp-pool: a result callback panicked; the pool carries on");
        }
        cell.set(result);
    }
}
