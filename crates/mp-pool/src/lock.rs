//! [`lock`]: taking a mutex of this crate, whether or not a panic poisoned it.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning (no lock here guards an invariant that a
/// panic could break halfway).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
