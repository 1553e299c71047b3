//! `RawBarrier`: `threading.Barrier`'s algorithm on shared words, guarded
//! by an internal [`RawMutex`], with an eventcount to sleep on.
//!
//! # Words
//! | word     | type | meaning |
//! |----------|------|---------|
//! | `lock`   | u64+2×u32 | internal mutex (see `raw/mutex.rs`) guarding the words below |
//! | `phase`  | u32  | `FILLING`, `DRAINING`, `RESETTING` or `BROKEN` |
//! | `count`  | u32  | parties inside `wait` (arrived, not yet left) |
//! | `scanned`| u32  | clock of the last scan for dead parties (see [`scan_due`]) |
//! | `parties`| u32  | parties per generation (set at creation) |
//! | `wake`   | 2×u32 | a [`RawEventCount`]: waiters register under the lock, then sleep; every phase change notifies all |
//! | `arrivals[i]` | u64 | `ProcessIdent` bits of the party that arrived `i`-th in this generation and has not left yet, `0` = none (`parties` entries) |
//!
//! # States (CPython's `threading.Barrier`: 0, 1, -1, -2)
//! | phase       | arriving `wait`            | last arrival          | leaving (count → 0) |
//! |-------------|----------------------------|-----------------------|---------------------|
//! | `FILLING`   | `count += 1`, sleep until phase changes | action, → `DRAINING`, wake all | — |
//! | `DRAINING`  | sleep until `FILLING`      | —                     | → `FILLING`, wake all |
//! | `RESETTING` | sleep until `FILLING`      | —                     | → `FILLING`, wake all |
//! | `BROKEN`    | error at once              | —                     | stays `BROKEN` |
//!
//! An arrival stores its identity at `arrivals[index]` before it raises
//! `count`; leaving clears it before it lowers `count`. So the entries
//! name exactly the parties inside `wait` (`count` of them).
//!
//! A waiter whose own timeout expires breaks the barrier (everyone gets
//! the error), as in Python.
//!
//! # Dead parties
//! A party killed inside `wait` never leaves: without more, its arrival
//! would count for ever and every later generation would hang. Waiters
//! sleep in [`SLICE`]s; after a slice without a phase change they scan
//! `arrivals` (under the lock) for parties whose process died, clear each
//! such entry and lower `count` ("reaping"). One scan per slice is enough,
//! so a waiter skips it if another one scanned less than a slice ago
//! (`scanned`): the `/proc` reads grow with the parties, not with their
//! square. Then:
//!
//! | phase when reaped | effect |
//! |-------------------|--------|
//! | `FILLING`   | → `BROKEN`: a party of this generation is lost, as when `threading.Barrier` loses a party to a timeout; everyone waiting gets `BrokenBarrier` within a slice; `reset()` makes the barrier usable again |
//! | `DRAINING`  | the dead party had passed; if `count` reaches 0, → `FILLING` (nothing is lost) |
//! | `RESETTING` | as `DRAINING` |
//! | `BROKEN`    | stays `BROKEN`; `count` is right again, so `reset()` can complete |
//!
//! The arrival that would complete a generation reaps first (without
//! waiting for a slice), so a generation is never released with a party
//! that died inside it: a death inside `wait` breaks the barrier whoever
//! notices it — a party waiting with the dead one (within a slice), or the
//! next arrival (at once if it completes the generation, within a slice
//! otherwise), even when the dead party was alone inside. The outcome does
//! not depend on timing: after such a death every `wait` gets
//! `BrokenBarrier` until `reset()`. The price is one `/proc` read per
//! other process inside, by the last arrival, on every pass.
//!
//! Why break rather than withdraw the dead party's arrival (what
//! `threading.Barrier` does for a thread that raises out of `wait`: its
//! `finally` lowers the count, and the others go on waiting for a
//! replacement)? A barrier's parties are normally a fixed crew; a crew
//! member that died will never arrive again, so withdrawing it would leave
//! the survivors waiting until their timeouts, or for ever without one —
//! a hang caused by a dead peer, which this crate never allows. Breaking
//! turns the death into an error within a slice, as `threading.Barrier`
//! does for a party lost to a timeout, and `reset()` restores the full
//! capacity: no capacity is lost for good. A party that dies after the
//! last arrival released everyone has passed, so its death costs nothing:
//! its leftover arrival is reaped in `DRAINING`. `reset()` reaps too, so
//! it completes however many parties died.
//!
//! A dead holder of the internal lock breaks the barrier (it may have died
//! running the action, or between an entry and `count`); the next holder
//! recounts `count` from `arrivals` and reaps.

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, AtomicU64, Ordering};
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::{scan_due, Acquired, TimedOut};

pub(crate) const FILLING: u32 = 0;
pub(crate) const DRAINING: u32 = 1;
pub(crate) const RESETTING: u32 = 2;
pub(crate) const BROKEN: u32 = 3;

/// The barrier is (or just became) broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Broken;

/// The words of a barrier; `arrivals` yields entry `i` (`None` past the
/// table, which only a damaged slot has).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawBarrier<'a, A> {
    pub(crate) lock: RawMutex<'a>,
    pub(crate) phase: &'a AtomicU32,
    pub(crate) count: &'a AtomicU32,
    pub(crate) scanned: &'a AtomicU32,
    pub(crate) parties: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
    pub(crate) arrivals: A,
}

impl<'a, A: Fn(usize) -> Option<&'a AtomicU64>> RawBarrier<'a, A> {
    fn enter<P: Park>(&self, me: u64) {
        if self.lock.lock::<P>(me, Deadline::NEVER) == Ok(Acquired::OwnerDied) {
            self.break_locked::<P>();
            self.recount();
            self.reap::<P>();
        }
    }

    fn entries(&self) -> impl Iterator<Item = &'a AtomicU64> + '_ {
        let parties = self.parties.load(Ordering::Relaxed) as usize;
        (0..parties).map_while(|i| (self.arrivals)(i))
    }

    /// Sets `count` to the number of parties inside (lock held).
    fn recount(&self) {
        let inside = self
            .entries()
            .filter(|e| e.load(Ordering::Relaxed) != 0)
            .count();
        self.count.store(inside as u32, Ordering::SeqCst);
    }

    /// Clears the entries of dead parties and lowers `count` for each
    /// (lock held); see the table in the module docs.
    fn reap<P: Park>(&self) {
        let mut reaped = 0;
        let mut alive = 0; // the last identity found alive: threads of one process repeat it
        for e in self.entries() {
            let who = e.load(Ordering::Relaxed);
            if who == 0 || who == alive {
                continue;
            }
            if P::is_alive(who) {
                alive = who;
                continue;
            }
            e.store(0, Ordering::Relaxed);
            reaped += 1;
        }
        if reaped == 0 {
            return;
        }
        let left = self.count.load(Ordering::SeqCst).saturating_sub(reaped);
        self.count.store(left, Ordering::SeqCst);
        match self.phase.load(Ordering::SeqCst) {
            FILLING => self.phase.store(BROKEN, Ordering::SeqCst),
            DRAINING | RESETTING if left == 0 => self.phase.store(FILLING, Ordering::SeqCst),
            _ => {}
        }
        self.notify_all::<P>();
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
        let slept_a_slice = waiter.wait::<P>(deadline.slice(Some(SLICE)));
        drop(waiter);
        self.enter::<P>(me);
        if slept_a_slice {
            // No phase change for a whole slice: did a party die inside?
            if scan_due::<P>(self.scanned) {
                self.reap::<P>();
            }
        }
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
        let index = self.count.load(Ordering::SeqCst);
        let entry = (self.arrivals)(index as usize);
        if let Some(e) = entry {
            e.store(me, Ordering::Relaxed);
        }
        // (Saturating: shared words a damaged peer wrote must not panic us.)
        self.count.store(index.saturating_add(1), Ordering::SeqCst);
        let parties = self.parties.load(Ordering::Relaxed);
        let result = if index.saturating_add(1) >= parties {
            // Never release a generation with a party that died inside:
            // a death before this arrival breaks it, whoever noticed first.
            self.reap::<P>();
            if self.phase.load(Ordering::SeqCst) == BROKEN {
                Err(Ok(Broken))
            } else {
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
        if let Some(e) = entry {
            e.store(0, Ordering::Relaxed);
        }
        // (Saturating: a damaged slot may have lost track of this caller.)
        let left = self.count.load(Ordering::SeqCst).saturating_sub(1);
        self.count.store(left, Ordering::SeqCst);
        if left == 0 && matches!(self.phase.load(Ordering::SeqCst), DRAINING | RESETTING) {
            self.phase.store(FILLING, Ordering::SeqCst);
            self.notify_all::<P>();
        }
        self.leave::<P>();
        result
    }

    /// `Barrier.reset`; reaps dead parties first, so it completes however
    /// many died inside `wait`.
    pub(crate) fn reset<P: Park>(&self, me: u64) {
        self.enter::<P>(me);
        self.reap::<P>();
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
