//! Proxies to synchronization primitives held by a manager server:
//! [`LockProxy`], [`RLockProxy`], [`SemaphoreProxy`],
//! [`BoundedSemaphoreProxy`] (Python's `AcquirerProxy`), [`EventProxy`],
//! [`ConditionProxy`] and [`BarrierProxy`].
//!
//! The primitive lives in the server; a blocked `acquire`/`wait` blocks the
//! caller's connection in the server, and fails with
//! [`ServerGone`](crate::ManagerError::ServerGone) the moment the server
//! dies. Unlike `mp-sync`'s primitives they work across machines (over TCP)
//! and inside managed containers, at the cost of a round trip per call.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use mp_process::CodeOnly;

use super::{typed_proxy, BaseProxy, Proxy};
use crate::error::{ManagerError, Result};
use crate::manager::Manager;
use crate::protocol::Owner;
use crate::registered::key_of;
use crate::shared::Registry;

/// Releases the primitive when dropped (Python's `with lock:`).
#[must_use = "the primitive is released when the guard is dropped"]
pub struct AcquireGuard<'a> {
    base: &'a BaseProxy,
}

impl fmt::Debug for AcquireGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AcquireGuard({:?})", self.base)
    }
}

impl Drop for AcquireGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.base.call::<_, ()>("release", &Owner::current()) {
            log::debug!(target: mp_process::LOG_TARGET, "manager: release on drop failed: {e}");
        }
    }
}

macro_rules! acquirer_proxy {
    ($(#[$doc:meta])* $name:ident, $typeid:literal, $repr:literal) => {
        $(#[$doc])*
        pub struct $name {
            base: BaseProxy,
            _types: PhantomData<()>,
        }

        typed_proxy!($name, $typeid);

        impl $name {
            /// Python's `acquire(blocking, timeout)`: waits (at most
            /// `timeout`, if given) unless `blocking` is false; returns
            /// whether it was acquired.
            pub fn acquire_with(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool> {
                self.base.call("acquire", &(Owner::current(), blocking, timeout))
            }

            /// Waits until acquired (Python's `acquire()`).
            pub fn acquire(&self) -> Result<()> {
                self.acquire_with(true, None).map(drop)
            }

            /// Acquires if it can without waiting.
            pub fn try_acquire(&self) -> Result<bool> {
                self.acquire_with(false, None)
            }

            /// Waits at most `timeout`; returns whether it was acquired.
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
                self.acquire_with(true, Some(timeout))
            }

            /// Releases (Python's `release()`), with Python's errors.
            pub fn release(&self) -> Result<()> {
                self.base.call("release", &Owner::current())
            }

            /// Acquires and returns a guard that releases on drop (Python's
            /// `with primitive:`).
            pub fn lock(&self) -> Result<AcquireGuard<'_>> {
                self.acquire()?;
                Ok(AcquireGuard { base: &self.base })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!("<", $repr, " object, typeid '", $typeid, "' at {:x}>"), self.base.id())
            }
        }
    };
}

acquirer_proxy!(
    /// A proxy to a `threading.Lock` in a manager server (Python's
    /// `manager.Lock()`): any process may release it; releasing an unlocked
    /// lock is a `Runtime` error (`release unlocked lock`). A lock held by a
    /// process that exits stays held, as in Python.
    LockProxy, "Lock", "AcquirerProxy"
);
acquirer_proxy!(
    /// A proxy to a `threading.RLock` in a manager server: reentrant, owned
    /// by the acquiring thread of the acquiring process.
    RLockProxy, "RLock", "AcquirerProxy"
);
acquirer_proxy!(
    /// A proxy to a `threading.Semaphore` in a manager server.
    SemaphoreProxy, "Semaphore", "AcquirerProxy"
);
acquirer_proxy!(
    /// A proxy to a `threading.BoundedSemaphore`: releasing above the
    /// initial value is a `Value` error (`Semaphore released too many times`).
    BoundedSemaphoreProxy, "BoundedSemaphore", "AcquirerProxy"
);

/// A proxy to a `threading.Event` in a manager server.
pub struct EventProxy {
    base: BaseProxy,
    _types: PhantomData<()>,
}

typed_proxy!(EventProxy, "Event");

impl EventProxy {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) -> Result<()> {
        self.base.call("set", &())
    }

    /// Clears the flag.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> Result<bool> {
        self.base.call("is_set", &())
    }

    /// Waits until the flag is set or `timeout` passes (`None`: forever);
    /// returns the flag (Python's `wait(timeout)`).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.base.call("wait", &timeout)
    }
}

impl fmt::Debug for EventProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<EventProxy object, typeid 'Event' at {:x}>",
            self.base.id()
        )
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::LockProxy {}
    impl Sealed for super::RLockProxy {}
}

/// A managed lock a condition can be built on (Python's
/// `manager.Condition(lock)`): [`LockProxy`] or [`RLockProxy`].
pub trait ConditionLock: Proxy + sealed::Sealed {}
impl ConditionLock for LockProxy {}
impl ConditionLock for RLockProxy {}

/// A proxy to a `threading.Condition` in a manager server: with its own
/// reentrant lock ([`Manager::condition`]) or on a managed lock
/// ([`Manager::condition_with`]).
///
/// On a lock, `acquire`/`release`/`lock()` act on that lock itself, so a
/// process holding the [`LockProxy`] holds the condition, and the other way
/// round. `wait` and `notify` need the lock held: by the calling thread for
/// an `RLock`; by anyone for a `Lock`, which has no owner (CPython checks
/// the same way).
pub struct ConditionProxy {
    base: BaseProxy,
    _types: PhantomData<()>,
}

typed_proxy!(ConditionProxy, "Condition");

impl ConditionProxy {
    /// Python's `acquire(blocking, timeout)` of the condition's lock.
    pub fn acquire_with(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool> {
        self.base
            .call("acquire", &(Owner::current(), blocking, timeout))
    }

    /// Waits until the lock is acquired.
    pub fn acquire(&self) -> Result<()> {
        self.acquire_with(true, None).map(drop)
    }

    /// Releases the lock (a `Runtime` error if not held by this thread).
    pub fn release(&self) -> Result<()> {
        self.base.call("release", &Owner::current())
    }

    /// Acquires the lock; the guard releases it on drop (Python's `with cond:`).
    pub fn lock(&self) -> Result<AcquireGuard<'_>> {
        self.acquire()?;
        Ok(AcquireGuard { base: &self.base })
    }

    /// Releases the lock, waits for a notification (or `timeout`), takes
    /// the lock back; returns whether it was notified.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.base.call("wait", &(Owner::current(), timeout))
    }

    /// Waits until `predicate()` holds, at most `timeout` in total
    /// (Python's `wait_for`, a loop of `wait` in the caller); returns the
    /// predicate's last value.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if predicate() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(false);
            }
            self.wait(left)?;
        }
    }

    /// Wakes up to `n` waiters (the lock must be held).
    pub fn notify(&self, n: usize) -> Result<()> {
        self.base.call("notify", &(Owner::current(), n as u64))
    }

    /// Wakes every waiter (the lock must be held).
    pub fn notify_all(&self) -> Result<()> {
        self.base.call("notify_all", &Owner::current())
    }
}

impl fmt::Debug for ConditionProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ConditionProxy object, typeid 'Condition' at {:x}>",
            self.base.id()
        )
    }
}

/// A proxy to a `threading.Barrier` in a manager server.
pub struct BarrierProxy {
    base: BaseProxy,
    _types: PhantomData<()>,
}

typed_proxy!(BarrierProxy, "Barrier");

impl BarrierProxy {
    /// Waits until `parties` callers arrived; returns this caller's arrival
    /// index. A timeout, `abort` or `reset` is a `BrokenBarrier` error.
    /// `None` uses the barrier's default timeout (forever if it has none).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<usize> {
        Ok(self.base.call::<_, u64>("wait", &timeout)? as usize)
    }

    /// Breaks the barrier: current and future waiters fail.
    pub fn abort(&self) -> Result<()> {
        self.base.call("abort", &())
    }

    /// Returns the barrier to its initial state; current waiters fail.
    pub fn reset(&self) -> Result<()> {
        self.base.call("reset", &())
    }

    /// How many callers it waits for.
    pub fn parties(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("parties", &())? as usize)
    }

    /// How many callers are waiting now.
    pub fn n_waiting(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("n_waiting", &())? as usize)
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> Result<bool> {
        self.base.call("broken", &())
    }
}

impl fmt::Debug for BarrierProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<BarrierProxy object, typeid 'Barrier' at {:x}>",
            self.base.id()
        )
    }
}

impl<R: Registry> Manager<R> {
    /// A new shared lock (Python's `manager.Lock()`).
    pub fn lock(&self) -> Result<LockProxy> {
        self.create_raw(&())
    }

    /// A new shared reentrant lock (Python's `manager.RLock()`).
    pub fn rlock(&self) -> Result<RLockProxy> {
        self.create_raw(&())
    }

    /// A new shared semaphore with `value` slots (Python's `manager.Semaphore(value)`).
    pub fn semaphore(&self, value: usize) -> Result<SemaphoreProxy> {
        self.create_raw(&(value as u64))
    }

    /// A new shared bounded semaphore (Python's `manager.BoundedSemaphore(value)`).
    pub fn bounded_semaphore(&self, value: usize) -> Result<BoundedSemaphoreProxy> {
        self.create_raw(&(value as u64))
    }

    /// A new shared event (Python's `manager.Event()`).
    pub fn event(&self) -> Result<EventProxy> {
        self.create_raw(&())
    }

    /// A new shared condition with its own reentrant lock (Python's
    /// `manager.Condition()`).
    pub fn condition(&self) -> Result<ConditionProxy> {
        self.create_raw(&())
    }

    /// A new shared condition on an existing managed lock (Python's
    /// `manager.Condition(lock)`): the condition and every holder of `lock`
    /// share one lock. The lock must live in this manager's server; one
    /// from another manager is a [`ManagerError::State`] error.
    pub fn condition_with<L: ConditionLock>(&self, lock: &L) -> Result<ConditionProxy> {
        if lock.base().server_id() != self.server_id() {
            return Err(ManagerError::State(
                "a condition's lock must live in the same manager".into(),
            ));
        }
        self.create_raw(&lock.base().id())
    }

    /// A new shared barrier for `parties` callers (Python's `manager.Barrier(parties)`).
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy> {
        self.create_raw(&(parties as u64))
    }

    /// A new shared barrier whose `wait(None)` waits at most `timeout`
    /// (Python's `manager.Barrier(parties, timeout=timeout)`; `None` waits
    /// forever). A timeout breaks the barrier, as in Python.
    pub fn barrier_with_timeout(
        &self,
        parties: usize,
        timeout: Option<Duration>,
    ) -> Result<BarrierProxy> {
        self.create_raw(&(parties as u64, timeout, None::<u64>))
    }

    /// A new shared barrier that runs `action` once per generation (Python's
    /// `manager.Barrier(parties, action, timeout)`): in the server process,
    /// called by the last party to arrive, before any party is let through.
    ///
    /// `action` must have been registered with
    /// [`ManagerBuilder::barrier_action`](crate::ManagerBuilder::barrier_action)
    /// when the server was started, or this is a `Protocol` remote error.
    /// If it panics, the barrier breaks: the last party's `wait` is a
    /// `Runtime` error carrying the panic's message, the others get
    /// `BrokenBarrier`. The action runs with the barrier's state locked, so
    /// it must not use this barrier.
    pub fn barrier_with_action<F>(
        &self,
        parties: usize,
        action: F,
        timeout: Option<Duration>,
    ) -> Result<BarrierProxy>
    where
        F: Fn() + CodeOnly,
    {
        let _ = action;
        self.create_raw(&(parties as u64, timeout, Some(key_of::<F>())))
    }
}
