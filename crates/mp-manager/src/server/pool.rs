//! The server side of a managed `Pool` (Python's `manager.Pool(...)`): a
//! process pool owned by the server process, shared by every client. Jobs
//! arrive encoded (`mp_pool::EncodedJob`, made by the client from its typed
//! call) and their outputs go back encoded; the client decodes them.

use std::sync::Arc;

use mp_pool::{EncodedJob, Pool, PoolError};

use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

struct ManagedPool(Pool);

/// Creates the pool: `(processes, maxtasksperchild)`, each optional.
pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let (processes, maxtasks): (Option<u64>, Option<u64>) = args(init, "Pool")?;
    let mut b = Pool::builder();
    if let Some(n) = processes {
        b = b.processes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = maxtasks {
        b = b.maxtasksperchild(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let pool = b.build().map_err(remote)?;
    Ok(Arc::new(ManagedPool(pool)))
}

/// A pool error as the client sees it: CPython's `ValueError`s for misuse.
fn remote(e: PoolError) -> RemoteError {
    let kind = match e {
        PoolError::NotRunning | PoolError::StillRunning | PoolError::InvalidArgument(_) => {
            RemoteErrorKind::Value
        }
        _ => RemoteErrorKind::Runtime,
    };
    RemoteError::new(kind, e.to_string())
}

impl Referent for ManagedPool {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let pool = &self.0;
        match method {
            "run" => {
                let job: EncodedJob = args(a, method)?;
                let outputs = pool
                    .run_encoded(&job)
                    .map_err(remote)?
                    .get()
                    .map_err(remote)?;
                ret(&outputs)
            }
            "processes" => ret(&(pool.processes() as u64)),
            "close" => {
                pool.close();
                ret(&())
            }
            "terminate" => {
                pool.terminate();
                ret(&())
            }
            "join" => {
                pool.join().map_err(remote)?;
                ret(&())
            }
            other => Err(no_method("Pool", other)),
        }
    }
}
