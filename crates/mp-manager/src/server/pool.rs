//! The server side of a managed `Pool` (Python's `manager.Pool(...)`): a
//! process pool owned by the server process, shared by every client. A
//! client's `run` request names a function registered with the server (by
//! its key, see [`pool_function`](crate::pool_function)) and carries its
//! encoded arguments; a key the server does not know is refused, and
//! nothing runs.

use std::sync::Arc;

use mp_pool::Pool;

use super::{no_method, Cx, Referent, Server};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::pool_function::{PoolFunctions, PoolJob, RunRequest};
use crate::protocol::{args, ret};

struct ManagedPool {
    pool: Arc<Pool>,
    functions: Arc<PoolFunctions>,
}

/// Creates the pool: `(processes, maxtasksperchild)`, each optional.
pub(crate) fn create(init: &[u8], server: &Server) -> Result<Arc<dyn Referent>, RemoteError> {
    let (processes, maxtasks): (Option<u64>, Option<u64>) = args(init, "Pool")?;
    let mut b = Pool::builder();
    if let Some(n) = processes {
        b = b.processes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = maxtasks {
        b = b.maxtasksperchild(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let pool = b.build().map_err(RemoteError::from_pool)?;
    Ok(Arc::new(ManagedPool {
        pool: Arc::new(pool),
        functions: server.pool_functions(),
    }))
}

impl Referent for ManagedPool {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let pool = &self.pool;
        match method {
            "run" => {
                let (key, call, args): RunRequest = args(a, method)?;
                let Some(f) = self.functions.get(&key) else {
                    return Err(RemoteError::new(
                        RemoteErrorKind::NotRegistered,
                        format!(
                            "no pool function is registered with this manager under key \
                             {key:016x} (ManagerBuilder::pool_function)"
                        ),
                    ));
                };
                f(PoolJob {
                    pool: pool.clone(),
                    call,
                    args,
                })
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
                pool.join().map_err(RemoteError::from_pool)?;
                ret(&())
            }
            other => Err(no_method("Pool", other)),
        }
    }
}
