//! [`Manager`] and [`ManagerBuilder`]: start a server process through the
//! chosen start method (or connect to a running one), create shared objects
//! in it, shut it down — Python's `BaseManager`/`SyncManager`.

use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use mp_process::{ExitCode, Process, StartMethod, Target};
use mp_wire::{Limits, SharedFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::address::{fresh_unix_address, remove_unix_address, Address, Listener};
use crate::barrier_action::{self, BarrierAction};
use crate::client;
use crate::error::{ManagerError, Result};
use crate::initializer::Initializer;
use crate::protocol::{self, RequestRef};
use crate::proxy::{BaseProxy, Proxy};
use crate::server::{self, Server};
use crate::shared::{factories, Registry, Shared};

/// How long `start` waits for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server process is given.
#[derive(Serialize, Deserialize)]
struct ServerConfig {
    address: Address,
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    server: u128,
    /// Where the server reports `Ok(address)` once it listens, or `Err(why)`.
    ready: SharedFd,
    /// Run before listening.
    init: Option<Initializer>,
    /// The barrier actions clients may name.
    actions: Vec<BarrierAction>,
}

type Ready = std::result::Result<Address, String>;

/// The body of the server process: bind, report, serve, clean up.
fn serve_main<R: Registry>(cfg: ServerConfig) -> ExitCode {
    // Started as a daemon (its parent terminates it at exit), but it may start
    // processes: a managed Pool's workers, which end when the server does.
    mp_process::set_current_process_daemon(false);
    let ready = OwnedFd::from(cfg.ready);
    let report = |r: &Ready| {
        let _ = mp_wire::send_value(ready.as_fd(), r);
    };
    if let Some(init) = cfg.init {
        if let Err(why) = init.run() {
            report(&Err(why));
            return ExitCode(1);
        }
    }
    let actions = match barrier_action::resolve_all(&cfg.actions) {
        Ok(a) => a,
        Err(why) => {
            report(&Err(why));
            return ExitCode(1);
        }
    };
    let setup = (|| -> std::io::Result<_> {
        let listener = Listener::bind(&cfg.address)?;
        let local = listener.local_address(&cfg.address)?;
        let (stop_r, stop_w) = mp_sys::fd::pipe()?;
        Ok((listener, local, stop_r, stop_w))
    })();
    let (listener, local, stop_r, stop_w) = match setup {
        Ok(s) => s,
        Err(e) => {
            report(&Err(format!("cannot listen at {}: {e}", cfg.address)));
            return ExitCode(1);
        }
    };
    let server = Arc::new(Server::new(
        cfg.server,
        cfg.key,
        factories::<R>(),
        actions,
        stop_w,
    ));
    report(&Ok(local.clone()));
    drop(ready);
    let parent = mp_process::parent_process();
    server::serve(
        server,
        listener,
        stop_r,
        parent.as_ref().and_then(|p| p.sentinel()),
    );
    if let Address::Unix(p) = &local {
        remove_unix_address(p);
    }
    ExitCode(0)
}

/// Configures a manager before it starts or connects (Python's
/// `BaseManager(address, authkey, ctx, shutdown_timeout)` plus `register`).
#[derive(Debug)]
pub struct ManagerBuilder<R: Registry = ()> {
    address: Option<Address>,
    authkey: Option<Vec<u8>>,
    method: Option<StartMethod>,
    shutdown_timeout: Duration,
    init: Option<std::result::Result<Initializer, String>>,
    actions: Vec<BarrierAction>,
    _registry: PhantomData<fn() -> R>,
}

impl Default for ManagerBuilder<()> {
    fn default() -> Self {
        Self {
            address: None,
            authkey: None,
            method: None,
            shutdown_timeout: Duration::from_secs(1),
            init: None,
            actions: Vec::new(),
            _registry: PhantomData,
        }
    }
}

impl<R: Registry> ManagerBuilder<R> {
    /// Listens at (or connects to) `address` instead of a fresh Unix socket
    /// in a private temp dir.
    pub fn address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    /// Uses `key` instead of `current_process().authkey()`.
    pub fn authkey(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.authkey = Some(key.into());
        self
    }

    /// Starts the server with this start method instead of the default.
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// How long `shutdown` waits at each step (ask, terminate, kill);
    /// default 1 s, as Python's.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Runs `f(*initargs)` in the server process before it starts listening
    /// (Python's `start(initializer, initargs)`); used by [`start`](Self::start)
    /// only. If it panics (or its arguments cannot be encoded), `start` fails
    /// with [`ManagerError::State`] naming why, and no server is left running.
    pub fn initializer<F, Args>(mut self, f: F, initargs: Args) -> Self
    where
        F: Target<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        self.init = Some(Initializer::new(f, &initargs).map_err(|e| e.to_string()));
        self
    }

    /// Registers `action` as a barrier action (Python's
    /// `manager.Barrier(parties, action)` runs the action in the server):
    /// barriers made by
    /// [`Manager::barrier_with_action`](crate::Manager::barrier_with_action)
    /// with the same function run it in the server process.
    ///
    /// `action` must be a `fn` item or a closure that captures nothing (a
    /// capturing closure is a compile-time error). Only registered functions
    /// can run in the server: a client names one by a key, so nothing sent
    /// over a (possibly remote) connection is ever called as code.
    pub fn barrier_action<F>(mut self, action: F) -> Self
    where
        F: Fn() + Copy + Send + 'static,
    {
        self.actions.push(BarrierAction::of(action));
        self
    }

    /// Registers a custom type (Python's `register(typeid, callable)`): the
    /// server can then hold `T` values, created with [`Manager::create`].
    pub fn register<T: Shared>(self) -> ManagerBuilder<(T, R)> {
        ManagerBuilder {
            address: self.address,
            authkey: self.authkey,
            method: self.method,
            shutdown_timeout: self.shutdown_timeout,
            init: self.init,
            actions: self.actions,
            _registry: PhantomData,
        }
    }

    fn key(&self) -> Vec<u8> {
        self.authkey
            .clone()
            .unwrap_or_else(|| client::default_key().to_vec())
    }

    /// Starts the server process (named `SyncManager-N`) and waits until it
    /// listens.
    pub fn start(self) -> Result<Manager<R>> {
        let key = self.key();
        let fresh = self.address.is_none();
        let address = match self.address {
            Some(a) => a,
            None => fresh_unix_address()?,
        };
        let cleanup = |address: &Address| {
            if let (true, Address::Unix(p)) = (fresh, address) {
                remove_unix_address(p);
            }
        };
        let init = match self.init {
            Some(Err(e)) => {
                return Err(ManagerError::State(format!(
                    "cannot encode the initargs: {e}"
                )))
            }
            Some(Ok(init)) => Some(init),
            None => None,
        };
        let server = crate::auth::random_u128()?;
        let (ours, theirs) = mp_sys::socket::socketpair()?;
        let cfg = ServerConfig {
            address: address.clone(),
            key: key.clone(),
            server,
            ready: SharedFd::from(theirs),
            init,
            actions: self.actions,
        };
        let mut process =
            Process::with_class("SyncManager", self.method, serve_main::<R>, (cfg,)).daemon(true);
        if let Err(e) = process.start() {
            cleanup(&address);
            return Err(e.into());
        }
        let ready = wait_ready(&ours, &process);
        let local = match ready {
            Ok(a) => a,
            Err(e) => {
                let _ = process.kill();
                let _ = process.join_timeout(Duration::from_secs(5));
                cleanup(&address);
                return Err(e);
            }
        };
        client::remember_key(&local, &key);
        Ok(Manager {
            address: local,
            key,
            server,
            process: Some(process),
            fresh,
            owner: mp_sys::process::getpid(),
            shut_down: false,
            shutdown_timeout: self.shutdown_timeout,
            _registry: PhantomData,
        })
    }

    /// Connects to a running server at the builder's address with its key
    /// (Python's `connect()`). A wrong key is an
    /// [`ManagerError::Authentication`] error. The result cannot shut the
    /// server down.
    pub fn connect(self) -> Result<Manager<R>> {
        let key = self.key();
        let address = self
            .address
            .clone()
            .ok_or_else(|| ManagerError::State("connect needs an address".into()))?;
        let out = client::call(&address, &key, protocol::CONTROL, protocol::HELLO, &[])?;
        let server: u128 = protocol::from_bytes(&out)
            .map_err(|e| ManagerError::Decode(format!("bad hello: {e}")))?;
        client::remember_key(&address, &key);
        Ok(Manager {
            address,
            key,
            server,
            process: None,
            fresh: false,
            owner: mp_sys::process::getpid(),
            shut_down: false,
            shutdown_timeout: self.shutdown_timeout,
            _registry: PhantomData,
        })
    }

    /// Serves in this process until a client asks for shutdown (Python's
    /// `get_server().serve_forever()`); `on_ready` is called with the
    /// address once the server listens.
    pub fn serve_forever(self, on_ready: impl FnOnce(&Address)) -> Result<()> {
        let key = self.key();
        let address = match self.address {
            Some(a) => a,
            None => fresh_unix_address()?,
        };
        let listener = Listener::bind(&address)?;
        let local = listener.local_address(&address)?;
        let actions = barrier_action::resolve_all(&self.actions).map_err(ManagerError::State)?;
        let (stop_r, stop_w) = mp_sys::fd::pipe()?;
        let server = Arc::new(Server::new(
            crate::auth::random_u128()?,
            key,
            factories::<R>(),
            actions,
            stop_w,
        ));
        on_ready(&local);
        server::serve(server, listener, stop_r, None);
        if let Address::Unix(p) = &local {
            remove_unix_address(p);
        }
        Ok(())
    }
}

/// Waits for the server's report, watching it for death.
fn wait_ready(ours: &OwnedFd, process: &Process) -> Result<Address> {
    let sentinel = process.sentinel()?;
    let ready = mp_sys::fd::poll_readable_any(&[ours.as_fd(), sentinel], Some(START_TIMEOUT))?;
    if !ready.iter().any(|&r| r) {
        return Err(ManagerError::State(
            "manager server did not start in time".into(),
        ));
    }
    match mp_wire::recv_value::<Ready>(
        ours.as_fd(),
        &Limits::with_max_frame(1 << 16),
        Some(Duration::from_secs(1)),
    ) {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(why)) => Err(ManagerError::State(format!("manager server failed: {why}"))),
        Err(e) => Err(ManagerError::State(format!(
            "manager server died before listening ({e})"
        ))),
    }
}

/// A running manager: Python's `multiprocessing.Manager()` (a started
/// `SyncManager`), or a connection to a remote one.
///
/// Dropping a started manager shuts its server down — the Rust form of
/// `with Manager() as manager:`. Proxies made by it then fail with
/// [`ManagerError::ServerGone`].
///
/// Objects live until the server shuts down or [`release`](Self::release)
/// is called for them: there is no reference counting across processes
/// (Python's incref/decref), so a long-running server that creates many
/// short-lived objects should release them.
pub struct Manager<R: Registry = ()> {
    address: Address,
    key: Vec<u8>,
    server: u128,
    process: Option<Process>,
    fresh: bool,
    owner: u32,
    shut_down: bool,
    shutdown_timeout: Duration,
    _registry: PhantomData<fn() -> R>,
}

impl Manager<()> {
    /// Starts a manager with the defaults (Python's `multiprocessing.Manager()`):
    /// a Unix socket in a private temp dir, `current_process().authkey()`,
    /// the default start method.
    pub fn new() -> Result<Manager> {
        ManagerBuilder::default().start()
    }

    /// A builder, to choose address, key, start method or custom types.
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }
}

impl<R: Registry> std::fmt::Debug for Manager<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("address", &self.address)
            .field("pid", &self.pid())
            .field("shut_down", &self.shut_down)
            .finish()
    }
}

impl<R: Registry> Manager<R> {
    /// The server's address (with the real port for TCP port 0).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The server process's pid (`None` for a connected manager).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
    }

    /// The server process (`None` for a connected manager).
    pub fn process(&self) -> Option<&Process> {
        self.process.as_ref()
    }

    fn check(&self) -> Result<()> {
        if self.shut_down {
            return Err(ManagerError::State("Manager has shut down".into()));
        }
        Ok(())
    }

    fn call<A: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<T> {
        self.check()?;
        let args = protocol::to_bytes(args)?;
        let out = client::call(&self.address, &self.key, protocol::CONTROL, method, &args)?;
        protocol::from_bytes(&out).map_err(|e| ManagerError::Decode(e.to_string()))
    }

    /// The id of the server run this manager talks to.
    pub(crate) fn server_id(&self) -> u128 {
        self.server
    }

    fn base(&self, typeid: &str, id: u128) -> BaseProxy {
        BaseProxy::new(
            typeid,
            id,
            self.server,
            self.address.clone(),
            self.key.clone(),
        )
    }

    /// Creates an object of `typeid` from its encoded initial state.
    pub(crate) fn create_raw<P: Proxy, I: Serialize>(&self, init: &I) -> Result<P> {
        let init = protocol::to_bytes(init)?;
        let id: u128 = self.call(protocol::CREATE, &(P::TYPEID, init))?;
        Ok(P::from_base(self.base(P::TYPEID, id)))
    }

    /// Puts `value` in the server and returns its proxy (Python's
    /// `manager.<typeid>(...)` for a registered type). The server must have
    /// `T` registered.
    pub fn create<T: Shared>(&self, value: T) -> Result<T::Proxy> {
        let init = protocol::to_bytes(&value)?;
        let id: u128 = self.call(protocol::CREATE, &(T::TYPEID, init))?;
        Ok(<T::Proxy as Proxy>::from_base(self.base(T::TYPEID, id)))
    }

    /// Makes an object reachable by `name` for clients that
    /// [`connect`](ManagerBuilder::connect) (Python's
    /// `register('get_queue', callable=lambda: queue)`).
    pub fn publish<P: Proxy>(&self, name: &str, proxy: &P) -> Result<()> {
        self.call(protocol::PUBLISH, &(name, proxy.base().id()))
    }

    /// The object published as `name`, as a `P` proxy. A missing name is a
    /// `Key` remote error; a referent of another type is a `Type` one.
    pub fn lookup<P: Proxy>(&self, name: &str) -> Result<P> {
        let (id, typeid): (u128, String) = self.call(protocol::LOOKUP, &name)?;
        if typeid != P::TYPEID {
            return Err(crate::RemoteError::new(
                crate::RemoteErrorKind::Type,
                format!("'{name}' is a {typeid}, not a {}", P::TYPEID),
            )
            .into());
        }
        Ok(P::from_base(self.base(&typeid, id)))
    }

    /// Forgets the proxy's referent in the server; every proxy to it then
    /// fails. Returns whether it existed.
    pub fn release<P: Proxy>(&self, proxy: &P) -> Result<bool> {
        self.call(protocol::RELEASE, &proxy.base().id())
    }

    /// How many objects the server holds.
    pub fn number_of_objects(&self) -> Result<u64> {
        self.call(protocol::NUMBER_OF_OBJECTS, &())
    }

    /// Stops the server: asks it, waits `shutdown_timeout`, then terminates
    /// and finally kills it (Python's `shutdown()`). Idempotent.
    ///
    /// A [connected](ManagerBuilder::connect) manager only asks: the server
    /// (started elsewhere, or serving forever) stops, and the request's
    /// outcome is returned.
    pub fn shutdown(&mut self) -> Result<()> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let asked = client::connect(&self.address, &self.key).and_then(|mut conn| {
            let request = postcard::to_stdvec(&RequestRef {
                object: protocol::CONTROL,
                method: protocol::SHUTDOWN,
                args: &[],
            })
            .map_err(|e| ManagerError::Encode(e.to_string()))?;
            client::roundtrip(
                &mut conn,
                &self.address,
                &request,
                Some(self.shutdown_timeout),
            )
        });
        client::forget(&self.address);
        let Some(process) = self.process.as_mut() else {
            return asked.map(drop);
        };
        if asked.is_ok() {
            process.join_timeout(self.shutdown_timeout)?;
        }
        if process.is_alive() {
            process.terminate()?;
            process.join_timeout(self.shutdown_timeout)?;
            if process.is_alive() {
                process.kill()?;
                process.join()?;
            }
        }
        if let (true, Address::Unix(p)) = (self.fresh, &self.address) {
            remove_unix_address(p);
        }
        Ok(())
    }

    /// Waits for the server process to end (Python's `join(timeout)`).
    pub fn join(&mut self, timeout: Option<Duration>) -> Result<()> {
        if let Some(p) = self.process.as_mut() {
            match timeout {
                Some(t) => p.join_timeout(t)?,
                None => p.join()?,
            }
        }
        Ok(())
    }

    /// Typed init of a container from encoded items.
    pub(crate) fn encode_all<T: Serialize>(
        items: impl IntoIterator<Item = T>,
    ) -> Result<Vec<ByteBuf>> {
        items.into_iter().map(|v| protocol::to_bytes(&v)).collect()
    }
}

impl<R: Registry> Drop for Manager<R> {
    fn drop(&mut self) {
        if self.process.is_some() && self.owner == mp_sys::process::getpid() {
            let _ = self.shutdown();
        }
    }
}
