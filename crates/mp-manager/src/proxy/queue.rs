//! [`QueueProxy`]: a managed `queue.Queue` (also the manager's
//! `JoinableQueue`).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::{typed_proxy, BaseProxy};
use crate::error::Result;
use crate::manager::Manager;
use crate::protocol::to_bytes;
use crate::shared::Registry;

/// A proxy to a `queue.Queue` in a manager server (Python's
/// `manager.Queue(maxsize)`), with `task_done`/`join` (so it is also the
/// manager's `JoinableQueue`).
///
/// A timed-out `get` is an `Empty` remote error and a timed-out `put` on a
/// full bounded queue a `Full` one. `qsize` is exact (one queue, in one
/// server). Being a proxy, it can be stored in other managed containers and
/// served to other machines.
pub struct QueueProxy<T> {
    base: BaseProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(QueueProxy<T>, "Queue");

/// The manager's `JoinableQueue`: the same proxy as [`QueueProxy`].
pub type JoinableQueueProxy<T> = QueueProxy<T>;

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// Python's `put(item, block, timeout)`.
    pub fn put_with(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<()> {
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        self.base.call("put", &(to_bytes(&item)?, timeout))
    }

    /// Puts `item`, waiting for room in a bounded queue.
    pub fn put(&self, item: T) -> Result<()> {
        self.put_with(item, true, None)
    }

    /// Puts `item` if there is room now; a `Full` error otherwise.
    pub fn put_nowait(&self, item: T) -> Result<()> {
        self.put_with(item, false, None)
    }

    /// Python's `get(block, timeout)`.
    pub fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T> {
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        let v: ByteBuf = self.base.call("get", &timeout)?;
        self.base.decode_value(v)
    }

    /// Takes the next item, waiting for one.
    pub fn get(&self) -> Result<T> {
        self.get_with(true, None)
    }

    /// Takes the next item, waiting at most `timeout`; `Empty` error after.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_with(true, Some(timeout))
    }

    /// Takes the next item if there is one now; `Empty` error otherwise.
    pub fn get_nowait(&self) -> Result<T> {
        self.get_with(false, None)
    }

    /// The number of items.
    pub fn qsize(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("qsize", &())? as usize)
    }

    /// Whether the queue is empty.
    pub fn empty(&self) -> Result<bool> {
        self.base.call("empty", &())
    }

    /// Whether a bounded queue is full.
    pub fn full(&self) -> Result<bool> {
        self.base.call("full", &())
    }

    /// Marks one fetched item as processed; more calls than items is a
    /// `Value` error (`task_done() called too many times`).
    pub fn task_done(&self) -> Result<()> {
        self.base.call("task_done", &())
    }

    /// Waits until every item put has been marked done.
    pub fn join(&self) -> Result<()> {
        self.base
            .call::<_, bool>("join", &None::<Duration>)
            .map(drop)
    }

    /// Waits at most `timeout` for every item to be marked done; returns
    /// whether they were.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.base.call("join", &Some(timeout))
    }
}

impl<T> fmt::Debug for QueueProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<AutoProxy[Queue] object, typeid 'Queue' at {:x}>",
            self.base.id()
        )
    }
}

impl<R: Registry> Manager<R> {
    /// A new shared queue; `maxsize` 0 is unbounded (Python's `manager.Queue(maxsize)`).
    pub fn queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.create_raw(&(maxsize as u64))
    }

    /// A new shared joinable queue (Python's `manager.JoinableQueue(maxsize)`).
    pub fn joinable_queue<T>(&self, maxsize: usize) -> Result<JoinableQueueProxy<T>> {
        self.queue(maxsize)
    }
}
