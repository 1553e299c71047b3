//! The thread versions of `Lock`, `Event` and `Queue` that Python's
//! `multiprocessing.dummy` offers (`threading.Lock`, `threading.Event`,
//! `queue.Queue`), with the same calls as the process versions: a
//! `Mutex` and `Condvar` each, for objects shared between threads (in an
//! `Arc`, or borrowed by scoped threads).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Locks `m`, ignoring poisoning: no code of this module panics while
/// holding one of its mutexes, so the state behind it is always consistent.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` while `blocked(state)`, at most `timeout` (`None` =
/// forever); returns the guard and whether the wait ended unblocked.
fn wait_while<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Option<Duration>,
    mut blocked: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    match timeout {
        None => {
            let g = cv
                .wait_while(guard, &mut blocked)
                .unwrap_or_else(PoisonError::into_inner);
            (g, true)
        }
        Some(t) => {
            let (mut g, _) = cv
                .wait_timeout_while(guard, t, &mut blocked)
                .unwrap_or_else(PoisonError::into_inner);
            let ok = !blocked(&mut g);
            (g, ok)
        }
    }
}

/// Python's `threading.Lock` (`multiprocessing.dummy.Lock`): any thread may
/// release it.
#[derive(Default)]
pub struct Lock {
    held: Mutex<bool>,
    freed: Condvar,
}

/// Releases a [`Lock`] on drop (Python's `with lock:`).
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Lock {
        Lock::default()
    }

    /// Python's `acquire(block, timeout)`: waits (at most `timeout`, if
    /// given) unless `block` is false; returns whether it was acquired.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> bool {
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        let (mut held, free) = wait_while(&self.freed, locked(&self.held), timeout, |h| *h);
        if free {
            *held = true;
        }
        free
    }

    /// Waits until acquired; the guard releases on drop.
    pub fn lock(&self) -> LockGuard<'_> {
        self.acquire(true, None);
        LockGuard { lock: self }
    }

    /// Releases; `false` (and nothing changes) if it was not held, where
    /// Python raises `RuntimeError`.
    pub fn release(&self) -> bool {
        let mut held = locked(&self.held);
        let was = std::mem::replace(&mut *held, false);
        drop(held);
        self.freed.notify_one();
        was
    }

    /// Whether some thread holds it.
    pub fn locked(&self) -> bool {
        *locked(&self.held)
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .finish()
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// Python's `threading.Event` (`multiprocessing.dummy.Event`).
#[derive(Debug, Default)]
pub struct Event {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl Event {
    /// An event whose flag is clear.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        *locked(&self.flag) = true;
        self.changed.notify_all();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        *locked(&self.flag) = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        *locked(&self.flag)
    }

    /// Waits until the flag is set (at most `timeout`, if given); returns
    /// the flag.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        wait_while(&self.changed, locked(&self.flag), timeout, |f| !*f).1
    }
}

/// Python's `queue.Queue` (`multiprocessing.dummy.Queue`): FIFO, bounded
/// when `maxsize > 0`.
#[derive(Debug)]
pub struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    maxsize: usize,
    not_empty: Condvar,
    not_full: Condvar,
}

impl<T> Queue<T> {
    /// A queue holding at most `maxsize` items (`0`: unbounded).
    pub fn new(maxsize: usize) -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            maxsize,
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    fn is_full(&self, items: &VecDeque<T>) -> bool {
        self.maxsize > 0 && items.len() >= self.maxsize
    }

    /// Python's `put(item, block, timeout)`: gives the item back when
    /// there was no room (at once, or within `timeout`): `queue.Full`.
    pub fn put_timeout(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<(), T> {
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        let (mut items, room) = wait_while(&self.not_full, locked(&self.items), timeout, |q| {
            self.is_full(q)
        });
        if !room {
            return Err(item);
        }
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Python's `get(block, timeout)`: `None` when nothing came (at once,
    /// or within `timeout`): `queue.Empty`.
    pub fn get_timeout(&self, block: bool, timeout: Option<Duration>) -> Option<T> {
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        let (mut items, _) = wait_while(&self.not_empty, locked(&self.items), timeout, |q| {
            q.is_empty()
        });
        let item = items.pop_front()?;
        drop(items);
        self.not_full.notify_one();
        Some(item)
    }

    /// The number of items queued.
    pub fn qsize(&self) -> usize {
        locked(&self.items).len()
    }

    /// Whether it is empty.
    pub fn empty(&self) -> bool {
        locked(&self.items).is_empty()
    }

    /// Whether a bounded queue is full.
    pub fn full(&self) -> bool {
        self.is_full(&locked(&self.items))
    }

    /// The bound (`0`: unbounded).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}
