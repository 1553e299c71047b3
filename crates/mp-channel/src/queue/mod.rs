//! [`Queue`], [`SimpleQueue`] and [`JoinableQueue`]: multi-producer,
//! multi-consumer FIFO queues between processes on a shared-memory ring.
//!
//! Items are encoded (postcard, fds beside them) by the caller and copied
//! into a ring in a memfd that every handle maps; consumers copy them out.
//! A large item (from 16 KiB of encoding) is encoded straight into the ring
//! by an unbounded queue's `put` (`direct`), and decoded straight out of it
//! by `get` (a top-level byte string or text in one copy, see
//! `core::Core::read_item`). Sleeping and waking are futex calls made only
//! when someone sleeps. See `ring` for the layout, how counts survive a
//! death and how wake-ups are ordered, `core` for fds and dead processes.

#[cfg(feature = "async")]
mod async_queue;
mod core;
mod direct;
mod error;
mod feeder;
mod joinable;
mod ring;
mod simple;

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use self::core::{small_item, Core, ReadError};
use self::feeder::Feeder;
use self::ring::{Wait, SMALL_RECORD};
use crate::process_local::ProcessLocal;
use crate::reader::LazyDeadline;
use crate::scratch;

pub use error::{GetError, PutError, QueueStateError, TaskDoneError};
pub use joinable::JoinableQueue;
pub use simple::SimpleQueue;

/// Bytes of shared ring a queue gets by default (1 MiB). Larger items are
/// streamed through it in chunks.
pub const DEFAULT_RING_BYTES: usize = 1 << 20;

/// How long a non-blocking put on a bounded queue waits for another
/// producer to finish writing before it reports [`PutError::Full`].
const NOWAIT_LOCK_GRACE: Duration = Duration::from_millis(10);

/// A process-shared FIFO queue of `T` (Python's `multiprocessing.Queue`).
///
/// Unbounded by default: [`put`](Self::put) never blocks — when the ring is
/// full, items wait in a per-process buffer that a feeder thread drains.
/// (A `put` that finds the ring full first offers its CPU once, with
/// `sched_yield`, to a consumer that may share it; with nothing else to
/// run, that returns at once. A large item — from 80 KiB of encoding —
/// that finds no room waits for it about as long as copying it aside
/// would take, 128 µs a MiB, before it is buffered: once per time the
/// buffer fills, never behind items already buffered.)
/// [`Queue::bounded`] limits the number of items (`maxsize`); then `put`
/// waits for a free slot and writes the item into the shared ring itself
/// (no feeder), so a bounded queue never holds more than `maxsize` items
/// and a `put` that returns `Ok` has made its item visible to every
/// consumer. Every handle is serde, so a queue can be a
/// `Process` argument or travel inside another message; items may
/// themselves carry fds (connections, shared memory, other queues).
///
/// Items from one producer arrive in the order put; items from several
/// producers interleave. An unbounded queue's `put` encodes an item whose
/// encoding passes 16 KiB straight into the shared ring when it can, so the
/// rest of that item's `Serialize` runs holding the queue's writer lock
/// (other producers' writes wait for it, as for any large item's copy, so
/// a `Serialize` that waits for another producer's item on the same queue
/// waits for ever); a `Serialize` that puts on the same queue is fine (its
/// item goes first, as it would otherwise), and one that fails or panics
/// puts nothing. A process killed in the middle of a `put` or a
/// `get` loses at most that item and leaves the queue consistent: no slot
/// or count leaks (see the crate docs, "Dead peers").
///
/// ```
/// use mp_channel::Queue;
/// let q = Queue::<String>::new()?;
/// q.put(&"hello".to_string())?;
/// assert_eq!(q.qsize(), 1);
/// assert_eq!(q.get()?, "hello");
/// assert!(matches!(q.get_nowait(), Err(mp_channel::GetError::Empty)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T> {
    handle: Arc<Handle>,
    /// This handle's limit on an item's encoded length ([`set_max_message`](Self::set_max_message)).
    max_message: usize,
    _items: PhantomData<fn(T) -> T>,
}

/// The default limit on an item's encoded length: a
/// [`Connection`](crate::Connection)'s, 1 GiB.
pub(crate) const DEFAULT_MAX_MESSAGE: usize = mp_wire::Limits::DEFAULT_MAX_FRAME;

/// The shared core plus this process's feeder; dropping the last one in a
/// process flushes the feeder.
#[derive(Debug)]
struct Handle {
    core: Arc<Core>,
    feeder: ProcessLocal<Arc<Feeder>>,
}

impl Handle {
    /// This process's feeder (a forked child's own: see `feeder`).
    #[inline]
    fn feeder(&self) -> &Arc<Feeder> {
        self.feeder.local_or(Feeder::forked_from)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.feeder().finish();
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            handle: Arc::clone(&self.handle),
            max_message: self.max_message,
            _items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("maxsize", &self.handle.core.maxsize)
            .field("qsize", &self.handle.core.ring.size())
            .finish()
    }
}

impl<T> Queue<T> {
    /// The longest item, in encoded bytes, this handle's `get`s accept
    /// (default 1 GiB, as a [`Connection`](crate::Connection)'s messages).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Sets the longest item, in encoded bytes, this handle's `get`s
    /// accept. A longer item is removed and dropped, undecoded, and the
    /// `get` fails with [`GetError::TooLarge`]; the queue goes on with the
    /// next item. So a process sharing the queue cannot make a consumer
    /// assemble an item of any size. Each handle has its own limit: a
    /// clone copies it, a handle that arrives from another process has the
    /// default.
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue (Python's `Queue()`).
    ///
    /// # Errors
    /// The OS error if shared memory or the side socket cannot be created.
    pub fn new() -> io::Result<Queue<T>> {
        Queue::with_ring(0, DEFAULT_RING_BYTES)
    }

    /// A queue holding at most `maxsize` items (Python's `Queue(maxsize)`;
    /// 0 means unbounded).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn bounded(maxsize: usize) -> io::Result<Queue<T>> {
        Queue::with_ring(maxsize, DEFAULT_RING_BYTES)
    }

    /// A queue with `maxsize` (0 = unbounded) and a ring of `ring_bytes`
    /// (rounded up to a power of two, at least 4 KiB, at most 1 GiB).
    ///
    /// # Errors
    /// `InvalidInput` for more than 1 GiB; as [`new`](Self::new).
    pub fn with_ring(maxsize: usize, ring_bytes: usize) -> io::Result<Queue<T>> {
        Ok(Queue::from_core(Core::new(ring_bytes, maxsize)?))
    }

    fn from_core(core: Core) -> Queue<T> {
        let core = Arc::new(core);
        Queue {
            handle: Arc::new(Handle {
                feeder: ProcessLocal::new(Feeder::new(Arc::clone(&core))),
                core,
            }),
            max_message: DEFAULT_MAX_MESSAGE,
            _items: PhantomData,
        }
    }

    fn core(&self) -> &Core {
        &self.handle.core
    }

    /// Puts `item`, waiting for a free slot if the queue is bounded and full.
    ///
    /// # Errors
    /// [`PutError::Closed`], [`PutError::Encode`] (nothing put), OS errors.
    pub fn put(&self, item: &T) -> Result<(), PutError> {
        self.put_timeout(item, true, None)
    }

    /// Puts `item` only if a slot is free now (Python's `put_nowait`).
    ///
    /// # Errors
    /// [`PutError::Full`], and as [`put`](Self::put).
    pub fn put_nowait(&self, item: &T) -> Result<(), PutError> {
        self.put_timeout(item, false, None)
    }

    /// Python's `put(item, block, timeout)`: with `block == false` fails at
    /// once when full (ignoring `timeout`); otherwise waits at most `timeout`
    /// (`None` = forever) for a slot.
    ///
    /// A bounded queue also needs room in its ring for the item by then: an
    /// item larger than the ring is streamed through it as consumers take
    /// it, and one they do not take in time is withdrawn (never seen, as
    /// if its producer had died) and reported as `Full`.
    ///
    /// # Errors
    /// [`PutError::Full`], and as [`put`](Self::put).
    pub fn put_timeout(
        &self,
        item: &T,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<(), PutError> {
        let feeder = self.handle.feeder();
        if feeder.is_closed() {
            return Err(PutError::Closed);
        }
        if self.core().maxsize == 0 {
            return feeder.put_item(item);
        }
        self.put_bounded_item(item, block, timeout)
    }

    /// [`put_timeout`](Self::put_timeout) into a bounded queue: straight
    /// in if the writer lock is free, a slot is free and the ring has room
    /// for the item whole now (the slot checked without reading the
    /// consumers' side while the last count allows, [`Ring::has_slot`]);
    /// else [`put_bounded`](Self::put_bounded), which waits. Out of line,
    /// and without the unbounded `put`'s stack encoding: a second user of
    /// that code made the compiler stop inlining it there.
    ///
    /// [`Ring::has_slot`]: self::ring::Ring::has_slot
    #[inline(never)]
    fn put_bounded_item(
        &self,
        item: &T,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<(), PutError> {
        let core = self.core();
        let mut msg = mp_wire::Message::default();
        scratch::encode(item, &mut msg)?;
        if core.fits_one_record(&msg) {
            if let Some(ref writer) = core.try_lock_writer() {
                if core.ring.has_slot(core.maxsize) && writer.try_write(&msg)? {
                    scratch::recycle(msg.bytes);
                    return Ok(());
                }
            }
        }
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        let put = self.put_bounded(&msg, block, timeout);
        scratch::recycle(msg.bytes);
        put
    }

    /// A bounded queue's put: waits for a slot, then writes the item into
    /// the ring itself under the writer lock, where the slot is checked
    /// again and taken by the publication (nothing is reserved that a
    /// death could leak). A non-blocking put waits for the writer lock at
    /// most [`NOWAIT_LOCK_GRACE`] (another producer's copy).
    fn put_bounded(
        &self,
        msg: &mp_wire::Message,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<(), PutError> {
        let core = self.core();
        let (ring, max) = (&core.ring, core.maxsize);
        let mut deadline = LazyDeadline::after(timeout);
        loop {
            if ring.size() >= max
                && !core.wait_until(Wait::Space(1), true, deadline.get(), || ring.size() < max)
            {
                return Err(PutError::Full);
            }
            let guard = if block {
                core.lock_writer(&mut deadline)
            } else {
                core.lock_writer(&mut LazyDeadline::after(Some(NOWAIT_LOCK_GRACE)))
            };
            let Some(writer) = guard else {
                return Err(PutError::Full);
            };
            if ring.has_slot(max) {
                return match writer.write(msg, deadline.get())? {
                    true => Ok(()),
                    false => Err(PutError::Full),
                };
            }
        }
    }

    /// Removes and returns the next item, waiting as long as it takes.
    ///
    /// # Errors
    /// [`GetError::Closed`], [`GetError::Decode`] (the item is gone), OS errors.
    pub fn get(&self) -> Result<T, GetError> {
        self.get_timeout(true, None)
    }

    /// Removes and returns an item only if one is there now (Python's `get_nowait`).
    ///
    /// # Errors
    /// [`GetError::Empty`], and as [`get`](Self::get).
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.get_timeout(false, None)
    }

    /// Python's `get(block, timeout)`.
    ///
    /// # Errors
    /// [`GetError::Empty`] when nothing arrived in time, and as [`get`](Self::get).
    pub fn get_timeout(&self, block: bool, timeout: Option<Duration>) -> Result<T, GetError> {
        if self.handle.feeder().is_closed() {
            return Err(GetError::Closed);
        }
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        read(self.core(), timeout, self.max_message)
    }

    /// Items in the queue: published and not yet got, plus those still in
    /// this process's feeder buffer (other processes' buffers are not
    /// seen). Approximate while others are putting or getting.
    pub fn qsize(&self) -> usize {
        let ring = &self.core().ring;
        self.handle.feeder().count_with(|| ring.size()) as usize
    }

    /// Whether no item is in the shared ring now (items still in a
    /// producer's feeder buffer don't count, as in Python).
    pub fn empty(&self) -> bool {
        self.core().ring.is_empty()
    }

    /// Whether a bounded queue has `maxsize` items.
    pub fn full(&self) -> bool {
        let core = self.core();
        core.maxsize > 0 && core.ring.size() >= core.maxsize
    }

    /// `maxsize` (0 = unbounded).
    pub fn maxsize(&self) -> usize {
        self.core().maxsize as usize
    }

    /// This process will put and get no more; its feeder flushes what is
    /// buffered and exits. Other processes are not affected.
    pub fn close(&self) {
        self.handle.feeder().close();
    }

    /// Waits until this process's feeder has flushed everything (after
    /// [`close`](Self::close)).
    ///
    /// # Errors
    /// [`QueueStateError::NotClosed`] before `close`.
    pub fn join_thread(&self) -> Result<(), QueueStateError> {
        self.handle.feeder().join_thread()
    }

    /// Lets this process exit (drop its last handle) without waiting for
    /// its feeder to flush; buffered items may be lost.
    pub fn cancel_join_thread(&self) {
        self.handle.feeder().cancel_join_thread();
    }
}

/// Takes one item before `deadline` (the ring counts it as got), and
/// decodes it: a whole small message at once without the reader lock, if
/// no other consumer holds that lock (one waiting there for data was first
/// and is not passed); anything else under the lock.
pub(crate) fn read<T: DeserializeOwned>(
    core: &Core,
    timeout: Option<Duration>,
    max: usize,
) -> Result<T, GetError> {
    let mut small = [0u8; SMALL_RECORD];
    if let Some(len) = core.take_small(&mut small) {
        if len > max {
            return Err(GetError::TooLarge {
                len: len as u64,
                max,
            });
        }
        return Ok(small_item(&small, len)?);
    }
    let mut deadline = LazyDeadline::after(timeout);
    let mut reader = Some(core.lock_reader(&mut deadline).ok_or(GetError::Empty)?);
    match core.read_item(&mut reader, &mut deadline, max) {
        Ok(item) => Ok(item?),
        Err(ReadError::Timeout) => Err(GetError::Empty),
        Err(ReadError::Io(e)) => Err(GetError::Io(e)),
        Err(ReadError::TooLarge { len, max }) => Err(GetError::TooLarge { len, max }),
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.handle.core.serialize(s)
    }
}

impl<'de, T: Serialize + DeserializeOwned> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Queue::from_core(Core::deserialize(d)?))
    }
}
