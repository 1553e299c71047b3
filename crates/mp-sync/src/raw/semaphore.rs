//! `RawSemaphore`: a process-shared counting semaphore (optionally bounded)
//! that remembers which processes hold slots, so slots of dead processes
//! go back to the waiters, however many processes die, and whatever
//! instruction a process dies at.
//!
//! # Words
//! | word              | type | meaning |
//! |-------------------|------|---------|
//! | `count`           | u32  | free slots (`0..=bound`); derived: `total - Σ held`, repaired from them |
//! | `wake`            | 2×u32 | a [`RawEventCount`]: waiters sleep on it, releases notify it |
//! | `bound`           | u32  | maximum value (`0` = unbounded, `Semaphore`) |
//! | `used`            | u32  | entries handed out so far (`holders[used..]` are untouched zeros) |
//! | `scanned`         | u32  | clock of the last waiter's scan for dead holders (see [`scan_due`]) |
//! | `lock`            | u64+2×u32 | a [`RawMutex`]: every change of `count`, `total` and the table happens under it |
//! | `total`           | u32  | slots in existence: `count + Σ held` (the initial value, plus releases by processes holding none) |
//! | `holders[i].who`  | u64  | `ProcessIdent` bits of the entry's process; `0` = free |
//! | `holders[i].held` | u32  | slots that process acquired and has not released |
//!
//! # Operations (each one critical section of `lock`)
//! | operation              | writes |
//! |------------------------|--------|
//! | acquire, `count > 0`   | `held += 1` on my entry (claimed first if I have none), `count -= 1` |
//! | acquire, `count == 0`  | nothing: unlock, register on `wake`, re-check, sleep in 50 ms slices; after a slice, reclaim |
//! | release by a holder    | `held -= 1`, `count += 1` (error at `bound`, nothing written) |
//! | release by a non-holder| `total += 1`, `count += 1` (error at `bound`, nothing written) |
//! | reclaim (a waiter)     | per dead entry: `held → 0`, `who → 0`, `count += held`; then it takes one as an acquire |
//!
//! A release notifies `wake` once after unlocking (a syscall only if a
//! waiter is registered); a reclaim notifies as many as it returned.
//!
//! # Why no death loses or doubles a slot
//! The invariant is `count + Σ held = total` (`count` capped at the
//! bound), and `total` and the `held` words are the truth: `count` is a
//! cache of `total - Σ held`. Every write to any of them happens inside
//! one critical section of `lock`, whose word names its owner process. A
//! process killed at any instruction either holds `lock` or does not:
//! - if not, every critical section it ran is complete and the invariant
//!   holds;
//! - if so, it leaves at most one operation half done: some of the writes
//!   in the table above made, the others not. The next process to take
//!   `lock` gets it as a [`RawMutex`] takeover (`OwnerDied`) and *repairs*
//!   before anything else: `count = min(total - Σ held, bound)`, then
//!   `total = count + Σ held`. Whichever of the dead process's writes
//!   landed, the result is a state one of its operations could have left:
//!   an acquire whose `held += 1` landed holds the slot (a waiter reclaims
//!   it from the dead entry, as any dead holder's); one whose `held += 1`
//!   did not land never took it; a release or reclaim either happened or
//!   did not. The repair writes only `count` and `total`, from words the
//!   dead process can no longer change, so a repairer killed half-way is
//!   repaired again by the next taker (it is idempotent).
//!
//! So the slot take and the holder record are one step as far as any
//! other process can see, and the semaphore is crash-consistent at every
//! instruction boundary. The cost is one uncontended `lock` CAS and swap
//! per operation, all in user space; a waiter never sleeps holding
//! `lock`, and nobody holds it across a system call except a first
//! acquisition recycling a dead process's entry (a few `/proc` reads).
//!
//! # Holder entries
//! A process has one entry while it lives, taken at its first
//! acquisition: a free one (`who == 0`), else a dead process's among
//! [`PROBES`] entries from a place its identity picks (its slots go back
//! to `count`), else a new one (`used += 1`), else (the table is full) any
//! dead process's. Its threads all find it by its `who`. Only `lock`'s
//! owner writes entries, so there is no race on them. The table has as
//! many entries as there can be live threads (`Semaphore` gives it
//! `PID_MAX_LIMIT`), so it cannot fill with live processes, and `used`,
//! with the scans over `holders[..used]`, follows the number of processes
//! using the semaphore at the same time, not how many ever did.
//!
//! # Dead holders
//! Python's semaphore has no owner, so a slot is attributed to the process
//! that acquired it until that same process releases one. A release by a
//! process holding nothing (a producer in a producer/consumer pattern)
//! raises `total`. A waiter whose slice expired with `count == 0` reclaims
//! (unless another waiter scanned less than a slice ago: `scanned`, so the
//! `/proc` reads per slice follow the holders, not holders × waiters)
//! every entry with `held > 0` whose process is dead: it keeps one of their
//! slots (and learns `OwnerDied`: one report for the deaths it found) and
//! returns the others to `count`, waking as many waiters. Consequence to
//! document: a process that acquires slots it never means to release (a
//! consumer) and then dies has them returned.

use std::marker::PhantomData;

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, AtomicU64, Ordering};
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::{scan_due, Acquired, TimedOut};

/// Entries a process's first acquisition checks for a dead process's
/// entry to reuse before it makes the table longer.
pub(crate) const PROBES: usize = 8;

/// A release beyond the bound (Python's `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// One holder-table entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder<'a> {
    pub(crate) who: &'a AtomicU64,
    pub(crate) held: &'a AtomicU32,
}

/// The words of a semaphore; `holders` yields entry `i`, or `None` past
/// the end of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSemaphore<'a, H> {
    pub(crate) count: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
    pub(crate) bound: &'a AtomicU32,
    pub(crate) used: &'a AtomicU32,
    pub(crate) scanned: &'a AtomicU32,
    pub(crate) lock: RawMutex<'a>,
    pub(crate) total: &'a AtomicU32,
    pub(crate) holders: H,
}

/// The largest count (Linux's `SEM_VALUE_MAX`).
pub(crate) const VALUE_MAX: u32 = i32::MAX as u32;

/// Holding a semaphore's `lock` as `me`: the only way to change its words.
struct Locked<'s, 'a, H, P: Park> {
    sem: &'s RawSemaphore<'a, H>,
    me: u64,
    park: PhantomData<P>,
}

impl<H, P: Park> Drop for Locked<'_, '_, H, P> {
    fn drop(&mut self) {
        let _ = self.sem.lock.unlock::<P>();
    }
}

impl<'a, H: Fn(usize) -> Option<Holder<'a>>> RawSemaphore<'a, H> {
    /// Takes a slot as `me`, waiting until `deadline`.
    pub(crate) fn acquire<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
    ) -> Result<Acquired, TimedOut> {
        loop {
            if self.attempt::<P>(me, deadline)? {
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
            if waiter.wait::<P>(deadline.slice(Some(SLICE))) && self.reclaim::<P>(me, deadline)? {
                return Ok(Acquired::OwnerDied);
            }
        }
    }

    /// Returns a slot.
    pub(crate) fn release<P: Park>(&self, me: u64) -> Result<(), Overflow> {
        {
            let l = self
                .locked::<P>(me, Deadline::NEVER)
                .map_err(|_| Overflow)?;
            if self.count.load(Ordering::SeqCst) >= self.max() {
                return Err(Overflow);
            }
            match l.mine() {
                Some(h) if h.held.load(Ordering::SeqCst) > 0 => {
                    h.held.fetch_sub(1, Ordering::SeqCst);
                }
                _ => {
                    self.total.fetch_add(1, Ordering::SeqCst);
                }
            }
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        self.wake.notify::<P>(1);
        Ok(())
    }

    /// Free slots now.
    pub(crate) fn value(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// The largest `count`.
    fn max(&self) -> u32 {
        match self.bound.load(Ordering::Relaxed) {
            0 => VALUE_MAX,
            bound => bound,
        }
    }

    /// Takes `lock` (waiting until `deadline`, but at least a slice: a
    /// live owner holds it for a few instructions, a dead one is taken
    /// over after a slice), repairing what a dead owner left half done.
    fn locked<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
    ) -> Result<Locked<'_, 'a, H, P>, TimedOut> {
        let at_least = Deadline::after(Some(SLICE));
        let deadline = if deadline.min(at_least) == deadline {
            at_least
        } else {
            deadline
        };
        let took = self.lock.lock::<P>(me, deadline)?;
        let l = Locked {
            sem: self,
            me,
            park: PhantomData,
        };
        if took == Acquired::OwnerDied {
            l.repair();
        }
        Ok(l)
    }

    /// One locked attempt to take a slot; `Ok(false)` if none is free.
    pub(crate) fn attempt<P: Park>(&self, me: u64, deadline: Deadline) -> Result<bool, TimedOut> {
        let l = self.locked::<P>(me, deadline)?;
        Ok(l.take())
    }

    /// Entries `0..used`.
    fn entries(&self) -> impl Iterator<Item = Holder<'a>> + '_ {
        let used = self.used.load(Ordering::SeqCst) as usize;
        (0..used).map_while(|i| (self.holders)(i))
    }

    /// Reclaims every dead holder's slots; keeps one. Returns whether this
    /// thread now holds a slot.
    pub(crate) fn reclaim<P: Park>(&self, me: u64, deadline: Deadline) -> Result<bool, TimedOut> {
        if self.count.load(Ordering::SeqCst) > 0 || !scan_due::<P>(self.scanned) {
            return Ok(false);
        }
        // Liveness outside the lock: a dead identity stays dead, so an
        // entry that still names it under the lock is still a dead one's.
        let dead: Vec<(Holder<'a>, u64)> = self
            .entries()
            .filter_map(|h| {
                let who = h.who.load(Ordering::SeqCst);
                let holding = h.held.load(Ordering::SeqCst) > 0;
                (holding && who != 0 && who != me && !P::is_alive(who)).then_some((h, who))
            })
            .collect();
        if dead.is_empty() {
            return Ok(false);
        }
        let found = {
            let l = self.locked::<P>(me, deadline)?;
            let found = dead
                .into_iter()
                .filter(|(h, who)| h.who.load(Ordering::SeqCst) == *who)
                .map(|(h, _)| l.free_entry(h))
                .fold(0, u32::saturating_add);
            if found > 0 {
                // `count >= found > 0` now (the bound is at least 1).
                let _took = l.take();
            }
            found
        };
        if found > 1 {
            self.wake.notify::<P>(found - 1);
        }
        Ok(found > 0)
    }
}

impl<'a, H: Fn(usize) -> Option<Holder<'a>>, P: Park> Locked<'_, 'a, H, P> {
    /// Restores `count + Σ held = total` after a dead owner of `lock`.
    fn repair(&self) {
        let s = self.sem;
        let held = s
            .entries()
            .map(|h| h.held.load(Ordering::SeqCst))
            .fold(0, u32::saturating_add);
        let total = s.total.load(Ordering::SeqCst);
        let count = total.saturating_sub(held).min(s.max());
        s.count.store(count, Ordering::SeqCst);
        s.total.store(count.saturating_add(held), Ordering::SeqCst);
    }

    /// The caller's entry, if it has one.
    fn mine(&self) -> Option<Holder<'a>> {
        self.sem
            .entries()
            .find(|h| h.who.load(Ordering::SeqCst) == self.me)
    }

    /// Takes a slot for `me` if one is free: `held += 1`, `count -= 1`.
    fn take(&self) -> bool {
        let s = self.sem;
        if s.count.load(Ordering::SeqCst) == 0 {
            return false;
        }
        match self.mine().or_else(|| self.claim_entry()) {
            Some(h) => {
                h.held.fetch_add(1, Ordering::SeqCst);
            }
            // Only a damaged table has no entry for a live process: the
            // slot is then counted in `total` no more (lost, never doubled).
            None => {
                s.total.fetch_sub(1, Ordering::SeqCst);
            }
        }
        s.count.fetch_sub(1, Ordering::SeqCst);
        true
    }

    /// Gives `me` an entry: a free one, a dead process's, or a new one.
    fn claim_entry(&self) -> Option<Holder<'a>> {
        let (s, me) = (self.sem, self.me);
        let fresh = |h: Holder<'a>| {
            h.held.store(0, Ordering::SeqCst);
            h.who.store(me, Ordering::SeqCst);
            h
        };
        if let Some(h) = s.entries().find(|h| h.who.load(Ordering::SeqCst) == 0) {
            return Some(fresh(h));
        }
        let used = s.used.load(Ordering::SeqCst) as usize;
        if used > 0 {
            let start = (me as usize).wrapping_mul(0x9E37_79B9) % used;
            let recycled = (0..used.min(PROBES))
                .filter_map(|k| (s.holders)((start + k) % used))
                .find(|h| self.is_dead(*h));
            if let Some(h) = recycled {
                self.free_entry(h);
                return Some(fresh(h));
            }
        }
        if let Some(h) = (s.holders)(used) {
            s.used.store(used as u32 + 1, Ordering::SeqCst);
            return Some(fresh(h));
        }
        // Full: with as many entries as live threads, a dead one is there.
        let h = s.entries().find(|h| self.is_dead(*h))?;
        self.free_entry(h);
        Some(fresh(h))
    }

    /// Whether `h` is a dead process's entry.
    fn is_dead(&self, h: Holder<'_>) -> bool {
        let who = h.who.load(Ordering::SeqCst);
        who != 0 && who != self.me && !P::is_alive(who)
    }

    /// Frees a dead process's entry, returning its slots to `count` (up
    /// to the bound); returns how many it held.
    fn free_entry(&self, h: Holder<'_>) -> u32 {
        let s = self.sem;
        let n = h.held.load(Ordering::SeqCst);
        let c = s.count.load(Ordering::SeqCst);
        let back = c.saturating_add(n).min(s.max());
        h.held.store(0, Ordering::SeqCst);
        h.who.store(0, Ordering::SeqCst);
        s.count.store(back, Ordering::SeqCst);
        // What the bound cut off leaves `total` with the count.
        let cut = n.saturating_sub(back.saturating_sub(c));
        s.total.fetch_sub(cut, Ordering::SeqCst);
        n
    }
}
