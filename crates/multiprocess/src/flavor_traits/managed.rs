//! The [`flavor`](crate::flavor) traits for the manager's proxies.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{EventLike, FlavorError, LockLike, QueueLike};
use crate::managers::{
    AcquireGuard, EventProxy, LockProxy, PoolProxy, QueueProxy, RLockProxy, RemoteErrorKind,
};
use crate::ManagerError;

impl LockLike for LockProxy {
    type Guard<'a> = AcquireGuard<'a>;

    fn acquire_with(&self, block: bool, timeout: Option<Duration>) -> Result<bool, FlavorError> {
        Ok(LockProxy::acquire_with(self, block, timeout)?)
    }

    /// The server's `Runtime` error for a `Lock`'s release is Python's
    /// "release unlocked lock": [`FlavorError::NotLocked`].
    fn release(&self) -> Result<(), FlavorError> {
        LockProxy::release(self).map_err(|e| match e {
            ManagerError::Remote(r) if r.kind == RemoteErrorKind::Runtime => FlavorError::NotLocked,
            e => e.into(),
        })
    }

    fn lock(&self) -> Result<AcquireGuard<'_>, FlavorError> {
        Ok(LockProxy::lock(self)?)
    }
}

impl LockLike for RLockProxy {
    type Guard<'a> = AcquireGuard<'a>;

    fn acquire_with(&self, block: bool, timeout: Option<Duration>) -> Result<bool, FlavorError> {
        Ok(RLockProxy::acquire_with(self, block, timeout)?)
    }

    fn release(&self) -> Result<(), FlavorError> {
        Ok(RLockProxy::release(self)?)
    }

    fn lock(&self) -> Result<AcquireGuard<'_>, FlavorError> {
        Ok(RLockProxy::lock(self)?)
    }
}

impl EventLike for EventProxy {
    fn set(&self) -> Result<(), FlavorError> {
        Ok(EventProxy::set(self)?)
    }

    fn clear(&self) -> Result<(), FlavorError> {
        Ok(EventProxy::clear(self)?)
    }

    fn is_set(&self) -> Result<bool, FlavorError> {
        Ok(EventProxy::is_set(self)?)
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<bool, FlavorError> {
        Ok(EventProxy::wait(self, timeout)?)
    }
}

impl<T: Serialize + DeserializeOwned> QueueLike<T> for QueueProxy<T> {
    fn put_with(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<(), FlavorError> {
        Ok(QueueProxy::put_with(self, item, block, timeout)?)
    }

    fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T, FlavorError> {
        Ok(QueueProxy::get_with(self, block, timeout)?)
    }

    fn qsize(&self) -> Result<usize, FlavorError> {
        Ok(QueueProxy::qsize(self)?)
    }

    fn empty(&self) -> Result<bool, FlavorError> {
        Ok(QueueProxy::empty(self)?)
    }

    fn full(&self) -> Result<bool, FlavorError> {
        Ok(QueueProxy::full(self)?)
    }
}

pool_like!(PoolProxy);
