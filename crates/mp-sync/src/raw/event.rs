//! `RawEvent`: a process-shared flag that waiters can sleep on.
//!
//! # Words
//! | word      | type | meaning |
//! |-----------|------|---------|
//! | `word`    | u32  | futex word: `generation << 1 \| flag` |
//! | `waiters` | u32  | threads that may sleep on `word` |
//!
//! # States
//! | flag | set                                         | clear        | wait |
//! |------|---------------------------------------------|--------------|------|
//! | 0    | CAS → `(gen+1) << 1 \| 1`; wake all if `waiters > 0` | no-op | sleep while `word` is unchanged |
//! | 1    | no-op                                       | flag → 0     | return `true` at once |
//!
//! A waiter returns `true` if it sees the flag set *or* the generation
//! moved since it started (a `set` followed quickly by `clear` still wakes
//! everyone who was waiting, as `threading.Event` does). `waiters` and
//! `word` form a Dekker pair (`SeqCst`), so `set` skips the syscall when
//! nobody waits.

use crate::park::{Deadline, Park};
use crate::primitive::{dekker_load, AtomicU32, Ordering};

/// The two words of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEvent<'a> {
    pub(crate) word: &'a AtomicU32,
    pub(crate) waiters: &'a AtomicU32,
}

impl RawEvent<'_> {
    pub(crate) fn is_set(&self) -> bool {
        self.word.load(Ordering::SeqCst) & 1 == 1
    }

    pub(crate) fn set<P: Park>(&self) {
        let mut w = self.word.load(Ordering::SeqCst);
        loop {
            if w & 1 == 1 {
                return;
            }
            let next = (((w >> 1).wrapping_add(1)) << 1) | 1;
            match self
                .word
                .compare_exchange_weak(w, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        if dekker_load(self.waiters) > 0 {
            P::wake(self.word, u32::MAX);
        }
    }

    /// Threads that may be asleep in [`wait`](Self::wait).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> u32 {
        self.waiters.load(Ordering::SeqCst)
    }

    pub(crate) fn clear(&self) {
        self.word.fetch_and(!1, Ordering::SeqCst);
    }

    /// Waits until set (or set-then-cleared) or `deadline`; returns whether
    /// it was set.
    pub(crate) fn wait<P: Park>(&self, deadline: Deadline) -> bool {
        let start = self.word.load(Ordering::SeqCst);
        if start & 1 == 1 {
            return true;
        }
        loop {
            if deadline.passed() {
                return false;
            }
            self.waiters.fetch_add(1, Ordering::SeqCst);
            P::wait(self.word, start, deadline.slice(None));
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            let now = self.word.load(Ordering::SeqCst);
            if now & 1 == 1 || now >> 1 != start >> 1 {
                return true;
            }
        }
    }
}
