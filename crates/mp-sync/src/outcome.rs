//! Turning the state machines' outcomes into the public result types.

use std::time::Duration;

use crate::error::{AcquireError, OwnerDied, TryAcquireError};
use crate::raw::{Acquired, TimedOut};
use mp_sys::time::Deadline;

/// Python's `acquire(block, timeout)` deadline: `block == false` ignores
/// the timeout and never waits.
#[inline]
pub(crate) fn py_deadline(block: bool, timeout: Option<Duration>) -> Deadline {
    if block {
        Deadline::after(timeout)
    } else {
        Deadline::after(Some(Duration::ZERO))
    }
}

/// The deadline of a `try_*` call.
#[inline]
pub(crate) fn now() -> Deadline {
    Deadline::after(Some(Duration::ZERO))
}

/// Python-style result: `Ok(true)` acquired, `Ok(false)` not,
/// `Err(OwnerDied)` acquired from a dead holder.
#[inline]
pub(crate) fn py(r: Result<Acquired, TimedOut>) -> Result<bool, OwnerDied> {
    match r {
        Ok(Acquired::Clean) => Ok(true),
        Ok(Acquired::OwnerDied) => Err(OwnerDied::new(())),
        Err(TimedOut) => Ok(false),
    }
}

#[inline]
pub(crate) fn blocking<G>(r: Acquired, guard: G) -> Result<G, OwnerDied<G>> {
    match r {
        Acquired::Clean => Ok(guard),
        Acquired::OwnerDied => Err(OwnerDied::new(guard)),
    }
}

#[inline]
pub(crate) fn timed<G>(
    r: Result<Acquired, TimedOut>,
    guard: impl FnOnce() -> G,
) -> Result<G, AcquireError<G>> {
    match r {
        Ok(a) => blocking(a, guard()).map_err(AcquireError::OwnerDied),
        Err(TimedOut) => Err(AcquireError::Timeout),
    }
}

#[inline]
pub(crate) fn tried<G>(
    r: Result<Acquired, TimedOut>,
    guard: impl FnOnce() -> G,
) -> Result<G, TryAcquireError<G>> {
    match r {
        Ok(a) => blocking(a, guard()).map_err(TryAcquireError::OwnerDied),
        Err(TimedOut) => Err(TryAcquireError::WouldBlock),
    }
}
