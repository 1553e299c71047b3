//! The iterators of `imap` (results in input order, each as soon as it and
//! all before it are done) and `imap_unordered` (results in completion
//! order), and, for their buffered forms, the [`Feed`] that submits more
//! input as results are taken.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Duration;

use crate::error::{PoolError, TaskError};
use crate::lock::{lock, wait_until};
use crate::result::Help;
use crate::wake_fd::WakeFd;
use mp_sys::time::Deadline;

#[cfg(feature = "async")]
#[path = "imap_stream.rs"]
mod stream;

struct State<R> {
    ordered: bool,
    /// Ordered: chunks that arrived, by chunk index, not yet consumed.
    chunks: BTreeMap<usize, VecDeque<Result<R, PoolError>>>,
    /// Ordered: the chunk whose items come next.
    next_chunk: usize,
    /// Unordered: items in completion order.
    queue: VecDeque<Result<R, PoolError>>,
    total_chunks: usize,
    /// `total_chunks` is final (a buffered job may still be adding chunks).
    total_known: bool,
    arrived: usize,
    terminated: bool,
    /// The job was cancelled: no more chunks will come.
    cancelled: bool,
    /// Iterators waiting on the condvar (pushes notify only when some are).
    waiting: usize,
    /// The condvar was notified and no thread began waiting since: those
    /// waiting are already woken, so a push makes no second `futex` call
    /// (std's `notify_all` makes one whether anyone sleeps or not).
    notified: bool,
    /// The iterator's thread sleeps reading the pool's workers (see
    /// [`Arrivals`]): the next change wakes it through the wake fd.
    polling: bool,
    /// A stream has listened for changes (`async` feature): changes notify
    /// its event from then on (a notification costs a lock and a fence
    /// even with nobody listening).
    streams: bool,
}

/// Shared by the pool (which pushes chunks) and the iterator.
pub(crate) struct ImapShared<R> {
    state: Mutex<State<R>>,
    cv: Condvar,
    /// Wakes the iterator's thread sleeping on the pool's workers; made
    /// when it first does.
    wake_fd: OnceLock<WakeFd>,
    /// Wakes the streams waiting for an item (`async` feature).
    #[cfg(feature = "async")]
    changed: event_listener::Event,
}

impl<R> ImapShared<R> {
    pub(crate) fn new(ordered: bool, total_chunks: usize) -> Arc<Self> {
        Self::with_total(ordered, total_chunks, true)
    }

    /// For a job whose chunks are added as its input is read: the iterator
    /// ends only after [`add_chunks`](Self::add_chunks) says the last came.
    pub(crate) fn open(ordered: bool) -> Arc<Self> {
        Self::with_total(ordered, 0, false)
    }

    fn with_total(ordered: bool, total_chunks: usize, total_known: bool) -> Arc<Self> {
        Arc::new(ImapShared {
            state: Mutex::new(State {
                ordered,
                chunks: BTreeMap::new(),
                next_chunk: 0,
                queue: VecDeque::new(),
                total_chunks,
                total_known,
                arrived: 0,
                terminated: false,
                cancelled: false,
                waiting: 0,
                notified: false,
                polling: false,
                streams: false,
            }),
            cv: Condvar::new(),
            wake_fd: OnceLock::new(),
            #[cfg(feature = "async")]
            changed: event_listener::Event::new(),
        })
    }

    /// Wakes the waiters `wakes` names.
    fn wake(&self, wakes: Wakes) {
        if wakes.threads {
            self.cv.notify_all();
        }
        if wakes.poller {
            if let Some(fd) = self.wake_fd.get() {
                fd.wake();
            }
        }
        #[cfg(feature = "async")]
        if wakes.streams {
            self.changed.notify(usize::MAX);
        }
    }

    /// Chunk `index` arrived with these items (dropped if the call was
    /// cancelled or terminated meanwhile: a push may run after the pool's
    /// lock was let go, when the call has a progress hook).
    pub(crate) fn push(&self, index: usize, items: Vec<Result<R, PoolError>>) {
        let mut s = lock(&self.state);
        if s.cancelled || s.terminated {
            return;
        }
        s.arrived += 1;
        if s.ordered {
            s.chunks.insert(index, items.into());
        } else {
            s.queue.extend(items);
        }
        let wakes = s.wakes(false);
        drop(s);
        self.wake(wakes);
    }

    /// `n` more chunks were submitted; with `last`, no more will be.
    pub(crate) fn add_chunks(&self, n: usize, last: bool) {
        let mut s = lock(&self.state);
        s.total_chunks += n;
        s.total_known |= last;
        if last {
            let wakes = s.wakes(false);
            drop(s);
            self.wake(wakes);
        }
    }

    /// The pool was terminated: no more chunks will come.
    pub(crate) fn terminate(&self) {
        let mut s = lock(&self.state);
        s.terminated = true;
        let wakes = s.wakes(true);
        drop(s);
        self.wake(wakes);
    }

    /// The job was cancelled: no more chunks will come.
    pub(crate) fn cancel(&self) {
        let mut s = lock(&self.state);
        s.cancelled = true;
        let wakes = s.wakes(true);
        drop(s);
        self.wake(wakes);
    }
}

/// What [`Arrivals::arm`] found.
pub(crate) enum Arm<'a> {
    /// Something can be taken (or the end is known): do not sleep.
    Ready,
    /// Nothing yet: sleep polling this fd too, which a change from another
    /// thread makes readable.
    Sleep(BorrowedFd<'a>),
    /// No wake fd could be made: the caller must not sleep on the workers.
    Cannot,
}

/// An iterator's side of [`Help::help_iter`]: the pool's engine, about to
/// sleep on the workers for the iterator's thread, arms the iterator's
/// state so that a change made by another thread (a push of results the
/// engine read, a termination) wakes it.
pub(crate) trait Arrivals {
    /// Looks whether anything can be taken; if not, makes the next change
    /// wake the returned fd, until [`disarm`](Self::disarm).
    fn arm(&self) -> Arm<'_>;
    /// The sleep ended: changes no longer wake the fd (and it is drained if
    /// one did).
    fn disarm(&self);
}

impl<R> Arrivals for ImapShared<R> {
    fn arm(&self) -> Arm<'_> {
        let mut s = lock(&self.state);
        if !s.waits() {
            return Arm::Ready;
        }
        let fd = match self.wake_fd.get() {
            Some(fd) => fd,
            None => match WakeFd::new() {
                Ok(fd) => self.wake_fd.get_or_init(|| fd),
                Err(e) => {
                    log::warn!(target: "multiprocess", "pool: cannot make an iterator's wake fd: {e}");
                    return Arm::Cannot;
                }
            },
        };
        s.polling = true;
        Arm::Sleep(fd.fd())
    }

    fn disarm(&self) {
        let woken = !std::mem::replace(&mut lock(&self.state).polling, false);
        if woken {
            if let Some(fd) = self.wake_fd.get() {
                fd.drain();
            }
        }
    }
}

/// Whom a change to the state wakes.
struct Wakes {
    /// The threads sleeping on the condvar.
    threads: bool,
    /// The iterator's thread sleeping on the workers (through the wake fd).
    poller: bool,
    /// The streams (their event).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    streams: bool,
}

/// What one attempt to take the next item found.
enum Next<R> {
    Item(Result<R, PoolError>),
    End,
    Wait,
}

impl<R> State<R> {
    /// Whom a change wakes: the threads on the condvar (all of them, or
    /// only if some sleep and were not notified since they began), the
    /// polling thread (once: it disarms when it wakes), the streams (if any
    /// listened).
    fn wakes(&mut self, all: bool) -> Wakes {
        let threads = all || (self.waiting > 0 && !self.notified);
        self.notified |= threads && self.waiting > 0;
        Wakes {
            threads,
            poller: std::mem::replace(&mut self.polling, false),
            streams: self.streams,
        }
    }

    /// Whether [`take`](Self::take) would find nothing to return yet.
    fn waits(&self) -> bool {
        let something = if self.ordered {
            // As `take` looks: past the chunks used up.
            let mut next = self.next_chunk;
            while self.chunks.get(&next).is_some_and(VecDeque::is_empty) {
                next += 1;
            }
            self.chunks.contains_key(&next) || (self.total_known && next >= self.total_chunks)
        } else {
            !self.queue.is_empty() || (self.total_known && self.arrived >= self.total_chunks)
        };
        !(something || self.terminated || self.cancelled)
    }

    fn take(&mut self) -> Next<R> {
        if self.ordered {
            while let Some(chunk) = self.chunks.get_mut(&self.next_chunk) {
                if let Some(item) = chunk.pop_front() {
                    return Next::Item(item);
                }
                self.chunks.remove(&self.next_chunk);
                self.next_chunk += 1;
            }
            if self.total_known && self.next_chunk >= self.total_chunks {
                return Next::End;
            }
        } else {
            if let Some(item) = self.queue.pop_front() {
                return Next::Item(item);
            }
            if self.total_known && self.arrived >= self.total_chunks {
                return Next::End;
            }
        }
        if self.terminated || self.cancelled {
            // Report the termination (or cancellation) once, then end.
            self.total_chunks = 0;
            self.total_known = true;
            self.next_chunk = 0;
            self.chunks.clear();
            return Next::Item(Err(if self.terminated {
                PoolError::Terminated
            } else {
                PoolError::Task(TaskError::Cancelled)
            }));
        }
        Next::Wait
    }
}

/// Submits a buffered job's input, a chunk at a time, as its results are
/// taken.
pub(crate) trait Feed: Send {
    /// Reads the next chunk of input and submits it; returns how many items
    /// it held, 0 once the input is exhausted (the job is then told so) or
    /// the pool is gone.
    fn feed(&mut self) -> usize;
    /// No more input will be read (the iterator is dropped): the job ends
    /// once what was submitted has come back.
    fn close(&mut self);
}

/// The feeder of a buffered iterator and its budget.
struct Buffered {
    /// In a mutex only so the iterator stays `Sync`; reached through
    /// `get_mut` (never locked).
    feed: Mutex<Box<dyn Feed>>,
    /// Items submitted whose results have not been taken yet.
    in_flight: usize,
    /// At most this many items in flight (`buffersize` chunks' worth).
    limit: usize,
}

/// The iterator returned by `imap` and `imap_unordered` (Python's
/// `IMapIterator`). Each item is the task's result or its error; a
/// terminated pool yields one [`PoolError::Terminated`] and ends.
///
/// Dropping it cancels its call (beyond Python, where the tasks run on):
/// the tasks that have not started never run; see
/// [`cancel`](Self::cancel).
///
/// When no result is there to take, the thread calling `next` reads the
/// workers that run the call's tasks itself (other calls' results it reads
/// on the way are delivered, and their callbacks run, on it), and keeps
/// them for about a millisecond after it returns: a caller that takes the
/// results as they come is woken by the workers directly. If it does not
/// come back in time, the pool's own thread reads those workers again, so
/// a caller busy with its results holds the tasks up by at most that long.
///
/// A child forked with a copy of it (a closure's capture) cannot use it:
/// nothing delivers the results there. It yields one
/// [`PoolError::NotOwner`] and ends, without waiting, reading more input
/// or cancelling anything; the parent's iterator is untouched.
pub struct IMapIterator<R> {
    shared: Arc<ImapShared<R>>,
    /// The process that submitted the call: the only one its pool delivers
    /// to; a forked child's copy is refused (once: `refused`).
    owner: u32,
    refused: bool,
    /// Buffered forms: reads more input as results are taken.
    buffered: Option<Buffered>,
    /// The pool's engine and the call's job, to cancel it.
    job: Option<(Weak<dyn Help>, u64)>,
    /// As a `Stream`: registered before the last look (`async` feature).
    #[cfg(feature = "async")]
    listener: Option<event_listener::EventListener>,
}

impl<R> IMapIterator<R> {
    pub(crate) fn new(shared: Arc<ImapShared<R>>) -> Self {
        IMapIterator {
            shared,
            owner: mp_shm::ProcessIdent::current().pid(),
            refused: false,
            buffered: None,
            job: None,
            #[cfg(feature = "async")]
            listener: None,
        }
    }

    /// This iterator's call is job `job` of the pool `inner` (it can be
    /// cancelled).
    pub(crate) fn of_job<H: Help + 'static>(mut self, inner: Weak<H>, job: u64) -> Self {
        let inner: Weak<dyn Help> = inner;
        self.job = Some((inner, job));
        self
    }

    /// Cancels the call (see [`AsyncResult::cancel`](crate::AsyncResult::cancel)):
    /// its tasks that have not started never run, the ones running finish
    /// and their results are dropped. The results that arrived before are
    /// still yielded, then one [`TaskError::Cancelled`], then the iterator
    /// ends. Returns `false` if the call had already completed.
    pub fn cancel(&mut self) -> bool {
        self.cancel_with(false)
    }

    /// [`cancel`](Self::cancel), and the workers running its tasks are
    /// stopped (`SIGTERM`, then `SIGKILL`) and replaced.
    pub fn cancel_and_kill(&mut self) -> bool {
        self.cancel_with(true)
    }

    fn cancel_with(&mut self, kill: bool) -> bool {
        if !self.is_owner() {
            return false;
        }
        if let Some(mut b) = self.buffered.take() {
            b.feed.get_mut().unwrap_or_else(|e| e.into_inner()).close();
        }
        match self
            .job
            .as_ref()
            .and_then(|(w, job)| Some((w.upgrade()?, *job)))
        {
            Some((inner, job)) => inner.cancel(job, kill),
            None => false,
        }
    }

    /// An iterator whose input is read lazily by `feed`, keeping at most
    /// `limit` items submitted whose results have not been taken; the first
    /// ones are submitted now.
    pub(crate) fn buffered(shared: Arc<ImapShared<R>>, feed: Box<dyn Feed>, limit: usize) -> Self {
        IMapIterator {
            shared,
            owner: mp_shm::ProcessIdent::current().pid(),
            refused: false,
            buffered: Some(Buffered {
                feed: Mutex::new(feed),
                in_flight: 0,
                limit: limit.max(1),
            }),
            job: None,
            #[cfg(feature = "async")]
            listener: None,
        }
    }

    /// Submits the first inputs of a buffered iterator.
    pub(crate) fn started(mut self) -> Self {
        self.top_up();
        self
    }

    /// Submits input until the budget is used or the input ends.
    fn top_up(&mut self) {
        while let Some(b) = self.buffered.as_mut() {
            if b.in_flight >= b.limit {
                return;
            }
            match b.feed.get_mut().unwrap_or_else(|e| e.into_inner()).feed() {
                0 => self.buffered = None,
                n => b.in_flight += n,
            }
        }
    }

    /// One result was taken: its slot goes to the next input.
    fn taken(&mut self) {
        if let Some(b) = self.buffered.as_mut() {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
        self.top_up();
    }

    /// Python's `next(timeout)`: the next item, `Some(Err(PoolError::Timeout))`
    /// if none is ready within `timeout` (the iterator stays usable), `None`
    /// at the end.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R, PoolError>> {
        self.next_until(Deadline::after(Some(timeout)))
    }

    /// Whether the calling process submitted the call.
    fn is_owner(&self) -> bool {
        self.owner == mp_shm::ProcessIdent::current().pid()
    }

    /// In a process other than the submitter (a forked child's copy), what
    /// it yields instead of looking: one [`PoolError::NotOwner`], then the
    /// end.
    fn refusal(&mut self) -> Option<Option<Result<R, PoolError>>> {
        if self.is_owner() {
            return None;
        }
        let first = !std::mem::replace(&mut self.refused, true);
        Some(first.then_some(Err(PoolError::NotOwner { owner: self.owner })))
    }

    fn next_until(&mut self, deadline: Deadline) -> Option<Result<R, PoolError>> {
        if let Some(refused) = self.refusal() {
            return refused;
        }
        let item = self.take_until(deadline);
        self.settle(&item);
        item
    }

    /// After an item was taken (outside the state lock: submitting may
    /// deliver results): a result's slot goes to the next input.
    fn settle(&mut self, item: &Option<Result<R, PoolError>>) {
        if matches!(item, Some(Ok(_)) | Some(Err(PoolError::Task(_)))) {
            self.taken();
        }
    }

    fn take_until(&self, deadline: Deadline) -> Option<Result<R, PoolError>> {
        // While there is nothing to take, this thread reads the workers
        // holding the call's tasks itself (see `Help::help_iter`).
        let mut helper = None;
        let mut helped = false;
        loop {
            match lock(&self.shared.state).take() {
                Next::Item(item) => return Some(item),
                Next::End => return None,
                Next::Wait => {}
            }
            // A deadline already passed still allows one look.
            if helped && deadline.passed() {
                return Some(Err(PoolError::Timeout));
            }
            if helper.is_none() {
                helper = self
                    .job
                    .as_ref()
                    .and_then(|(w, job)| Some((w.upgrade()?, *job)));
            }
            match &helper {
                Some((inner, job)) if inner.help_iter(*job, deadline, &*self.shared) => {
                    helped = true;
                }
                _ => break,
            }
        }
        let mut s = lock(&self.shared.state);
        loop {
            match s.take() {
                Next::Item(item) => return Some(item),
                Next::End => return None,
                Next::Wait => {}
            }
            s.waiting += 1;
            // This thread sleeps from now on: the next push must notify.
            s.notified = false;
            let waited;
            (s, waited) = wait_until(&self.shared.cv, s, deadline);
            s.waiting -= 1;
            if !waited {
                return Some(Err(PoolError::Timeout));
            }
        }
    }
}

impl<R> Drop for IMapIterator<R> {
    /// Cancels the call (no input is read any more).
    fn drop(&mut self) {
        self.cancel_with(false);
    }
}

impl<R> Iterator for IMapIterator<R> {
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(Deadline::NEVER)
    }
}

impl<R> fmt::Debug for IMapIterator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_owner() {
            // A forked child's copy: its lock may be held for ever here.
            return f
                .debug_struct("IMapIterator")
                .field("owner", &self.owner)
                .finish_non_exhaustive();
        }
        let s = lock(&self.shared.state);
        f.debug_struct("IMapIterator")
            .field("ordered", &s.ordered)
            .field("chunks", &s.total_chunks)
            .field("arrived", &s.arrived)
            .field("buffered", &self.buffered.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_waits_for_earlier_chunks() {
        let shared = ImapShared::<u32>::new(true, 2);
        let mut it = IMapIterator::new(shared.clone());
        shared.push(1, vec![Ok(3)]);
        assert!(matches!(
            it.next_timeout(Duration::from_millis(10)),
            Some(Err(PoolError::Timeout))
        ));
        shared.push(0, vec![Ok(1), Ok(2)]);
        let got: Vec<u32> = it.map(Result::unwrap).collect();
        assert_eq!(got, vec![1, 2, 3]);
    }

    fn readable(fd: BorrowedFd<'_>) -> bool {
        mp_sys::fd::poll_readable_any(&[fd], Some(Duration::ZERO)).unwrap()[0]
    }

    #[test]
    fn an_armed_sleeper_is_woken_by_the_next_push_only() {
        let shared = ImapShared::<u32>::new(true, 3);
        let Arm::Sleep(fd) = shared.arm() else {
            panic!("nothing to take yet");
        };
        assert!(!readable(fd));
        // Chunk 1 cannot be taken before chunk 0, but it is a change.
        shared.push(1, vec![Ok(2)]);
        assert!(readable(fd));
        shared.disarm();
        assert!(!readable(fd), "drained when disarmed");
        shared.push(0, vec![Ok(1)]);
        assert!(!readable(fd), "no longer armed");
        assert!(matches!(shared.arm(), Arm::Ready));
        let mut it = IMapIterator::new(shared.clone());
        assert_eq!(it.next().unwrap().unwrap(), 1);
        assert_eq!(it.next().unwrap().unwrap(), 2);
        let Arm::Sleep(fd) = shared.arm() else {
            panic!("chunk 2 has not come");
        };
        shared.terminate();
        assert!(readable(fd), "a termination wakes it too");
        shared.disarm();
        assert!(matches!(shared.arm(), Arm::Ready));
    }

    #[test]
    fn waits_agrees_with_take() {
        for ordered in [true, false] {
            let shared = ImapShared::<u32>::new(ordered, 2);
            let waits = || lock(&shared.state).waits();
            let take = || lock(&shared.state).take();
            assert!(waits() && matches!(take(), Next::Wait));
            shared.push(1, vec![Ok(2)]);
            assert_eq!(waits(), ordered);
            if !ordered {
                assert!(matches!(take(), Next::Item(Ok(2))));
                assert!(waits());
            }
            shared.push(0, vec![Ok(1)]);
            while !waits() {
                if matches!(take(), Next::End) {
                    break;
                }
            }
            assert!(matches!(take(), Next::End), "ordered: {ordered}");
        }
    }

    #[test]
    fn unordered_and_terminated() {
        let shared = ImapShared::<u32>::new(false, 3);
        let mut it = IMapIterator::new(shared.clone());
        shared.push(2, vec![Ok(9)]);
        assert_eq!(it.next().unwrap().unwrap(), 9);
        shared.terminate();
        assert!(matches!(it.next(), Some(Err(PoolError::Terminated))));
        assert!(it.next().is_none());
    }
}
