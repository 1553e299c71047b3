//! The queues' async forms (the `async` feature): `get_async`,
//! `put_async`, `JoinableQueue::join_async` and their `*_timeout_async`
//! twins, on any runtime, without a thread per pending wait.
//!
//! They are the blocking algorithm with each sleep replaced by an await:
//! the reader and writer locks through mp-sync's `lock_async`, the ring's
//! `data`, `space` and `all_done` eventcounts through
//! [`EventCount::wait_for_async`](mp_sync::EventCount::wait_for_async) (a
//! watcher thread per 127 futex words serves every pending wait of the
//! process; see `mp_sys::futex_watch`).
//! The producers' and consumers' notifies are the blocking ones, so a
//! blocking `put` wakes an async `get` and the other way round, in any
//! process.
//!
//! # Cancellation
//! No future here loses an item when dropped: an item is taken off the
//! ring, decoded and returned inside one poll, and a bounded put writes
//! its item inside one poll. A dropped future at most releases the reader
//! or writer lock it was holding while it waited.
//!
//! # Limits
//! An item larger than half the ring travels in chunks. Once its first
//! chunk is taken (or, putting, once it starts to be written), the rest is
//! copied by the same poll, blocking the polling thread until the other
//! side has moved the rest — as `Connection::send_async` does for a frame
//! larger than the pipe. With the default 1 MiB ring that is an item over
//! 512 KiB; give such a queue a larger ring (`Queue::with_ring`) or run the
//! other side elsewhere than on this thread.

use std::ops::Deref;
use std::time::Duration;

use mp_sync::{AcquireError, LockGuard};
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::core::{Core, ReadError};
use super::ring::RECHECK;
use super::{GetError, JoinableQueue, PutError, Queue, SimpleQueue};
use crate::reader::{Deadline, LazyDeadline};
use crate::scratch;

/// Takes `lock` until `deadline` (`None` on timeout) without blocking a
/// thread; says whether it came from a dead holder.
async fn lock_async(lock: &mp_sync::Lock, deadline: Deadline) -> Option<(LockGuard<'_>, bool)> {
    let left = match deadline.remaining() {
        None => {
            return Some(match lock.lock_async().await {
                Ok(g) => (g, false),
                Err(died) => (died.into_inner(), true),
            })
        }
        Some(left) => left,
    };
    match lock.lock_timeout_async(left).await {
        Ok(g) => Some((g, false)),
        Err(AcquireError::OwnerDied(died)) => Some((died.into_inner(), true)),
        Err(AcquireError::Timeout) => None,
    }
}

/// Takes the reader lock and one whole item before `deadline`, and
/// decodes it; the async twin of `queue::read`.
async fn read_async<T: DeserializeOwned>(
    core: &Core,
    deadline: Deadline,
    max: usize,
) -> Result<T, GetError> {
    let taken = lock_async(&core.reader, deadline)
        .await
        .ok_or(GetError::Empty)?;
    let mut reader = Some(core.reader_taken(taken));
    let ring = &core.ring;
    loop {
        // As `Core::wait_for_first`: a look for a few microseconds first
        // (the producer is usually about to publish); a producer killed in
        // the middle of a commit leaves its item unpublished until the
        // writer lock's next holder completes the commit.
        ring.spin_until(|| !ring.is_empty());
        // Ordered with the writer lock's release, as a blocking wait is,
        // with its first sleep as short (`ring`'s module docs).
        let data = ring.data().settling(core.writer.settle());
        let data = data.wait_for_async(deadline, Some(RECHECK), |sliced| {
            core.writer.order_with_unlock();
            if !ring.is_empty() {
                return Some(());
            }
            if sliced {
                core.complete_a_dead_commit();
            }
            None
        });
        data.await.ok_or(GetError::Empty)?;
        // Data is there: the read takes it without waiting (or, for the
        // rest of a chunked item, waits as the blocking read does).
        let mut now = LazyDeadline::fixed(Deadline::after(Some(Duration::ZERO)));
        match core.read_item(&mut reader, &mut now, max) {
            Ok(item) => return Ok(item?),
            // Only records of a message whose producer or consumer died.
            Err(ReadError::Timeout) => continue,
            Err(ReadError::Io(e)) => return Err(GetError::Io(e)),
            Err(ReadError::TooLarge { len, max }) => return Err(GetError::TooLarge { len, max }),
        }
    }
}

/// Writes `msg` under the writer lock before `deadline`, waiting while
/// the queue holds `maxsize` items (0: no limit) or the ring has no room
/// for it. `Full` when the deadline passed first.
async fn write_async(
    core: &Core,
    msg: &Message,
    maxsize: u64,
    deadline: Deadline,
) -> Result<(), PutError> {
    let ring = &core.ring;
    let slot_free = || maxsize == 0 || ring.size() < maxsize;
    // Each look of a wait, ordered with the reader lock's release as a
    // blocking wait's is (`ring`'s module docs).
    let slot_free_now = || {
        ring.want_space(1);
        core.reader.order_with_unlock();
        slot_free()
    };
    loop {
        // As `put_bounded`: a look for a few microseconds first.
        ring.spin_until(slot_free);
        let slot = ring
            .space()
            .wait_for_async(deadline, None, |_| slot_free_now().then_some(()));
        slot.await.ok_or(PutError::Full)?;
        let taken = lock_async(&core.writer, deadline)
            .await
            .ok_or(PutError::Full)?;
        let writer = core.writer_taken(taken);
        if !slot_free() {
            continue; // another producer took the slot
        }
        if core.fits_one_record(msg) {
            let need = ring.need(msg.bytes.len() as u64);
            let room = ring.space().wait_for_async(deadline, None, |_| {
                ring.want_space(ring.space_to_want(need));
                core.reader.order_with_unlock();
                (ring.free_for(need) >= need).then_some(())
            });
            room.await.ok_or(PutError::Full)?;
        }
        return match writer.write(msg, deadline)? {
            true => Ok(()),
            false => Err(PutError::Full),
        };
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// [`get`](Self::get) as a future: removes and returns the next item
    /// without blocking a thread, on any runtime; a `put` from any process
    /// (blocking or async) wakes it.
    ///
    /// Cancellation-safe: a dropped future never loses an item (the item
    /// is taken and decoded inside the poll that returns it). A consumer
    /// or producer that died mid-item is handled as by `get`: the partial
    /// item is dropped, the queue stays usable. For a timeout use
    /// [`get_timeout_async`](Self::get_timeout_async).
    ///
    /// ```
    /// let q = mp_channel::Queue::<u32>::new()?;
    /// let producer = q.clone();
    /// std::thread::spawn(move || producer.put(&7));
    /// assert_eq!(smol::block_on(q.get_async())?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_async(&self) -> Result<T, GetError> {
        self.get_until_async(Deadline::NEVER).await
    }

    /// [`get_timeout`](Self::get_timeout)`(true, Some(timeout))` as a
    /// future. Cancellation-safe as [`get_async`](Self::get_async).
    ///
    /// # Errors
    /// [`GetError::Empty`] when nothing arrived in time, and as `get`.
    pub async fn get_timeout_async(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_until_async(Deadline::after(Some(timeout))).await
    }

    async fn get_until_async(&self, deadline: Deadline) -> Result<T, GetError> {
        if self.handle.feeder().is_closed() {
            return Err(GetError::Closed);
        }
        read_async(self.core(), deadline, self.max_message).await
    }

    /// [`put`](Self::put) as a future. An unbounded queue never waits (the
    /// item goes to the ring or the feeder's buffer at once); a bounded one
    /// waits for a free slot without blocking a thread.
    ///
    /// Cancellation-safe: the item is written whole inside one poll, so a
    /// dropped future has put it entirely or not at all.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn put_async(&self, item: &T) -> Result<(), PutError> {
        self.put_until_async(item, Deadline::NEVER).await
    }

    /// [`put_timeout`](Self::put_timeout)`(item, true, Some(timeout))` as a
    /// future. Cancellation-safe as [`put_async`](Self::put_async).
    ///
    /// # Errors
    /// [`PutError::Full`] when no slot came free in time, and as `put`.
    pub async fn put_timeout_async(&self, item: &T, timeout: Duration) -> Result<(), PutError> {
        self.put_until_async(item, Deadline::after(Some(timeout)))
            .await
    }

    async fn put_until_async(&self, item: &T, deadline: Deadline) -> Result<(), PutError> {
        if self.handle.feeder().is_closed() {
            return Err(PutError::Closed);
        }
        let mut msg = Message::default();
        scratch::encode(item, &mut msg)?;
        let core = self.core();
        if core.maxsize == 0 {
            return self.handle.feeder().put(&mut msg);
        }
        let put = write_async(core, &msg, core.maxsize, deadline).await;
        scratch::recycle(msg.bytes);
        put
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// [`get`](Self::get) as a future; cancellation-safe as
    /// [`Queue::get_async`] (a dropped future never loses an item).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_async(&self) -> Result<T, GetError> {
        read_async(&self.core, Deadline::NEVER, self.max_message).await
    }

    /// [`get_timeout`](Self::get_timeout) as a future.
    ///
    /// # Errors
    /// [`GetError::Empty`] on timeout, and as `get`.
    pub async fn get_timeout_async(&self, timeout: Duration) -> Result<T, GetError> {
        let deadline = Deadline::after(Some(timeout));
        read_async(&self.core, deadline, self.max_message).await
    }

    /// [`put`](Self::put) as a future: waits for room in the ring without
    /// blocking a thread. Cancellation-safe: the item is written whole
    /// inside one poll, or not at all.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn put_async(&self, item: &T) -> Result<(), PutError> {
        let mut msg = Message::default();
        scratch::encode(item, &mut msg)?;
        let put = write_async(&self.core, &msg, 0, Deadline::NEVER).await;
        scratch::recycle(msg.bytes);
        put
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// [`join`](Self::join) as a future: resolves once every item put has
    /// been marked done, from any process. Cancellation-safe (waiting
    /// consumes nothing). As `join`, it waits for ever if a consumer died
    /// holding a task: use [`join_timeout_async`](Self::join_timeout_async).
    pub async fn join_async(&self) {
        self.join_until_async(Deadline::NEVER).await;
    }

    /// [`join_timeout`](Self::join_timeout) as a future: `true` if every
    /// task is done, `false` when `timeout` elapsed first.
    pub async fn join_timeout_async(&self, timeout: Duration) -> bool {
        self.join_until_async(Deadline::after(Some(timeout))).await
    }

    async fn join_until_async(&self, deadline: Deadline) -> bool {
        let queue: &Queue<T> = self.deref();
        let handle = &queue.handle;
        let ring = &handle.core.ring;
        let done = || handle.feeder().count_with(|| ring.unfinished()) == 0;
        ring.all_done()
            .wait_for_async(deadline, None, |_| done().then_some(()))
            .await
            .is_some()
    }
}
