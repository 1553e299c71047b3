//! The typed proxies: one file per family, each with the `Manager` methods
//! that create its objects.

mod base;
mod dict;
mod iter;
mod list;
mod list_extras;
mod namespace;
mod pool;
mod pool_async;
mod pool_imap;
mod queue;
mod set;
mod sync;
mod value;

pub(crate) use base::typed_proxy;
pub use base::{BaseProxy, Proxy};
pub use dict::DictProxy;
pub use iter::{DictIter, ListIter};
pub use list::ListProxy;
pub use namespace::{NamespaceInit, NamespaceProxy};
pub use pool::PoolProxy;
pub use pool_async::AsyncResult;
pub use pool_imap::ManagedIMap;
pub use queue::{JoinableQueueProxy, QueueProxy};
pub use set::SetProxy;
pub use sync::{
    AcquireGuard, BarrierProxy, BoundedSemaphoreProxy, ConditionLock, ConditionProxy, EventProxy,
    LockProxy, RLockProxy, SemaphoreProxy,
};
pub use value::{ArrayProxy, ValueProxy};
