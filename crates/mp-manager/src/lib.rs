//! `mp-manager`: Python's `multiprocessing.Manager` for Rust — a server
//! process that owns shared objects, and typed proxies that call their
//! methods from any process, including over TCP from other machines.
//!
//! ```
//! use mp_manager::{DictProxy, Manager};
//! use mp_process::Process;
//!
//! fn worker(d: DictProxy<u32, u32>, key: u32, value: u32) {
//!     d.set(key, value).unwrap();
//! }
//!
//! let manager = Manager::new()?; // shut down when dropped
//! let d = manager.dict()?;
//! let mut jobs: Vec<Process> = (0..3)
//!     .map(|i| Process::new(worker, (d.clone(), i, i * 2)))
//!     .collect();
//! for p in &mut jobs {
//!     p.start()?;
//! }
//! for p in &mut jobs {
//!     p.join()?;
//! }
//! assert_eq!(d.len()?, 3);
//! println!("Results: {d}"); // Results: {0: 0, 1: 2, 2: 4} in some order
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! - [`Manager`] (Python's `SyncManager`, started by `Manager::new()`) and
//!   [`ManagerBuilder`] (address, authkey, start method, custom types,
//!   `connect`, `serve_forever`). Dropping a started manager shuts its
//!   server down: the Rust form of `with Manager() as manager:`.
//! - Proxies: [`DictProxy`], [`ListProxy`], [`NamespaceProxy`],
//!   [`ValueProxy`], [`ArrayProxy`], [`LockProxy`], [`RLockProxy`],
//!   [`SemaphoreProxy`], [`BoundedSemaphoreProxy`], [`ConditionProxy`],
//!   [`EventProxy`], [`BarrierProxy`], [`QueueProxy`] /
//!   [`JoinableQueueProxy`], [`SetProxy`], [`PoolProxy`] (a process pool in
//!   the server); all built on [`BaseProxy`].
//!   [`NamespaceInit`] gives a namespace initial values; [`ConditionLock`]
//!   is what [`Manager::condition_with`] accepts; barrier actions are
//!   registered with [`ManagerBuilder::barrier_action`], the functions a
//!   managed pool may run with [`ManagerBuilder::pool_function`].
//! - Custom types: put [`#[mp_manager::shared]`](macro@shared) on a type's
//!   `impl` block (or implement [`Shared`] and a [`Proxy`] by hand),
//!   register with [`ManagerBuilder::register`], create with
//!   [`Manager::create`]:
//!
//! ```
//! use mp_manager::Manager;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Counter {
//!     n: i64,
//! }
//!
//! #[mp_manager::shared] // generates `CounterProxy` and `impl Shared for Counter`
//! impl Counter {
//!     pub fn add(&mut self, by: i64) -> i64 {
//!         self.n += by;
//!         self.n
//!     }
//!     pub fn get(&self) -> i64 {
//!         self.n
//!     }
//!     fn reset(&mut self) {} // not `pub`: not exposed
//! }
//!
//! let manager = Manager::builder().register::<Counter>().start()?;
//! let c: CounterProxy = manager.create(Counter { n: 1 })?;
//! assert_eq!(c.add(2)?, 3); // runs in the server; proxies travel to children
//! assert_eq!(c.get()?, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Semantics
//! - **Copies, not references.** Every value a proxy returns is a copy;
//!   changing it changes nothing in the server ("a mutated copy is lost",
//!   as in Python). Store it back — or store a proxy: a proxy inside a dict
//!   or list stays a live reference to its object.
//! - **Proxies travel.** A proxy is serde: pass it as a
//!   [`Process`](mp_process::Process) argument, through a queue, or inside
//!   another managed container. In each process it opens its own
//!   connection on first use (one pool per process and server, reset after
//!   `fork`) and authenticates with the key (by default
//!   `current_process().authkey()`, which children inherit).
//! - **A dead server is an error, never a hang.** A call on a server that
//!   was shut down or killed fails at once with
//!   [`ManagerError::ServerGone`]; a call blocked in the server (a lock, a
//!   queue `get`) fails the moment the server dies. The server itself
//!   exits when the process that started it dies.
//! - **Capabilities.** Object ids are random 128-bit numbers: a client can
//!   reach only the objects it was given a proxy for (or that were
//!   [published](Manager::publish) by name). Malformed requests get an
//!   error reply; the server keeps serving. The server runs only code the
//!   program registered with it (barrier actions, pool functions), chosen
//!   by a key: nothing a client sends is called as code.
//! - **Lifetime.** Objects are reference-counted across processes, as in
//!   Python: an object is freed when the last proxy to it is dropped,
//!   wherever it was; a process that dies (even by SIGKILL) gives its
//!   references back; a proxy in flight (a `Process` argument, a queue
//!   message) keeps its object alive until it arrives. A proxy stored in a
//!   managed value, and a [published](Manager::publish) object, live until
//!   [`Manager::release`] or shutdown.
//! - **Transport.** The server is an `mp_channel::Listener` and clients
//!   connect with `mp_channel::client`: the same frames, the same
//!   HMAC-SHA256 handshake and the same [`Address`] as
//!   `multiprocess::connection`.
//! - **Remote use.** [`Address::Tcp`] with an explicit authkey serves other
//!   machines; [`ManagerBuilder::connect`] attaches to such a server, and
//!   [`Manager::lookup`] finds what it [published](Manager::publish). A
//!   wrong key is [`ManagerError::Authentication`]. Only the manager that
//!   started the server (or the one [`ManagerBuilder::serve_forever`] hands
//!   out) can shut it down.
#![forbid(unsafe_code)]

mod address_serde;
mod barrier_action;
mod builder;
mod client;
mod client_settings;
mod error;
mod initializer;
mod manager;
mod pipes;
mod pool_function;
mod protocol;
mod proxy;
mod random;
mod refs;
mod registered;
mod repr;
mod server;
mod shared;

pub use builder::ManagerBuilder;
pub use error::{ManagerError, RemoteError, RemoteErrorKind, Result};
pub use manager::{Manager, ObjectInfo};
/// Where a manager server listens or is reached: a Unix socket path or a
/// TCP address. The same type as `mp_channel::Address` (a manager server is
/// an `mp_channel::Listener`).
pub use mp_channel::Address;
pub use proxy::{
    AcquireGuard, ArrayProxy, AsyncResult, BarrierProxy, BaseProxy, BoundedSemaphoreProxy,
    ConditionLock, ConditionProxy, DictIter, DictProxy, EventProxy, JoinableQueueProxy, ListIter,
    ListProxy, LockProxy, ManagedIMap, NamespaceInit, NamespaceProxy, PoolProxy, Proxy, QueueProxy,
    RLockProxy, SemaphoreProxy, SetProxy, ValueProxy,
};
pub use shared::{Registration, Registry, Shared};

/// Makes the type of an `impl` block a custom manager type (Python's
/// `BaseManager.register`): keeps the block and generates `<Type>Proxy`
/// with the same `pub` `&self`/`&mut self` methods, each returning
/// `Result<_, ManagerError>`, and `impl Shared for Type`.
///
/// Only `pub` methods taking `&self` or `&mut self` are exposed; their
/// arguments are plain names with owned serde types. Optional arguments:
/// `crate = path` (where this crate is, e.g. `multiprocess::managers`),
/// `vis = pub(crate)` (the proxy's visibility, `pub` by default),
/// `proxy = Name`, `typeid = "name"`. See the crate docs for an example.
pub use mp_manager_derive::shared;

#[doc(hidden)]
pub use shared::__private;
