//! `RawBarrier`: `threading.Barrier`'s algorithm on shared words, guarded
//! by an internal [`RawMutex`], with an eventcount to sleep on.
//!
//! # Words
//! | word     | type | meaning |
//! |----------|------|---------|
//! | `lock`   | u64+2×u32 | internal mutex (see `raw/mutex.rs`) guarding the words below |
//! | `phase`  | u32  | `FILLING`, `DRAINING`, `RESETTING` or `BROKEN` |
//! | `count`  | u32  | parties inside `wait` (arrived, not yet left) |
//! | `parties`| u32  | parties per generation (set at creation) |
//! | `wake`   | 2×u32 | a [`RawEventCount`]: waiters register under the lock, then sleep; every phase change notifies all |
//!
//! # States (CPython's `threading.Barrier`: 0, 1, -1, -2)
//! | phase       | arriving `wait`            | last arrival          | leaving (count → 0) |
//! |-------------|----------------------------|-----------------------|---------------------|
//! | `FILLING`   | `count += 1`, sleep until phase changes | action, → `DRAINING`, wake all | — |
//! | `DRAINING`  | sleep until `FILLING`      | —                     | → `FILLING`, wake all |
//! | `RESETTING` | sleep until `FILLING`      | —                     | → `FILLING`, wake all |
//! | `BROKEN`    | error at once              | —                     | stays `BROKEN` |
//!
//! A waiter whose own timeout expires breaks the barrier (everyone gets
//! the error), as in Python. A dead holder of the internal lock also breaks
//! it: its counts can no longer be trusted.

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, Ordering};
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::{Acquired, TimedOut};

pub(crate) const FILLING: u32 = 0;
pub(crate) const DRAINING: u32 = 1;
pub(crate) const RESETTING: u32 = 2;
pub(crate) const BROKEN: u32 = 3;

/// The barrier is (or just became) broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Broken;

/// The words of a barrier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawBarrier<'a> {
    pub(crate) lock: RawMutex<'a>,
    pub(crate) phase: &'a AtomicU32,
    pub(crate) count: &'a AtomicU32,
    pub(crate) parties: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
}

impl RawBarrier<'_> {
    fn enter<P: Park>(&self, me: u64) {
        if self.lock.lock::<P>(me, Deadline::NEVER) == Ok(Acquired::OwnerDied) {
            self.break_locked::<P>();
        }
    }

    fn leave<P: Park>(&self) {
        let _ = self.lock.unlock::<P>();
    }

    fn notify_all<P: Park>(&self) {
        self.wake.notify::<P>(u32::MAX);
    }

    fn break_locked<P: Park>(&self) {
        self.phase.store(BROKEN, Ordering::SeqCst);
        self.notify_all::<P>();
    }

    /// Releases the lock, sleeps for a change, re-takes it; `Err` when the
    /// deadline passed first.
    fn cond_wait<P: Park>(&self, me: u64, deadline: Deadline) -> Result<(), TimedOut> {
        if deadline.passed() {
            return Err(TimedOut);
        }
        // Registered under the lock: every later notify (also under the
        // lock) sees the registration and bumps the key.
        let waiter = self.wake.prepare();
        self.leave::<P>();
        waiter.wait::<P>(deadline.slice(Some(SLICE)));
        drop(waiter);
        self.enter::<P>(me);
        Ok(())
    }

    /// `Barrier.wait`: returns the arrival index. `action` runs in the last
    /// arrival before anyone is released; if it fails the barrier breaks
    /// and its error is returned to that caller.
    pub(crate) fn wait<P: Park, E>(
        &self,
        me: u64,
        deadline: Deadline,
        action: impl FnOnce() -> Result<(), E>,
    ) -> Result<usize, Result<Broken, E>> {
        self.enter::<P>(me);
        // _enter: wait while the previous generation drains or resets.
        while matches!(self.phase.load(Ordering::SeqCst), DRAINING | RESETTING) {
            if self.cond_wait::<P>(me, deadline).is_err() {
                self.break_locked::<P>();
            }
        }
        if self.phase.load(Ordering::SeqCst) == BROKEN {
            self.leave::<P>();
            return Err(Ok(Broken));
        }
        let index = self.count.fetch_add(1, Ordering::SeqCst);
        let parties = self.parties.load(Ordering::Relaxed);
        let result = if index + 1 >= parties {
            match action() {
                Ok(()) => {
                    self.phase.store(DRAINING, Ordering::SeqCst);
                    self.notify_all::<P>();
                    Ok(index as usize)
                }
                Err(e) => {
                    self.break_locked::<P>();
                    Err(Err(e))
                }
            }
        } else {
            loop {
                let phase = self.phase.load(Ordering::SeqCst);
                if phase == BROKEN || phase == RESETTING {
                    break Err(Ok(Broken));
                }
                if phase != FILLING {
                    break Ok(index as usize);
                }
                if self.cond_wait::<P>(me, deadline).is_err() {
                    self.break_locked::<P>();
                    break Err(Ok(Broken));
                }
            }
        };
        // _exit
        let left = self.count.fetch_sub(1, Ordering::SeqCst) - 1;
        if left == 0 && matches!(self.phase.load(Ordering::SeqCst), DRAINING | RESETTING) {
            self.phase.store(FILLING, Ordering::SeqCst);
            self.notify_all::<P>();
        }
        self.leave::<P>();
        result
    }

    /// `Barrier.reset`.
    pub(crate) fn reset<P: Park>(&self, me: u64) {
        self.enter::<P>(me);
        if self.count.load(Ordering::SeqCst) > 0 {
            match self.phase.load(Ordering::SeqCst) {
                FILLING | BROKEN => self.phase.store(RESETTING, Ordering::SeqCst),
                _ => {}
            }
        } else {
            self.phase.store(FILLING, Ordering::SeqCst);
        }
        self.notify_all::<P>();
        self.leave::<P>();
    }

    /// `Barrier.abort`.
    pub(crate) fn abort<P: Park>(&self, me: u64) {
        self.enter::<P>(me);
        self.break_locked::<P>();
        self.leave::<P>();
    }

    /// `Barrier.n_waiting`.
    pub(crate) fn n_waiting(&self) -> usize {
        if self.phase.load(Ordering::SeqCst) == FILLING {
            self.count.load(Ordering::SeqCst) as usize
        } else {
            0
        }
    }

    /// `Barrier.broken`.
    pub(crate) fn broken(&self) -> bool {
        self.phase.load(Ordering::SeqCst) == BROKEN
    }
}
