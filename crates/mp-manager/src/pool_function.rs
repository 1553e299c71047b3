//! Functions of the managed Pool (Python's `manager.Pool(...)`): registered
//! by the program on the [`ManagerBuilder`](crate::ManagerBuilder) (see
//! [`registered`](crate::registered)), each as a closure made at
//! registration time that decodes the arguments, calls the server's pool
//! with the ordinary typed `apply` / `starmap` and encodes the results.
//! A [`PoolProxy`](crate::PoolProxy) names one by [`key`] and sends
//! serde-encoded arguments; nothing else it sends decides what runs.

use std::any::type_name;
use std::sync::Arc;

use mp_pool::{Pool, PoolError, StarFn, TaskError};
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
}

/// The request of the pool's `run` method: key, call, encoded arguments.
pub(crate) type RunRequest = (u64, PoolCall, ByteBuf);

/// What a registered function is given in the server.
pub(crate) struct PoolJob {
    /// The server's pool.
    pub(crate) pool: Arc<Pool>,
    /// How to call the function.
    pub(crate) call: PoolCall,
    /// The encoded arguments.
    pub(crate) args: ByteBuf,
}

/// What a registered function returns: the encoded reply, or why the pool
/// refused the work.
pub(crate) type PoolOutput = Result<Vec<u8>, RemoteError>;

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

/// Runs `f` on the server's pool as `job` asks, in the server process.
fn run<F, Args>(f: F, job: PoolJob) -> PoolOutput
where
    F: StarFn<Args>,
    Args: Serialize + DeserializeOwned + 'static,
    F::Output: Serialize + DeserializeOwned + Send + 'static,
{
    match job.call {
        PoolCall::Apply => {
            let a: Args = args(&job.args, "apply")?;
            reply(job.pool.apply(f, a))
        }
        PoolCall::Starmap { chunksize } => {
            let items: Vec<Args> = args(&job.args, "starmap")?;
            let chunksize = chunksize.map(|c| usize::try_from(c).unwrap_or(usize::MAX));
            reply(
                job.pool
                    .starmap_async(f, items, chunksize)
                    .and_then(|r| r.get()),
            )
        }
    }
}

/// The reply for a pool call's outcome: a task's failure goes back to the
/// caller as that call's result; misuse (a closed pool, ...) is a remote error.
fn reply<R: Serialize>(outcome: Result<R, PoolError>) -> PoolOutput {
    match outcome {
        Ok(r) => ret(&Ok::<R, TaskError>(r)),
        Err(PoolError::Task(t)) => ret(&Err::<R, TaskError>(t)),
        Err(e) => Err(RemoteError::from_pool(e)),
    }
}
