//! `mp-sync`: Python's `multiprocessing` synchronization primitives—`Lock`,
//! `RLock`, `Semaphore`, `BoundedSemaphore`, `Condition`, `Event`,
//! `Barrier`, synchronized `Value`/`Array`—as futex words in shared memory,
//! usable from any process that receives a handle, and safe against holders
//! that die.
//!
//! ```
//! use mp_sync::{Lock, Value};
//!
//! let lock = Lock::new()?;
//! let counter = Value::with_lock(0u64, lock.clone())?;
//! // Handles are serde: `mp_wire::encode` carries the shared memory's fd out
//! // of band, so a decoded copy (in a child process, say) is the same lock.
//! let (lock2, counter2): (Lock, Value<u64>) = mp_wire::decode(mp_wire::encode(&(&lock, &counter))?)?;
//! {
//!     let g = counter2.lock().unwrap_or_else(|died| died.into_inner());
//!     g.set(g.get() + 1);
//!     assert!(lock.locked()); // the same lock, seen through the other handle
//! }
//! assert!(!lock2.locked());
//! assert_eq!(counter.value(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`Lock`], [`RLock`]: RAII `lock()`/`try_lock()`/`lock_timeout()` and
//!   Python's `acquire(block, timeout)`/`release()`.
//! - [`Semaphore`], [`BoundedSemaphore`]: `permit()` guards and `acquire`/`release`.
//! - [`Condition`]: `wait`, `wait_for`, `notify(n)`, `notify_all` over a [`SyncLock`].
//! - [`Event`]: `set`, `clear`, `is_set`, `wait(timeout) -> bool`.
//! - [`Barrier`]: `wait` → arrival index, `abort`, `reset`, [`BrokenBarrierError`].
//! - [`Value`], [`Array`]: a `RawValue`/`RawArray` (re-exported from
//!   `mp-shm`) plus a lock, with `get_lock()`.
//! - [`CharArray`]: Python's `SynchronizedString` `.value`/`.raw` on any
//!   shared `u8` array; [`sharedctypes::copy`], [`sharedctypes::synchronized`].
//! - [`EventCount`]: the sleep/wake protocol under all of the above, over
//!   two words of the caller's shared memory, for blocking structures
//!   built elsewhere (mp-channel's queues).
//!
//! # Dead holders
//! CPython hangs forever when a process dies holding a lock. Here a lock
//! word names its holder process by `(pid, start time)`; waiters sleep in
//! 50 ms slices and, after each, check the holder. If it died, one waiter
//! takes the lock over and gets it wrapped in [`OwnerDied`], which says the
//! protected state may be inconsistent and must be acknowledged
//! ([`OwnerDied::into_inner`] gives the guard). Semaphores attribute slots
//! to the acquiring process and return the slots of dead processes the same
//! way, however many die, and whatever instruction they die at. A barrier
//! records who is inside `wait`: a party killed there breaks it, for the
//! others and for every later arrival ([`BrokenBarrierError`]), until
//! `reset`. A waiter killed in `Condition::wait` or `Event::wait` costs the
//! others at most a spurious wake-up (`notify` never waits for the woken).
//! Only process death counts (a thread that exits holding a `Lock` has not
//! abandoned it: Python lets others release a `Lock`). `docs/guide.md`
//! (section 10) tabulates what each death costs.
//!
//! # Proof
//! The state machines in `raw/` are written against a `Park` trait and the
//! atomics in `primitive`, so they run unchanged under loom. Every one of
//! them sleeps through the one eventcount (`raw/eventcount.rs`). Each
//! `raw/` file documents its words and states as a table. `cargo xtask
//! test-all` runs the models; by hand:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p mp-sync --release --lib --target-dir target/loom loom`.
#![forbid(unsafe_code)]
// The models exercise the state machines, not every accessor of them.
#![cfg_attr(loom, allow(dead_code))]

mod park;
mod primitive;
mod raw;

#[cfg(all(feature = "async", not(loom)))]
mod async_wait;
#[cfg(not(loom))]
mod barrier;
#[cfg(not(loom))]
mod condition;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod event;
#[cfg(not(loom))]
mod eventcount;
#[cfg(not(loom))]
mod ident;
#[cfg(not(loom))]
mod lock;
#[cfg(not(loom))]
mod outcome;
#[cfg(not(loom))]
mod rlock;
#[cfg(not(loom))]
mod semaphore;
#[cfg(not(loom))]
mod shared;
#[cfg(not(loom))]
pub mod sharedctypes;
#[cfg(not(loom))]
mod string;
#[cfg(not(loom))]
mod sync_lock;
#[cfg(not(loom))]
mod value;

#[cfg(test)]
mod tests;

#[cfg(not(loom))]
pub use barrier::Barrier;
#[cfg(not(loom))]
pub use condition::{Condition, ConditionGuard};
#[cfg(not(loom))]
pub use error::{
    AcquireError, BrokenBarrierError, ConditionError, LockResult, OwnerDied, ReleaseError,
    TryAcquireError,
};
#[cfg(not(loom))]
pub use event::Event;
#[cfg(not(loom))]
pub use eventcount::{EventCount, EventCountWaiter};
#[cfg(not(loom))]
pub use lock::{Lock, LockGuard};
#[cfg(not(loom))]
pub use mp_shm::{RawArray, RawValue};
#[cfg(not(loom))]
pub use rlock::{RLock, RLockGuard};
#[cfg(not(loom))]
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphorePermit};
#[cfg(not(loom))]
pub use string::{CharArray, StringTooLong};
#[cfg(not(loom))]
pub use sync_lock::{SyncLock, SyncLockGuard};
#[cfg(not(loom))]
pub use value::{Array, ArrayGuard, Value, ValueGuard};
