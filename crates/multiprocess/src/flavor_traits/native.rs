//! The [`flavor`](crate::flavor) traits for the native types: shared-memory
//! locks and events (`mp-sync`), the queue (`mp-channel`), the process pool
//! (`mp-pool`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{FlavorError, LockLike, QueueLike};
use crate::{Event, Lock, LockGuard, Pool, Queue, RLock, RLockGuard};

/// `LockLike` for a native lock type: its `acquire`/`release`/`lock` map
/// one to one (an `OwnerDied` from `lock` drops the recovered guard).
macro_rules! native_lock {
    ($lock:ty, $guard:ident) => {
        impl LockLike for $lock {
            type Guard<'a> = $guard<'a>;

            fn acquire_with(
                &self,
                block: bool,
                timeout: Option<Duration>,
            ) -> Result<bool, FlavorError> {
                <$lock>::acquire(self, block, timeout).map_err(|_| FlavorError::OwnerDied)
            }

            fn release(&self) -> Result<(), FlavorError> {
                Ok(<$lock>::release(self)?)
            }

            fn lock(&self) -> Result<$guard<'_>, FlavorError> {
                <$lock>::lock(self).map_err(|_| FlavorError::OwnerDied)
            }
        }
    };
}

native_lock!(Lock, LockGuard);
native_lock!(RLock, RLockGuard);

infallible_event_like!(Event);

impl<T: Serialize + DeserializeOwned> QueueLike<T> for Queue<T> {
    fn put_with(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<(), FlavorError> {
        Ok(self.put_timeout(&item, block, timeout)?)
    }

    fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T, FlavorError> {
        Ok(self.get_timeout(block, timeout)?)
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

pool_like!(Pool);
