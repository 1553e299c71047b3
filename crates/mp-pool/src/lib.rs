//! `mp-pool`: Python's `multiprocessing.Pool` for Rust — a pool of worker
//! processes with `map`, `imap`, `imap_unordered`, `starmap`, `apply_async`,
//! callbacks, an initializer and `maxtasksperchild`, under every start method.
//!
//! ```
//! use mp_pool::Pool;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! let pool = Pool::with_processes(2)?;
//! assert_eq!(pool.map(square, 0..5)?, vec![0, 1, 4, 9, 16]);
//! let r = pool.apply_async(|a: u64, b: u64| a + b, (2, 3))?;
//! assert_eq!(r.get()?, 5);
//! let mut firsts: Vec<u64> = pool.imap_unordered(square, 0..4)?.map(Result::unwrap).collect();
//! firsts.sort();
//! assert_eq!(firsts, vec![0, 1, 4, 9]);
//! pool.close();
//! pool.join()?;
//! # Ok::<(), mp_pool::PoolError>(())
//! ```
//!
//! - [`Pool`] ([`Pool::new`], [`Pool::with_processes`], [`Pool::builder`] →
//!   [`PoolBuilder`]): `apply`, `apply_async(_with)`, `map(_chunked)`,
//!   `map_async(_with)`, `starmap`, `starmap_async(_with)`, `imap(_chunked)`,
//!   `imap_unordered(_chunked)`, `close`, `terminate`, `join`. Dropping a pool
//!   terminates it, like the end of Python's `with Pool() as p:` block.
//! - [`AsyncResult`]: `get`, `get_timeout`, `wait`, `wait_timeout`, `ready`,
//!   `successful`; [`Callbacks`] run in this process. With the `async`
//!   feature it is also a future (`result.await`, `ResultFuture`).
//! - [`IMapIterator`]: an `Iterator` of `Result`s with `next_timeout`.
//! - [`TaskError`] (one task: panic with message and location, worker death
//!   with exit code or signal, encoding) and [`PoolError`].
//! - Beyond Python: [`TaskOptions`] per call (a task timeout, a progress
//!   hook that gets [`ProgressUpdate`]s) through the `*_opts` methods;
//!   worker state made once per worker and lent to `map_with_state` and
//!   its kin ([`PoolBuilder::worker_state`]); a worker retired past
//!   [`PoolBuilder::max_memory_per_child`]; cancellation; [`as_completed`]
//!   and [`wait`].
//! - [`default_chunksize`]: Python's formula.
//! - [`as_completed`] and [`wait`] over [`AsyncResult`]s and [`Future`]s
//!   (Python's `concurrent.futures` functions; [`ResultHandle`]).
//! - [`ProcessPoolExecutor`] ([`ExecutorBuilder`]) and
//!   [`ThreadPoolExecutor`], both an [`Executor`]: Python's
//!   `concurrent.futures` executors on a [`Pool`] or a [`ThreadPool`] — `submit` →
//!   [`Future`] (`result`, `exception`, `done`, `running`, `cancel`,
//!   `add_done_callback`), `map` with a timeout ([`ExecutorMap`]),
//!   `shutdown(wait, cancel_futures)`, drop waits like `with`; a dead worker
//!   heals the pool or breaks the executor ([`BrokenPolicy`],
//!   [`TaskError::BrokenProcessPool`]).
//! - [`remote`]: the chunk trampolines and result types for pool backends
//!   outside this crate (the MPI pool of `mp-mpi`).
//! - [`ThreadPool`] ([`ThreadPoolBuilder`]): Python's
//!   `multiprocessing.pool.ThreadPool` — the same calls on threads of this
//!   process, for closures that capture and values that are not serde.
//!
//! # How it works
//! Each worker has one long-lived connection to the parent (an mp-channel
//! `Connection` over a pipe each way, whose side socket carries only fds).
//! Inputs go in chunks (an encoded `Vec` of inputs plus the entry point of a trampoline that calls the task function
//! on each), several small ones per write; results come back per chunk, and
//! one read takes in every reply that has arrived. One thread in the parent
//! polls every worker's connection and its pidfd at once: it
//! collects results, hands out queued chunks, notices a dead worker at once
//! (its pidfd turns readable), starts a replacement, and runs callbacks.
//! Before each task a worker stores which task of which chunk it starts in
//! a word of memory it shares with the parent, so after a death the tasks
//! that never started are sent again and only those that may have run fail
//! (or are retried). Submitting threads send straight to an
//! idle worker, and a thread waiting on an `AsyncResult` reads its task's
//! worker itself (the engine thread then leaves that link alone), so a
//! reply wakes the waiter directly. A map's first chunks go out while the
//! rest are still being encoded. No process or channel is created per task.
#![forbid(unsafe_code)]

mod apply_sink;
mod builder;
mod chunk;
mod config;
mod engine;
mod error;
mod executor;
mod func;
mod futures;
mod imap;
mod job_sink;
mod lifecycle;
mod lock;
mod lone_task;
mod options;
mod packed;
mod parent_watch;
mod pool;
mod pool_imap;
mod pool_imap_buffered;
mod pool_state;
mod progress_hook;
pub mod remote;
mod request;
mod result;
mod sink;
mod spare;
mod task_word;
mod thread_pool;
mod wake_fd;
mod worker_handle;
mod worker_main;
mod worker_state;

pub use builder::PoolBuilder;
pub use chunk::default_chunksize;
pub use error::{PoolError, TaskError};
pub use executor::{
    BrokenPolicy, Executor, ExecutorBuilder, ExecutorMap, ExecutorPool, Future,
    ProcessPoolExecutor, ThreadPoolExecutor,
};
pub use func::StarFn;
pub use futures::{as_completed, wait, AsCompleted, ResultHandle, ReturnWhen, Waited};
pub use imap::IMapIterator;
pub use options::TaskOptions;
pub use pool::Pool;
pub use progress_hook::ProgressUpdate;
#[cfg(feature = "async")]
pub use result::ResultFuture;
pub use result::{AsyncResult, Callbacks};
pub use thread_pool::{ThreadPool, ThreadPoolBuilder, ThreadStarFn};

#[cfg(test)]
mod tests {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_cross_threads() {
        send_sync::<crate::Pool>();
        send_sync::<crate::AsyncResult<Vec<u8>>>();
        send_sync::<crate::IMapIterator<u8>>();
    }
}
