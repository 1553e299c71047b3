//! `RawMutex`: a process-shared mutex whose word names its owner process,
//! so waiters can take it over when the owner dies.
//!
//! # Words
//! | word      | type | meaning |
//! |-----------|------|---------|
//! | `state`   | u64  | `0` = unlocked; else the owner's `ProcessIdent` bits (62): a process (`Lock`), or a thread's `(tid, start time)` in the same form (`RLock`) |
//! | `wake`    | 2×u32 | a [`RawEventCount`]: waiters sleep on it, unlocks notify it |
//!
//! The owner is a 62-bit `(pid, start time)` identity, which does not fit a
//! 32-bit futex word, so sleeping happens on the eventcount beside it.
//!
//! # States
//! | state   | lock                | unlock                                     | waiter (slow path) |
//! |---------|---------------------|--------------------------------------------|--------------------|
//! | `0`     | CAS → `me` (1 CAS)  | error `NotLocked`                          | CAS → `me` |
//! | `owner` | slow path           | swap → `0`; wake 1 only if a waiter is registered (no syscall otherwise) | spin (reads only, [`MAX_GAP`]-bounded backoff), register, re-check, sleep (50 ms slices); spin again after each wake-up |
//! | `dead`  | slow path           | (nobody: the owner is dead)                | after a slice: CAS → `me`, report `OwnerDied` |
//!
//! An *asymmetric* mutex (a `Lock::new_asymmetric`) may also be unlocked
//! by its holder with a plain store ([`RawMutex::unlock_light`]), its look
//! at the waiters ordered after it for the compiler only; its waiters then
//! make `membarrier`'s heavy fence after they register and before they
//! look at the word ([`RawMutex::lock_asymmetric`]), which orders the two
//! sides in their place (see [`mp_sys::membarrier`]). The kernel's fence
//! can miss the releaser's CPU for a while after the releaser's process
//! registered (`mp_sys::membarrier` says when); a release racing a
//! registration then neither shows in the waiter's look nor wakes it, so
//! such a waiter sleeps at most [`SETTLE`] first and looks again under the
//! same registration (later releases see the registration and wake it).
//!
//! Every unlock that finds a registered waiter wakes one, so no sleeper is
//! forgotten while others take the lock (the waiter count plays the part
//! of Drepper's "contended" state in "Futexes are tricky", mutex 2). A
//! waiter that gives up on its deadline after sleeping passes one wake-up
//! on, so a wake it consumed is not lost.
//!
//! A spinning waiter looks at the word after 1, 2, 4, … up to [`MAX_GAP`]
//! pauses, within the same budget of pauses as before it sleeps. Each look
//! takes the word's cache line from the holder (who re-locks at once in a
//! loop such as `Value` increments) and, when it lands between an unlock
//! and the next lock, hands the lock over: looking less often lets the
//! holder run longer stretches on a line that stays in its cache.
//!
//! # Dead owners
//! The kernel's robust-futex list would flag a dead owner itself, but it
//! needs the owner's TID in a 32-bit futex word and one list head per
//! thread, which glibc already owns (for robust pthread mutexes). Instead,
//! waiters sleep in [`SLICE`]-long slices; after each
//! one they check the owner with `/proc/<pid>/stat` (pid gone, zombie, or a
//! different start time = a reused pid = dead) and, if it is dead, CAS its
//! identity out. Exactly one waiter wins that CAS and learns `OwnerDied`.
//! For a `Lock` only a *process* death counts: Python lets any thread or
//! process release it, so a thread that exits holding it has not abandoned
//! it. An `RLock` names its owner thread (`/proc/<tid>/stat` answers the
//! same question for a thread), whose end does abandon it.

use mp_sys::time::Deadline;

use crate::park::{Park, SETTLE, SLICE};
use crate::primitive::{spin_hint, AtomicU64, Ordering, SPINS};
use crate::raw::eventcount::RawEventCount;
use crate::raw::{Acquired, TimedOut};

/// The most pauses a spinning waiter lets pass between two looks at the
/// word. Measured (M5b, two processes running at once, real-time priority
/// so that other load cannot interleave): 1 (no backoff) 33–41 M
/// increments/s, 16: 43–47, 64: 35–46.
const MAX_GAP: u32 = 16;

/// Unlocking a mutex that nobody holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotLocked;

/// The words of a mutex.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMutex<'a> {
    pub(crate) state: &'a AtomicU64,
    pub(crate) wake: RawEventCount<'a>,
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
        // The words go by value, in registers: a `&self` would make the
        // fast path above build a `RawMutex` in memory first.
        Self::lock_slow::<P>(self.state, self.wake, me, deadline, false)
    }

    /// [`lock`](Self::lock) of a mutex released with
    /// [`unlock_light`](Self::unlock_light): a waiter about to sleep makes
    /// the heavy side of the asymmetric fence after it registers and before
    /// it looks at the word again, so that either the look sees the release
    /// or the releaser's look at the waiters sees the registration.
    #[inline]
    pub(crate) fn lock_asymmetric<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
    ) -> Result<Acquired, TimedOut> {
        if self.try_lock(me) {
            return Ok(Acquired::Clean);
        }
        Self::lock_slow::<P>(self.state, self.wake, me, deadline, true)
    }

    /// [`lock`](Self::lock) for a caller whose own [`try_lock`](Self::try_lock)
    /// just failed: straight to the spin-then-sleep path, without a second
    /// CAS that would take the word's cache line from its holder.
    #[inline]
    pub(crate) fn lock_contended<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
    ) -> Result<Acquired, TimedOut> {
        Self::lock_slow::<P>(self.state, self.wake, me, deadline, false)
    }

    /// `heavy`: the mutex is released with [`unlock_light`](Self::unlock_light)
    /// (see [`lock_asymmetric`](Self::lock_asymmetric)).
    #[cold]
    fn lock_slow<P: Park>(
        state: &AtomicU64,
        wake: RawEventCount<'_>,
        me: u64,
        deadline: Deadline,
        heavy: bool,
    ) -> Result<Acquired, TimedOut> {
        let this = RawMutex { state, wake };
        this.lock_slow_loop::<P>(me, deadline, heavy)
    }

    fn lock_slow_loop<P: Park>(
        &self,
        me: u64,
        deadline: Deadline,
        heavy: bool,
    ) -> Result<Acquired, TimedOut> {
        let mut spins = SPINS; // pauses left to spin
        let mut gap = 1; // pauses between two looks at the word
        let mut slept = false;
        loop {
            if self.state.load(Ordering::Relaxed) == 0 {
                if self.try_lock(me) {
                    return Ok(Acquired::Clean);
                }
                continue;
            }
            if deadline.passed() {
                if let Some(took) = self.recover::<P>(me) {
                    return Ok(took);
                }
                if slept {
                    // Hand a wake-up this thread may have consumed to another sleeper.
                    self.wake.notify::<P>(1);
                }
                return Err(TimedOut);
            }
            if spins > 0 && self.wake.waiters() == 0 {
                let n = gap.min(spins);
                (0..n).for_each(|_| spin_hint());
                spins -= n;
                gap = (gap * 2).min(MAX_GAP);
                continue;
            }
            let waiter = self.wake.prepare();
            if heavy {
                // A release without a fence may have looked at the waiters
                // before its store left its CPU; after this barrier either
                // that store is visible to the look below, or the look at
                // the waiters comes after it and sees the registration.
                // Where the kernel refuses or misses the releaser's CPU,
                // the short first sleep below bounds what a release racing
                // the registration costs.
                let _ = mp_sys::membarrier::heavy();
            }
            if self.state.load(Ordering::SeqCst) == 0 {
                continue;
            }
            slept = true;
            // `heavy`: first at most `SETTLE`, then a look at the word
            // under the same registration, then the rest of the slice.
            let rest = if !heavy {
                Some(SLICE)
            } else if waiter.wait::<P>(deadline.slice(Some(SETTLE))) && !waiter.notified() {
                if self.state.load(Ordering::SeqCst) == 0 {
                    continue;
                }
                Some(SLICE - SETTLE)
            } else {
                None // woken
            };
            // After a whole slice without an unlock: is the owner still there?
            if rest.is_some_and(|rest| waiter.wait::<P>(deadline.slice(Some(rest)))) {
                if let Some(took) = self.recover::<P>(me) {
                    return Ok(took);
                }
            }
            // Woken (or a slice passed): spin again before the next sleep,
            // as after the first miss. The holder that woke us may have
            // taken the lock back at once; its critical section is likely
            // short, and sleeping again at the first sight of it makes
            // every later unlock a wake-up system call (a convoy).
            spins = SPINS;
            gap = 1;
        }
    }

    /// Takes the mutex over if its owner process is dead.
    fn recover<P: Park>(&self, me: u64) -> Option<Acquired> {
        let cur = self.state.load(Ordering::Relaxed);
        if cur == 0 || cur == me || P::is_alive(cur) {
            return None;
        }
        self.state
            .compare_exchange(cur, me, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Acquired::OwnerDied)
    }

    /// Unlocks (whoever holds it); returns the previous owner.
    #[inline]
    pub(crate) fn unlock<P: Park>(&self) -> Result<u64, NotLocked> {
        let s = self.state.swap(0, Ordering::SeqCst);
        if s == 0 {
            return Err(NotLocked);
        }
        self.wake.notify::<P>(1);
        Ok(s)
    }

    /// Unlocks with a plain store, without a locked instruction; returns
    /// the previous owner. Only for the holder (two releases at once could
    /// both succeed), of a mutex whose every waiter makes the heavy side of
    /// an asymmetric fence after registering and before it looks at the
    /// word ([`lock_asymmetric`](Self::lock_asymmetric), and the
    /// `order_with_unlock` of a party sleeping until a holder changes a
    /// condition), in a process registered for those fences
    /// ([`mp_sys::membarrier`]). The store and the look at the waiters that
    /// follows it are ordered for the compiler only; the CPU may make the
    /// look first, which the waiters' barrier covers.
    #[inline]
    pub(crate) fn unlock_light<P: Park>(&self) -> Result<u64, NotLocked> {
        let s = self.state.load(Ordering::Relaxed);
        if s == 0 {
            return Err(NotLocked);
        }
        self.state.store(0, Ordering::Release);
        mp_sys::membarrier::light();
        self.wake.notify::<P>(1);
        Ok(s)
    }

    /// A read-modify-write of the word that changes nothing
    /// ([`Lock::order_with_unlock`](crate::Lock::order_with_unlock) says
    /// what it is for). Every change of the word is a read-modify-write, so
    /// this one either reads the last unlock (or a later change) and
    /// synchronizes with it, or comes before that unlock in the word's
    /// order and synchronizes with it (the unlock's swap reads this one, or
    /// a change after it, all read-modify-writes).
    #[inline]
    pub(crate) fn touch(&self) {
        self.state.fetch_add(0, Ordering::SeqCst);
    }

    /// The current owner's identity bits, or 0 if unlocked.
    #[inline]
    pub(crate) fn owner(&self) -> u64 {
        self.state.load(Ordering::Relaxed)
    }
}
