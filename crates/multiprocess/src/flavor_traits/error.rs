//! [`FlavorError`]: the one error of the [`flavor`](crate::flavor) traits.

use std::error::Error;
use std::fmt;

use crate::managers::RemoteErrorKind;
use crate::{GetError, ManagerError, PoolError, PutError, ReleaseError};

/// Why a call through a [`flavor`](crate::flavor) trait failed.
///
/// What a program handles alike in every flavour has a variant of its own
/// (Python's `queue.Empty`, `queue.Full`, the `release` of an unlocked
/// lock); everything else keeps its flavour's typed error.
#[derive(Debug)]
#[non_exhaustive]
pub enum FlavorError {
    /// A `get` found nothing, at once or within its timeout (`queue.Empty`).
    Empty,
    /// A `put` found no room, at once or within its timeout (`queue.Full`).
    Full,
    /// A `Lock` was released while not held.
    NotLocked,
    /// A native lock was taken from a holder that died holding it (the
    /// protected state may be inconsistent). From `acquire_with` the caller
    /// now holds the lock; from `lock` the recovered guard was dropped, so
    /// the lock is free again.
    OwnerDied,
    /// A native queue's `put` failed otherwise (closed, encoding, I/O).
    Put(PutError),
    /// A native queue's `get` failed otherwise (closed, decoding, I/O).
    Get(GetError),
    /// A native lock's `release` failed otherwise (an `RLock` not owned).
    Release(ReleaseError),
    /// A managed object's call failed otherwise (remote error, server gone).
    Manager(ManagerError),
    /// A process or thread pool failed (a task's error, a dead worker).
    Pool(PoolError),
}

impl fmt::Display for FlavorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlavorError::Empty => f.write_str("queue is empty"),
            FlavorError::Full => f.write_str("queue is full"),
            FlavorError::NotLocked => f.write_str("lock released while not locked"),
            FlavorError::OwnerDied => f.write_str(
                "the previous owner died while holding the lock; the protected state may be \
                 inconsistent",
            ),
            FlavorError::Put(e) => e.fmt(f),
            FlavorError::Get(e) => e.fmt(f),
            FlavorError::Release(e) => e.fmt(f),
            FlavorError::Manager(e) => e.fmt(f),
            FlavorError::Pool(e) => e.fmt(f),
        }
    }
}

impl Error for FlavorError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            FlavorError::Put(e) => e.source(),
            FlavorError::Get(e) => e.source(),
            FlavorError::Release(e) => e.source(),
            FlavorError::Manager(e) => e.source(),
            FlavorError::Pool(e) => e.source(),
            _ => None,
        }
    }
}

impl From<PutError> for FlavorError {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Full => FlavorError::Full,
            e => FlavorError::Put(e),
        }
    }
}

impl From<GetError> for FlavorError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::Empty => FlavorError::Empty,
            e => FlavorError::Get(e),
        }
    }
}

impl From<ReleaseError> for FlavorError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::NotLocked => FlavorError::NotLocked,
            e => FlavorError::Release(e),
        }
    }
}

impl From<ManagerError> for FlavorError {
    fn from(e: ManagerError) -> Self {
        match e {
            ManagerError::Remote(r) if r.kind == RemoteErrorKind::Empty => FlavorError::Empty,
            ManagerError::Remote(r) if r.kind == RemoteErrorKind::Full => FlavorError::Full,
            e => FlavorError::Manager(e),
        }
    }
}

impl From<PoolError> for FlavorError {
    fn from(e: PoolError) -> Self {
        FlavorError::Pool(e)
    }
}
