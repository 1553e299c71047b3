//! `RawMutex`: a process-shared mutex whose word names its owner process,
//! so waiters can take it over when the owner dies.
//!
//! # Words
//! | word    | type | meaning |
//! |---------|------|---------|
//! | `state` | u64  | `0` = unlocked; else owner `ProcessIdent` bits (62) \| `WAITERS` (bit 63) |
//! | `seq`   | u32  | futex word: bumped by every unlock that saw `WAITERS`; waiters sleep on it |
//!
//! The owner is a 62-bit `(pid, start time)` identity, which does not fit a
//! 32-bit futex word, so sleeping happens on the separate `seq` word (an
//! "eventcount"): a waiter reads `seq`, re-checks `state`, and sleeps only
//! if `seq` is unchanged; an unlocker clears `state` and then bumps `seq`.
//!
//! # States
//! | state              | lock                | unlock                        | waiter (slow path)                |
//! |--------------------|---------------------|-------------------------------|-----------------------------------|
//! | `0`                | CAS → `me` (1 CAS)  | error `NotLocked`             | CAS → `me \| WAITERS`            |
//! | `owner`            | slow path           | swap → `0`, no syscall        | CAS → `owner \| WAITERS`, sleep   |
//! | `owner \| WAITERS` | slow path           | swap → `0`, `seq += 1`, wake 1 | sleep on `seq` (50 ms slices)    |
//! | `dead \| *`        | slow path           | (nobody: the owner is dead)   | after a slice: CAS → `me \| (WAITERS)`, report `OwnerDied` |
//!
//! A waiter that has slept acquires with `WAITERS` set, since other
//! sleepers may remain (as in Drepper's "Futexes are tricky", mutex 2). A
//! waiter that gives up on its deadline passes one wake-up on, so a wake it
//! consumed is not lost.
//!
//! # Dead owners
//! The kernel's robust-futex list would flag a dead owner itself, but it
//! needs the owner's TID in a 32-bit futex word and one list head per
//! thread, which glibc already owns (for robust pthread mutexes). Instead,
//! waiters sleep in [`SLICE`](crate::park::SLICE)-long slices; after each
//! one they check the owner with `/proc/<pid>/stat` (pid gone, zombie, or a
//! different start time = a reused pid = dead) and, if it is dead, CAS its
//! identity out. Exactly one waiter wins that CAS and learns `OwnerDied`.
//! Only a *process* death counts: Python lets any thread or process release
//! a `Lock`, so a thread that exits holding it has not abandoned it.

use crate::park::{Deadline, Park, SLICE};
use crate::primitive::{spin_hint, AtomicU32, AtomicU64, Ordering, SPINS};
use crate::raw::{Acquired, TimedOut};

/// Set in `state` when a waiter may be asleep on `seq`.
pub(crate) const WAITERS: u64 = 1 << 63;
/// The owner part of `state`.
pub(crate) const OWNER: u64 = (1 << mp_shm::IDENT_BITS) - 1;

/// Unlocking a mutex that nobody holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotLocked;

/// The two words of a mutex.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMutex<'a> {
    pub(crate) state: &'a AtomicU64,
    pub(crate) seq: &'a AtomicU32,
}

impl RawMutex<'_> {
    /// One attempt, no waiting: the uncontended fast path (one CAS).
    #[inline]
    pub(crate) fn try_lock(&self, me: u64) -> bool {
        self.state
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Locks as `me`, waiting until `deadline`.
    #[inline]
    pub(crate) fn lock<P: Park>(&self, me: u64, deadline: Deadline) -> Result<Acquired, TimedOut> {
        if self.try_lock(me) {
            return Ok(Acquired::Clean);
        }
        self.lock_slow::<P>(me, deadline)
    }

    #[cold]
    fn lock_slow<P: Park>(&self, me: u64, deadline: Deadline) -> Result<Acquired, TimedOut> {
        let mut spins = 0;
        let mut slept = 0; // WAITERS once this thread has slept
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s == 0 {
                if self
                    .state
                    .compare_exchange(0, me | slept, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(Acquired::Clean);
                }
                continue;
            }
            if deadline.passed() {
                if let Some(took) = self.recover::<P>(me) {
                    return Ok(took);
                }
                if slept != 0 {
                    self.pass_wake_on::<P>();
                }
                return Err(TimedOut);
            }
            if s & WAITERS == 0 && spins < SPINS {
                spins += 1;
                spin_hint();
                continue;
            }
            if s & WAITERS == 0
                && self
                    .state
                    .compare_exchange(s, s | WAITERS, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            slept = WAITERS;
            let seq = self.seq.load(Ordering::SeqCst);
            if self.state.load(Ordering::SeqCst) != s | WAITERS {
                continue;
            }
            // After a whole slice without an unlock: is the owner still there?
            if P::wait(self.seq, seq, deadline.slice(Some(SLICE))) {
                if let Some(took) = self.recover::<P>(me) {
                    return Ok(took);
                }
            }
        }
    }

    /// Takes the mutex over if its owner process is dead.
    fn recover<P: Park>(&self, me: u64) -> Option<Acquired> {
        let cur = self.state.load(Ordering::Relaxed);
        if cur == 0 || cur & OWNER == me || P::is_alive(cur & OWNER) {
            return None;
        }
        self.state
            .compare_exchange(
                cur,
                me | (cur & WAITERS),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| Acquired::OwnerDied)
    }

    /// Hands a wake-up to another sleeper (used when giving up).
    fn pass_wake_on<P: Park>(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        P::wake(self.seq, 1);
    }

    /// Unlocks (whoever holds it); returns the previous `state`.
    #[inline]
    pub(crate) fn unlock<P: Park>(&self) -> Result<u64, NotLocked> {
        let s = self.state.swap(0, Ordering::SeqCst);
        if s == 0 {
            return Err(NotLocked);
        }
        if s & WAITERS != 0 {
            self.wake_one::<P>();
        }
        Ok(s)
    }

    /// The unlock's slow path: tells one sleeper on `seq`.
    #[cold]
    fn wake_one<P: Park>(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        P::wake(self.seq, 1);
    }

    /// The current owner's identity bits, or 0 if unlocked.
    pub(crate) fn owner(&self) -> u64 {
        self.state.load(Ordering::Relaxed) & OWNER
    }
}
