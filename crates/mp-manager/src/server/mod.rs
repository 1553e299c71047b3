//! The manager server: a table of objects by id, an accept loop, and one
//! thread per connection serving requests (Python's `Server`).
//!
//! The server is an `mp_channel::Listener` with the server's authkey: it
//! returns only connections that passed the handshake (running the
//! handshakes side by side and bounding how many, so slow or silent
//! clients cannot hold up the others; see [`listen`]). Each authenticated
//! connection is served by its own thread, which reads a request, runs it
//! and writes the reply itself; every message is one request. A client on a
//! Unix socket first moves its requests onto pipes (`crate::pipes`). A request that does not decode, names an unknown object or
//! method, or carries bad arguments gets an error reply and the connection
//! goes on; a frame that breaks the framing closes that connection only. A
//! panic in a method is caught and reported as an error. The server exits
//! when asked to (`shutdown`), or when the process that started it dies.

mod barrier;
mod condition;
mod dict;
mod list;
mod namespace;
mod object_ids;
mod open;
mod pool;
mod queue;
mod refcount;
mod references;
mod set;
mod slice;
mod sync;
mod value;
mod wait;

#[cfg(test)]
mod robustness_tests;

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mp_channel::{Address, ConnectError, Connection, Listener, RecvError};
use serde_bytes::ByteBuf;

use crate::barrier_action::{ActionFn, Actions};
use crate::error::RemoteError;
use crate::pipes::{self, Served};
use crate::pool_function::PoolFunctions;
use crate::protocol::{self, args, ret, Reply, Request, RequestRef};
use object_ids::IdMap;
use open::OpenConnections;
use refcount::{ConnId, RefTable};

pub(crate) use slice::Slice;
pub(crate) use wait::Cx;

/// A served object: calls a method by name on encoded arguments.
pub(crate) trait Referent: Send + Sync {
    /// Runs `method` with `args`; the result is the encoded return value.
    fn call(&self, method: &str, args: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError>;

    /// The referent as a managed `Lock`/`RLock`, for a condition built on
    /// it; `None` for every other type.
    fn as_lock(self: Arc<Self>) -> Option<Arc<sync::Acquirer>> {
        None
    }
}

/// Makes a referent from its encoded initial state; the server is there
/// for referents built on other objects or on registered functions.
pub(crate) type Factory = fn(&[u8], &Server) -> Result<Arc<dyn Referent>, RemoteError>;

/// The typeids a server can create, with their factories.
pub(crate) type Factories = HashMap<&'static str, Factory>;

/// The built-in types of `SyncManager`.
pub(crate) fn builtin_factories() -> Factories {
    let mut f: Factories = HashMap::new();
    f.insert("dict", |i, _| dict::create(i));
    f.insert("list", |i, _| list::create(i));
    f.insert("set", |i, _| set::create(i));
    f.insert("Namespace", |i, _| namespace::create(i));
    f.insert("Value", |i, _| value::create_value(i));
    f.insert("Array", |i, _| value::create_array(i));
    f.insert("Lock", |i, _| sync::create_lock(i));
    f.insert("RLock", |i, _| sync::create_rlock(i));
    f.insert("Semaphore", |i, _| sync::create_semaphore(i));
    f.insert("BoundedSemaphore", |i, _| sync::create_bounded_semaphore(i));
    f.insert("Event", |i, _| sync::create_event(i));
    f.insert("Condition", condition::create);
    f.insert("Barrier", barrier::create);
    f.insert("Queue", |i, _| queue::create(i));
    f.insert("JoinableQueue", |i, _| queue::create(i));
    f.insert("Pool", pool::create);
    f
}

/// Python's "method not exposed" error.
pub(crate) fn no_method(typeid: &str, method: &str) -> RemoteError {
    RemoteError::protocol(format!(
        "method '{method}' of {typeid} object is not exposed"
    ))
}

struct Object {
    typeid: &'static str,
    referent: Arc<dyn Referent>,
}

/// The server's state, shared by the connection threads.
pub(crate) struct Server {
    id: u128,
    factories: Factories,
    objects: RwLock<IdMap<Object>>,
    /// Who holds references to which object (taken before `objects`).
    refs: Mutex<RefTable>,
    /// The number of the next accepted connection.
    next_conn: AtomicU64,
    names: Mutex<HashMap<String, u128>>,
    /// The barrier actions registered with the builder, by key.
    actions: Actions,
    /// The managed pool's functions registered with the builder, by key.
    pool_functions: Arc<PoolFunctions>,
    /// Written to ask the accept loop to stop.
    stop: OwnedFd,
    /// What a shutdown request must carry: only the manager that started
    /// the server knows it.
    shutdown_token: u128,
    /// The connections being served.
    open: OpenConnections,
    /// Whether the process ends when this server stops (a server process),
    /// closing every connection: then a thread serving pipes need not watch
    /// the socket beside them (see `crate::pipes`).
    exits_when_stopped: bool,
}

/// Who a server is and who may talk to it or stop it.
pub(crate) struct Identity {
    /// The id of this server run (clients check it on `connect`).
    pub(crate) id: u128,
    /// What a shutdown request must carry.
    pub(crate) shutdown_token: u128,
}

impl Server {
    pub(crate) fn new(
        identity: Identity,
        factories: Factories,
        actions: Actions,
        pool_functions: PoolFunctions,
        stop: OwnedFd,
    ) -> Self {
        let Identity { id, shutdown_token } = identity;
        Self {
            id,
            factories,
            objects: RwLock::new(IdMap::default()),
            refs: Mutex::default(),
            next_conn: AtomicU64::new(1),
            names: Mutex::new(HashMap::new()),
            actions,
            pool_functions: Arc::new(pool_functions),
            stop,
            shutdown_token,
            open: OpenConnections::default(),
            exits_when_stopped: false,
        }
    }

    /// This server runs in a process of its own, which ends when it stops.
    pub(crate) fn exits_when_stopped(mut self) -> Self {
        self.exits_when_stopped = true;
        self
    }

    /// The object `id`: its typeid and referent.
    pub(crate) fn object(&self, id: u128) -> Option<(&'static str, Arc<dyn Referent>)> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.get(&id).map(|o| (o.typeid, o.referent.clone()))
    }

    /// The barrier action registered under `key`.
    pub(crate) fn action(&self, key: u64) -> Option<ActionFn> {
        self.actions.get(&key).copied()
    }

    /// The managed pool's registered functions.
    pub(crate) fn pool_functions(&self) -> Arc<PoolFunctions> {
        self.pool_functions.clone()
    }

    fn dispatch(&self, req: &Request, cx: &Cx<'_>, conn: ConnId) -> Result<Vec<u8>, RemoteError> {
        if req.object == protocol::CONTROL {
            if let Some(r) = self.reference_control(conn, &req.method, &req.args) {
                return r;
            }
            return self.control(&req.method, &req.args, conn);
        }
        let referent = {
            let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
            match objects.get(&req.object) {
                Some(o) => o.referent.clone(),
                None => {
                    return Err(RemoteError::protocol(format!(
                        "no object with id {:x} in this manager",
                        req.object
                    )))
                }
            }
        };
        referent.call(&req.method, &req.args, cx)
    }

    fn control(&self, method: &str, a: &[u8], conn: ConnId) -> Result<Vec<u8>, RemoteError> {
        match method {
            protocol::HELLO => ret(&self.id),
            protocol::CREATE => {
                let (typeid, init): (String, ByteBuf) = args(a, method)?;
                let Some((&name, factory)) = self.factories.get_key_value(typeid.as_str()) else {
                    return Err(RemoteError::protocol(format!(
                        "unknown typeid '{typeid}' (not registered with this manager)"
                    )));
                };
                let referent = factory(&init, self)?;
                let id = loop {
                    let id = crate::random::random_u128()
                        .map_err(|e| RemoteError::protocol(format!("no randomness: {e}")))?;
                    if id != protocol::CONTROL {
                        break id;
                    }
                };
                let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
                objects.insert(
                    id,
                    Object {
                        typeid: name,
                        referent,
                    },
                );
                drop(objects);
                self.created(conn, id);
                ret(&id)
            }
            protocol::RELEASE => {
                let id: u128 = args(a, method)?;
                self.released(id);
                let removed = self
                    .objects
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                ret(&removed.is_some())
            }
            protocol::NUMBER_OF_OBJECTS => {
                let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
                ret(&(objects.len() as u64))
            }
            protocol::PUBLISH => {
                let (name, id): (String, u128) = args(a, method)?;
                if !self
                    .objects
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains_key(&id)
                {
                    return Err(RemoteError::protocol(format!("no object with id {id:x}")));
                }
                let old = self
                    .names
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name, id);
                self.published(id, old);
                ret(&())
            }
            protocol::LOOKUP => {
                let name: String = args(a, method)?;
                let id = self
                    .names
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&name)
                    .copied();
                let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
                match id.and_then(|id| objects.get(&id).map(|o| (id, o.typeid))) {
                    Some((id, typeid)) => ret(&(id, typeid)),
                    None => Err(RemoteError::new(
                        crate::RemoteErrorKind::Key,
                        format!("no object published as '{name}'"),
                    )),
                }
            }
            // The accept loop is stopped once the reply is out (see
            // `serve_connection`), so the caller learns it worked.
            protocol::SHUTDOWN => {
                let token: u128 = args(a, method)?;
                // Compared without an early exit: the time taken says
                // nothing about how much of a guess was right.
                if (token ^ self.shutdown_token).count_ones() == 0 {
                    ret(&())
                } else {
                    Err(RemoteError::new(
                        crate::RemoteErrorKind::Runtime,
                        "only the manager that started this server can shut it down",
                    ))
                }
            }
            other => Err(RemoteError::protocol(format!(
                "unknown control method '{other}'"
            ))),
        }
    }

    /// Serves authenticated connection `id` until it closes.
    fn serve_connection(&self, socket: Connection, id: ConnId) {
        /// Gives back what the connection held, however serving ends.
        struct Closed<'a>(&'a Server, ConnId);
        impl Drop for Closed<'_> {
            fn drop(&mut self) {
                self.0.open.remove(self.1);
                self.0.connection_closed(self.1);
            }
        }
        let _closed = Closed(self, id);
        let mut served = Served::new(socket);
        let mut kept = Request::default();
        loop {
            match served.wait(!self.exits_when_stopped) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    log::debug!(target: mp_process::LOG_TARGET, "manager: dropping a connection: {e}");
                    return;
                }
            }
            let conn = served.conn();
            // Read where it lies, into the parts kept from the last request.
            let read = conn.recv_with(None, |bytes, fds| {
                let r =
                    mp_wire::decode_seed(bytes, fds, std::marker::PhantomData::<RequestRef<'_>>)?;
                kept.fill(&r);
                Ok(())
            });
            let request = match read {
                Ok(Ok(())) => Ok(&kept),
                // A whole message that is not a request: answer, go on.
                Ok(Err(e)) | Err(RecvError::Decode(e)) => Err(e),
                Err(RecvError::Eof) => return,
                Err(e) => {
                    log::debug!(target: mp_process::LOG_TARGET, "manager: dropping a connection: {e}");
                    return;
                }
            };
            // A server that stopped runs nothing more (a thread that was
            // not woken by the hang-up, see `Served::wait`, gets here).
            if self.open.closed() {
                return;
            }
            if let Ok(req) = &request {
                if req.object == protocol::CONTROL
                    && req.method == protocol::PIPES
                    && !served.on_pipes()
                {
                    // The answer goes on the socket; requests after a yes
                    // come on the pipes.
                    let (reply, pipes): (Reply, _) = match pipes::take_pipes(served.socket()) {
                        Ok(p) => (Ok(ByteBuf::new()), Some(p)),
                        Err(e) => (Err(e), None),
                    };
                    if served.socket().send(&reply).is_err() {
                        return;
                    }
                    served.use_pipes(pipes);
                    continue;
                }
            }
            let cx = Cx::beside(conn.as_fd(), served.socket().as_fd());
            let mut stopping = false;
            let reply: Reply = match request {
                Err(e) => Err(RemoteError::protocol(format!("malformed request: {e}"))),
                Ok(req) => {
                    let shutdown =
                        req.object == protocol::CONTROL && req.method == protocol::SHUTDOWN;
                    let reply =
                        match panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(req, &cx, id)))
                        {
                            Ok(r) => r.map(ByteBuf::from),
                            Err(_) => Err(RemoteError::protocol(format!(
                                "method '{}' panicked in the server",
                                req.method
                            ))),
                        };
                    stopping = shutdown && reply.is_ok();
                    reply
                }
            };
            let sent = conn.send(&reply);
            if let Ok(bytes) = reply {
                protocol::recycle_result(bytes.into_vec());
            }
            if stopping {
                let _ = mp_sys::fd::write_all(&self.stop, b"x");
            }
            if sent.is_err() {
                return;
            }
        }
    }
}

/// How many handshakes a server runs at once (the listener's admission
/// policy: past this, the oldest handshake unfinished for a second gives
/// its place to a waiting connection). Twice mp-channel's default: a flood
/// of silent connections delays an honest client by (flood / this) seconds.
const MAX_HANDSHAKES: usize = 128;

/// Binds the server's listener at `address` (`None`: a fresh Unix socket in
/// a private directory): `accept` returns only connections that passed the
/// handshake with `key`, which a client has `handshake_timeout` to finish.
pub(crate) fn listen(
    address: Option<Address>,
    key: &[u8],
    handshake_timeout: Duration,
) -> io::Result<Listener> {
    let mut listener = Listener::bind(address, Some(key))?;
    listener.set_handshake_timeout(Some(handshake_timeout));
    listener.set_max_pending_handshakes(MAX_HANDSHAKES);
    Ok(listener)
}

/// Accepts connections from `listener` (made by [`listen`]) until `stop_r`
/// becomes readable (a shutdown request) or `parent` (a pidfd of the
/// process that started the server) does, serving each in its own thread;
/// then hangs up every connection still open, so a server that stops (even
/// one serving in a process that goes on) answers nobody any more.
/// Dropping the listener at the end closes the handshakes under way and
/// removes its socket file.
pub(crate) fn serve(
    server: Arc<Server>,
    listener: Listener,
    stop_r: OwnedFd,
    parent: Option<BorrowedFd<'_>>,
) {
    accept_until_stopped(&server, &listener, stop_r, parent);
    server.open.close_all();
}

fn accept_until_stopped(
    server: &Arc<Server>,
    listener: &Listener,
    stop_r: OwnedFd,
    parent: Option<BorrowedFd<'_>>,
) {
    let mut stop = vec![stop_r.as_fd()];
    stop.extend(parent);
    loop {
        let conn = match listener.accept_unless(&stop) {
            Ok(Some(conn)) => conn,
            Ok(None) => return,
            Err(ConnectError::Authentication(e)) => {
                log::debug!(target: mp_process::LOG_TARGET, "manager: rejected a connection: {e}");
                continue;
            }
            Err(e) => {
                log::debug!(target: mp_process::LOG_TARGET, "manager: accept failed: {e}");
                continue;
            }
        };
        let socket = match conn.as_fd().try_clone_to_owned() {
            Ok(s) => s,
            Err(e) => {
                log::warn!(target: mp_process::LOG_TARGET, "manager: cannot serve a connection: {e}");
                continue;
            }
        };
        let id = server.next_conn.fetch_add(1, Ordering::Relaxed);
        server.open.insert(id, socket);
        let serving = server.clone();
        let spawned = mp_sys::thread_spawn::Builder::new("manager-conn")
            .spawn(move || serving.serve_connection(conn, id));
        if let Err(e) = spawned {
            server.open.remove(id);
            log::warn!(target: mp_process::LOG_TARGET, "manager: no thread for a connection: {e}");
        }
    }
}
