//! [`JoinableQueue`]: a [`Queue`] that also counts unfinished tasks —
//! `task_done` and `join`, as Python's `multiprocessing.JoinableQueue`.
//!
//! The count is the ring's `unfinished` word: `put` adds one before the item
//! is visible, `task_done` takes one away (never below zero) and wakes every
//! `join`er when it reaches zero; `join` sleeps on the word itself.

use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::atomic::Ordering::SeqCst;
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

    fn unfinished(&self) -> &std::sync::atomic::AtomicU32 {
        self.queue.handle.core.ring.unfinished()
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
        self.unfinished().fetch_add(1, SeqCst);
        self.queue
            .put_timeout(item, block, timeout)
            .inspect_err(|_| self.finish_one())
    }

    /// Marks one task got from the queue as done.
    ///
    /// # Errors
    /// [`TaskDoneError`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let word = self.unfinished();
        let before = word
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .map_err(|_| TaskDoneError)?;
        if before == 1 {
            mp_sys::futex::wake(word, u32::MAX);
        }
        Ok(())
    }

    /// Undoes the count of a failed put.
    fn finish_one(&self) {
        let _ = self.task_done();
    }

    /// Blocks until every item put has been marked done.
    pub fn join(&self) {
        self.join_timeout(None);
    }

    /// Like [`join`](Self::join), giving up after `timeout`; returns whether
    /// every task is done.
    pub fn join_timeout(&self, timeout: Option<Duration>) -> bool {
        let deadline = Deadline::after(timeout);
        let word = self.unfinished();
        loop {
            let n = word.load(SeqCst);
            if n == 0 {
                return true;
            }
            let left = deadline.remaining();
            if left == Some(Duration::ZERO) {
                return false;
            }
            let _ = mp_sys::futex::wait(word, n, left);
        }
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
