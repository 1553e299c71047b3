//! `multiprocess`: Python's `multiprocessing`, rebuilt in Rust.
//!
//! Real OS processes started with `fork`, `spawn` or `forkserver` (crash
//! isolation, every core for CPU-bound work), shared-memory locks and values,
//! channels and queues — with the API Python users know, Rust's idioms
//! (`Result`, RAII guards, `Duration` timeouts, serde for "picklable"), and a
//! promise Python does not make: a dead peer is an error, never a hang.
//!
//! ```
//! use multiprocess::{current_process, Process};
//!
//! fn worker(num: u32) {
//!     println!("{} got {num}", current_process().name());
//! }
//!
//! let mut jobs: Vec<Process> = (0..3).map(|i| Process::new(worker, (i,))).collect();
//! for p in &mut jobs {
//!     p.start().unwrap();
//! }
//! for p in &mut jobs {
//!     p.join().unwrap();
//!     assert_eq!(p.exitcode(), Some(0));
//! }
//! ```
//!
//! No set-up line is needed in `main`: children of `spawn` and `forkserver`
//! are taken over by a start-up constructor before `main` runs.
//!
//! # Map
//! - Processes ([`Process`], [`Run`], [`current_process`], [`active_children`],
//!   start methods and [`Context`]s, [`log_to_stderr`]) — crate `mp-process`.
//! - Synchronization ([`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`],
//!   [`Condition`], [`Event`], [`Barrier`], [`Value`], [`Array`]) on futexes in
//!   shared memory, with dead-owner recovery; [`sharedctypes`] (`copy`,
//!   `synchronized`) — crate `mp-sync`.
//! - Shared memory ([`shared_memory::SharedMemory`], [`RawValue`],
//!   [`RawArray`] of [`Pod`] types; derive them through [`bytemuck`]) —
//!   crate `mp-shm`.
//! - Channels ([`pipe`], [`Connection`], [`wait`], [`Queue`], [`SimpleQueue`],
//!   [`JoinableQueue`]; [`connection::Listener`] / [`connection::client`] with
//!   an authkey) — crate `mp-channel`.
//! - The process pool ([`Pool`], [`AsyncResult`], [`IMapIterator`]), where a
//!   worker that dies fails only its task; the same API on threads
//!   ([`ThreadPool`], or [`dummy::Pool`] as Python spells it); Python's
//!   `concurrent.futures` executor in [`concurrent_futures`] — crate `mp-pool`.
//! - The manager ([`Manager`], typed proxies in [`managers`]), local or
//!   remote with an authkey; custom manager types with
//!   [`#[managers::shared]`](managers::shared) — crate `mp-manager`.
//! - The pool on MPI ranks (`mpi::Pool`, feature `mpi`): the same pool
//!   calls run by the ranks of `mpirun -n N ./prog` or `srun`, and as a
//!   local pool when the program is started on its own — crate `mp-mpi`.
//! - The wire layer ([`wire`]): how values and fds cross processes — crate `mp-wire`.
//!
//! # Feature flags
//! - `process` (default): processes, start methods, logging.
//! - `shm` (default): shared memory (`mp-shm`).
//! - `sync` (default): cross-process locks, events, barriers, values (`mp-sync`).
//! - `channel` (default): pipes, connections, listeners, queues (`mp-channel`).
//! - `pool` (default): the process pool (`mp-pool`).
//! - `manager` (default): the manager server and proxies (`mp-manager`).
//! - `progress-bar`: a terminal progress bar for pool calls
//!   (module `progress_bar`, on `indicatif`).
//! - `mpi`: the pool on MPI ranks (`mp-mpi`); needs an MPI library and
//!   libclang to build.
#![forbid(unsafe_code)]

#[cfg(feature = "process")]
pub use mp_process::{
    active_children, cpu_count, current_process, exit, get_all_start_methods, get_context,
    get_logger, get_start_method, log_to_stderr, parent_process, process_cpu_count,
    set_current_process_authkey, set_current_process_daemon, set_current_process_name,
    set_start_method, ActiveChild, AuthKey, CodeOnly, Context, CurrentProcess, ExitCode, Function,
    FunctionError, Logger, ParentProcess, Process, ProcessError, Run, StartMethod, Target,
    TargetReturn, TupleFn, CPU_COUNT_VAR, DEFAULT_START_METHOD, LOG_TARGET, START_METHOD_ENV,
};

#[cfg(feature = "sync")]
pub use mp_sync::{
    AcquireError, Array, ArrayGuard, Barrier, BoundedSemaphore, BrokenBarrierError, CharArray,
    Condition, ConditionError, ConditionGuard, Event, Lock, LockGuard, LockResult, OwnerDied,
    RLock, RLockGuard, ReleaseError, Semaphore, SemaphorePermit, StringTooLong, SyncLock,
    SyncLockGuard, TryAcquireError, Value, ValueGuard,
};

/// Python's `multiprocessing.sharedctypes`: `copy` and `synchronized` for the
/// shared values and arrays.
#[cfg(feature = "sync")]
pub mod sharedctypes {
    pub use mp_sync::sharedctypes::{copy, synchronized, SharedCopy, Synchronize};
}

#[cfg(feature = "shm")]
pub use mp_shm::{RawArray, RawValue};

#[cfg(feature = "shm")]
pub use pod::{Pod, Zeroable};

#[cfg(feature = "shm")]
mod pod;

/// The `bytemuck` crate, which [`Pod`](trait@Pod) and
/// [`Zeroable`](trait@Zeroable) come from (its casts, `bytes_of`,
/// `cast_slice`, ...). The derives [`Pod`](macro@Pod) and
/// [`Zeroable`](macro@Zeroable) point bytemuck's own derives here.
pub use bytemuck_reexport as bytemuck;

/// Python's `multiprocessing.shared_memory`: named blocks of shared memory.
#[cfg(feature = "shm")]
pub mod shared_memory {
    pub use mp_shm::{
        cleanup_stale, Item, PodList, ShareableList, SharedMemory, SharedMemoryManager, ShmError,
    };
}

#[cfg(feature = "channel")]
pub use mp_channel::{
    pipe, wait, Connection, GetError, JoinableQueue, PutError, Queue, QueueStateError, RecvError,
    RecvIntoError, SendError, SimpleQueue, TaskDoneError, Waitable,
};

/// Python's `multiprocessing.connection`: listeners and clients over unix
/// sockets and TCP, with HMAC-SHA256 authentication; [`PyConnection`](connection::PyConnection)
/// exchanges byte messages with Python's own `multiprocessing.connection` peers.
#[cfg(feature = "channel")]
pub mod connection {
    /// [`wait`] as a future (feature `async`).
    #[cfg(feature = "async")]
    pub use mp_channel::wait_async;
    pub use mp_channel::{
        answer_challenge, client, client_with_timeout, deliver_challenge, pipe, wait, Address,
        AuthenticationError, ConnectError, Connection, ExclusiveConnection, Listener, PyConnection,
        Waitable, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES,
    };
}

#[cfg(feature = "pool")]
pub use mp_pool::{
    AsyncResult, Callbacks, IMapIterator, Pool, PoolBuilder, PoolError, TaskError, ThreadPool,
    ThreadPoolBuilder,
};

/// The process pool on MPI ranks: [`mpi::Pool`] has the calls of
/// [`Pool`] and runs them on ranks 1.. of the job when the
/// program was started by `mpirun`/`srun`, on ranks it spawns itself with
/// [`mpi::SPAWN_ENV`] set (singleton mode), on local worker processes
/// otherwise. See the guide's "Scaling out" chapter.
#[cfg(feature = "mpi")]
pub mod mpi {
    pub use mp_mpi::{is_mpi_root, mpi_workers, Pool, PoolBuilder, SPAWN_ENV};
}

/// Python's `multiprocessing.dummy`: the same API on threads. Its `Pool` is
/// [`ThreadPool`]; `Lock`, `Event` and `Queue` are thread versions with the
/// calls of the process versions (all four implement the
/// [`flavor`] traits); for the rest of that module (`Process`, ...) Rust's
/// own `std::thread` and `std::sync` are the thread versions.
#[cfg(feature = "pool")]
pub mod dummy {
    pub use crate::thread_sync::{Event, Lock, LockGuard, Queue};
    pub use mp_pool::{ThreadPool as Pool, ThreadPoolBuilder as PoolBuilder};
}

#[cfg(feature = "pool")]
mod thread_sync;

/// Traits for what the native, managed and thread-backed flavours share, so
/// a program written once runs on any of them (Python swaps
/// `multiprocessing` for a manager or for `multiprocessing.dummy` without
/// changing the code that uses the objects).
///
/// | trait | native | managed ([`managers`]) | threads ([`dummy`]) |
/// |---|---|---|---|
/// | [`LockLike`](flavor::LockLike) | [`Lock`], [`RLock`] | [`LockProxy`](managers::LockProxy), [`RLockProxy`](managers::RLockProxy) | [`dummy::Lock`] |
/// | [`EventLike`](flavor::EventLike) | [`Event`] | [`EventProxy`](managers::EventProxy) | [`dummy::Event`] |
/// | [`QueueLike`](flavor::QueueLike) | [`Queue`] | [`QueueProxy`](managers::QueueProxy) | [`dummy::Queue`] |
/// | [`PoolLike`](flavor::PoolLike) | [`Pool`] | [`PoolProxy`](managers::PoolProxy) | [`ThreadPool`] |
///
/// Every method returns the one error type [`FlavorError`](flavor::FlavorError):
/// the conditions a program handles the same way in every flavour (`Empty`,
/// `Full`, `NotLocked`) are variants of their own, the rest keeps its
/// flavour's typed error.
///
/// ```
/// use multiprocess::flavor::{EventLike, FlavorError, QueueLike};
///
/// fn relay<Q: QueueLike<u32>, E: EventLike>(q: &Q, done: &E) -> Result<u32, FlavorError> {
///     q.put(20)?;
///     q.put(22)?;
///     done.set()?;
///     Ok(q.get()? + q.get()?)
/// }
///
/// let (q, e) = (multiprocess::Queue::new()?, multiprocess::Event::new()?);
/// assert_eq!(relay(&q, &e)?, 42);
/// let (q, e) = (multiprocess::dummy::Queue::new(0), multiprocess::dummy::Event::new());
/// assert_eq!(relay(&q, &e)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(all(
    feature = "sync",
    feature = "channel",
    feature = "pool",
    feature = "manager"
))]
pub mod flavor {
    pub use crate::flavor_traits::{EventLike, FlavorError, LockLike, PoolLike, QueueLike};
}

#[cfg(all(
    feature = "sync",
    feature = "channel",
    feature = "pool",
    feature = "manager"
))]
mod flavor_traits;

/// Python's `multiprocessing.pool`: the process pool and its helpers.
#[cfg(feature = "pool")]
pub mod pool {
    pub use mp_pool::{
        as_completed, default_chunksize, wait, AsCompleted, AsyncResult, Callbacks, IMapIterator,
        Pool, PoolBuilder, PoolError, ProgressUpdate, ReturnWhen, StarFn, TaskError, TaskOptions,
        ThreadPool, ThreadPoolBuilder, ThreadStarFn, Waited,
    };
    pub use mp_pool::{
        BrokenPolicy, Executor, ExecutorBuilder, ExecutorMap, ExecutorPool, Future,
        ProcessPoolExecutor, ThreadPoolExecutor,
    };
}

/// Python's `concurrent.futures` (the name with `_` for `.`), on our pools:
/// [`ProcessPoolExecutor`](concurrent_futures::ProcessPoolExecutor) and
/// [`ThreadPoolExecutor`](concurrent_futures::ThreadPoolExecutor) with their
/// [`Future`](concurrent_futures::Future)s, `as_completed`, `wait` and
/// `ReturnWhen` (`FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
/// The same items are in [`pool`]; Python's `BrokenProcessPool` and
/// `CancelledError` are [`TaskError`]'s `BrokenProcessPool` and `Cancelled`,
/// its `TimeoutError` is [`PoolError`]'s `Timeout`.
#[cfg(feature = "pool")]
pub mod concurrent_futures {
    pub use mp_pool::{
        as_completed, wait, AsCompleted, BrokenPolicy, Executor, ExecutorBuilder, ExecutorMap,
        ExecutorPool, Future, PoolError, ProcessPoolExecutor, ResultHandle, ReturnWhen, TaskError,
        TaskOptions, ThreadPoolExecutor, Waited,
    };
}

#[cfg(feature = "progress-bar")]
pub mod progress_bar;

#[cfg(feature = "manager")]
pub use mp_manager::{Manager, ManagerBuilder, ManagerError, RemoteError};

/// Python's `multiprocessing.managers`: a server process owning objects,
/// typed proxies to them, custom types, remote use.
#[cfg(feature = "manager")]
pub mod managers {
    pub use mp_manager::{
        shared, AcquireGuard, ArrayProxy, AsyncResult, BarrierProxy, BaseProxy,
        BoundedSemaphoreProxy, ConditionLock, ConditionProxy, DictIter, DictProxy, EventProxy,
        JoinableQueueProxy, ListIter, ListProxy, LockProxy, ManagedIMap, Manager, ManagerBuilder,
        ManagerError, NamespaceInit, NamespaceProxy, ObjectInfo, PoolProxy, Proxy, QueueProxy,
        RLockProxy, Registration, Registry, RemoteError, RemoteErrorKind, SemaphoreProxy, SetProxy,
        Shared, ValueProxy,
    };

    /// Where a manager server listens (a unix socket path or a TCP address).
    pub use mp_manager::Address;

    /// What the code generated by [`shared`] names (not API).
    #[doc(hidden)]
    pub use mp_manager::__private;
}

/// The wire layer: encoding values with the fds they carry, and frames on sockets.
pub mod wire {
    pub use mp_wire::{
        decode, decode_with_limits, encode, recv, recv_value, send, send_timeout, send_value,
        serde_bytes, DecodeError, EncodeError, Limits, Message, SharedFd, WireError,
        MAX_FDS_PER_FRAME,
    };
}

/// `log`'s level filter, for [`log_to_stderr`].
#[cfg(feature = "process")]
pub use log::LevelFilter;
