//! [`ManagerBuilder`]: configure a manager, then start its server process
//! through the chosen start method (with an optional initializer), connect
//! to a running one, or serve in this process; and the server process's
//! own `main`.

use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use mp_channel::Address;
use mp_pool::StarFn;
use mp_process::{AuthKey, CodeOnly, ExitCode, Process, StartMethod, Target};
use mp_wire::{Limits, SharedFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::address_serde;
use crate::barrier_action::{self, BarrierAction};
use crate::client;
use crate::client_settings::{self, ClientSettings};
use crate::error::{ManagerError, Result};
use crate::initializer::Initializer;
use crate::manager::Manager;
use crate::pool_function::{self, PoolFunction};
use crate::protocol;
use crate::registered;
use crate::server::{self, Identity, Server};
use crate::shared::{factories, Registry, Shared};

/// How long `start` waits for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server process is given.
#[derive(Serialize, Deserialize)]
struct ServerConfig {
    /// Where to listen; `None`: a fresh Unix socket in a private directory.
    #[serde(with = "address_serde::option")]
    address: Option<Address>,
    key: AuthKey,
    server: u128,
    /// What a shutdown request must carry (only the starter knows it).
    shutdown_token: u128,
    /// Where the server reports `Ok(address)` once it listens, or `Err(why)`.
    ready: SharedFd,
    /// Run before listening.
    init: Option<Initializer>,
    /// The barrier actions clients may name.
    actions: Vec<BarrierAction>,
    /// The managed pool's functions clients may name.
    pool_functions: Vec<PoolFunction>,
    /// How long a client may take over the handshake.
    handshake_timeout: Duration,
}

/// The server's report: where it listens, or why it cannot.
#[derive(Serialize, Deserialize)]
enum Ready {
    Listening(#[serde(with = "address_serde")] Address),
    Failed(String),
}

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
            report(&Ready::Failed(why));
            return ExitCode(1);
        }
    }
    let resolved = registered::resolve_all(&cfg.actions)
        .and_then(|actions| Ok((actions, registered::resolve_all(&cfg.pool_functions)?)));
    let (actions, pool_functions) = match resolved {
        Ok(r) => r,
        Err(why) => {
            report(&Ready::Failed(why));
            return ExitCode(1);
        }
    };
    let setup = (|| -> std::io::Result<_> {
        let listener = server::listen(
            cfg.address.clone(),
            cfg.key.as_bytes(),
            cfg.handshake_timeout,
        )?;
        let (stop_r, stop_w) = mp_sys::fd::pipe()?;
        Ok((listener, stop_r, stop_w))
    })();
    let (listener, stop_r, stop_w) = match setup {
        Ok(s) => s,
        Err(e) => {
            let at = cfg
                .address
                .map_or("a fresh unix socket".into(), |a| a.to_string());
            report(&Ready::Failed(format!("cannot listen at {at}: {e}")));
            return ExitCode(1);
        }
    };
    let identity = Identity {
        id: cfg.server,
        shutdown_token: cfg.shutdown_token,
    };
    let server = Arc::new(
        Server::new(identity, factories::<R>(), actions, pool_functions, stop_w)
            .exits_when_stopped(),
    );
    report(&Ready::Listening(listener.address().clone()));
    drop(ready);
    let parent = mp_process::parent_process();
    server::serve(
        server,
        listener,
        stop_r,
        parent.as_ref().and_then(|p| p.sentinel()),
    );
    ExitCode(0)
}

/// Configures a manager before it starts or connects (Python's
/// `BaseManager(address, authkey, ctx, shutdown_timeout)` plus `register`).
pub struct ManagerBuilder<R: Registry = ()> {
    address: Option<Address>,
    authkey: Option<AuthKey>,
    method: Option<StartMethod>,
    shutdown_timeout: Duration,
    init: Option<std::result::Result<Initializer, String>>,
    actions: Vec<BarrierAction>,
    pool_functions: Vec<PoolFunction>,
    handshake_timeout: Duration,
    client: ClientSettings,
    _registry: PhantomData<fn() -> R>,
}

impl<R: Registry> std::fmt::Debug for ManagerBuilder<R> {
    /// The settings, with the authkey redacted (it guards the server).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerBuilder")
            .field("address", &self.address)
            .field("authkey", &self.authkey)
            .field("method", &self.method)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("reconnect", &self.client.reconnect)
            .field("call_timeout", &self.client.call_timeout)
            .field("barrier_actions", &self.actions.len())
            .field("pool_functions", &self.pool_functions.len())
            .finish_non_exhaustive()
    }
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
            pool_functions: Vec::new(),
            handshake_timeout: mp_channel::DEFAULT_HANDSHAKE_TIMEOUT,
            client: ClientSettings::default(),
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
        self.authkey = Some(AuthKey::from(key.into()));
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

    /// How long the server gives a connecting client to finish the
    /// authentication handshake before hanging up (default
    /// `mp_channel::DEFAULT_HANDSHAKE_TIMEOUT`, 20 s). Whatever this is,
    /// silent clients do not hold up others for it: the server's
    /// `mp_channel::Listener` runs a bounded number of handshakes at once
    /// and, when they are all taken, hangs up one that has been unfinished
    /// for a second to make room.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
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
    /// capturing closure is a compile-time error, the [`CodeOnly`] one of
    /// `Pool::map`). Only registered functions
    /// can run in the server: a client names one by a key, so nothing sent
    /// over a (possibly remote) connection is ever called as code.
    ///
    /// ```compile_fail
    /// let name = String::from("barrier");
    /// // error: `{closure}` captures data, so it cannot run in another process
    /// let _ = mp_manager::ManagerBuilder::default().barrier_action(move || println!("{name}"));
    /// ```
    pub fn barrier_action<F>(mut self, action: F) -> Self
    where
        F: Fn() + CodeOnly,
    {
        self.actions.push(barrier_action::of(action));
        self
    }

    /// Registers `f` as a function the manager's pools may run (see
    /// [`Manager::pool`](crate::Manager::pool)): `map`, `starmap`, `apply`,
    /// their async forms and `imap` of a [`PoolProxy`](crate::PoolProxy)
    /// with the same function run it in the server's pool, and
    /// [`Manager::pool_with_initializer`](crate::Manager::pool_with_initializer)
    /// may name it as the initializer. Arguments are a tuple
    /// (`(x,)` for one), as for `Pool::starmap`; a one-argument function
    /// serves `map` as well.
    ///
    /// `f` must be a `fn` item or a closure that captures nothing (a
    /// capturing closure is a compile-time error); a closure written again
    /// at the call site is another function. Only registered functions can
    /// run in the server: a client names one by a key, so nothing sent over
    /// a (possibly remote) connection is ever called as code, and a
    /// function that was not registered is
    /// [`ManagerError::NotRegistered`].
    pub fn pool_function<F, Args>(mut self, f: F) -> Self
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.pool_functions.push(pool_function::of(f));
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
            pool_functions: self.pool_functions,
            handshake_timeout: self.handshake_timeout,
            client: self.client,
            _registry: PhantomData,
        }
    }

    /// How long this process's calls keep trying to reach the server when
    /// it cannot be reached — refused connections, a missing socket, a
    /// reset — before failing with [`ManagerError::ServerGone`] (default:
    /// not at all, as CPython). With a window, a client outlives a server
    /// restart or a network outage shorter than it: calls made meanwhile
    /// wait, with growing pauses up to 0.5 s, and go on when the server is
    /// back. A request is sent again only if it provably never reached the
    /// old server; one that was sent and got no reply fails (it may have
    /// run). Objects live in the server run that made them: after a restart,
    /// proxies to the old run's objects fail with a
    /// [`RemoteErrorKind::Protocol`](crate::RemoteErrorKind::Protocol) error
    /// (no such object), and the program looks its objects up again (e.g.
    /// by name, [`Manager::lookup`]). Applies to every manager and proxy of
    /// this process that reaches the same address.
    pub fn reconnect(mut self, window: Duration) -> Self {
        self.client.reconnect = window;
        self
    }

    /// The longest a call (a proxy method, or the manager's own requests)
    /// waits for the server's reply; past it the call fails with
    /// [`ManagerError::Timeout`] and its connection is closed (default: no
    /// limit, as CPython). This bounds the blocking methods too — a
    /// `Queue::get` or `Lock::acquire` that waits in the server — so choose
    /// it longer than their own waits. Applies to every manager and proxy
    /// of this process that reaches the same address.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.client.call_timeout = Some(timeout);
        self
    }

    fn key(&self) -> AuthKey {
        self.authkey
            .clone()
            .unwrap_or_else(|| client::default_key().clone())
    }

    /// Starts the server process (named `SyncManager-N`) and waits until it
    /// listens.
    pub fn start(self) -> Result<Manager<R>> {
        let key = self.key();
        let fresh = self.address.is_none();
        let init = match self.init {
            Some(Err(e)) => {
                return Err(ManagerError::State(format!(
                    "cannot encode the initargs: {e}"
                )))
            }
            Some(Ok(init)) => Some(init),
            None => None,
        };
        let server = crate::random::random_u128()?;
        let shutdown_token = crate::random::random_u128()?;
        let (ours, theirs) = mp_sys::socket::socketpair()?;
        let cfg = ServerConfig {
            address: self.address,
            key: key.clone(),
            server,
            shutdown_token,
            ready: SharedFd::from(theirs),
            init,
            actions: self.actions,
            pool_functions: self.pool_functions,
            handshake_timeout: self.handshake_timeout,
        };
        let mut process =
            Process::with_class("SyncManager", self.method, serve_main::<R>, (cfg,)).daemon(true);
        process.start()?;
        let ready = wait_ready(&ours, &process);
        let local = match ready {
            Ok(a) => a,
            Err(e) => {
                let _ = process.kill();
                let _ = process.join_timeout(Duration::from_secs(5));
                return Err(e);
            }
        };
        client::remember_key(&local, &key);
        client_settings::set(&local, self.client);
        Ok(Manager {
            address: local,
            key,
            server,
            process: Some(process),
            fresh,
            owner: mp_sys::process::getpid(),
            shut_down: false,
            shutdown_timeout: self.shutdown_timeout,
            shutdown_token: Some(shutdown_token),
            _registry: PhantomData,
        })
    }

    /// Connects to a running server at the builder's address with its key
    /// (Python's `connect()`). A wrong key is an
    /// [`ManagerError::Authentication`] error. The result cannot shut the
    /// server down: its [`shutdown`](Manager::shutdown) is a
    /// [`ManagerError::State`] error and the server goes on (in Python a
    /// connected manager has no `shutdown`); dropping it closes only its
    /// connections.
    pub fn connect(self) -> Result<Manager<R>> {
        let key = self.key();
        let address = self
            .address
            .clone()
            .ok_or_else(|| ManagerError::State("connect needs an address".into()))?;
        client_settings::set(&address, self.client);
        let out = client::call(&address, &key, protocol::CONTROL, protocol::HELLO, &[])?;
        let server: u128 = protocol::from_bytes(&out)?;
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
            shutdown_token: None,
            _registry: PhantomData,
        })
    }

    /// Serves in this process (Python's `get_server().serve_forever()`)
    /// until the server is shut down through the manager given to
    /// `on_ready`, then returns.
    ///
    /// Once the server listens (and accepts, in another thread),
    /// `on_ready` runs in the calling thread with the serving manager: it
    /// can create and [publish](Manager::publish) objects, learn the real
    /// [address](Manager::address), and keep the manager (or send it to
    /// another thread) to [shut the server down](Manager::shutdown) later:
    /// only this manager can. Dropping it leaves the server serving for
    /// ever. If `on_ready` panics, the server stops and the panic goes on.
    pub fn serve_forever(self, on_ready: impl FnOnce(Manager<R>)) -> Result<()> {
        let key = self.key();
        let listener = server::listen(self.address, key.as_bytes(), self.handshake_timeout)?;
        let actions = registered::resolve_all(&self.actions).map_err(ManagerError::State)?;
        let pool_functions =
            registered::resolve_all(&self.pool_functions).map_err(ManagerError::State)?;
        let (stop_r, stop_w) = mp_sys::fd::pipe()?;
        let stop = stop_w.try_clone()?;
        let id = crate::random::random_u128()?;
        let shutdown_token = crate::random::random_u128()?;
        let identity = Identity { id, shutdown_token };
        let server = Arc::new(Server::new(
            identity,
            factories::<R>(),
            actions,
            pool_functions,
            stop_w,
        ));
        let address = listener.address().clone();
        client::remember_key(&address, &key);
        client_settings::set(&address, self.client);
        let manager = Manager {
            address,
            key,
            server: id,
            process: None,
            fresh: false,
            owner: mp_sys::process::getpid(),
            shut_down: false,
            shutdown_timeout: self.shutdown_timeout,
            shutdown_token: Some(shutdown_token),
            _registry: PhantomData,
        };
        // A thread of `mp_sys::thread_spawn`, not a scoped one of std's: a
        // forked child may serve too (ARCHITECTURE.md, Fork safety).
        let serving = mp_sys::thread_spawn::Builder::new("manager-serve")
            .spawn(move || server::serve(server, listener, stop_r, None))?;
        let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_ready(manager)));
        if let Err(payload) = ready {
            // Stop the accept loop, or the join would wait for it for ever.
            let _ = mp_sys::fd::write_all(&stop, b"x");
            let _ = serving.join();
            std::panic::resume_unwind(payload);
        }
        // As a scope would: a panic of the server goes on here.
        if let Err(payload) = serving.join() {
            std::panic::resume_unwind(payload);
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
        Ok(Ready::Listening(a)) => Ok(a),
        Ok(Ready::Failed(why)) => Err(ManagerError::State(format!("manager server failed: {why}"))),
        Err(e) => Err(ManagerError::State(format!(
            "manager server died before listening ({e})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_authkey() {
        let b = ManagerBuilder::default().authkey(b"sesame-1234".to_vec());
        let text = format!("{b:?}");
        assert!(!text.contains("sesame"), "{text}");
        assert!(!text.contains("115, 101, 115"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
