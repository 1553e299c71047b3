//! The [`flavor`](crate::flavor) traits for the thread-backed flavour
//! ([`dummy`](crate::dummy)): its `Lock`, `Event`, `Queue` and the
//! [`ThreadPool`].

use std::time::Duration;

use super::{FlavorError, LockLike, QueueLike};
use crate::thread_sync::{Event, Lock, LockGuard, Queue};
use crate::ThreadPool;

impl LockLike for Lock {
    type Guard<'a> = LockGuard<'a>;

    fn acquire_with(&self, block: bool, timeout: Option<Duration>) -> Result<bool, FlavorError> {
        Ok(Lock::acquire(self, block, timeout))
    }

    fn release(&self) -> Result<(), FlavorError> {
        if Lock::release(self) {
            Ok(())
        } else {
            Err(FlavorError::NotLocked)
        }
    }

    fn lock(&self) -> Result<LockGuard<'_>, FlavorError> {
        Ok(Lock::lock(self))
    }
}

infallible_event_like!(Event);

impl<T> QueueLike<T> for Queue<T> {
    fn put_with(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<(), FlavorError> {
        self.put_timeout(item, block, timeout)
            .map_err(|_| FlavorError::Full)
    }

    fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T, FlavorError> {
        self.get_timeout(block, timeout).ok_or(FlavorError::Empty)
    }

    fn qsize(&self) -> Result<usize, FlavorError> {
        Ok(Queue::qsize(self))
    }

    fn empty(&self) -> Result<bool, FlavorError> {
        Ok(Queue::empty(self))
    }

    fn full(&self) -> Result<bool, FlavorError> {
        Ok(Queue::full(self))
    }
}

pool_like!(ThreadPool);
