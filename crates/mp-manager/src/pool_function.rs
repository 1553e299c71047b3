//! Functions of the managed Pool (Python's `manager.Pool(...)`): registered
//! by the program on the [`ManagerBuilder`](crate::ManagerBuilder) (see
//! [`registered`](crate::registered)), each as a closure made at
//! registration time that decodes the arguments, calls the server's pool
//! with the ordinary typed `apply` / `starmap` / `imap` and encodes the
//! results (or builds the pool with the function as its initializer).
//! A [`PoolProxy`](crate::PoolProxy) names one by [`key`] and sends
//! serde-encoded arguments; nothing else it sends decides what runs.

use std::any::type_name;
use std::sync::Arc;
use std::time::Duration;

use mp_pool::{AsyncResult, IMapIterator, Pool, PoolBuilder, PoolError, StarFn, TaskError};
use mp_sys::entry::EntryPoint;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::RemoteError;
use crate::protocol::{args, ret};
use crate::registered::{key_of, Registered, Table};

/// How the server's pool is to call a registered function.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum PoolCall {
    /// `apply(f, args)`: the arguments are one encoded `Args`; the reply is
    /// an encoded `Result<R, TaskError>`.
    Apply,
    /// `starmap(f, items)`: the arguments are an encoded `Vec<Args>`; the
    /// reply is an encoded `Result<Vec<R>, TaskError>`. `None`: Python's
    /// default chunk size for the server pool's size.
    Starmap {
        /// Items per chunk.
        chunksize: Option<u64>,
    },
    /// `imap(f, items)` (`ordered`) or `imap_unordered`: the arguments are
    /// an encoded `Vec<Args>`; the outcome is a [`ResultStream`] whose
    /// items are encoded `Result<R, TaskError>`.
    Imap {
        /// Items per chunk (at least 1).
        chunksize: u64,
        /// Results in input order (`imap`) or as they complete.
        ordered: bool,
    },
    /// Builds the pool with the function as its initializer (Python's
    /// `Pool(processes, initializer, initargs, maxtasksperchild)`): the
    /// arguments are the encoded `initargs`.
    Build {
        /// Worker processes (default: the CPU count).
        processes: Option<u64>,
        /// Tasks per worker before it is replaced.
        maxtasksperchild: Option<u64>,
    },
    /// `apply_async(f, args)`: [`Apply`](PoolCall::Apply) submitted to the
    /// server's pool before the reply, so a `close` sent after it cannot
    /// overtake the task (as in Python, where `apply_async` has queued the
    /// task when it returns); the outcome is a [`ResultStream`] of one item,
    /// the encoded `Result<R, TaskError>`.
    ApplyAsync,
    /// `starmap_async(f, items)`: [`Starmap`](PoolCall::Starmap) submitted
    /// before the reply, as [`ApplyAsync`](PoolCall::ApplyAsync); the one
    /// item is the encoded `Result<Vec<R>, TaskError>`.
    StarmapAsync {
        /// Items per chunk (`None`: Python's default).
        chunksize: Option<u64>,
    },
}

/// The request of the pool's `run` method: key, call, encoded arguments.
pub(crate) type RunRequest = (u64, PoolCall, ByteBuf);

/// What a registered function is given in the server.
pub(crate) struct PoolJob {
    /// The server's pool (`None` for [`PoolCall::Build`]).
    pub(crate) pool: Option<Arc<Pool>>,
    /// How to call the function.
    pub(crate) call: PoolCall,
    /// The encoded arguments.
    pub(crate) args: ByteBuf,
}

/// The results of an `imap` as the server hands them out: each call waits
/// at most the given time for the next one, an encoded
/// `Result<R, TaskError>`; `Some(Err(PoolError::Timeout))` if none came in
/// time, `None` at the end.
pub(crate) trait ResultStream: Send {
    /// The next result, waiting at most `timeout`.
    fn next_encoded(&mut self, timeout: Duration) -> Option<Result<Vec<u8>, PoolError>>;
}

/// The one result of an `apply_async` or `starmap_async` submitted to the
/// server's pool, handed out as a [`ResultStream`] of one item.
struct Submitted<T>(Option<AsyncResult<T>>);

impl<T: Serialize + Send> ResultStream for Submitted<T> {
    fn next_encoded(&mut self, timeout: Duration) -> Option<Result<Vec<u8>, PoolError>> {
        let item = match self.0.as_ref()?.get_timeout(timeout) {
            Err(PoolError::Timeout) => return Some(Err(PoolError::Timeout)),
            Ok(r) => Ok(r),
            Err(PoolError::Task(t)) => Err(t),
            Err(e) => {
                self.0 = None;
                return Some(Err(e));
            }
        };
        self.0 = None;
        Some(
            ret(&item)
                .map_err(|e| PoolError::InvalidArgument(format!("cannot encode a result: {e}"))),
        )
    }
}

/// The outcome of a call submitted without waiting: its result to come, or
/// the pool's refusal (closed, ...) as the call's error.
fn submitted<T: Serialize + Send + 'static>(r: Result<AsyncResult<T>, PoolError>) -> PoolOutput {
    r.map(|r| PoolOutcome::Stream(Box::new(Submitted(Some(r)))))
        .map_err(RemoteError::from_pool)
}

impl<R: Serialize + Send> ResultStream for IMapIterator<R> {
    fn next_encoded(&mut self, timeout: Duration) -> Option<Result<Vec<u8>, PoolError>> {
        let item = match self.next_timeout(timeout)? {
            Ok(r) => Ok(r),
            Err(PoolError::Task(t)) => Err(t),
            Err(e) => return Some(Err(e)),
        };
        Some(
            ret(&item)
                .map_err(|e| PoolError::InvalidArgument(format!("cannot encode a result: {e}"))),
        )
    }
}

/// What a registered function produced in the server.
pub(crate) enum PoolOutcome {
    /// An encoded reply for the caller.
    Reply(Vec<u8>),
    /// An `imap`'s results, handed out one by one.
    Stream(Box<dyn ResultStream>),
    /// A pool built with the function as its initializer.
    Built(Pool),
}

/// What a registered function returns: what it produced, or why the pool
/// refused the work.
pub(crate) type PoolOutput = Result<PoolOutcome, RemoteError>;

/// One registered pool function on its way to the server.
pub(crate) type PoolFunction = Registered<PoolJob, PoolOutput>;

/// The registered pool functions of a server, by key.
pub(crate) type PoolFunctions = Table<PoolJob, PoolOutput>;

/// The key naming `F` called with `Args`: the same in every process
/// running this binary, different for another function or argument types.
pub(crate) fn key<F: 'static, Args: 'static>() -> u64 {
    key_of::<(F, Args)>()
}

/// Registers `f` (a zero-sized function: a `fn` item or a non-capturing
/// closure) for calls with `Args`.
pub(crate) fn of<F, Args>(f: F) -> PoolFunction
where
    F: StarFn<Args>,
    Args: Serialize + DeserializeOwned + 'static,
    F::Output: Serialize + DeserializeOwned + Send + 'static,
{
    Registered::new(
        key::<F, Args>(),
        type_name::<F>(),
        EntryPoint::of(move |job: PoolJob| run(f, job)),
    )
}

/// `b` with the worker count and tasks per worker a client asked for.
pub(crate) fn sized(
    mut b: PoolBuilder,
    processes: Option<u64>,
    maxtasksperchild: Option<u64>,
) -> PoolBuilder {
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(n) = processes {
        b = b.processes(size(n));
    }
    if let Some(n) = maxtasksperchild {
        b = b.maxtasksperchild(size(n));
    }
    b
}

/// Runs `f` on the server's pool as `job` asks, in the server process.
fn run<F, Args>(f: F, job: PoolJob) -> PoolOutput
where
    F: StarFn<Args>,
    Args: Serialize + DeserializeOwned + 'static,
    F::Output: Serialize + DeserializeOwned + Send + 'static,
{
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let PoolCall::Build {
        processes,
        maxtasksperchild,
    } = job.call
    {
        let initargs: Args = args(&job.args, "initializer")?;
        return sized(
            Pool::builder().initializer(f, initargs),
            processes,
            maxtasksperchild,
        )
        .build()
        .map(PoolOutcome::Built)
        .map_err(RemoteError::from_pool);
    }
    let Some(pool) = job.pool else {
        return Err(RemoteError::protocol("no pool to run on"));
    };
    match job.call {
        PoolCall::Apply => {
            let a: Args = args(&job.args, "apply")?;
            reply(pool.apply(f, a))
        }
        PoolCall::Starmap { chunksize } => {
            let items: Vec<Args> = args(&job.args, "starmap")?;
            reply(
                pool.starmap_async(f, items, chunksize.map(size))
                    .and_then(|r| r.get()),
            )
        }
        PoolCall::Imap { chunksize, ordered } => {
            let items: Vec<Args> = args(&job.args, "imap")?;
            // `imap` calls `g(item)`; this `g` is `f(*item)`. It captures
            // only `f` (zero-sized), so it is a function item as well.
            let g = move |a: Args| f.call(a);
            let it = if ordered {
                pool.imap_chunked(g, items, size(chunksize))
            } else {
                pool.imap_unordered_chunked(g, items, size(chunksize))
            };
            it.map(|it| PoolOutcome::Stream(Box::new(it)))
                .map_err(RemoteError::from_pool)
        }
        PoolCall::ApplyAsync => {
            let a: Args = args(&job.args, "apply_async")?;
            submitted(pool.apply_async(f, a))
        }
        PoolCall::StarmapAsync { chunksize } => {
            let items: Vec<Args> = args(&job.args, "starmap_async")?;
            submitted(pool.starmap_async(f, items, chunksize.map(size)))
        }
        PoolCall::Build { .. } => Err(RemoteError::protocol("a pool is already built")),
    }
}

/// The reply for a pool call's outcome: a task's failure goes back to the
/// caller as that call's result; misuse (a closed pool, ...) is a remote error.
fn reply<R: Serialize>(outcome: Result<R, PoolError>) -> PoolOutput {
    let encoded = match outcome {
        Ok(r) => ret(&Ok::<R, TaskError>(r)),
        Err(PoolError::Task(t)) => ret(&Err::<R, TaskError>(t)),
        Err(e) => Err(RemoteError::from_pool(e)),
    };
    encoded.map(PoolOutcome::Reply)
}
