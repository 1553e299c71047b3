//! [`lock`]: taking a mutex of this crate, whether or not a panic poisoned
//! it; [`wait_until`]: the one condition-variable wait against a
//! [`Deadline`].

use std::sync::{Condvar, Mutex, MutexGuard};

use mp_sys::time::Deadline;

/// Locks a mutex, ignoring poisoning (no lock here guards an invariant that a
/// panic could break halfway).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv` (one wake-up, which may be spurious: callers re-check
/// their condition) unless `deadline` has passed. Returns the guard and
/// `false` when the deadline had passed before waiting, so a caller's loop
/// reads `while !ready { (g, waited) = wait_until(..); if !waited { give up } }`.
pub(crate) fn wait_until<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Deadline,
) -> (MutexGuard<'a, T>, bool) {
    match deadline.remaining() {
        None => (cv.wait(guard).unwrap_or_else(|e| e.into_inner()), true),
        Some(left) if left.is_zero() => (guard, false),
        Some(left) => (
            cv.wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0,
            true,
        ),
    }
}
