//! [`Condition`]'s async form (the `async` feature): `wait_async`. A
//! child module of `condition.rs`.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::{Condition, ConditionGuard};
use crate::async_wait::wait_for;
use crate::error::ConditionError;
use crate::raw::condvar::Ticket;
use crate::raw::Acquired;
use crate::sync_lock::SyncLock;

impl Condition {
    /// [`wait`](Self::wait) as a future: releases the lock (all `RLock`
    /// levels), waits for a notify or the timeout without blocking a
    /// thread, and re-takes the lock (same depth), also without blocking.
    /// `Ok(true)` if notified. The caller must hold the lock, as for
    /// `wait`; with the default `RLock`, which belongs to a thread, the
    /// future is not `Send` if the caller's guard lives across the
    /// `.await` (run it on a current-thread runtime, smol's `block_on` or a
    /// `LocalSet`); a condition over a [`Lock`](crate::Lock)
    /// ([`Condition::with_lock`]) has no such limit.
    ///
    /// Cancellation: dropping the future before it completes re-takes the
    /// lock at once — *blocking the dropping thread* while another party
    /// holds it — so the caller's guard is valid again, and settles this
    /// waiter's place; a notification it had already received is passed
    /// on to another waiter (`notify(1)`), so none is lost.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use mp_sync::{Condition, Lock};
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?;
    /// let (other, done) = (cond.clone(), Arc::new(AtomicBool::new(false)));
    /// let stop = done.clone();
    /// // `notify` wakes only waiters already waiting: repeat until one was.
    /// let notifier = std::thread::spawn(move || while !stop.load(Ordering::SeqCst) {
    ///     other.lock().unwrap().notify(1).unwrap();
    ///     std::thread::sleep(std::time::Duration::from_millis(5));
    /// });
    /// smol::block_on(async {
    ///     let guard = cond.lock().unwrap();
    ///     assert_eq!(guard.wait_async(None).await, Ok(true));
    /// });
    /// done.store(true, Ordering::SeqCst);
    /// notifier.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_async(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        if !self.lock.is_mine() {
            return Err(ConditionError::NotOwner);
        }
        let raw = self.raw();
        let ticket = raw.register();
        let Ok(depth) = self.lock.release_all() else {
            raw.finish(ticket, false);
            return Err(ConditionError::NotOwner);
        };
        let mut settle = Settle {
            cond: self,
            ticket,
            depth,
            notified: false,
            armed: true,
        };
        let attempt = |_| raw.take_token(ticket).then_some(());
        settle.notified = wait_for(raw.wake, Deadline::after(timeout), None, attempt)
            .await
            .is_some();
        let reacquired = match &self.lock {
            SyncLock::Lock(l) => l
                .lock_until_async(Deadline::NEVER)
                .await
                .expect("an unbounded wait cannot time out"),
            SyncLock::RLock(l) => l.acquire_depth_async(depth).await,
        };
        settle.armed = false;
        let notified = raw.finish(ticket, settle.notified);
        match reacquired {
            Acquired::Clean => Ok(notified),
            Acquired::OwnerDied => Err(ConditionError::OwnerDied),
        }
    }
}

impl ConditionGuard<'_> {
    /// See [`Condition::wait_async`].
    ///
    /// # Errors
    /// As [`Condition::wait`].
    pub async fn wait_async(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        self.cond.wait_async(timeout).await
    }
}

/// A waiter's place while its lock is released; dropped armed (the
/// future was cancelled), it re-takes the lock and settles the place.
struct Settle<'a> {
    cond: &'a Condition,
    ticket: Ticket,
    depth: u32,
    notified: bool,
    armed: bool,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let raw = self.cond.raw();
        // `reacquire` has no error to report here; a dead holder's lock is
        // taken over all the same.
        let _ = self.cond.lock.reacquire(self.depth);
        if raw.finish(self.ticket, self.notified) {
            // Received and never used: another waiter gets it.
            raw.notify::<crate::park::Futex>(1);
        }
    }
}
