//! The task word: which task a worker is on: one 64-bit word in memory the worker shares
//! with the parent. Before each task the worker stores the number of the
//! chunk (counting the run requests it took, from 1, modulo 2³²) and the
//! task's index in that chunk; a plain store, no system call, so the fast
//! path stays fast. When the worker dies, the parent reads the word: the
//! tasks of its chunks that provably never started are sent again, and only
//! the ones that may have run fail (see [`TaskWord::began`]).
//!
//! Beside it, two counters of whole messages written on the link, each
//! stored after the write that completed them: the worker's replies and
//! the parent's run requests. A reader about to wait compares the other
//! side's count with what it has read: more means a whole message is there
//! (read it, no `poll`), equal means none is (wait, no read that finds
//! nothing).

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use mp_sys::mmap::Mapping;

use crate::error::TaskError;
use crate::lock::lock;

/// The size of the shared words: the task word, replies written, run
/// requests written.
const WORDS: usize = 24;
/// Where the count of replies the worker wrote is.
const REPLIES: usize = 8;
/// Where the count of run requests the parent wrote is.
const REQUESTS: usize = 16;

/// One worker's task word, mapped in the parent or in the worker.
pub(crate) struct TaskWord {
    map: Mapping,
}

impl TaskWord {
    /// A fresh word (zero: no chunk begun) and the fd that gives the worker
    /// its mapping of it.
    pub(crate) fn create() -> io::Result<(TaskWord, OwnedFd)> {
        let fd = mp_sys::memfd::create_sealed("mp-pool-task-word", WORDS as u64)?;
        let map = Mapping::map_shared(&fd, WORDS)?;
        Ok((TaskWord { map }, fd))
    }

    /// Maps the word the parent created (in the worker). The memfd is sealed
    /// at its size; a different size is refused.
    pub(crate) fn attach(fd: &OwnedFd) -> io::Result<TaskWord> {
        if mp_sys::memfd::size(fd)? != WORDS as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the task word has the wrong size",
            ));
        }
        Ok(TaskWord {
            map: Mapping::map_shared(fd, WORDS)?,
        })
    }

    fn word(&self) -> &AtomicU64 {
        self.at(0)
    }

    fn at(&self, offset: usize) -> &AtomicU64 {
        // The mapping is page-aligned and WORDS long; offsets are multiples of 8.
        self.map
            .atomic_u64(offset)
            .expect("a 24-byte mapping holds aligned u64s at 0, 8 and 16")
    }

    /// In the parent: how many replies the worker has written (each counted
    /// once it is wholly in the link).
    pub(crate) fn replies_written(&self) -> u64 {
        self.at(REPLIES).load(Ordering::Acquire)
    }

    /// In the parent: `count` run requests are wholly written to the worker
    /// (stored after the write).
    pub(crate) fn set_requests_written(&self, count: u64) {
        self.at(REQUESTS).store(count, Ordering::Release);
    }

    /// Where the worker was, read after it ended: given that `replied`
    /// replies were read from it, `Some(task)` if the chunk after them (the
    /// first still in flight) had begun and `task` (its index in the chunk)
    /// may have run; `None` if no task of that chunk ever started.
    pub(crate) fn began(&self, replied: u64) -> Option<usize> {
        let v = self.word().load(Ordering::Acquire);
        let chunk = (v >> 32) as u32;
        (chunk == (replied as u32).wrapping_add(1)).then_some((v as u32) as usize)
    }
}

/// The worker's word, once it has mapped it.
static MINE: OnceLock<TaskWord> = OnceLock::new();
/// The current chunk's number, shifted into the word's high half.
static CHUNK: AtomicU64 = AtomicU64::new(0);
/// How many leading tasks of the current chunk to skip (already settled).
static SKIP: AtomicUsize = AtomicUsize::new(0);
/// Tasks of the current chunk not to run, with the error each reports
/// instead (they timed out on an earlier worker).
static HOLES: Mutex<Vec<(usize, TaskError)>> = Mutex::new(Vec::new());
/// Whether `HOLES` is not empty (so a chunk without holes takes no lock).
static HAS_HOLES: AtomicBool = AtomicBool::new(false);

/// In the worker: report which task runs through `word` from now on.
pub(crate) fn install(word: TaskWord) {
    let _ = MINE.set(word);
}

/// In the worker: run request number `number` begins, skipping its first
/// `skip` tasks and the `holes`.
pub(crate) fn chunk_begins(number: u32, skip: usize, holes: Vec<(usize, TaskError)>) {
    CHUNK.store(u64::from(number) << 32, Ordering::Relaxed);
    SKIP.store(skip, Ordering::Relaxed);
    if !holes.is_empty() || HAS_HOLES.load(Ordering::Relaxed) {
        HAS_HOLES.store(!holes.is_empty(), Ordering::Relaxed);
        *lock(&HOLES) = holes;
    }
}

/// In the worker: the tasks of the current chunk not to run (taken: asked
/// once per chunk).
pub(crate) fn take_holes() -> Vec<(usize, TaskError)> {
    // A load first: the swap is a locked instruction, and most chunks have
    // no holes (only this thread writes the flag, so the two cannot race).
    if !HAS_HOLES.load(Ordering::Relaxed) || !HAS_HOLES.swap(false, Ordering::Relaxed) {
        return Vec::new();
    }
    std::mem::take(&mut *lock(&HOLES))
}

/// In the worker: `count` replies are wholly written to the parent.
pub(crate) fn set_replies_written(count: u64) {
    if let Some(w) = MINE.get() {
        w.at(REPLIES).store(count, Ordering::Release);
    }
}

/// In the worker, having taken `taken` run requests: whether the parent has
/// written more (one is waiting in the link). `true` without a word.
pub(crate) fn requests_waiting(taken: u64) -> bool {
    MINE.get()
        .is_none_or(|w| w.at(REQUESTS).load(Ordering::Acquire) > taken)
}

/// In the worker: whether every task of the current chunk is to run (none
/// to skip, no holes).
pub(crate) fn runs_whole() -> bool {
    SKIP.load(Ordering::Relaxed) == 0 && !HAS_HOLES.load(Ordering::Relaxed)
}

/// In the worker: how many leading tasks of the current chunk to skip.
pub(crate) fn skip() -> usize {
    SKIP.load(Ordering::Relaxed)
}

/// Where the tasks of the current chunk report (taken once per chunk, so
/// each task costs one plain store).
#[derive(Clone, Copy)]
pub(crate) struct Tracker {
    word: Option<&'static AtomicU64>,
    chunk: u64,
}

/// In the worker: the tracker for the current chunk (outside a pool worker
/// it does nothing).
pub(crate) fn tracker() -> Tracker {
    Tracker {
        word: MINE.get().map(TaskWord::word),
        chunk: CHUNK.load(Ordering::Relaxed),
    }
}

impl Tracker {
    /// Task `index` of the chunk is about to run (stored before it runs, so
    /// a death during it finds the word saying so).
    #[inline]
    pub(crate) fn task_begins(self, index: usize) {
        if let Some(word) = self.word {
            let task = u64::from(u32::try_from(index).unwrap_or(u32::MAX));
            word.store(self.chunk | task, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_says_which_chunk_began() {
        let (parent, fd) = TaskWord::create().unwrap();
        let worker = TaskWord::attach(&fd).unwrap();
        assert_eq!(parent.began(0), None);
        worker.word().store((1 << 32) | 4, Ordering::Release);
        // One chunk answered: the word is about the first one (done).
        assert_eq!(parent.began(1), None);
        // None answered: the first chunk began, task 4 may have run.
        assert_eq!(parent.began(0), Some(4));
        // The count wraps with the word's 32 bits.
        worker.word().store(5, Ordering::Release);
        assert_eq!(parent.began(u64::from(u32::MAX)), Some(5));
    }

    #[test]
    fn the_counters_cross_between_mappings() {
        let (parent, fd) = TaskWord::create().unwrap();
        let worker = TaskWord::attach(&fd).unwrap();
        assert_eq!(parent.replies_written(), 0);
        worker.at(REPLIES).store(3, Ordering::Release);
        assert_eq!(parent.replies_written(), 3);
        parent.set_requests_written(7);
        assert_eq!(worker.at(REQUESTS).load(Ordering::Acquire), 7);
        // The counters leave the task word alone.
        assert_eq!(parent.began(0), None);
    }
}
