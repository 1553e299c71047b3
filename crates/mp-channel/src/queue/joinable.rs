//! [`JoinableQueue`]: a [`Queue`] that also counts unfinished tasks —
//! `task_done` and `join`, as Python's `multiprocessing.JoinableQueue`.
//!
//! The unfinished count moves with the items, so no death can leak it:
//! it is the ring's `puts` (messages published, raised by the commit of
//! an item, see `ring`) minus its `done` word (raised by `task_done`,
//! never past `puts`), plus the items this process put that its feeder
//! has not written yet. A producer killed before its item is published
//! never counted it. `task_done` notifies the ring's `all_done`
//! eventcount, on which `join` sleeps (a system call only if someone is
//! joining).
//!
//! # Dead consumers
//! As in Python, a consumer that dies between `get` and `task_done` leaves
//! its task unfinished for ever, so `join` would wait for ever: once got,
//! an item belongs to no lock, and the queue does not record which
//! process holds which task, so there is no party whose death `join`
//! could notice. [`JoinableQueue::join_timeout`] bounds the wait. (A
//! consumer killed inside `get` before the item was removed costs
//! nothing; one killed as it removes it has got it, and that task stays
//! unfinished as above.)

use std::fmt;
use std::io;
use std::ops::Deref;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{PutError, TaskDoneError};
use super::Queue;
use crate::reader::Deadline;

/// A [`Queue`] with `task_done` / `join`. Dereferences to the queue for
/// `get`, `qsize`, `close`, ...; its own `put*` methods count tasks.
///
/// ```
/// let q = mp_channel::JoinableQueue::<u8>::new()?;
/// q.put(&1)?;
/// assert_eq!(q.get()?, 1);
/// q.task_done()?;
/// q.join();                       // returns: nothing is unfinished
/// assert!(q.task_done().is_err()); // one call too many
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("queue", &self.queue)
            .finish()
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> JoinableQueue<T> {
    /// As [`Queue::set_max_message`] (the rest of the queue's methods come
    /// through `Deref`).
    pub fn set_max_message(&mut self, max: usize) {
        self.queue.set_max_message(max);
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded joinable queue.
    ///
    /// # Errors
    /// As [`Queue::new`].
    pub fn new() -> io::Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            queue: Queue::new()?,
        })
    }

    /// A joinable queue of at most `maxsize` items (0 = unbounded).
    ///
    /// # Errors
    /// As [`Queue::new`].
    pub fn bounded(maxsize: usize) -> io::Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            queue: Queue::bounded(maxsize)?,
        })
    }

    /// Tasks put (by any process, or still in this one's feeder buffer)
    /// and not yet marked done.
    fn unfinished(&self) -> u64 {
        let ring = &self.queue.handle.core.ring;
        self.queue.handle.feeder().count_with(|| ring.unfinished())
    }

    /// [`Queue::put`], counting one more unfinished task.
    ///
    /// # Errors
    /// As [`Queue::put`].
    pub fn put(&self, item: &T) -> Result<(), PutError> {
        self.put_timeout(item, true, None)
    }

    /// [`Queue::put_nowait`], counting one more unfinished task.
    ///
    /// # Errors
    /// As [`Queue::put_nowait`].
    pub fn put_nowait(&self, item: &T) -> Result<(), PutError> {
        self.put_timeout(item, false, None)
    }

    /// [`Queue::put_timeout`], counting one more unfinished task.
    ///
    /// # Errors
    /// As [`Queue::put_timeout`].
    pub fn put_timeout(
        &self,
        item: &T,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<(), PutError> {
        // The task is counted when the item is published.
        self.queue.put_timeout(item, block, timeout)
    }

    /// Marks one task got from the queue as done.
    ///
    /// # Errors
    /// [`TaskDoneError`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        match self.queue.handle.core.ring.count_done() {
            true => Ok(()),
            false => Err(TaskDoneError),
        }
    }

    /// Blocks until every item put has been marked done (for ever if a
    /// consumer died holding a task: see the module docs, and
    /// [`join_timeout`](Self::join_timeout)).
    pub fn join(&self) {
        self.join_timeout(None);
    }

    /// Like [`join`](Self::join), giving up after `timeout`; returns whether
    /// every task is done.
    pub fn join_timeout(&self, timeout: Option<Duration>) -> bool {
        self.queue
            .handle
            .core
            .ring
            .wait_all_done(Deadline::after(timeout), || self.unfinished() == 0)
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.queue.serialize(s)
    }
}

impl<'de, T: Serialize + DeserializeOwned> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(JoinableQueue {
            queue: Queue::deserialize(d)?,
        })
    }
}
