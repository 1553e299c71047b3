//! `RawSemaphore`: a process-shared counting semaphore (optionally bounded)
//! that remembers which processes hold slots, so slots of dead processes
//! go back to the waiters, however many processes die.
//!
//! # Words
//! | word              | type | meaning |
//! |-------------------|------|---------|
//! | `count`           | u32  | free slots (`0..=bound`) |
//! | `wake`            | 2×u32 | a [`RawEventCount`]: waiters sleep on it, releases notify it |
//! | `bound`           | u32  | maximum value (`0` = unbounded, `Semaphore`) |
//! | `used`            | u32  | entries handed out so far (`holders[used..]` are untouched zeros) |
//! | `scanned`         | u32  | clock of the last waiter's scan for dead holders (see [`scan_due`]) |
//! | `claim`           | u64+2×u32 | a [`RawMutex`] held while a process takes its entry (its first acquisition) |
//! | `holders[i].who`  | u64  | `ProcessIdent` bits of the entry's process; `0` = free; with [`RECLAIMING`] set: being reclaimed by that process |
//! | `holders[i].held` | u32  | slots that process acquired and has not released |
//!
//! # States
//! | `count` | acquire                                  | release                                  |
//! |---------|------------------------------------------|------------------------------------------|
//! | `> 0`   | CAS `c → c-1`, then `held += 1` on my entry | `held -= 1` on my entry if it holds any, then CAS `c → c+1` (error at `bound`), notify 1 (a syscall only if a waiter is registered) |
//! | `0`     | register, re-check, sleep in 50 ms slices; after a slice, reclaim | as above |
//!
//! # Holder entries
//! | entry               | who changes it | how |
//! |---------------------|----------------|-----|
//! | free (`who == 0`)   | anyone, holding `claim` | claim: CAS `who 0 → me`, then `held += 1` |
//! | a live process's    | its threads    | `held ± 1` (atomic add / CAS); the entry stays its own while it lives |
//! | a dead process's    | one reclaimer  | CAS `who → me \| RECLAIMING`, `held → 0` (its slots go back to `count`), `who = 0` |
//!
//! A process's entry is permanent while it lives, and it has one: a
//! thread that finds none takes the `claim` mutex and looks again before
//! it claims, so two threads of one process cannot both claim (two
//! entries would let a release that scanned before the second existed
//! miss it). So its threads always find it, a release by a holder always
//! finds a slot to take off it, and no other live process ever touches
//! it. The mutex is on the first acquisition only; a process killed
//! holding it is taken over like any `RawMutex` owner (nothing to
//! repair: at worst an entry with `held == 0` or an unclaimed one inside
//! `used`). A dead process's entry is changed by nobody but the
//! reclaimer that won the CAS of `who`; if that one dies too, the
//! `RECLAIMING` mark names a dead process and the next reclaimer takes
//! over.
//!
//! # Capacity
//! The table holds one entry per live process that has used the semaphore,
//! plus dead ones not reclaimed yet. Its size is fixed at creation; the
//! `Semaphore` gives it `PID_MAX_LIMIT` (2^22) entries, as many as there
//! can be live threads, so it cannot fill with live processes: when it is
//! full, an acquirer reclaims a dead process's entry (returning its slots)
//! and takes it. Dead entries are also recycled before the table grows: a
//! process's first acquisition checks up to [`PROBES`] entries (from a
//! place its identity picks) and takes the first dead one. So `used`, and
//! the scans over `holders[..used]`, follow the number of processes using
//! the semaphore at the same time (plus dead entries the probes have not
//! met yet), not how many ever did.
//!
//! # Dead holders
//! Python's semaphore has no owner, so a slot is attributed to the process
//! that acquired it until that same process releases one. A release by a
//! process holding nothing (a producer in a producer/consumer pattern) only
//! adds to `count`. A waiter whose slice expired with `count == 0` reclaims
//! (unless another waiter scanned less than a slice ago: `scanned`, so the
//! `/proc` reads per slice follow the holders, not holders × waiters)
//! every entry with `held > 0` whose process is dead: it keeps one of their
//! slots (and learns `OwnerDied`: one report for the deaths it found) and
//! returns the others to `count`, waking as many waiters. Consequence to
//! document: a process that acquires slots it never means to release (a
//! consumer) and then dies has them returned. A process killed between the
//! `count` CAS and its `held` update (a few instructions) escapes
//! tracking, as the kernel's robust list has a similar pending-op window:
//! that slot is lost, never doubled (a release updates `held` before
//! `count`).

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, AtomicU64, Ordering};
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::{scan_due, Acquired, TimedOut};

/// Marks `who` of an entry being reclaimed (above the 62 identity bits).
pub(crate) const RECLAIMING: u64 = 1 << 63;

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
    pub(crate) claim: RawMutex<'a>,
    pub(crate) holders: H,
}

/// The largest count (Linux's `SEM_VALUE_MAX`).
pub(crate) const VALUE_MAX: u32 = i32::MAX as u32;

impl<'a, H: Fn(usize) -> Option<Holder<'a>>> RawSemaphore<'a, H> {
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
        // `held` first: a death between the two loses the slot rather
        // than letting a reclaimer return it a second time.
        let tracked = self.untrack(me);
        let mut c = self.count.load(Ordering::Relaxed);
        loop {
            if c >= max {
                if tracked {
                    self.track::<P>(me); // still held: undo
                }
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
        self.wake.notify::<P>(1);
        Ok(())
    }

    /// Free slots now.
    pub(crate) fn value(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Entries `0..used`.
    fn entries(&self) -> impl Iterator<Item = Holder<'a>> + '_ {
        let used = self.used.load(Ordering::SeqCst) as usize;
        (0..used).map_while(|i| (self.holders)(i))
    }

    /// Attributes one slot just taken from `count` to `me`.
    fn track<P: Park>(&self, me: u64) {
        if self.add_to_mine(me) {
            return;
        }
        // My first acquisition: claim an entry, one claimer at a time.
        let _ = self.claim.lock::<P>(me, Deadline::NEVER);
        if !self.add_to_mine(me) {
            self.claim_entry::<P>(me);
        }
        let _ = self.claim.unlock::<P>();
    }

    /// `held += 1` on `me`'s entry, if it has one.
    fn add_to_mine(&self, me: u64) -> bool {
        self.entries()
            .find(|h| h.who.load(Ordering::SeqCst) == me)
            .map(|h| h.held.fetch_add(1, Ordering::SeqCst))
            .is_some()
    }

    /// Gives `me` an entry holding one slot: a free one, a dead process's,
    /// or a new one (`claim` held).
    fn claim_entry<P: Park>(&self, me: u64) {
        loop {
            let free = self.entries().find(|h| h.who.load(Ordering::SeqCst) == 0);
            if let Some(h) = free {
                if Self::claim(h, me) {
                    return;
                }
                continue;
            }
            if self.recycle_dead::<P>(me) {
                continue;
            }
            let used = self.used.load(Ordering::SeqCst);
            if let Some(h) = (self.holders)(used as usize) {
                self.used.store(used + 1, Ordering::SeqCst);
                if Self::claim(h, me) {
                    return;
                }
                continue;
            }
            // Full: free an entry of a dead process (returning its slots).
            // With a table as large as the number of threads that can live
            // at once there always is one; a damaged slot may have none,
            // and then the slot stays untracked rather than spinning.
            if !self.reclaim_any::<P>(me) {
                return;
            }
        }
    }

    /// Takes a free entry for `me`, holding one slot.
    fn claim(h: Holder<'_>, me: u64) -> bool {
        if h.who
            .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        h.held.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// `held -= 1` on one of `me`'s entries; returns whether `me` held
    /// anything.
    fn untrack(&self, me: u64) -> bool {
        self.entries().any(|h| {
            h.who.load(Ordering::SeqCst) == me
                && h.held
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
        })
    }

    /// Takes the entry of a dead process over, frees it, and returns the
    /// slots it held; `None` if `h` is not a dead process's entry (or
    /// another reclaimer won it).
    fn take_dead<P: Park>(h: Holder<'_>, me: u64, only_holding: bool) -> Option<u32> {
        let who = h.who.load(Ordering::SeqCst);
        let ident = who & !RECLAIMING;
        if who == 0 || ident == me {
            return None;
        }
        if only_holding && h.held.load(Ordering::SeqCst) == 0 {
            return None;
        }
        if P::is_alive(ident) {
            return None;
        }
        h.who
            .compare_exchange(who, me | RECLAIMING, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        // Ours now; its process is dead and cannot race.
        let n = h.held.swap(0, Ordering::SeqCst);
        h.who.store(0, Ordering::SeqCst);
        Some(n)
    }

    /// Adds `n` reclaimed slots to `count` (never past the bound) and
    /// wakes as many waiters.
    fn give_back<P: Park>(&self, n: u32) {
        if n == 0 {
            return;
        }
        let bound = self.bound.load(Ordering::Relaxed);
        let max = if bound == 0 { VALUE_MAX } else { bound };
        let _ = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |c| {
                Some(c.saturating_add(n).min(max))
            });
        self.wake.notify::<P>(n);
    }

    /// Frees one dead process's entry among up to [`PROBES`] entries
    /// starting at a place `me` picks, returning its slots; returns whether
    /// one was freed.
    fn recycle_dead<P: Park>(&self, me: u64) -> bool {
        let used = self.used.load(Ordering::SeqCst) as usize;
        if used == 0 {
            return false;
        }
        let start = (me as usize).wrapping_mul(0x9E37_79B9) % used;
        (0..used.min(PROBES))
            .filter_map(|k| (self.holders)((start + k) % used))
            .find_map(|h| Self::take_dead::<P>(h, me, false))
            .map(|n| self.give_back::<P>(n))
            .is_some()
    }

    /// Frees one dead process's entry anywhere, returning its slots;
    /// returns whether there was one.
    fn reclaim_any<P: Park>(&self, me: u64) -> bool {
        self.entries()
            .find_map(|h| Self::take_dead::<P>(h, me, false))
            .map(|n| self.give_back::<P>(n))
            .is_some()
    }

    /// Reclaims every dead holder's slots; keeps one. Returns whether this
    /// thread now holds a slot.
    pub(crate) fn reclaim<P: Park>(&self, me: u64) -> bool {
        if self.count.load(Ordering::SeqCst) > 0 {
            return false;
        }
        if !scan_due::<P>(self.scanned) {
            return false;
        }
        let found: u32 = self
            .entries()
            .filter_map(|h| Self::take_dead::<P>(h, me, true))
            .fold(0, u32::saturating_add);
        if found == 0 {
            return false;
        }
        self.give_back::<P>(found - 1);
        self.track::<P>(me);
        true
    }
}
