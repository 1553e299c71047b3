//! The iterators of `imap` (results in input order, each as soon as it and
//! all before it are done) and `imap_unordered` (results in completion
//! order).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::PoolError;
use crate::result::lock;

struct State<R> {
    ordered: bool,
    /// Ordered: chunks that arrived, by chunk index, not yet consumed.
    chunks: BTreeMap<usize, VecDeque<Result<R, PoolError>>>,
    /// Ordered: the chunk whose items come next.
    next_chunk: usize,
    /// Unordered: items in completion order.
    queue: VecDeque<Result<R, PoolError>>,
    total_chunks: usize,
    arrived: usize,
    terminated: bool,
    /// Iterators waiting on the condvar (pushes notify only when some are).
    waiting: usize,
}

/// Shared by the pool (which pushes chunks) and the iterator.
pub(crate) struct ImapShared<R> {
    state: Mutex<State<R>>,
    cv: Condvar,
}

impl<R> ImapShared<R> {
    pub(crate) fn new(ordered: bool, total_chunks: usize) -> Arc<Self> {
        Arc::new(ImapShared {
            state: Mutex::new(State {
                ordered,
                chunks: BTreeMap::new(),
                next_chunk: 0,
                queue: VecDeque::new(),
                total_chunks,
                arrived: 0,
                terminated: false,
                waiting: 0,
            }),
            cv: Condvar::new(),
        })
    }

    /// Chunk `index` arrived with these items.
    pub(crate) fn push(&self, index: usize, items: Vec<Result<R, PoolError>>) {
        let mut s = lock(&self.state);
        s.arrived += 1;
        if s.ordered {
            s.chunks.insert(index, items.into());
        } else {
            s.queue.extend(items);
        }
        let wake = s.waiting > 0;
        drop(s);
        if wake {
            self.cv.notify_all();
        }
    }

    /// The pool was terminated: no more chunks will come.
    pub(crate) fn terminate(&self) {
        lock(&self.state).terminated = true;
        self.cv.notify_all();
    }
}

/// What one attempt to take the next item found.
enum Next<R> {
    Item(Result<R, PoolError>),
    End,
    Wait,
}

impl<R> State<R> {
    fn take(&mut self) -> Next<R> {
        if self.ordered {
            while let Some(chunk) = self.chunks.get_mut(&self.next_chunk) {
                if let Some(item) = chunk.pop_front() {
                    return Next::Item(item);
                }
                self.chunks.remove(&self.next_chunk);
                self.next_chunk += 1;
            }
            if self.next_chunk >= self.total_chunks {
                return Next::End;
            }
        } else {
            if let Some(item) = self.queue.pop_front() {
                return Next::Item(item);
            }
            if self.arrived >= self.total_chunks {
                return Next::End;
            }
        }
        if self.terminated {
            // Report the termination once, then end.
            self.total_chunks = 0;
            self.next_chunk = 0;
            self.chunks.clear();
            return Next::Item(Err(PoolError::Terminated));
        }
        Next::Wait
    }
}

/// The iterator returned by `imap` and `imap_unordered` (Python's
/// `IMapIterator`). Each item is the task's result or its error; a
/// terminated pool yields one [`PoolError::Terminated`] and ends.
pub struct IMapIterator<R> {
    shared: Arc<ImapShared<R>>,
}

impl<R> IMapIterator<R> {
    pub(crate) fn new(shared: Arc<ImapShared<R>>) -> Self {
        IMapIterator { shared }
    }

    /// Python's `next(timeout)`: the next item, `Some(Err(PoolError::Timeout))`
    /// if none is ready within `timeout` (the iterator stays usable), `None`
    /// at the end.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R, PoolError>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<R, PoolError>> {
        let mut s = lock(&self.shared.state);
        loop {
            match s.take() {
                Next::Item(item) => return Some(item),
                Next::End => return None,
                Next::Wait => {}
            }
            s.waiting += 1;
            s = match deadline {
                None => self.shared.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        s.waiting -= 1;
                        return Some(Err(PoolError::Timeout));
                    }
                    self.shared
                        .cv
                        .wait_timeout(s, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            s.waiting -= 1;
        }
    }
}

impl<R> Iterator for IMapIterator<R> {
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None)
    }
}

impl<R> fmt::Debug for IMapIterator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.shared.state);
        f.debug_struct("IMapIterator")
            .field("ordered", &s.ordered)
            .field("chunks", &s.total_chunks)
            .field("arrived", &s.arrived)
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
