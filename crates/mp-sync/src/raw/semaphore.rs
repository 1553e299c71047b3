//! `RawSemaphore`: a process-shared counting semaphore (optionally bounded)
//! that remembers which processes hold slots, so slots of a dead process
//! go back to the waiters.
//!
//! # Words
//! | word              | type | meaning |
//! |-------------------|------|---------|
//! | `count`           | u32  | free slots (`0..=bound`) |
//! | `wake`            | 2×u32 | a [`RawEventCount`]: waiters sleep on it, releases notify it |
//! | `bound`           | u32  | maximum value (`0` = unbounded, `Semaphore`) |
//! | `holders[i].who`  | u64  | `ProcessIdent` bits of the entry's process, `0` = free entry |
//! | `holders[i].held` | u32  | slots that process acquired and has not released |
//!
//! # States
//! | `count` | acquire                                  | release                                  |
//! |---------|------------------------------------------|------------------------------------------|
//! | `> 0`   | CAS `c → c-1`, then `held += 1` for me   | CAS `c → c+1` (error at `bound`), `held -= 1` for me if any, notify 1 (a syscall only if a waiter is registered) |
//! | `0`     | register, re-check, sleep in 50 ms slices; after a slice, reclaim | as above |
//!
//! # Dead holders
//! Python's semaphore has no owner, so a slot is attributed to the process
//! that acquired it until that same process releases one. A release by a
//! process holding nothing (a producer in a producer/consumer pattern) only
//! adds to `count`. A waiter whose slice expired with `count == 0` scans the
//! table: an entry with `held > 0` whose process is dead is taken over (CAS
//! of `who` to the waiter; the dead cannot race), the waiter keeps one of
//! its slots (and learns `OwnerDied`) and returns the others to `count`.
//! Consequence to document: a process that acquires slots it never means to
//! release (a consumer) and then dies has them returned. The table has
//! [`HOLDERS`] entries; acquisitions by further concurrent processes are not
//! tracked. A process killed between the `count` CAS and the `held` update
//! (a few instructions) escapes tracking, as the kernel's robust list has a
//! similar pending-op window.

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, AtomicU64, Ordering};
use crate::raw::eventcount::RawEventCount;
use crate::raw::{Acquired, TimedOut};

/// Entries in the holder table.
pub(crate) const HOLDERS: usize = 64;

/// A release beyond the bound (Python's `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// One holder-table entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder<'a> {
    pub(crate) who: &'a AtomicU64,
    pub(crate) held: &'a AtomicU32,
}

/// The words of a semaphore; `holders` yields entry `i`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSemaphore<'a, H> {
    pub(crate) count: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
    pub(crate) bound: &'a AtomicU32,
    pub(crate) holders: H,
}

/// The largest count (Linux's `SEM_VALUE_MAX`).
pub(crate) const VALUE_MAX: u32 = i32::MAX as u32;

impl<'a, H: Fn(usize) -> Holder<'a>> RawSemaphore<'a, H> {
    /// One attempt, no waiting.
    pub(crate) fn try_acquire<P: Park>(&self, me: u64) -> bool {
        let mut c = self.count.load(Ordering::Relaxed);
        while c > 0 {
            match self
                .count
                .compare_exchange_weak(c, c - 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.track::<P>(me);
                    return true;
                }
                Err(now) => c = now,
            }
        }
        false
    }

    /// Takes a slot as `me`, waiting until `deadline`.
    pub(crate) fn acquire<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
    ) -> Result<Acquired, TimedOut> {
        loop {
            if self.try_acquire::<P>(me) {
                return Ok(Acquired::Clean);
            }
            if deadline.passed() {
                // A wake-up this thread consumed must not strand a free slot.
                if self.count.load(Ordering::SeqCst) > 0 {
                    self.wake.notify::<P>(1);
                }
                return Err(TimedOut);
            }
            let waiter = self.wake.prepare();
            if self.count.load(Ordering::SeqCst) > 0 {
                continue;
            }
            // After a whole slice without a release: did a holder die?
            if waiter.wait::<P>(deadline.slice(Some(SLICE))) && self.reclaim::<P>(me) {
                return Ok(Acquired::OwnerDied);
            }
        }
    }

    /// Returns a slot.
    pub(crate) fn release<P: Park>(&self, me: u64) -> Result<(), Overflow> {
        let bound = self.bound.load(Ordering::Relaxed);
        let max = if bound == 0 { VALUE_MAX } else { bound };
        let mut c = self.count.load(Ordering::Relaxed);
        loop {
            if c >= max {
                return Err(Overflow);
            }
            match self
                .count
                .compare_exchange_weak(c, c + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => c = now,
            }
        }
        self.untrack(me);
        self.wake.notify::<P>(1);
        Ok(())
    }

    /// Free slots now.
    pub(crate) fn value(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    fn start(me: u64) -> usize {
        (me as usize).wrapping_mul(0x9E37_79B9) % HOLDERS
    }

    fn track<P: Park>(&self, me: u64) {
        let start = Self::start(me);
        for i in (0..HOLDERS).map(|k| (start + k) % HOLDERS) {
            let h = (self.holders)(i);
            let who = h.who.load(Ordering::Acquire);
            if who == me
                || (who == 0
                    && h.who
                        .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok())
            {
                h.held.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
        // Table full of other processes: reuse an idle entry of a dead one.
        for i in 0..HOLDERS {
            let h = (self.holders)(i);
            let who = h.who.load(Ordering::Acquire);
            if who != 0
                && h.held.load(Ordering::SeqCst) == 0
                && !P::is_alive(who)
                && h.who
                    .compare_exchange(who, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                h.held.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }

    fn untrack(&self, me: u64) {
        let start = Self::start(me);
        for i in (0..HOLDERS).map(|k| (start + k) % HOLDERS) {
            let h = (self.holders)(i);
            if h.who.load(Ordering::Acquire) != me {
                continue;
            }
            let mut held = h.held.load(Ordering::SeqCst);
            while held > 0 {
                match h.held.compare_exchange_weak(
                    held,
                    held - 1,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => return,
                    Err(now) => held = now,
                }
            }
        }
    }

    /// Takes over the slots of one dead holder; keeps one. Returns whether
    /// this thread now holds a slot.
    fn reclaim<P: Park>(&self, me: u64) -> bool {
        if self.count.load(Ordering::SeqCst) > 0 {
            return false;
        }
        for i in 0..HOLDERS {
            let h = (self.holders)(i);
            let who = h.who.load(Ordering::Acquire);
            if who == 0 || who == me || h.held.load(Ordering::SeqCst) == 0 || P::is_alive(who) {
                continue;
            }
            if h.who
                .compare_exchange(who, me, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            // The entry is ours now; its process is dead and cannot race.
            let held = h.held.load(Ordering::SeqCst);
            if held == 0 {
                continue;
            }
            let extra = held - 1;
            h.held.fetch_sub(extra, Ordering::SeqCst);
            let bound = self.bound.load(Ordering::Relaxed);
            for _ in 0..extra {
                let mut c = self.count.load(Ordering::Relaxed);
                loop {
                    if bound != 0 && c >= bound {
                        break;
                    }
                    match self.count.compare_exchange_weak(
                        c,
                        c + 1,
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => c = now,
                    }
                }
            }
            if extra > 0 {
                self.wake.notify::<P>(extra);
            }
            return true;
        }
        false
    }
}
