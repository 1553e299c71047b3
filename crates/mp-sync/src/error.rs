//! Typed errors of the primitives: dead owners, timeouts, misuse that
//! Python reports with `ValueError`/`AssertionError`/`RuntimeError`, and
//! broken barriers.

use std::fmt;

/// The lock (or semaphore slot) was acquired, but its previous holder
/// process died while holding it: the state it protects may be
/// inconsistent (pthread's `EOWNERDEAD`, posix-sync's "indeterminate guard").
///
/// Exactly one acquirer observes each death. The caller holds the lock:
/// [`into_inner`](Self::into_inner) gives the guard back to repair the
/// state and carry on (like std's `PoisonError`); dropping it releases.
pub struct OwnerDied<G = ()> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G) -> Self {
        OwnerDied { guard }
    }

    /// The guard (or `()` for the Python-style calls); the lock is held.
    pub fn into_inner(self) -> G {
        self.guard
    }

    /// A reference to the guard.
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// A mutable reference to the guard.
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }

    pub(crate) fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            guard: f(self.guard),
        }
    }
}

impl<G: PartialEq> PartialEq for OwnerDied<G> {
    fn eq(&self, other: &Self) -> bool {
        self.guard == other.guard
    }
}

impl<G: Eq> Eq for OwnerDied<G> {}

impl<G: Clone> Clone for OwnerDied<G> {
    fn clone(&self) -> Self {
        OwnerDied {
            guard: self.guard.clone(),
        }
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerDied { .. }")
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the previous owner died while holding the lock; the protected state may be inconsistent")
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// `Ok(guard)`, or the guard wrapped in [`OwnerDied`].
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// Why a blocking acquisition with a timeout did not return a clean guard.
#[derive(Debug, thiserror::Error)]
pub enum AcquireError<G = ()> {
    /// The timeout elapsed; nothing is held.
    #[error("timed out")]
    Timeout,
    /// Acquired, from a dead holder.
    #[error(transparent)]
    OwnerDied(OwnerDied<G>),
}

/// Why a non-blocking acquisition did not return a clean guard.
#[derive(Debug, thiserror::Error)]
pub enum TryAcquireError<G = ()> {
    /// Someone else holds it; nothing is held.
    #[error("would block")]
    WouldBlock,
    /// Acquired, from a dead holder.
    #[error(transparent)]
    OwnerDied(OwnerDied<G>),
}

/// Releasing something the caller may not release (Python's `ValueError`
/// and `AssertionError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// `Lock.release()` of an unlocked lock.
    #[error("lock released while not locked")]
    NotLocked,
    /// `RLock.release()` by a thread that does not own it.
    #[error("attempt to release recursive lock not owned by thread")]
    NotOwner,
    /// `BoundedSemaphore.release()` past the initial value (or any
    /// semaphore past `SEM_VALUE_MAX`).
    #[error("semaphore or lock released too many times")]
    TooManyReleases,
}

/// `Condition.wait`/`notify` misuse, or a dead holder met on re-acquire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// The caller does not hold the condition's lock.
    #[error("cannot wait on or notify an un-acquired condition lock")]
    NotOwner,
    /// The lock was re-acquired from a holder that died: the caller holds
    /// it, and the protected state may be inconsistent.
    #[error(
        "the previous owner died while holding the lock; the protected state may be inconsistent"
    )]
    OwnerDied,
}

/// Python's `threading.BrokenBarrierError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("barrier is broken")]
pub struct BrokenBarrierError;
