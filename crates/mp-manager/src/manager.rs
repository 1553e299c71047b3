//! [`Manager`]: a started manager (or a connection to one) — create shared
//! objects in its server, look them up by name, shut it down (Python's
//! `BaseManager`/`SyncManager`; [`ManagerBuilder`] makes one).

use std::marker::PhantomData;
use std::time::Duration;

use mp_channel::Address;
use mp_process::{AuthKey, Process};
use serde::Serialize;
use serde_bytes::ByteBuf;

use crate::builder::ManagerBuilder;
use crate::client;
use crate::error::{ManagerError, Result};
use crate::protocol::{self, RequestRef};
use crate::proxy::{BaseProxy, Proxy};
use crate::refs::{self, Ref};
use crate::shared::{Registry, Shared};

/// One object of a manager's server, as [`Manager::debug_info`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's id ([`BaseProxy::id`]).
    pub id: u128,
    /// Its type (`"dict"`, `"Queue"`, a custom type's name).
    pub typeid: String,
    /// How many references hold it: one per process holding proxies, per
    /// proxy in flight, per published name and per proxy stored in a
    /// managed value.
    pub refcount: u64,
}

/// A running manager: Python's `multiprocessing.Manager()` (a started
/// `SyncManager`), or a connection to a remote one.
///
/// Dropping a started manager shuts its server down — the Rust form of
/// `with Manager() as manager:`. Proxies made by it then fail with
/// [`ManagerError::ServerGone`].
///
/// Objects are reference-counted across processes (Python's
/// incref/decref): an object is freed when the last proxy to it, in any
/// process, is dropped, or when a process holding it dies; see
/// [`BaseProxy`]. [`release`](Self::release) frees one at once.
pub struct Manager<R: Registry = ()> {
    pub(crate) address: Address,
    pub(crate) key: AuthKey,
    pub(crate) server: u128,
    pub(crate) process: Option<Process>,
    pub(crate) fresh: bool,
    pub(crate) owner: u32,
    pub(crate) shut_down: bool,
    pub(crate) shutdown_timeout: Duration,
    /// The server's shutdown token: known only to the manager that started
    /// (or serves) it; `None` for a [connected](ManagerBuilder::connect) one.
    pub(crate) shutdown_token: Option<u128>,
    pub(crate) _registry: PhantomData<fn() -> R>,
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
        Ok(protocol::from_bytes(&out)?)
    }

    /// The id of the server run this manager talks to.
    pub(crate) fn server_id(&self) -> u128 {
        self.server
    }

    fn base(&self, typeid: &str, id: u128, held: Ref) -> BaseProxy {
        BaseProxy::new(
            typeid,
            id,
            self.server,
            self.address.clone(),
            self.key.clone(),
            Some(held),
        )
    }

    /// Creates an object of `typeid` from its encoded initial state, with
    /// this process's reference on it.
    fn create_typeid(&self, typeid: &str, init: &[u8]) -> Result<BaseProxy> {
        self.check()?;
        let (id, held) = refs::create(&self.address, &self.key, typeid, init)?;
        Ok(self.base(typeid, id, held))
    }

    /// Creates an object of `typeid` from its encoded initial state.
    pub(crate) fn create_raw<P: Proxy, I: Serialize>(&self, init: &I) -> Result<P> {
        let init = protocol::to_bytes(init)?;
        Ok(P::from_base(self.create_typeid(P::TYPEID, &init)?))
    }

    /// Puts `value` in the server and returns its proxy (Python's
    /// `manager.<typeid>(...)` for a registered type). The server must have
    /// `T` registered.
    pub fn create<T: Shared>(&self, value: T) -> Result<T::Proxy> {
        let init = protocol::to_bytes(&value)?;
        Ok(<T::Proxy as Proxy>::from_base(
            self.create_typeid(T::TYPEID, &init)?,
        ))
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
        let held = refs::incref(&self.address, &self.key, id, None)?;
        Ok(P::from_base(self.base(&typeid, id, held)))
    }

    /// Forgets the proxy's referent in the server; every proxy to it then
    /// fails. Returns whether it existed.
    pub fn release<P: Proxy>(&self, proxy: &P) -> Result<bool> {
        self.call(protocol::RELEASE, &proxy.base().id())
    }

    /// How many objects the server holds (Python's `_number_of_objects`).
    pub fn number_of_objects(&self) -> Result<u64> {
        self.call(protocol::NUMBER_OF_OBJECTS, &())
    }

    /// Every object the server holds, with its reference count (Python's
    /// `_debug_info`), ordered by id. A count of 0 means nothing counts
    /// references to it (it lives until released).
    pub fn debug_info(&self) -> Result<Vec<ObjectInfo>> {
        let raw: Vec<(u128, String, u64)> = self.call(protocol::DEBUG_INFO, &())?;
        Ok(raw
            .into_iter()
            .map(|(id, typeid, refcount)| ObjectInfo {
                id,
                typeid,
                refcount,
            })
            .collect())
    }

    /// Stops the server: asks it, waits `shutdown_timeout`, then terminates
    /// and finally kills it (Python's `shutdown()`). Idempotent.
    ///
    /// Only the manager that started the server (or the one
    /// [`serve_forever`](ManagerBuilder::serve_forever) hands out) can stop
    /// it, as in Python. A [connected](ManagerBuilder::connect) manager
    /// gets [`ManagerError::State`] and the server goes on (Python's
    /// connected manager has no `shutdown` at all); the server refuses a
    /// shutdown request that lacks the starter's token.
    pub fn shutdown(&mut self) -> Result<()> {
        if self.shut_down {
            return Ok(());
        }
        let Some(token) = self.shutdown_token else {
            return Err(ManagerError::State(
                "a manager obtained with connect() cannot shut the server down; \
                 only the manager that started it can"
                    .into(),
            ));
        };
        self.shut_down = true;
        let token = protocol::to_bytes(&token)?;
        // Once, without the reconnect window: a server that cannot be
        // reached is not waited for (its process is terminated below).
        let asked = client::connect_once(&self.address, &self.key).and_then(|conn| {
            let request = RequestRef {
                object: protocol::CONTROL,
                method: protocol::SHUTDOWN,
                args: &token,
            };
            client::roundtrip(&conn, &self.address, &request, Some(self.shutdown_timeout))
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
            remove_fresh_socket(p);
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

/// Removes the socket file of a fresh address and its private directory,
/// which the server's listener removes itself unless the server was killed.
/// Only called once the server process has ended.
fn remove_fresh_socket(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

impl<R: Registry> Drop for Manager<R> {
    fn drop(&mut self) {
        if self.process.is_some() && self.owner == mp_sys::process::getpid() {
            let _ = self.shutdown();
        }
    }
}
