//! [`RLock`]'s async forms (the `async` feature). A child module of
//! `rlock.rs`, so it builds guards as that file does.
//!
//! The lock records the *thread* that owns it, and the guard is not
//! `Send`: so a future that holds an `RLockGuard` across an `.await` is
//! not `Send` either and runs where it started (a current-thread runtime,
//! smol's `block_on`, `tokio::task::LocalSet`). Taking the lock is fine on
//! any runtime: the thread that completes the wait owns it.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::RLock;
use crate::async_wait::wait_for;
use crate::error::{AcquireError, LockResult};
use crate::outcome;
use crate::park::SLICE;
use crate::raw::{Acquired, TimedOut};
use crate::RLockGuard;

impl RLock {
    /// Takes the lock (or one more level of it) until `deadline` without
    /// blocking a thread. Each look is the blocking path's own non-waiting
    /// attempt (which also checks a holder in another process for life).
    pub(crate) async fn acquire_until_async(
        &self,
        deadline: Deadline,
    ) -> Result<Acquired, TimedOut> {
        let attempt = |_| self.acquire_until(outcome::now()).ok();
        wait_for(self.mutex().wake, deadline, Some(SLICE), attempt)
            .await
            .ok_or(TimedOut)
    }

    /// [`lock`](Self::lock) as a future (at once if this thread already
    /// owns it). Cancellation-safe: a dropped future holds nothing. A dead
    /// holder is noticed as by [`lock`](Self::lock).
    ///
    /// # Errors
    /// [`OwnerDied`](crate::OwnerDied) (holding the guard) if taken from a
    /// dead holder.
    pub async fn lock_async(&self) -> LockResult<RLockGuard<'_>> {
        let r = self
            .acquire_until_async(Deadline::NEVER)
            .await
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, self.guard())
    }

    /// [`lock_timeout`](Self::lock_timeout) as a future.
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the guard).
    pub async fn lock_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, AcquireError<RLockGuard<'_>>> {
        let r = self
            .acquire_until_async(Deadline::after(Some(timeout)))
            .await;
        outcome::timed(r, || self.guard())
    }
}

impl RLock {
    /// Re-takes `depth` levels without blocking a thread (after
    /// `release_all`, for [`Condition::wait_async`](crate::Condition::wait_async)).
    pub(crate) async fn acquire_depth_async(&self, depth: u32) -> Acquired {
        let r = self
            .acquire_until_async(Deadline::NEVER)
            .await
            .expect("an unbounded wait cannot time out");
        self.count_word()
            .store(depth.max(1), std::sync::atomic::Ordering::Relaxed);
        r
    }
}
