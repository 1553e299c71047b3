//! [`Lock`]'s async forms (the `async` feature): `lock_async` and
//! `lock_timeout_async`, the same mutex awaited through
//! [`wait_for_settling`]. A child module of `lock.rs`,
//! so it builds guards as that file does.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::{Lock, LockGuard};
use crate::async_wait::{wait_for_settling, Attempt};
use crate::error::{AcquireError, LockResult};
use crate::ident;
use crate::outcome;
use crate::park::SLICE;
use crate::raw::{Acquired, TimedOut};

impl Lock {
    /// Takes the lock until `deadline` without blocking a thread: one CAS
    /// per look, and after every [`SLICE`] without a release the blocking
    /// path's own check for a dead holder. An asymmetric lock's waiter
    /// looks again after its first [`settle`](Lock::settle), as the
    /// blocking one does.
    pub(crate) async fn lock_until_async(&self, deadline: Deadline) -> Result<Acquired, TimedOut> {
        let raw = self.raw();
        let me = ident::process();
        let mut looks = 0u32;
        let attempt = |why| match why {
            Attempt::Look => {
                // Every look after the first follows a registration: an
                // asymmetric lock's waiter makes the heavy fence first (see
                // `RawMutex::lock_asymmetric`).
                looks += 1;
                if self.asymmetric && looks > 1 {
                    let _ = mp_sys::membarrier::heavy();
                }
                raw.try_lock(me).then_some(Acquired::Clean)
            }
            Attempt::AfterSlice => self.lock_until(outcome::now()).ok(),
        };
        wait_for_settling(raw.wake, deadline, Some(SLICE), self.settle(), attempt)
            .await
            .ok_or(TimedOut)
    }

    /// [`lock`](Self::lock) as a future: waits for the lock without
    /// blocking a thread, on any runtime.
    ///
    /// Cancellation-safe: a dropped future holds nothing (the lock is taken
    /// inside one poll, and a release that woke only this future is passed
    /// on to another waiter). A holder that dies is noticed within about
    /// 50–100 ms, as by [`lock`](Self::lock): the lock is taken over and
    /// returned wrapped in [`OwnerDied`](crate::OwnerDied). For a timeout
    /// use [`lock_timeout_async`](Self::lock_timeout_async) (or the
    /// runtime's).
    ///
    /// ```
    /// let lock = mp_sync::Lock::new()?;
    /// smol::block_on(async {
    ///     let guard = lock.lock_async().await.unwrap_or_else(|died| died.into_inner());
    ///     assert!(lock.locked());
    ///     drop(guard);
    /// });
    /// assert!(!lock.locked());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`OwnerDied`](crate::OwnerDied) (holding the guard) if it was taken
    /// from a dead holder.
    pub async fn lock_async(&self) -> LockResult<LockGuard<'_>> {
        let r = self
            .lock_until_async(Deadline::NEVER)
            .await
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, LockGuard { lock: self })
    }

    /// [`lock_timeout`](Self::lock_timeout) as a future. Cancellation-safe
    /// as [`lock_async`](Self::lock_async).
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the guard).
    pub async fn lock_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, AcquireError<LockGuard<'_>>> {
        let r = self.lock_until_async(Deadline::after(Some(timeout))).await;
        outcome::timed(r, || LockGuard { lock: self })
    }
}
