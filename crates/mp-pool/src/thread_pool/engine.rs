//! The machinery of a [`ThreadPool`](super::ThreadPool): one queue of tasks
//! under one lock, the worker threads that take from it, and the registry of
//! unfinished calls that `terminate` abandons and `cancel` cancels.

use std::any::Any;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{PoolError, TaskError};
use crate::lock::{lock, wait_until};
use crate::result::Help;
use crate::sink::Completion;
use crate::worker_state::WorkerStateType;
use mp_sys::time::Deadline;

/// The state of a thread pool (Python's `RUN`, `CLOSE`, `TERMINATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Run,
    Close,
    Terminate,
}

/// One unit of work for a thread: a chunk of a call. It gets the thread's
/// [`ThreadCtx`].
pub(crate) type Task = Box<dyn FnOnce(&mut ThreadCtx) + Send>;

/// What a pool thread keeps between tasks.
pub(crate) struct ThreadCtx {
    /// The error of the thread's initializer (or worker-state maker), if it
    /// panicked: every item then fails with it.
    pub(crate) init_error: Option<TaskError>,
    /// The thread's worker state, lent to `*_with_state` tasks.
    pub(crate) state: Option<Box<dyn Any>>,
}

/// An unfinished call, as `terminate` and `cancel` see it.
pub(crate) trait Abandon: Send + Sync {
    /// The pool was terminated: the call will never complete; make its
    /// results [`PoolError::Terminated`] and ignore chunks that still arrive.
    fn abandon(&self);
    /// The call was cancelled: its results report
    /// [`TaskError::Cancelled`] (through its callbacks: the returned
    /// completion, run outside the pool's lock) and chunks that still
    /// arrive are ignored.
    fn cancel(&self) -> Option<Completion>;
}

/// The initializer every thread runs once when it starts.
pub(crate) type Init = Arc<dyn Fn() + Send + Sync>;

/// What makes each thread's worker state, once, when it starts.
pub(crate) type StateInit = Arc<dyn Fn() -> Box<dyn Any> + Send + Sync>;

pub(crate) struct State {
    pub(crate) run: RunState,
    /// Each task with the id of its call.
    queue: VecDeque<(u64, Task)>,
    /// Unfinished calls by id.
    jobs: HashMap<u64, Arc<dyn Abandon>>,
    /// How many tasks of each call threads are running now.
    running: HashMap<u64, usize>,
    /// Threads that have not exited.
    live: usize,
    /// Threads inside their initializer or a task.
    busy: usize,
}

/// Shared by the [`ThreadPool`](super::ThreadPool) handle and its threads.
pub(crate) struct Engine {
    /// Tells this pool's threads apart from every other thread.
    pub(crate) id: u64,
    /// The process that made the pool: the only one that may use it (a
    /// forked child's copy has none of its threads, and its lock may be
    /// held for ever there by a thread the child does not have).
    owner: u32,
    pub(crate) threads: usize,
    /// The type of the threads' worker state, if they have one.
    pub(crate) state_type: Option<WorkerStateType>,
    state: Mutex<State>,
    /// Threads wait here for work.
    work: Condvar,
    /// `join` waits here for threads to go idle or exit.
    idle: Condvar,
    next_job: AtomicU64,
}

static NEXT_POOL: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the pool this thread works for (0: none).
    static POOL_ID: Cell<u64> = const { Cell::new(0) };
}

impl Engine {
    /// An engine for `threads` threads, all counted live and busy (each
    /// starts in its initializer).
    pub(crate) fn new(threads: usize, state_type: Option<WorkerStateType>) -> Arc<Engine> {
        Arc::new(Engine {
            id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
            owner: mp_shm::ProcessIdent::current().pid(),
            threads,
            state_type,
            state: Mutex::new(State {
                run: RunState::Run,
                queue: VecDeque::new(),
                jobs: HashMap::new(),
                running: HashMap::new(),
                live: threads,
                busy: threads,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            next_job: AtomicU64::new(0),
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The process that made this pool.
    pub(crate) fn owner(&self) -> u32 {
        self.owner
    }

    /// Whether the calling process made this pool (see `owner`).
    #[inline]
    pub(crate) fn is_owner(&self) -> bool {
        self.owner == mp_shm::ProcessIdent::current().pid()
    }

    /// [`PoolError::NotOwner`] unless the calling process made this pool.
    pub(crate) fn check_owner(&self) -> Result<(), PoolError> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(PoolError::NotOwner { owner: self.owner })
        }
    }

    /// Whether the calling thread is one of this pool's threads.
    pub(crate) fn on_pool_thread(&self) -> bool {
        POOL_ID.with(Cell::get) == self.id
    }

    /// A fresh call id.
    pub(crate) fn job_id(&self) -> u64 {
        self.next_job.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers call `id` (if it can be abandoned) and queues its tasks;
    /// [`PoolError::NotRunning`] after `close` or `terminate`.
    pub(crate) fn submit(
        &self,
        id: u64,
        job: Arc<dyn Abandon>,
        tasks: Vec<Task>,
    ) -> Result<(), PoolError> {
        let mut s = self.state();
        if s.run != RunState::Run {
            return Err(PoolError::NotRunning);
        }
        let n = tasks.len();
        s.jobs.insert(id, job);
        s.queue.extend(tasks.into_iter().map(|t| (id, t)));
        drop(s);
        if n == 1 {
            self.work.notify_one();
        } else {
            self.work.notify_all();
        }
        Ok(())
    }

    /// Call `id` completed.
    pub(crate) fn finish_job(&self, id: u64) {
        self.state().jobs.remove(&id);
    }

    /// Cancels call `id` (only if no thread is running one of its tasks,
    /// with `pending_only`): its queued tasks never run and its results
    /// report [`TaskError::Cancelled`]. Returns `false` if it had completed
    /// (or, with `pending_only`, is running).
    fn cancel_job(&self, id: u64, pending_only: bool) -> bool {
        let mut s = self.state();
        if pending_only && s.running.contains_key(&id) {
            return false;
        }
        let Some(job) = s.jobs.remove(&id) else {
            return false;
        };
        let mut dropped = Vec::new();
        s.queue.retain_mut(|(job, task)| {
            if *job != id {
                return true;
            }
            dropped.push(std::mem::replace(task, Box::new(|_| {})));
            false
        });
        drop(s);
        // Outside the lock: dropping a task may run user code.
        drop(dropped);
        if let Some(done) = job.cancel() {
            done();
        }
        true
    }

    /// Stops taking work once the queue is empty.
    pub(crate) fn close(&self) {
        let mut s = self.state();
        if s.run == RunState::Run {
            s.run = RunState::Close;
        }
        drop(s);
        self.work.notify_all();
        self.idle.notify_all();
    }

    /// Drops the queued tasks and abandons every unfinished call.
    pub(crate) fn terminate(&self) {
        let mut s = self.state();
        s.run = RunState::Terminate;
        let queue = std::mem::take(&mut s.queue);
        let jobs = std::mem::take(&mut s.jobs);
        s.running.clear();
        drop(s);
        self.work.notify_all();
        self.idle.notify_all();
        // Outside the lock: dropping a task or abandoning a call may run
        // user code (drops of captured values).
        drop(queue);
        for job in jobs.into_values() {
            job.abandon();
        }
    }

    /// Waits (until `deadline`) for the threads: after `close`, until every
    /// one has exited; after `terminate`, until every one has exited or is
    /// inside a task it will not come back from in time (it is left to
    /// finish on its own). Returns `None` on timeout, else whether every
    /// thread has exited.
    pub(crate) fn wait_threads(&self, deadline: Deadline) -> Option<bool> {
        let mut s = self.state();
        loop {
            if s.live == 0 || (s.run == RunState::Terminate && s.live == s.busy) {
                return Some(s.live == 0);
            }
            let waited;
            (s, waited) = wait_until(&self.idle, s, deadline);
            if !waited {
                return None;
            }
        }
    }

    /// `n` threads were never started: count them as exited.
    pub(crate) fn forget_threads(&self, n: usize) {
        let mut s = self.state();
        s.live -= n;
        s.busy -= n;
    }

    /// The next task for a thread, or `None` when it should exit; `done`
    /// names the call whose task the thread just finished.
    fn next_task(&self, done: Option<u64>) -> Option<(u64, Task)> {
        let mut s = self.state();
        s.busy -= 1;
        if let Some(id) = done {
            if let Some(n) = s.running.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    s.running.remove(&id);
                }
            }
        }
        let task = loop {
            match s.run {
                RunState::Terminate => break None,
                run => {
                    if let Some(t) = s.queue.pop_front() {
                        break Some(t);
                    }
                    if run == RunState::Close {
                        break None;
                    }
                }
            }
            s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
        };
        match task {
            Some((id, t)) => {
                s.busy += 1;
                *s.running.entry(id).or_insert(0) += 1;
                Some((id, t))
            }
            None => {
                s.live -= 1;
                drop(s);
                self.idle.notify_all();
                None
            }
        }
    }
}

/// The body of a pool thread: the initializer, then tasks until the pool
/// closes (and the queue is empty) or terminates.
pub(crate) fn worker(engine: Arc<Engine>, init: Option<Init>, state: Option<StateInit>) {
    POOL_ID.with(|p| p.set(engine.id));
    let mut ctx = ThreadCtx {
        init_error: init.and_then(|f| crate::func::catch_local(|| f()).err()),
        state: None,
    };
    if let (None, Some(make)) = (&ctx.init_error, state) {
        match crate::func::catch_local(|| make()) {
            Ok(s) => ctx.state = Some(s),
            Err(e) => ctx.init_error = Some(e),
        }
    }
    if let Some(e) = &ctx.init_error {
        log::warn!("a thread pool initializer failed: {e}");
    }
    let mut done = None;
    while let Some((id, task)) = engine.next_task(done) {
        // Task panics are caught per item; this catches what is left (a
        // captured value whose drop panics) so the thread and its
        // bookkeeping survive.
        if panic::catch_unwind(AssertUnwindSafe(|| task(&mut ctx))).is_err() {
            log::warn!("a thread pool task panicked outside its function");
        }
        done = Some(id);
    }
}

/// Python's name of a pool state, for the pool's repr.
pub(crate) fn describe(run: RunState) -> &'static str {
    match run {
        RunState::Run => "RUN",
        RunState::Close => "CLOSE",
        RunState::Terminate => "TERMINATE",
    }
}

/// What a [`ThreadPool`](super::ThreadPool)'s results and iterators ask of
/// it: cancelling a call and whether it runs. A waiting thread cannot take
/// over a thread's work, so it never helps. In a process other than the
/// pool's maker (a forked child's copy of a result or an iterator) nothing
/// runs and nothing is cancelled.
impl Help for Engine {
    fn help(&self, _job: u64, _deadline: Deadline) -> bool {
        false
    }

    fn stop_helping(&self) {}

    /// A thread cannot be killed: `kill` cancels as without it.
    fn cancel(&self, job: u64, _kill: bool) -> bool {
        self.is_owner() && self.cancel_job(job, false)
    }

    fn running(&self, job: u64) -> bool {
        if !self.is_owner() {
            return false;
        }
        let s = self.state();
        s.jobs.contains_key(&job) && s.running.contains_key(&job)
    }

    fn cancel_pending(&self, job: u64) -> bool {
        self.is_owner() && self.cancel_job(job, true)
    }
}
