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
//! An arrival stores its identity in a free entry before it raises
//! `count`, and that entry's index is its arrival index; leaving clears
//! it before it lowers `count`. So the entries name exactly the parties
//! inside `wait` (`count` of them), and their indices differ. Without
//! withdrawals the free entry is always `arrivals[count]`, so the index is
//! the arrival order, as in Python.
//!
//! A waiter whose own timeout expires breaks the barrier (everyone gets
//! the error), as in Python.
//!
//! # Steps (one protocol, blocking and async)
//! `wait` is `arrive` (after waiting out a drain or reset), then `passed`
//! until the generation ends, then `exit`, all under the lock, sleeping on
//! `wake` between looks. The async form (`barrier_async.rs`) runs the same
//! steps from polls: `RawBarrier::try_arrive` and `RawBarrier::try_pass`
//! (with the `async` feature; not links, so that the docs build without it)
//! each take the lock, make one step or change nothing, and release it.
//! A future dropped between them calls `RawBarrier::give_up`, which
//! *withdraws* its arrival if the generation still fills: `exit` while
//! `FILLING` lowers `count` and frees the entry, as `threading.Barrier`'s
//! `finally` does for a thread that raises out of `wait`, and as
//! `asyncio.Barrier` does for a cancelled task. The freed entry (and its
//! index) goes to the next arrival, which is why an arrival takes a free
//! entry rather than `arrivals[count]`.
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

/// One party inside `wait`: its arrival index and its entry in
/// `arrivals` (`None` for a damaged slot's unrecorded arrival).
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    index: u32,
    entry: Option<&'a AtomicU64>,
}

/// What an arrival led to.
#[derive(Debug)]
pub(crate) enum Arrived<'a, E> {
    /// Waiting for the generation to fill.
    Inside(Arrival<'a>),
    /// Over already (broken, or this arrival completed the generation):
    /// the outcome, after leaving.
    Done(Result<usize, Result<Broken, E>>),
}

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
            self.reap_after_slice::<P>();
        }
        Ok(())
    }

    /// A free entry for an arrival, searched from `count` (where it is
    /// unless a party withdrew: then any hole will do); its index is the
    /// arrival's index, so the parties inside hold distinct ones. `None`
    /// only for a damaged slot (every entry taken while `count` says
    /// otherwise): the arrival then goes unrecorded.
    fn free_entry(&self, count: u32) -> Option<(u32, &'a AtomicU64)> {
        let parties = self.parties.load(Ordering::Relaxed);
        let from = count.min(parties);
        // Each run stops at the table's end: `parties` and `count` are
        // shared words another process may have damaged, and up to 2^32
        // indices past the table would each be looked up in vain.
        let entries = |range: std::ops::Range<u32>| {
            range.map_while(|i| Some((i, (self.arrivals)(i as usize)?)))
        };
        entries(from..parties)
            .chain(entries(0..from))
            .find(|(_, e)| e.load(Ordering::Relaxed) == 0)
    }

    /// Arrives (lock held, phase `FILLING` or `BROKEN`): `Done` at once if
    /// the barrier is broken, or if this arrival completes the generation
    /// (after running `action` and leaving again); otherwise `Inside`,
    /// to be settled by [`passed`](Self::passed) and [`exit`](Self::exit).
    fn arrive<P: Park, E>(
        &self,
        me: u64,
        action: impl FnOnce() -> Result<(), E>,
    ) -> Arrived<'a, E> {
        if self.phase.load(Ordering::SeqCst) == BROKEN {
            return Arrived::Done(Err(Ok(Broken)));
        }
        let count = self.count.load(Ordering::SeqCst);
        let (index, entry) = match self.free_entry(count) {
            Some((i, e)) => (i, Some(e)),
            None => (count, None),
        };
        if let Some(e) = entry {
            e.store(me, Ordering::Relaxed);
        }
        // (Saturating: shared words a damaged peer wrote must not panic us.)
        let count = count.saturating_add(1);
        self.count.store(count, Ordering::SeqCst);
        let arrival = Arrival { index, entry };
        if count < self.parties.load(Ordering::Relaxed) {
            return Arrived::Inside(arrival);
        }
        // Never release a generation with a party that died inside: a
        // death before this arrival breaks it, whoever noticed first.
        self.reap::<P>();
        let result = if self.phase.load(Ordering::SeqCst) == BROKEN {
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
        };
        self.exit::<P>(arrival);
        Arrived::Done(result)
    }

    /// Whether `arrival`'s generation is over (lock held): `Some(Ok(index))`
    /// once released, `Some(Err)` once broken or reset, `None` while it
    /// fills.
    fn passed(&self, arrival: &Arrival<'a>) -> Option<Result<usize, Broken>> {
        match self.phase.load(Ordering::SeqCst) {
            FILLING => None,
            BROKEN | RESETTING => Some(Err(Broken)),
            _ => Some(Ok(arrival.index as usize)),
        }
    }

    /// `_exit` (lock held): the party leaves; the last to leave a drained
    /// or reset generation lets the next one fill. While the generation
    /// fills, this withdraws the arrival (`count` drops; a later arrival
    /// takes its entry and index).
    fn exit<P: Park>(&self, arrival: Arrival<'a>) {
        if let Some(e) = arrival.entry {
            e.store(0, Ordering::Relaxed);
        }
        // (Saturating: a damaged slot may have lost track of this caller.)
        let left = self.count.load(Ordering::SeqCst).saturating_sub(1);
        self.count.store(left, Ordering::SeqCst);
        if left == 0 && matches!(self.phase.load(Ordering::SeqCst), DRAINING | RESETTING) {
            self.phase.store(FILLING, Ordering::SeqCst);
            self.notify_all::<P>();
        }
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
        while self.draining() {
            if self.cond_wait::<P>(me, deadline).is_err() {
                self.break_locked::<P>();
            }
        }
        let arrival = match self.arrive::<P, E>(me, action) {
            Arrived::Done(result) => {
                self.leave::<P>();
                return result;
            }
            Arrived::Inside(arrival) => arrival,
        };
        let result = loop {
            if let Some(result) = self.passed(&arrival) {
                break result;
            }
            if self.cond_wait::<P>(me, deadline).is_err() {
                self.break_locked::<P>();
                break Err(Broken);
            }
        };
        self.exit::<P>(arrival);
        self.leave::<P>();
        result.map_err(Ok)
    }

    fn draining(&self) -> bool {
        matches!(self.phase.load(Ordering::SeqCst), DRAINING | RESETTING)
    }

    /// The reaping a blocking waiter does after a slice without a phase
    /// change (lock held), for a poll that waited that long.
    fn reap_after_slice<P: Park>(&self) {
        if scan_due::<P>(self.scanned) {
            self.reap::<P>();
        }
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

/// The poll steps of the async form (and of the loom models).
#[cfg(any(feature = "async", loom))]
impl<'a, A: Fn(usize) -> Option<&'a AtomicU64>> RawBarrier<'a, A> {
    /// One non-blocking step of `wait`'s first half, for a poll: `None`
    /// while the previous generation drains or resets (nothing changed),
    /// else the arrival. Takes and releases the internal lock (held by
    /// others for a few instructions, or for the action); `slept` says a
    /// whole slice passed without a phase change, so dead parties are
    /// looked for first, as in [`wait`](Self::wait).
    pub(crate) fn try_arrive<P: Park, E>(
        &self,
        me: u64,
        slept: bool,
        action: impl FnOnce() -> Result<(), E>,
    ) -> Option<Arrived<'a, E>> {
        self.enter::<P>(me);
        if slept {
            self.reap_after_slice::<P>();
        }
        let arrived = (!self.draining()).then(|| self.arrive::<P, E>(me, action));
        self.leave::<P>();
        arrived
    }

    /// One non-blocking step of `wait`'s second half, for a poll: `None`
    /// (nothing changed) while the generation fills, else the outcome,
    /// after leaving (`arrival` is then taken). `slept` as for
    /// [`try_arrive`](Self::try_arrive).
    pub(crate) fn try_pass<P: Park>(
        &self,
        me: u64,
        slept: bool,
        arrival: &mut Option<Arrival<'a>>,
    ) -> Option<Result<usize, Broken>> {
        self.enter::<P>(me);
        if slept {
            self.reap_after_slice::<P>();
        }
        let result = arrival.as_ref().and_then(|a| self.passed(a));
        if result.is_some() {
            if let Some(a) = arrival.take() {
                self.exit::<P>(a);
            }
        }
        self.leave::<P>();
        result
    }

    /// Ends an arrival whose caller stopped waiting before it passed:
    /// its deadline came (`break_it`: the barrier breaks, as in
    /// [`wait`](Self::wait)), or its future was dropped (the arrival is
    /// withdrawn). If the generation ended first, that outcome stands
    /// and is returned.
    pub(crate) fn give_up<P: Park>(
        &self,
        me: u64,
        arrival: Arrival<'a>,
        break_it: bool,
    ) -> Result<usize, Broken> {
        self.enter::<P>(me);
        let result = self.passed(&arrival).unwrap_or_else(|| {
            if break_it {
                self.break_locked::<P>();
            }
            Err(Broken)
        });
        self.exit::<P>(arrival);
        self.leave::<P>();
        result
    }
}
