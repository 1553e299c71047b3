//! [`Semaphore`]'s and [`BoundedSemaphore`]'s async forms (the `async`
//! feature). A child module of `semaphore.rs`, so it builds permits as
//! that file does.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::{BoundedSemaphore, Semaphore, SemaphorePermit};
use crate::async_wait::{wait_for, Attempt};
use crate::error::{AcquireError, LockResult};
use crate::ident;
use crate::outcome;
use crate::park::{Futex, SLICE};
use crate::raw::{Acquired, TimedOut};

impl Semaphore {
    /// Takes a slot until `deadline` without blocking a thread; after a
    /// whole [`SLICE`] without a release, returns dead holders' slots as
    /// the blocking path does.
    async fn acquire_until_async(&self, deadline: Deadline) -> Result<Acquired, TimedOut> {
        let raw = self.raw();
        let me = ident::process();
        // Each look takes the semaphore's internal lock (held by a live
        // process for a few instructions; taken over from a dead one after
        // a slice) and does not wait for a slot.
        let attempt = |why| {
            if raw.attempt::<Futex>(me, outcome::now()) == Ok(true) {
                Some(Acquired::Clean)
            } else if why == Attempt::AfterSlice
                && raw.reclaim::<Futex>(me, outcome::now()) == Ok(true)
            {
                Some(Acquired::OwnerDied)
            } else {
                None
            }
        };
        wait_for(raw.wake, deadline, Some(SLICE), attempt)
            .await
            .ok_or(TimedOut)
    }

    /// [`permit`](Self::permit) as a future: waits for a free slot without
    /// blocking a thread, on any runtime.
    ///
    /// Cancellation-safe: a dropped future holds no slot (a slot is taken
    /// inside one poll, and a release that woke only this future is passed
    /// on). Slots of holders that died come back as for
    /// [`permit`](Self::permit), the permit then wrapped in `OwnerDied`.
    ///
    /// ```
    /// let sem = mp_sync::Semaphore::new(1)?;
    /// smol::block_on(async {
    ///     let permit = sem.permit_async().await.unwrap_or_else(|d| d.into_inner());
    ///     assert_eq!(sem.get_value(), 0);
    ///     drop(permit);
    /// });
    /// assert_eq!(sem.get_value(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `OwnerDied` (holding the permit) if the slot came from a dead holder.
    pub async fn permit_async(&self) -> LockResult<SemaphorePermit<'_>> {
        let r = self
            .acquire_until_async(Deadline::NEVER)
            .await
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, SemaphorePermit { sem: self })
    }

    /// [`permit_timeout`](Self::permit_timeout) as a future.
    ///
    /// # Errors
    /// `Timeout`, or `OwnerDied` (holding the permit).
    pub async fn permit_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireError<SemaphorePermit<'_>>> {
        let r = self
            .acquire_until_async(Deadline::after(Some(timeout)))
            .await;
        outcome::timed(r, || SemaphorePermit { sem: self })
    }
}

impl BoundedSemaphore {
    /// See [`Semaphore::permit_async`].
    ///
    /// # Errors
    /// `OwnerDied` (holding the permit).
    pub async fn permit_async(&self) -> LockResult<SemaphorePermit<'_>> {
        self.inner.permit_async().await
    }

    /// See [`Semaphore::permit_timeout_async`].
    ///
    /// # Errors
    /// `Timeout`, or `OwnerDied` (holding the permit).
    pub async fn permit_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireError<SemaphorePermit<'_>>> {
        self.inner.permit_timeout_async(timeout).await
    }
}
