//! The server side of a managed `Pool` (Python's `manager.Pool(...)`): a
//! process pool owned by the server process, shared by every client. A
//! client's `run` request names a function registered with the server (by
//! its key, see [`pool_function`](crate::pool_function)) and carries its
//! encoded arguments; a key the server does not know is refused, and
//! nothing runs. The initializer is a registered function too.
//!
//! An `imap`'s results stay here, under a random handle, until the client
//! has taken them all (`imap_next`) or lets go (`imap_drop`); whatever is
//! left goes with the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mp_pool::{Pool, PoolError};
use mp_sys::time::Deadline;
use serde_bytes::ByteBuf;

use super::wait::caller_gone;
use super::{no_method, Cx, Referent, Server};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::pool_function::{
    sized, PoolCall, PoolFunctions, PoolJob, PoolOutcome, ResultStream, RunRequest,
};
use crate::protocol::{args, ret};

/// How long one wait for an `imap` result (or for `join_timeout`) lasts
/// before checking that the caller is still there.
const SLICE: Duration = Duration::from_millis(100);

type Stream = Arc<Mutex<Box<dyn ResultStream>>>;

struct ManagedPool {
    pool: Arc<Pool>,
    functions: Arc<PoolFunctions>,
    /// Running `imap`s, by handle.
    streams: Mutex<HashMap<u64, Stream>>,
}

/// The creation arguments after `(processes, maxtasksperchild)`: the key
/// and encoded arguments of a registered initializer. Absent (the bytes end
/// after the first two) means none.
type Initializer = Option<(u64, ByteBuf)>;

fn not_registered(key: u64) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NotRegistered,
        format!(
            "no pool function is registered with this manager under key \
             {key:016x} (ManagerBuilder::pool_function)"
        ),
    )
}

/// Creates the pool: `(processes, maxtasksperchild)`, each optional, then
/// an optional initializer.
pub(crate) fn create(init: &[u8], server: &Server) -> Result<Arc<dyn Referent>, RemoteError> {
    let ((processes, maxtasks), rest) =
        postcard::take_from_bytes::<(Option<u64>, Option<u64>)>(init)
            .map_err(|e| RemoteError::protocol(format!("bad arguments for 'Pool': {e}")))?;
    let initializer: Initializer = if rest.is_empty() {
        None
    } else {
        args(rest, "Pool")?
    };
    let functions = server.pool_functions();
    let pool = match initializer {
        Some((key, initargs)) => {
            let f = functions.get(&key).ok_or_else(|| not_registered(key))?;
            let job = PoolJob {
                pool: None,
                call: PoolCall::Build {
                    processes,
                    maxtasksperchild: maxtasks,
                },
                args: initargs,
            };
            match f(job)? {
                PoolOutcome::Built(pool) => pool,
                _ => return Err(RemoteError::protocol("the initializer built no pool")),
            }
        }
        None => sized(Pool::builder(), processes, maxtasks)
            .build()
            .map_err(RemoteError::from_pool)?,
    };
    Ok(Arc::new(ManagedPool {
        pool: Arc::new(pool),
        functions,
        streams: Mutex::default(),
    }))
}

impl ManagedPool {
    fn stream(&self, handle: u64) -> Option<Stream> {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.get(&handle).cloned()
    }

    fn forget(&self, handle: u64) {
        let removed = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&handle);
        drop(removed);
    }

    /// The next result of `imap` `handle`, waiting at most `timeout`
    /// (`None`: until it comes): `Some(Some(item))`, `Some(None)` if none
    /// came in time, `None` at the end.
    fn next(
        &self,
        handle: u64,
        timeout: Option<Duration>,
        cx: &Cx<'_>,
    ) -> Result<Option<Option<ByteBuf>>, RemoteError> {
        let stream = self.stream(handle).ok_or_else(|| {
            RemoteError::protocol(format!("no imap with handle {handle:x} in this pool"))
        })?;
        let mut stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            match stream.next_encoded(slice) {
                Some(Ok(item)) => return Ok(Some(Some(ByteBuf::from(item)))),
                None => {
                    self.forget(handle);
                    return Ok(None);
                }
                Some(Err(PoolError::Timeout)) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Some(None));
                    }
                    if cx.peer_gone() {
                        return Err(caller_gone());
                    }
                }
                Some(Err(e)) => {
                    self.forget(handle);
                    return Err(RemoteError::from_pool(e));
                }
            }
        }
    }

    /// `join` for at most `timeout`, in slices so that a caller that hangs
    /// up does not keep this thread waiting: whether the pool finished.
    fn join_for(&self, timeout: Duration, cx: &Cx<'_>) -> Result<bool, RemoteError> {
        let deadline = Deadline::after(Some(timeout));
        loop {
            let slice = deadline.slice(Some(SLICE)).unwrap_or(SLICE);
            if self
                .pool
                .join_timeout(slice)
                .map_err(RemoteError::from_pool)?
            {
                return Ok(true);
            }
            if deadline.passed() {
                return Ok(false);
            }
            if cx.peer_gone() {
                return Err(caller_gone());
            }
        }
    }
}

impl Referent for ManagedPool {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let pool = &self.pool;
        match method {
            "run" => {
                let (key, call, args): RunRequest = args(a, method)?;
                let f = self
                    .functions
                    .get(&key)
                    .ok_or_else(|| not_registered(key))?;
                let job = PoolJob {
                    pool: Some(pool.clone()),
                    call,
                    args,
                };
                match f(job)? {
                    PoolOutcome::Reply(bytes) => Ok(bytes),
                    PoolOutcome::Stream(stream) => {
                        let handle = crate::random::random_u64()
                            .map_err(|e| RemoteError::protocol(format!("no randomness: {e}")))?;
                        self.streams
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(handle, Arc::new(Mutex::new(stream)));
                        ret(&handle)
                    }
                    PoolOutcome::Built(_) => Err(RemoteError::protocol("not a pool call")),
                }
            }
            "imap_next" => {
                let (handle, timeout): (u64, Option<Duration>) = args(a, method)?;
                ret(&self.next(handle, timeout, cx)?)
            }
            "imap_drop" => {
                self.forget(args(a, method)?);
                ret(&())
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
            "join_timeout" => {
                let timeout: Duration = args(a, method)?;
                ret(&self.join_for(timeout, cx)?)
            }
            other => Err(no_method("Pool", other)),
        }
    }
}
