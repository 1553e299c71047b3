//! [`ThreadPoolBuilder`]: the options of Python's `ThreadPool(processes,
//! initializer, initargs)`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::PoolError;

use super::engine::{self, Engine, Init};
use super::ThreadPool;

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
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("threads", &self.threads)
            .field("initializer", &self.init.is_some())
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

    /// Starts the threads.
    ///
    /// Fails with [`PoolError::InvalidArgument`] for 0 threads and with
    /// [`PoolError::Io`] if a thread cannot be started (the ones already
    /// started are stopped).
    pub fn build(self) -> Result<ThreadPool, PoolError> {
        if self.task_timeout.is_some() {
            return Err(PoolError::Unsupported(
                "a ThreadPool cannot stop a task that exceeds its timeout (a thread cannot be killed); use a process Pool".to_string(),
            ));
        }
        let threads = self.threads.unwrap_or_else(mp_process::cpu_count);
        if threads < 1 {
            return Err(PoolError::InvalidArgument(
                "number of processes must be at least 1".to_string(),
            ));
        }
        // A task's panic is recorded with its location by the task hook.
        crate::func::install_local_panic_hook();
        let engine = Engine::new(threads);
        let mut handles = Vec::with_capacity(threads);
        for n in 1..=threads {
            let (e, init) = (engine.clone(), self.init.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("ThreadPoolWorker-{n}"))
                .spawn(move || engine::worker(e, init));
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
