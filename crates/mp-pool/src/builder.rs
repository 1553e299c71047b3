//! [`PoolBuilder`]: the options of Python's `Pool(processes, initializer,
//! initargs, maxtasksperchild, context)`, plus retries, a task timeout,
//! worker state and a memory limit per worker.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mp_process::{Context, StartMethod};
use mp_wire::{EncodeError, Message};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{self, Inner, Shared};
use crate::error::PoolError;
use crate::func::{self, EntryParts, StarFn};
use crate::lock::lock;
use crate::pool::Pool;
use crate::wake_fd::WakeFd;
use crate::worker_handle;
use crate::worker_state::{self, WorkerStateType};

/// Options for a [`Pool`]; start with [`Pool::builder`].
///
/// ```
/// use mp_pool::Pool;
///
/// fn start() {
///     println!("Starting {}", mp_process::current_process().name());
/// }
///
/// let pool = Pool::builder().processes(2).initializer(start, ()).maxtasksperchild(10).build()?;
/// assert_eq!(pool.processes(), 2);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
#[derive(Debug, Default)]
pub struct PoolBuilder {
    processes: Option<usize>,
    init: Option<Result<(EntryParts, Message), EncodeError>>,
    maxtasks: Option<usize>,
    method: Option<StartMethod>,
    retries: u32,
    task_timeout: Option<Duration>,
    state: Option<Result<(EntryParts, Message, WorkerStateType), EncodeError>>,
    max_memory: Option<u64>,
}

impl PoolBuilder {
    /// Number of worker processes (Python's `processes`; default
    /// [`cpu_count()`](mp_process::cpu_count)). Must be at least 1.
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// Runs `f(*initargs)` once in each worker when it starts, replacement
    /// workers included (Python's `initializer` and `initargs`). `f` is a
    /// `fn` item or a closure capturing nothing; `initargs` a tuple of serde
    /// values. A panicking initializer ends the worker (exit code 1); the
    /// tasks sent to it never started, so they go to a fresh worker; after
    /// three such re-sends a task fails with
    /// [`TaskError::WorkerDied`](crate::TaskError::WorkerDied).
    pub fn initializer<F, Args>(mut self, f: F, initargs: Args) -> Self
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        let entry = func::init_entry::<F, Args>(f).to_parts();
        self.init = Some(mp_wire::encode(&initargs).map(|m| (entry, m)));
        self
    }

    /// Retires a worker after it has run `n` tasks (chunks) and starts a
    /// fresh one (Python's `maxtasksperchild`). Must be at least 1.
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.maxtasks = Some(n);
        self
    }

    /// Starts workers with this context's start method (Python's `context`).
    pub fn context(mut self, ctx: Context) -> Self {
        self.method = Some(ctx.start_method());
        self
    }

    /// Starts workers with this start method.
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Beyond Python: when the worker running a task dies, run the task again
    /// on another worker up to `n` times before failing it with
    /// [`TaskError::WorkerDied`](crate::TaskError::WorkerDied). Default 0.
    ///
    /// A retry reruns the tasks of the chunk that may have run (the one that
    /// was running and the ones before it in its chunk, whose results died
    /// with the worker). Tasks that had not started are sent again whatever
    /// this setting says.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Beyond Python (pebble's `timeout`, mpire's `task_timeout`): a task
    /// running longer than `timeout` has its worker stopped (`SIGTERM`, then
    /// `SIGKILL` after a second) and replaced; the task fails with
    /// [`TaskError::Timeout`](crate::TaskError::Timeout) naming it, and every
    /// other task carries on — the ones of its chunk run on another worker
    /// (those before it in the chunk run again: their results died with the
    /// worker; use chunk size 1 where a task must not run twice). The limit
    /// is per task, not per chunk. A call may set its own with
    /// [`TaskOptions`](crate::TaskOptions). Must not be zero.
    ///
    /// A task is never stopped before it has run `timeout`; it may run a
    /// little longer (the pool sees a task start by looking at its worker's
    /// progress, every `timeout / 16`).
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// Beyond Python (mpire's `worker_state`): each worker makes a state
    /// value `f(*initargs)` once, when it starts (after the
    /// [`initializer`](Self::initializer); replacement workers make their
    /// own), and the [`map_with_state`](Pool::map_with_state) family lends
    /// it `&mut` to every task that worker runs: a connection, a cache, a
    /// model loaded once. `f` is a `fn` item or a closure capturing nothing,
    /// named like every pool function, so it works under every start method;
    /// the state itself never leaves the worker (it needs no serde). A
    /// panicking `f` ends the worker, as a panicking initializer does.
    pub fn worker_state<F, Args>(mut self, f: F, initargs: Args) -> Self
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: 'static,
    {
        let entry = worker_state::state_entry::<F, Args>(f).to_parts();
        let ty = WorkerStateType::of::<F::Output>();
        self.state = Some(mp_wire::encode(&initargs).map(|m| (entry, m, ty)));
        self
    }

    /// Beyond Python (billiard's `max_memory_per_child`): after each chunk
    /// (each task with chunk size 1) a worker reads its resident memory;
    /// past `bytes` it sends the chunk's results, then exits, and a fresh
    /// worker replaces it. No result is lost and no task runs twice (chunks
    /// queued to it go to other workers). A single task that needs more
    /// still runs to the end: this bounds what a worker keeps between
    /// tasks (leaks, caches), not what a task may use. Must not be zero. A
    /// [`ThreadPool`](crate::ThreadPool) refuses it.
    pub fn max_memory_per_child(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Starts the workers and the pool's result thread.
    ///
    /// Fails with [`PoolError::InvalidArgument`] for 0 processes or
    /// `maxtasksperchild(0)`, and with [`PoolError::Start`] if a worker cannot
    /// be started (the ones already started are stopped).
    pub fn build(self) -> Result<Pool, PoolError> {
        let processes = self.processes.unwrap_or_else(mp_process::cpu_count);
        if processes < 1 {
            return Err(PoolError::InvalidArgument(
                "number of processes must be at least 1".to_string(),
            ));
        }
        if self.task_timeout == Some(Duration::ZERO) {
            return Err(PoolError::InvalidArgument(
                "task_timeout must be positive".to_string(),
            ));
        }
        if self.max_memory == Some(0) {
            return Err(PoolError::InvalidArgument(
                "max_memory_per_child must be positive".to_string(),
            ));
        }
        if self.maxtasks == Some(0) {
            return Err(PoolError::InvalidArgument(
                "maxtasksperchild must be a positive int or None".to_string(),
            ));
        }
        let method = self.method.unwrap_or_else(|| {
            mp_process::get_start_method(false).unwrap_or(mp_process::DEFAULT_START_METHOD)
        });
        let config = Config {
            processes,
            maxtasks: self.maxtasks.map(|m| m as u64),
            method,
            init: self.init.transpose()?,
            retries: self.retries,
            task_timeout: self.task_timeout,
            state: self.state.transpose()?,
            max_memory: self.max_memory,
        };
        let wake = WakeFd::new()?;
        let mut workers = Vec::with_capacity(processes);
        for id in 0..processes {
            match worker_handle::start_worker(&config, id as u64) {
                Ok(w) => workers.push(w),
                Err(e) => {
                    worker_handle::kill_all(workers);
                    return Err(e);
                }
            }
        }
        let inner = Arc::new(Inner {
            owner: mp_shm::ProcessIdent::current().pid(),
            shared: Mutex::new(Shared::new(workers)),
            config,
            wake,
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        });
        let engine = inner.clone();
        let thread =
            mp_sys::thread_spawn::Builder::new("mp-pool").spawn(move || engine::run(engine));
        match thread {
            Ok(handle) => Ok(Pool::from_parts(inner, handle)),
            Err(e) => {
                let workers = lock(&inner.shared).take_workers();
                worker_handle::kill_all(workers);
                Err(e.into())
            }
        }
    }
}
