//! [`SimpleQueue`]: Python's `multiprocessing.SimpleQueue` — no feeder
//! thread, no size limit; `put` writes into the ring itself, waiting for
//! room when the ring is full.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::core::Core;
use super::direct::Direct;
use super::error::{GetError, PutError};
use super::{read, DEFAULT_MAX_MESSAGE, DEFAULT_RING_BYTES};
use crate::reader::{Deadline, LazyDeadline};

/// A process-shared FIFO queue without a feeder thread.
///
/// ```
/// let q = mp_channel::SimpleQueue::<u32>::new()?;
/// q.put(&7)?;
/// assert!(!q.empty());
/// assert_eq!(q.get()?, 7);
/// assert!(q.empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimpleQueue<T> {
    pub(super) core: Arc<Core>,
    /// This handle's limit on an item's encoded length.
    pub(super) max_message: usize,
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            core: Arc::clone(&self.core),
            max_message: self.max_message,
            _items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleQueue").finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new empty queue.
    ///
    /// # Errors
    /// The OS error if shared memory or the side socket cannot be created.
    pub fn new() -> io::Result<SimpleQueue<T>> {
        Ok(SimpleQueue {
            core: Arc::new(Core::new(DEFAULT_RING_BYTES, 0)?),
            max_message: DEFAULT_MAX_MESSAGE,
            _items: PhantomData,
        })
    }

    /// Encodes `item` (errors are reported here) and writes it, waiting
    /// while the ring is full.
    ///
    /// # Errors
    /// [`PutError::Encode`] (nothing put), OS errors.
    pub fn put(&self, item: &T) -> Result<(), PutError> {
        // A small encoding stays on the stack (`Direct`, never in the ring
        // before it is whole: `may_write` is false).
        let mut sink = Direct::new(&self.core, false);
        let fds = mp_wire::encode_to_sink(item, &mut sink)?;
        sink.finish(fds, || false);
        // Matched into an `io::Result<()>` (one word), the writer dropped
        // where it lies: moving the `io::Result<bool>` or the writer cost a
        // store-forwarding stall per item each.
        let written = match self.core.lock_writer(&mut LazyDeadline::after(None)) {
            // Room now (the usual case for a small item): no waiting layers.
            Some(ref writer) => {
                if sink
                    .small_record()
                    .is_some_and(|(record, len)| writer.try_write_small_record(record, len))
                {
                    Ok(())
                } else {
                    let msg = sink.msg();
                    match writer.try_write(msg) {
                        Ok(true) => Ok(()),
                        Ok(false) => writer.write(msg, Deadline::NEVER).map(drop),
                        Err(e) => Err(e),
                    }
                }
            }
            None => unreachable!("a wait without a deadline ends with the lock"),
        };
        sink.recycle();
        Ok(written?)
    }

    /// Removes and returns the next item, waiting as long as it takes.
    ///
    /// # Errors
    /// [`GetError::Decode`] (the item is gone), OS errors.
    pub fn get(&self) -> Result<T, GetError> {
        read(&self.core, None, self.max_message)
    }

    /// Like [`get`](Self::get) but waiting at most `timeout`
    /// (an extension: Python's `SimpleQueue.get` has no timeout).
    ///
    /// # Errors
    /// [`GetError::Empty`] on timeout, and as `get`.
    pub fn get_timeout(&self, timeout: std::time::Duration) -> Result<T, GetError> {
        read(&self.core, Some(timeout), self.max_message)
    }

    /// As [`Queue::max_message`](crate::Queue::max_message).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// As [`Queue::set_max_message`](crate::Queue::set_max_message).
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }

    /// Whether no item is in the queue now.
    pub fn empty(&self) -> bool {
        self.core.ring.is_empty()
    }

    /// Drops this handle (Python's `close()`).
    pub fn close(self) {}
}

impl<T> Serialize for SimpleQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.core.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for SimpleQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SimpleQueue {
            core: Arc::new(Core::deserialize(d)?),
            max_message: DEFAULT_MAX_MESSAGE,
            _items: PhantomData,
        })
    }
}
