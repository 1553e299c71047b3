//! [`ThreadPoolBuilder`]: the options of Python's `ThreadPool(processes,
//! initializer, initargs)`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::PoolError;

use super::engine::{self, Engine, Init, StateInit};
use super::ThreadPool;
use crate::worker_state::WorkerStateType;

/// Options for a [`ThreadPool`]; start with [`ThreadPool::builder`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use mp_pool::ThreadPool;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let counter = started.clone();
/// let pool = ThreadPool::builder()
///     .threads(2)
///     .initializer(move || {
///         counter.fetch_add(1, Ordering::SeqCst);
///     })
///     .build()?;
/// pool.close();
/// pool.join()?;
/// assert_eq!(started.load(Ordering::SeqCst), 2);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
#[derive(Default)]
pub struct ThreadPoolBuilder {
    threads: Option<usize>,
    init: Option<Init>,
    task_timeout: Option<Duration>,
    state: Option<(StateInit, WorkerStateType)>,
    max_memory: Option<u64>,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("threads", &self.threads)
            .field("initializer", &self.init.is_some())
            .field("worker_state", &self.state.as_ref().map(|(_, t)| t.name))
            .field("task_timeout", &self.task_timeout)
            .field("max_memory_per_child", &self.max_memory)
            .finish()
    }
}

impl ThreadPoolBuilder {
    /// Number of threads (Python's `processes`; default
    /// [`cpu_count()`](mp_process::cpu_count)). Must be at least 1.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Runs `f` once in each thread when it starts (Python's `initializer`;
    /// `initargs` are what `f` captures). If `f` panics, the panic is logged
    /// and every task that thread takes fails with that
    /// [`TaskError::Panic`](crate::TaskError::Panic) (CPython restarts the
    /// thread, which fails again, for ever).
    pub fn initializer(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.init = Some(Arc::new(f));
        self
    }

    /// Refused: a thread cannot be killed, so a stuck task cannot be
    /// stopped. [`build`](Self::build) then fails with
    /// [`PoolError::Unsupported`]; use a process [`Pool`](crate::Pool)
    /// ([`PoolBuilder::task_timeout`](crate::PoolBuilder::task_timeout)), or
    /// [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout) to stop
    /// waiting without stopping the task.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// Beyond Python (mpire's `worker_state`): each thread makes its own
    /// state with `make` when it starts (after the
    /// [`initializer`](Self::initializer)), and the
    /// [`map_with_state`](ThreadPool::map_with_state) family lends it `&mut`
    /// to each task that thread runs. If `make` panics, every task of that
    /// thread fails with the panic.
    pub fn worker_state<S: 'static>(
        mut self,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        let make: StateInit = Arc::new(move || Box::new(make()));
        self.state = Some((make, WorkerStateType::of::<S>()));
        self
    }

    /// Refused: a thread cannot be replaced to give its memory back (all
    /// threads share one process). [`build`](Self::build) then fails with
    /// [`PoolError::Unsupported`]; use a process [`Pool`](crate::Pool)
    /// ([`PoolBuilder::max_memory_per_child`](crate::PoolBuilder::max_memory_per_child)).
    pub fn max_memory_per_child(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Starts the threads.
    ///
    /// Fails with [`PoolError::InvalidArgument`] for 0 threads, with
    /// [`PoolError::Unsupported`] for a [`task_timeout`](Self::task_timeout)
    /// or [`max_memory_per_child`](Self::max_memory_per_child), and with
    /// [`PoolError::Io`] if a thread cannot be started (the ones already
    /// started are stopped).
    pub fn build(self) -> Result<ThreadPool, PoolError> {
        if self.task_timeout.is_some() {
            return Err(PoolError::Unsupported(
                "a ThreadPool cannot stop a task that exceeds its timeout (a thread cannot be killed); use a process Pool".to_string(),
            ));
        }
        if self.max_memory.is_some() {
            return Err(PoolError::Unsupported(
                "a ThreadPool cannot replace a thread to give back its memory (the threads share one process); use a process Pool".to_string(),
            ));
        }
        let threads = self.threads.unwrap_or_else(mp_process::cpu_count);
        if threads < 1 {
            return Err(PoolError::InvalidArgument(
                "number of processes must be at least 1".to_string(),
            ));
        }
        let (state, state_type) = self.state.unzip();
        let engine = Engine::new(threads, state_type);
        let mut handles = Vec::with_capacity(threads);
        for n in 1..=threads {
            let (e, init, state) = (engine.clone(), self.init.clone(), state.clone());
            let spawned = mp_sys::thread_spawn::Builder::new(format!("ThreadPoolWorker-{n}"))
                .spawn(move || engine::worker(e, init, state));
            match spawned {
                Ok(h) => handles.push(h),
                Err(err) => {
                    // The threads never started count as exited.
                    engine.forget_threads(threads + 1 - n);
                    let pool = ThreadPool::from_parts(engine, handles);
                    pool.terminate();
                    return Err(err.into());
                }
            }
        }
        Ok(ThreadPool::from_parts(engine, handles))
    }
}
