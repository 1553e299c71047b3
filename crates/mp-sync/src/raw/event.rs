//! `RawEvent`: a process-shared flag that waiters can sleep on.
//!
//! # Words
//! | word   | type | meaning |
//! |--------|------|---------|
//! | `flag` | u32  | `1` = set, `0` = clear |
//! | `wake` | 2×u32 | a [`RawEventCount`]: waiters sleep on it, `set` notifies it |
//!
//! # States
//! | flag | set                                       | clear        | wait |
//! |------|-------------------------------------------|--------------|------|
//! | 0    | CAS → 1; notify all (a syscall only if a waiter is registered) | no-op | register, re-check, sleep until notified |
//! | 1    | no-op                                     | flag → 0     | return `true` at once |
//!
//! A waiter returns `true` if it sees the flag set *or* was notified while
//! registered (a `set` followed quickly by `clear` still wakes everyone who
//! was waiting, as `threading.Event` does): it stays registered for the
//! whole wait, so every `set` in that time bumps the eventcount's `seq`.
//!
//! A setter killed between its CAS and its notify leaves the flag set and
//! the sleepers unwoken (and later `set`s find the flag set: they notify
//! nobody). So a waiter looks at the flag again after every [`SLICE`],
//! whatever its deadline: such a death costs it at most a slice.

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, Ordering};
use crate::raw::eventcount::RawEventCount;

/// The words of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEvent<'a> {
    pub(crate) flag: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
}

impl RawEvent<'_> {
    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst) == 1
    }

    pub(crate) fn set<P: Park>(&self) {
        if self
            .flag
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.wake.notify::<P>(u32::MAX);
        }
    }

    /// Threads that may be asleep in [`wait`](Self::wait).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> u32 {
        self.wake.waiters()
    }

    pub(crate) fn clear(&self) {
        self.flag.store(0, Ordering::SeqCst);
    }

    /// Waits until set (or set-then-cleared) or `deadline`; returns whether
    /// it was set.
    pub(crate) fn wait<P: Park>(&self, deadline: Deadline) -> bool {
        if self.is_set() {
            return true;
        }
        let waiter = self.wake.prepare();
        loop {
            if self.is_set() || waiter.notified() {
                return true;
            }
            if deadline.passed() {
                return false;
            }
            waiter.wait::<P>(deadline.slice(Some(SLICE)));
        }
    }
}
