//! Loom models of the state machines in `raw/` (their state tables are in
//! those files). `cargo xtask test-all` runs them (`xtask/src/loom.rs`); by
//! hand: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p mp-sync
//! --release --lib --target-dir target/loom loom`.
//!
//! Shared "protected data" is a loom atomic updated with a separate load
//! and store, so any failure of mutual exclusion shows up as a lost update.
//! A lost wake-up shows up as a loom deadlock (see `loom_park.rs`).
//!
//! The eventcount is modelled on its own, and in the two shapes in which
//! mp-channel uses it through `mp_sync::EventCount`: the queue ring (a
//! producer and a consumer, each sleeping on its own eventcount until the
//! other side moves a position) and `JoinableQueue` (`join` sleeping until
//! `task_done` brings the unfinished count to zero).

use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use loom::sync::Arc;
use loom::thread;

use mp_sys::time::Deadline;

use super::loom_park::{die, LoomPark, DEAD};
use crate::primitive::{dekker_load, Ordering};
use crate::raw::barrier::{Arrived, Broken, RawBarrier, DRAINING, FILLING};
use crate::raw::condvar::RawCondvar;
use crate::raw::event::RawEvent;
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::semaphore::{Holder, RawSemaphore};
use crate::raw::Acquired;

/// The two words of an eventcount.
#[derive(Default)]
struct EcWords {
    seq: AtomicU32,
    waiters: AtomicU32,
}

impl EcWords {
    fn raw(&self) -> RawEventCount<'_> {
        RawEventCount {
            seq: &self.seq,
            waiters: &self.waiters,
        }
    }
}

#[derive(Default)]
struct MutexWords {
    state: AtomicU64,
    wake: EcWords,
}

impl MutexWords {
    fn raw(&self) -> RawMutex<'_> {
        RawMutex {
            state: &self.state,
            wake: self.wake.raw(),
        }
    }
}

fn bump(data: &AtomicUsize) {
    let v = data.load(Ordering::Relaxed);
    data.store(v + 1, Ordering::Relaxed);
}

#[test]
fn loom_mutex_excludes_and_never_loses_a_wakeup() {
    loom::model(|| {
        let m = Arc::new(MutexWords::default());
        let data = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (1..=2u64)
            .map(|me| {
                let (m, data) = (Arc::clone(&m), Arc::clone(&data));
                thread::spawn(move || {
                    assert_eq!(
                        m.raw().lock::<LoomPark>(me, Deadline::NEVER),
                        Ok(Acquired::Clean)
                    );
                    bump(&data);
                    m.raw().unlock::<LoomPark>().unwrap();
                })
            })
            .collect();
        assert_eq!(
            m.raw().lock::<LoomPark>(3, Deadline::NEVER),
            Ok(Acquired::Clean)
        );
        bump(&data);
        m.raw().unlock::<LoomPark>().unwrap();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(data.load(Ordering::Relaxed), 3);
        assert_eq!(m.state.load(Ordering::Relaxed), 0);
        assert_eq!(m.wake.waiters.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn loom_mutex_dead_owner_is_taken_over_once() {
    loom::model(|| {
        let m = Arc::new(MutexWords::default());
        // The doomed process takes the lock, then dies holding it.
        assert!(m.raw().try_lock(DEAD));
        let waiters: Vec<_> = (1..=2u64)
            .map(|me| {
                let m = Arc::clone(&m);
                thread::spawn(move || {
                    let r = m.raw().lock::<LoomPark>(me, Deadline::NEVER).unwrap();
                    m.raw().unlock::<LoomPark>().unwrap();
                    r
                })
            })
            .collect();
        die();
        let results: Vec<Acquired> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == Acquired::OwnerDied)
                .count(),
            1
        );
    });
}

struct SemWords {
    count: AtomicU32,
    wake: EcWords,
    bound: AtomicU32,
    used: AtomicU32,
    scanned: AtomicU32,
    lock: MutexWords,
    total: AtomicU32,
    who: Vec<AtomicU64>,
    held: Vec<AtomicU32>,
}

impl SemWords {
    /// A semaphore with a holder table of `holders` entries.
    fn new(value: u32, bound: u32, holders: usize) -> SemWords {
        SemWords {
            count: AtomicU32::new(value),
            wake: EcWords::default(),
            bound: AtomicU32::new(bound),
            used: AtomicU32::new(0),
            scanned: AtomicU32::new(0),
            lock: MutexWords::default(),
            total: AtomicU32::new(value),
            who: (0..holders).map(|_| AtomicU64::new(0)).collect(),
            held: (0..holders).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn raw<'a>(&'a self) -> RawSemaphore<'a, impl Fn(usize) -> Option<Holder<'a>> + 'a> {
        RawSemaphore {
            count: &self.count,
            wake: self.wake.raw(),
            bound: &self.bound,
            used: &self.used,
            scanned: &self.scanned,
            lock: self.lock.raw(),
            total: &self.total,
            holders: move |i: usize| {
                Some(Holder {
                    who: self.who.get(i)?,
                    held: self.held.get(i)?,
                })
            },
        }
    }

    /// One attempt to take a slot as `me`, without waiting for one.
    fn try_acquire(&self, me: u64) -> bool {
        let now = Deadline::after(Some(std::time::Duration::ZERO));
        self.raw().acquire::<LoomPark>(me, now).is_ok()
    }

    /// Slots attributed to `who`.
    fn held_by(&self, who: u64) -> u32 {
        (0..self.who.len())
            .filter(|&i| self.who[i].load(Ordering::SeqCst) == who)
            .map(|i| self.held[i].load(Ordering::SeqCst))
            .sum()
    }
}

#[test]
fn loom_semaphore_bound_and_wakeups() {
    loom::model(|| {
        let s = Arc::new(SemWords::new(1, 1, 2));
        let inside = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (1..=2u64)
            .map(|me| {
                let (s, inside) = (Arc::clone(&s), Arc::clone(&inside));
                thread::spawn(move || {
                    assert_eq!(
                        s.raw().acquire::<LoomPark>(me, Deadline::NEVER),
                        Ok(Acquired::Clean)
                    );
                    assert_eq!(
                        inside.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two holders of one slot"
                    );
                    inside.fetch_sub(1, Ordering::SeqCst);
                    s.raw().release::<LoomPark>(me).unwrap();
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.count.load(Ordering::SeqCst), 1);
        assert!(s.raw().release::<LoomPark>(1).is_err(), "bounded");
    });
}

#[test]
fn loom_semaphore_dead_holder_slot_returns() {
    loom::model(|| {
        let s = Arc::new(SemWords::new(1, 0, 2));
        assert!(s.try_acquire(DEAD));
        let s2 = Arc::clone(&s);
        let t = thread::spawn(move || s2.raw().acquire::<LoomPark>(1, Deadline::NEVER).unwrap());
        die();
        assert_eq!(t.join().unwrap(), Acquired::OwnerDied);
        assert_eq!(s.count.load(Ordering::SeqCst), 0);
        assert_eq!(s.held_by(DEAD), 0);
        assert_eq!(s.held_by(1), 1);
    });
}

/// Issue 11 (the take/record window): a process killed inside an
/// acquire, after taking the slot off `count` and before recording itself
/// as its holder, holding the state mutex. Two processes then take and
/// give back the one slot: the first to take the mutex over repairs the
/// count from `total` and the table, both get the slot (cleanly: the dead
/// process never had it), and afterwards it is free.
#[test]
fn loom_semaphore_death_between_take_and_record_loses_nothing() {
    loom::model(|| {
        let s = Arc::new(SemWords::new(1, 1, 2));
        assert!(s.lock.raw().try_lock(DEAD));
        s.count.store(0, Ordering::SeqCst); // taken, not recorded
        let ts: Vec<_> = (1..=2u64)
            .map(|me| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let r = s.raw().acquire::<LoomPark>(me, Deadline::NEVER);
                    s.raw().release::<LoomPark>(me).unwrap();
                    r
                })
            })
            .collect();
        die();
        for t in ts {
            assert_eq!(t.join().unwrap(), Ok(Acquired::Clean));
        }
        assert_eq!(s.count.load(Ordering::SeqCst), 1);
        assert_eq!(s.total.load(Ordering::SeqCst), 1);
        assert_eq!(s.held_by(1) + s.held_by(2) + s.held_by(DEAD), 0);
    });
}

/// Issue 11 #4: a dead holder's entry is recycled and its slots come
/// back. A dead process holds two of four slots in the only entry in use
/// of a two-entry table; two processes (threads with identities 1 and 2)
/// then hold a slot each at the same time: the first to record itself
/// reclaims the dead entry (its slots return to the count) and the other
/// takes the last entry. Afterwards every slot is back.
#[test]
fn loom_semaphore_dead_holders_entry_is_recycled() {
    loom::model(|| {
        let s = Arc::new(SemWords::new(4, 4, 2));
        assert!(s.try_acquire(DEAD));
        assert!(s.try_acquire(DEAD));
        let holding = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (1..=2u64)
            .map(|me| {
                let (s, holding) = (Arc::clone(&s), Arc::clone(&holding));
                thread::spawn(move || {
                    assert!(s.try_acquire(me));
                    assert_eq!(s.held_by(me), 1);
                    holding.fetch_add(1, Ordering::SeqCst);
                    while holding.load(Ordering::SeqCst) < 2 {
                        thread::yield_now();
                    }
                    s.raw().release::<LoomPark>(me).unwrap();
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.count.load(Ordering::SeqCst), 4);
        assert_eq!(s.held_by(DEAD), 0);
        assert_eq!(s.held_by(1) + s.held_by(2), 0);
    });
}

/// The threads of one process share its one entry: concurrent acquires and releases by two
/// threads of process 1 leave nothing attributed and the count whole.
#[test]
fn loom_semaphore_threads_of_one_process_share_an_entry() {
    loom::model(|| {
        let s = Arc::new(SemWords::new(2, 2, 2));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    assert!(s.try_acquire(1));
                    s.raw().release::<LoomPark>(1).unwrap();
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.count.load(Ordering::SeqCst), 2);
        assert_eq!(s.held_by(1), 0);
        assert_eq!(s.used.load(Ordering::SeqCst), 1, "one entry per process");
    });
}

#[derive(Default)]
struct CondWords {
    lock: MutexWords,
    fresh: AtomicU32,
    waiters: AtomicU32,
    tokens: AtomicU32,
    epoch: AtomicU32,
    wake: EcWords,
    flag: AtomicU32,
}

impl CondWords {
    fn cv(&self) -> RawCondvar<'_> {
        RawCondvar {
            fresh: &self.fresh,
            waiters: &self.waiters,
            tokens: &self.tokens,
            epoch: &self.epoch,
            wake: self.wake.raw(),
        }
    }

    /// `Condition.wait` as `me` with the lock held; returns the verdict.
    fn wait(&self, me: u64, deadline: Deadline) -> bool {
        let ticket = self.cv().register();
        self.lock.raw().unlock::<LoomPark>().unwrap();
        let notified = self.cv().sleep::<LoomPark>(ticket, deadline);
        self.lock
            .raw()
            .lock::<LoomPark>(me, Deadline::NEVER)
            .unwrap();
        self.cv().finish(ticket, notified)
    }

    /// Nothing left over: every registration was matched by a token or a
    /// give-up.
    fn assert_settled(&self) {
        assert_eq!(self.fresh.load(Ordering::SeqCst), 0);
        assert_eq!(self.waiters.load(Ordering::SeqCst), 0);
        assert_eq!(self.tokens.load(Ordering::SeqCst), 0);
        assert_eq!(self.wake.waiters.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn loom_condvar_wait_sees_the_notify() {
    loom::model(|| {
        let c = Arc::new(CondWords::default());
        let c2 = Arc::clone(&c);
        let waiter = thread::spawn(move || {
            c2.lock.raw().lock::<LoomPark>(1, Deadline::NEVER).unwrap();
            while c2.flag.load(Ordering::Relaxed) == 0 {
                c2.wait(1, Deadline::NEVER);
            }
            c2.lock.raw().unlock::<LoomPark>().unwrap();
        });
        c.lock.raw().lock::<LoomPark>(2, Deadline::NEVER).unwrap();
        c.flag.store(1, Ordering::Relaxed);
        c.cv().notify::<LoomPark>(1);
        c.lock.raw().unlock::<LoomPark>().unwrap();
        waiter.join().unwrap();
        c.assert_settled();
    });
}

/// Issue 11 #5: the notifier waits right after its notify (giving up at
/// once); it must not take the token, and the waiter it meant must wake
/// (if the notifier took it, the waiter would sleep for ever: a loom
/// deadlock).
#[test]
fn loom_condvar_notifier_cannot_take_its_own_notify() {
    loom::model(|| {
        let c = Arc::new(CondWords::default());
        let c2 = Arc::clone(&c);
        let waiter = thread::spawn(move || {
            c2.lock.raw().lock::<LoomPark>(1, Deadline::NEVER).unwrap();
            c2.flag.store(1, Ordering::SeqCst); // registered from here on
            let woken = c2.wait(1, Deadline::NEVER);
            c2.lock.raw().unlock::<LoomPark>().unwrap();
            woken
        });
        loop {
            c.lock.raw().lock::<LoomPark>(2, Deadline::NEVER).unwrap();
            if c.flag.load(Ordering::SeqCst) == 1 {
                break;
            }
            c.lock.raw().unlock::<LoomPark>().unwrap();
            thread::yield_now();
        }
        assert_eq!(c.cv().notify::<LoomPark>(1), 1);
        let now = Deadline::after(Some(std::time::Duration::ZERO));
        assert!(!c.wait(2, now), "the notifier took its own notification");
        c.lock.raw().unlock::<LoomPark>().unwrap();
        assert!(waiter.join().unwrap());
        c.assert_settled();
    });
}

#[test]
fn loom_event_set_wakes_the_waiter() {
    loom::model(|| {
        let words = Arc::new((AtomicU32::new(0), EcWords::default()));
        let w2 = Arc::clone(&words);
        let waiter = thread::spawn(move || {
            RawEvent {
                flag: &w2.0,
                wake: w2.1.raw(),
            }
            .wait::<LoomPark>(Deadline::NEVER)
        });
        let ev = RawEvent {
            flag: &words.0,
            wake: words.1.raw(),
        };
        // (A set-then-clear pulse before the waiter starts would rightly
        // leave it waiting, so the model sets only.)
        ev.set::<LoomPark>();
        assert!(waiter.join().unwrap());
        assert!(ev.is_set());
        assert_eq!(ev.waiting(), 0);
    });
}

#[derive(Default)]
struct BarrierWords {
    lock: MutexWords,
    phase: AtomicU32,
    count: AtomicU32,
    scanned: AtomicU32,
    parties: AtomicU32,
    wake: EcWords,
    arrivals: [AtomicU64; 3],
}

impl BarrierWords {
    fn new(parties: u32) -> BarrierWords {
        let b = BarrierWords::default();
        b.parties.store(parties, Ordering::SeqCst);
        b
    }

    fn raw<'a>(&'a self) -> RawBarrier<'a, impl Fn(usize) -> Option<&'a AtomicU64> + Copy + 'a> {
        RawBarrier {
            lock: self.lock.raw(),
            phase: &self.phase,
            count: &self.count,
            scanned: &self.scanned,
            parties: &self.parties,
            wake: self.wake.raw(),
            arrivals: move |i: usize| self.arrivals.get(i),
        }
    }

    fn wait(&self, me: u64) -> Result<usize, Result<Broken, ()>> {
        self.raw()
            .wait::<LoomPark, ()>(me, Deadline::NEVER, || Ok(()))
    }

    /// The state a party leaves when it dies inside `wait` after arriving.
    fn forge_dead_arrival(&self, phase: u32) {
        self.arrivals[0].store(DEAD, Ordering::SeqCst);
        self.count.store(1, Ordering::SeqCst);
        self.phase.store(phase, Ordering::SeqCst);
    }

    fn assert_idle(&self) {
        assert_eq!(self.count.load(Ordering::SeqCst), 0);
        assert_eq!(self.wake.waiters.load(Ordering::SeqCst), 0);
        for e in &self.arrivals {
            assert_eq!(e.load(Ordering::SeqCst), 0);
        }
    }
}

#[test]
fn loom_barrier_two_parties_get_both_indices() {
    loom::model(|| {
        let b = Arc::new(BarrierWords::new(2));
        let b2 = Arc::clone(&b);
        let other = thread::spawn(move || b2.wait(1));
        let mine = b.wait(2);
        let theirs = other.join().unwrap();
        let mut idx = [mine.unwrap(), theirs.unwrap()];
        idx.sort_unstable();
        assert_eq!(idx, [0, 1]);
        b.assert_idle();
    });
}

/// Issue 11 #3: a party of a filling generation died; the party waiting
/// with it learns `Broken` (a missed death would sleep for ever: a loom
/// deadlock), and `reset` leaves a clean barrier.
#[test]
fn loom_barrier_dead_party_breaks_the_generation() {
    loom::model(|| {
        let b = Arc::new(BarrierWords::new(3));
        b.forge_dead_arrival(FILLING);
        let b2 = Arc::clone(&b);
        let survivor = thread::spawn(move || b2.wait(1));
        die();
        assert_eq!(survivor.join().unwrap(), Err(Ok(Broken)));
        assert!(b.raw().broken());
        b.raw().reset::<LoomPark>(2);
        assert_eq!(b.phase.load(Ordering::SeqCst), FILLING);
        b.assert_idle();
    });
}

/// Issue 11 #3: the lone party inside a two-party barrier died there
/// (nobody saw it die). The next arrival would complete the generation: it
/// learns `Broken` at once instead of passing with the dead party, and
/// after `reset` two parties pass.
#[test]
fn loom_barrier_lone_dead_party_breaks_for_the_next_arrival() {
    loom::model(|| {
        let b = Arc::new(BarrierWords::new(2));
        b.forge_dead_arrival(FILLING);
        assert_eq!(b.wait(1), Err(Ok(Broken)));
        assert!(b.raw().broken());
        b.raw().reset::<LoomPark>(1);
        b.assert_idle();
        let b2 = Arc::clone(&b);
        let other = thread::spawn(move || b2.wait(2));
        let mut idx = [b.wait(1).unwrap(), other.join().unwrap().unwrap()];
        idx.sort_unstable();
        assert_eq!(idx, [0, 1]);
        b.assert_idle();
    });
}

/// Issue 11 #3: a party that passed died before leaving; the next
/// generation still fills (its waiters reap the leftover instead of
/// waiting for ever for the drain to finish).
#[test]
fn loom_barrier_dead_leftover_does_not_wedge_the_next_generation() {
    loom::model(|| {
        let b = Arc::new(BarrierWords::new(2));
        b.forge_dead_arrival(DRAINING);
        let b2 = Arc::clone(&b);
        let other = thread::spawn(move || b2.wait(1));
        die();
        let mine = b.wait(2);
        let mut idx = [mine.unwrap(), other.join().unwrap().unwrap()];
        idx.sort_unstable();
        assert_eq!(idx, [0, 1]);
        b.assert_idle();
    });
}

/// Issue 15: an async waiter's arrival (the poll steps `try_arrive`,
/// `give_up`) races a blocking party that completes the generation. Either
/// the withdrawal came first (the barrier stays unbroken, and a second
/// arrival releases the other party), or the generation completed first
/// (the withdrawal finds it passed and keeps its index); the indices are
/// distinct and the barrier ends idle either way.
#[test]
fn loom_barrier_withdrawn_arrival_races_completion() {
    loom::model(|| {
        let b = Arc::new(BarrierWords::new(2));
        let b2 = Arc::clone(&b);
        let other = thread::spawn(move || b2.wait(1));
        let raw = b.raw();
        let mine = match raw.try_arrive::<LoomPark, ()>(2, false, || Ok(())) {
            None => panic!("no generation drains before two arrivals"),
            Some(Arrived::Done(r)) => r.unwrap(),
            Some(Arrived::Inside(arrival)) => match raw.give_up::<LoomPark>(2, arrival, false) {
                Ok(index) => index,
                Err(Broken) => {
                    assert!(!raw.broken(), "a withdrawal breaks nothing");
                    b.wait(2).unwrap()
                }
            },
        };
        let mut idx = [mine, other.join().unwrap().unwrap()];
        idx.sort_unstable();
        assert_eq!(idx, [0, 1]);
        b.assert_idle();
    });
}

#[test]
fn loom_eventcount_notify_after_the_recheck_is_never_missed() {
    loom::model(|| {
        let ec = Arc::new(EcWords::default());
        let flag = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (ec, flag) = (Arc::clone(&ec), Arc::clone(&flag));
                thread::spawn(move || {
                    ec.raw().wait_until::<LoomPark>(Deadline::NEVER, None, || {
                        flag.load(Ordering::SeqCst) == 1
                    })
                })
            })
            .collect();
        flag.store(1, Ordering::SeqCst);
        ec.raw().notify::<LoomPark>(u32::MAX);
        for w in waiters {
            assert!(w.join().unwrap());
        }
        assert_eq!(ec.waiters.load(Ordering::SeqCst), 0);
    });
}

/// Takes one of `tokens` if there is one.
fn take(tokens: &AtomicU32) -> bool {
    tokens
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
        .is_ok()
}

#[test]
fn loom_eventcount_counted_notifies_reach_every_waiter() {
    loom::model(|| {
        let ec = Arc::new(EcWords::default());
        let tokens = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (ec, tokens) = (Arc::clone(&ec), Arc::clone(&tokens));
                thread::spawn(move || {
                    ec.raw()
                        .wait_until::<LoomPark>(Deadline::NEVER, None, || take(&tokens))
                })
            })
            .collect();
        for _ in 0..2 {
            tokens.fetch_add(1, Ordering::SeqCst);
            ec.raw().notify::<LoomPark>(1);
        }
        for w in waiters {
            assert!(w.join().unwrap());
        }
        assert_eq!(tokens.load(Ordering::SeqCst), 0);
        assert_eq!(ec.waiters.load(Ordering::SeqCst), 0);
    });
}

/// The queue ring's protocol (`mp-channel/src/queue/ring.rs`) on a ring of
/// one slot: positions only grow, each side publishes its position with a
/// `SeqCst` store and then notifies the other side's eventcount.
#[derive(Default)]
struct RingWords {
    head: AtomicU32,
    tail: AtomicU32,
    data: EcWords,
    space: EcWords,
}

#[test]
fn loom_ring_producer_and_consumer_never_sleep_through_a_move() {
    const ITEMS: u32 = 2;
    loom::model(|| {
        let r = Arc::new(RingWords::default());
        let r2 = Arc::clone(&r);
        let consumer = thread::spawn(move || {
            for _ in 0..ITEMS {
                assert!(r2
                    .data
                    .raw()
                    .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                        r2.tail.load(Ordering::SeqCst) != r2.head.load(Ordering::SeqCst)
                    }));
                let head = r2.head.load(Ordering::SeqCst);
                r2.head.store(head + 1, Ordering::SeqCst);
                r2.space.raw().notify::<LoomPark>(u32::MAX);
            }
        });
        for _ in 0..ITEMS {
            assert!(r
                .space
                .raw()
                .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                    r.tail.load(Ordering::SeqCst) == r.head.load(Ordering::SeqCst)
                }));
            let tail = r.tail.load(Ordering::SeqCst);
            r.tail.store(tail + 1, Ordering::SeqCst);
            r.data.raw().notify::<LoomPark>(u32::MAX);
        }
        consumer.join().unwrap();
        assert_eq!(r.head.load(Ordering::SeqCst), ITEMS);
        assert_eq!(r.data.waiters.load(Ordering::SeqCst), 0);
        assert_eq!(r.space.waiters.load(Ordering::SeqCst), 0);
    });
}

/// The ring as mp-channel's `Ring::push` notifies: a producer wakes the
/// consumer only if `head`, read after publishing, is at the start of its
/// record (the first one not taken); the consumer sleeps only after seeing
/// `head == tail`. With two and three items, and rings of one to three
/// slots, some records are published behind an untaken one and skip their
/// notify. Each side's read of the other's position after its own store is
/// a Dekker pair, so it is a [`dekker_load`] (loom's `SeqCst` is weaker),
/// and the positions move by RMWs (loom mixes those with plain stores of
/// the same word badly).
#[test]
fn loom_ring_producer_notifies_only_the_first_untaken_record() {
    for (items, slots) in [(2, 1), (2, 2), (3, 2), (3, 3)] {
        loom::model(move || {
            let r = Arc::new(RingWords::default());
            let r2 = Arc::clone(&r);
            let consumer = thread::spawn(move || {
                for _ in 0..items {
                    assert!(r2
                        .data
                        .raw()
                        .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                            dekker_load(&r2.tail) != r2.head.load(Ordering::SeqCst)
                        }));
                    r2.head.fetch_add(1, Ordering::SeqCst);
                    r2.space.raw().notify::<LoomPark>(u32::MAX);
                }
            });
            for _ in 0..items {
                assert!(r
                    .space
                    .raw()
                    .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                        r.tail.load(Ordering::SeqCst) - dekker_load(&r.head) < slots
                    }));
                let start = r.tail.fetch_add(1, Ordering::SeqCst);
                if dekker_load(&r.head) == start {
                    r.data.raw().notify::<LoomPark>(u32::MAX);
                }
            }
            consumer.join().unwrap();
            assert_eq!(r.head.load(Ordering::SeqCst), items);
            assert_eq!(r.data.waiters.load(Ordering::SeqCst), 0);
        });
    }
}

/// The ring with its writer and reader locks, as mp-channel's queues
/// publish and take a whole message. The producer, under the writer lock,
/// moves `tail` with a `Release` write only, releases the lock, and then
/// looks whether the consumer sleeps (the release's swap, not a `SeqCst`
/// store, orders the two); a consumer about to sleep registers, makes the
/// writer lock's word a no-op read-modify-write ([`RawMutex::touch`],
/// `Lock::order_with_unlock`), and only then looks at `tail`. A consumer
/// takes a record with a compare-and-swap of `head` (`Ring::claim`: the
/// reader lock orders consumers only among themselves), and then looks
/// whether a producer sleeps; a producer about to sleep registers, makes
/// `head` a no-op read-modify-write (`Ring::order_with_claims`), and only
/// then looks at `head`. The wakers read the waiter count
/// with a plain load, as `Ring::wake_consumer` and the `SeqCst` load of
/// `EventCount::notify` do in production. A producer about to sleep for
/// space first asks for `want` free slots (`space_wanted`, the most any
/// sleeper asked for); the consumer wakes producers only once that many
/// are free, and resets the word as it does (`Ring::wake_producers`).
#[derive(Default)]
struct LockedRingWords {
    ring: RingWords,
    writer: MutexWords,
    reader: MutexWords,
    space_wanted: AtomicU32,
}

/// Moves `items` items through a ring of `slots` slots, a sleeping producer
/// asking for `want` free slots (`1..=slots`); `touch: false` is
/// the protocol without the no-op read-modify-write, which loses a
/// wake-up: loom reports a deadlock with `(2, 1, 1, false)`, and so it
/// does when the consumer resets `space_wanted` before comparing the free
/// slots with it (checked by hand;
/// loom aborts the test binary on it, so it cannot be a `should_panic`
/// test).
fn ring_with_locks(items: u32, slots: u32, want: u32, touch: bool) {
    loom::model(move || {
        let r = Arc::new(LockedRingWords::default());
        let r2 = Arc::clone(&r);
        let consumer = thread::spawn(move || {
            let (ring, reader) = (&r2.ring, r2.reader.raw());
            for _ in 0..items {
                assert_eq!(
                    reader.lock::<LoomPark>(2, Deadline::NEVER),
                    Ok(Acquired::Clean)
                );
                assert!(ring
                    .data
                    .raw()
                    .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                        if touch {
                            r2.writer.raw().touch();
                        }
                        ring.tail.load(Ordering::Acquire) != ring.head.load(Ordering::Relaxed)
                    }));
                let head = ring.head.load(Ordering::Relaxed);
                assert!(ring
                    .head
                    .compare_exchange(head, head + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok());
                reader.unlock::<LoomPark>().unwrap();
                wake_producers(&r2, slots);
            }
        });
        produce(&r, items, slots, want, touch);
        consumer.join().unwrap();
        let ring = &r.ring;
        assert_eq!(ring.head.load(Ordering::SeqCst), items);
        assert_eq!(ring.data.waiters.load(Ordering::SeqCst), 0);
        assert_eq!(ring.space.waiters.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn loom_ring_release_publication_and_wake_after_unlock_lose_no_wakeup() {
    for (items, slots, want) in [(2, 1, 1), (2, 2, 1), (2, 2, 2), (3, 2, 2)] {
        ring_with_locks(items, slots, want, true);
    }
}

/// Preemptions explored by [`ring_with_a_claim_beside`], which has three
/// threads: at `LOOM_MAX_PREEMPTIONS=3` (the other models' bound) it takes
/// minutes per case (two items, a ring of one slot: 148 s), at 2 seconds.
const PREEMPTIONS: usize = 2;

/// The producer of [`ring_with_locks`]: `items` records, each under the
/// writer lock, sleeping for `want` free slots when the ring is full
/// (with `touch`, ordered with the consumers' claims by a no-op
/// read-modify-write of `head`, `Ring::order_with_claims`).
fn produce(r: &LockedRingWords, items: u32, slots: u32, want: u32, touch: bool) {
    let (ring, writer) = (&r.ring, r.writer.raw());
    for _ in 0..items {
        assert_eq!(
            writer.lock::<LoomPark>(1, Deadline::NEVER),
            Ok(Acquired::Clean)
        );
        assert!(ring
            .space
            .raw()
            .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                r.space_wanted.fetch_max(want, Ordering::SeqCst);
                if touch {
                    ring.head.fetch_add(0, Ordering::SeqCst);
                }
                ring.tail.load(Ordering::Relaxed) - ring.head.load(Ordering::Acquire) < slots
            }));
        let start = ring.tail.fetch_add(1, Ordering::Release);
        writer.unlock::<LoomPark>().unwrap();
        // `Ring::wake_consumer`: only if the consumer has reached the
        // record (an earlier one's publisher wakes it otherwise).
        if ring.data.waiters.load(Ordering::SeqCst) != 0
            && ring.head.load(Ordering::SeqCst) >= start
        {
            ring.data.raw().notify::<LoomPark>(u32::MAX);
        }
    }
}

/// `Ring::wake_producers` as a consumer runs it after a claim.
fn wake_producers(r: &LockedRingWords, slots: u32) {
    let ring = &r.ring;
    if ring.space.waiters.load(Ordering::SeqCst) != 0 {
        let wanted = r.space_wanted.load(Ordering::SeqCst);
        let used = ring.tail.load(Ordering::Acquire) - ring.head.load(Ordering::Relaxed);
        if wanted != 0 && slots - used >= wanted && r.space_wanted.swap(0, Ordering::SeqCst) != 0 {
            ring.space.raw().notify::<LoomPark>(u32::MAX);
        }
    }
}

/// A consumer without the reader lock beside one holding it
/// (`Core::take_small`): it claims a record with one compare-and-swap if
/// one is there, and never sleeps; the holder of the reader lock sleeps
/// for data as in [`ring_with_locks`]. Each record is taken once (a claim
/// that lost to the other consumer takes nothing), the producer sleeping
/// for space is woken by whichever consumer frees it, and the sleeping
/// consumer is never left asleep while a record waits. (The test ends the
/// sleeper's loop once the other consumer is done and every record is
/// taken; the other consumer's notify for that is the test's, not the
/// queue's, where a consumer waits for the next record.)
fn ring_with_a_claim_beside(items: u32, slots: u32) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(PREEMPTIONS);
    builder.check(move || {
        let r = Arc::new(LockedRingWords::default());
        let other = Arc::new(AtomicU32::new(0)); // 1: done; 2: done, took one
        let (r2, other2) = (Arc::clone(&r), Arc::clone(&other));
        let sleeper = thread::spawn(move || {
            let (ring, reader) = (&r2.ring, r2.reader.raw());
            assert_eq!(
                reader.lock::<LoomPark>(2, Deadline::NEVER),
                Ok(Acquired::Clean)
            );
            let mut mine = 0;
            let finished = |mine: u32| {
                let o = dekker_load(&other2);
                o != 0 && mine + (o - 1) == items
            };
            while !finished(mine) {
                assert!(ring
                    .data
                    .raw()
                    .wait_until::<LoomPark>(Deadline::NEVER, None, || {
                        r2.writer.raw().touch();
                        ring.tail.load(Ordering::Acquire) != ring.head.load(Ordering::Acquire)
                            || finished(mine)
                    }));
                let head = ring.head.load(Ordering::Acquire);
                if ring.tail.load(Ordering::Acquire) != head
                    && ring
                        .head
                        .compare_exchange(head, head + 1, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                {
                    mine += 1;
                    wake_producers(&r2, slots);
                }
            }
            reader.unlock::<LoomPark>().unwrap();
            mine
        });
        let (r3, other3) = (Arc::clone(&r), Arc::clone(&other));
        let claimer = thread::spawn(move || {
            let ring = &r3.ring;
            let head = ring.head.load(Ordering::Acquire);
            let took = ring.tail.load(Ordering::Acquire) != head
                && ring
                    .head
                    .compare_exchange(head, head + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok();
            if took {
                wake_producers(&r3, slots);
            }
            // A read-modify-write, as the sleeper's look at it is
            // (`dekker_load`): loom's `SeqCst` store and load are no Dekker
            // pair.
            other3.swap(1 + u32::from(took), Ordering::SeqCst);
            ring.data.raw().notify::<LoomPark>(u32::MAX);
        });
        produce(&r, items, slots, 1, true);
        let ring = &r.ring;
        claimer.join().unwrap();
        let mine = sleeper.join().unwrap();
        let theirs = other.load(Ordering::SeqCst) - 1;
        assert_eq!(mine + theirs, items, "every record taken once");
        assert_eq!(ring.head.load(Ordering::SeqCst), items);
        assert_eq!(ring.data.waiters.load(Ordering::SeqCst), 0);
        assert_eq!(ring.space.waiters.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn loom_ring_a_claim_without_the_reader_lock_loses_nothing() {
    for (items, slots) in [(1, 1), (2, 1), (2, 2)] {
        ring_with_a_claim_beside(items, slots);
    }
}

#[test]
fn loom_joinable_join_wakes_when_the_last_task_is_done() {
    loom::model(|| {
        let unfinished = Arc::new(AtomicU32::new(2)); // two items put
        let joined = Arc::new(EcWords::default());
        let (u2, j2) = (Arc::clone(&unfinished), Arc::clone(&joined));
        let joiner = thread::spawn(move || {
            j2.raw()
                .wait_until::<LoomPark>(Deadline::NEVER, None, || u2.load(Ordering::SeqCst) == 0)
        });
        // task_done, twice: the one that reaches zero notifies.
        for _ in 0..2 {
            let before = unfinished
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .unwrap();
            if before == 1 {
                joined.raw().notify::<LoomPark>(u32::MAX);
            }
        }
        assert!(joiner.join().unwrap());
        assert_eq!(joined.waiters.load(Ordering::SeqCst), 0);
    });
}
