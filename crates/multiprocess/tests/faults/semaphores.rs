//! `Semaphore` and `BoundedSemaphore`: participants take a permit in a loop;
//! one is killed at a random moment. Asserts: never more holders than
//! permits (plus the victim's stale mark), and afterwards a fresh process
//! takes every permit — no capacity lost to the dead, whatever their number.

use std::time::Instant;

use multiprocess::{AcquireError, BoundedSemaphore, Process, Semaphore};

use crate::crew::{
    self, add, bounded, progressed, stopped, sub, Crew, Tally, FIRST_FREE, POLL, WAIT,
};
use crate::harness::{check, Outcome, Trial};

const INSIDE: usize = FIRST_FREE;
const PERMITS: u32 = 2;
const PARTIES: usize = 4;
/// More dead holders than the 64 the recovery table held (issue 11 #4).
const MANY: usize = 66;

/// Either kind of semaphore, for the shared participant code.
trait Permits {
    /// `permit_timeout`, reduced to acquired / died-holder / timed out.
    fn take(&self) -> Result<bool, ()>;
    /// Gives one permit back.
    fn give(&self);
    /// Free permits now.
    fn free(&self) -> u32;
}

fn outcome<G>(r: Result<G, AcquireError<G>>) -> Result<bool, ()> {
    match r {
        Ok(g) => {
            std::mem::forget(g);
            Ok(false)
        }
        Err(AcquireError::OwnerDied(d)) => {
            std::mem::forget(d.into_inner());
            Ok(true)
        }
        Err(AcquireError::Timeout) => Err(()),
    }
}

/// Both kinds have the same methods.
macro_rules! permits {
    ($kind:ty) => {
        impl Permits for $kind {
            fn take(&self) -> Result<bool, ()> {
                outcome(self.permit_timeout(WAIT))
            }
            fn give(&self) {
                self.release().expect("release");
            }
            fn free(&self) -> u32 {
                self.get_value()
            }
        }
    };
}

permits!(Semaphore);
permits!(BoundedSemaphore);

/// Takes a permit or panics (a hang).
fn take(s: &impl Permits) {
    let start = Instant::now();
    let r = s.take();
    bounded("acquiring a permit", start, WAIT);
    assert!(r.is_ok(), "hang: no permit within {WAIT:?}");
}

fn party(s: &impl Permits, t: &Tally) {
    while !stopped(t) {
        take(s);
        let n = add(t, INSIDE, 1);
        assert!(
            n <= u64::from(PERMITS) + 1,
            "{n} holders of {PERMITS} permits"
        );
        std::hint::spin_loop();
        sub(t, INSIDE, 1);
        s.give();
        progressed(t);
    }
}

fn sem_party(s: Semaphore, t: Tally) {
    party(&s, &t);
}

fn bsem_party(s: BoundedSemaphore, t: Tally) {
    party(&s, &t);
}

/// The fresh round: every permit can be taken, then all are given back.
fn all_permits(s: &impl Permits, n: u32) {
    for _ in 0..n {
        take(s);
    }
    assert_eq!(s.free(), 0, "permits left after taking all {n}");
    for _ in 0..n {
        s.give();
    }
}

fn sem_fresh(s: Semaphore, n: u32) {
    all_permits(&s, n);
}

fn bsem_fresh(s: BoundedSemaphore, n: u32) {
    all_permits(&s, n);
}

/// Holds one permit until killed.
fn hold_one(s: Semaphore, t: Tally) {
    take(&s);
    progressed(&t);
    while !stopped(&t) {
        std::thread::sleep(POLL);
    }
}

fn all_back(free: u32, n: u32) -> Outcome {
    check(free == n, || {
        format!("{free} of {n} permits free after the fresh round")
    })
}

pub(crate) fn semaphore_killed_holder(trial: &mut Trial) -> Outcome {
    let s = Semaphore::new(PERMITS).map_err(|e| e.to_string())?;
    let t = crew::tally(1);
    let procs = (0..PARTIES)
        .map(|_| Process::new(sem_party, (s.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(sem_fresh, (s.clone(), PERMITS)))?;
    all_back(s.get_value(), PERMITS)
}

pub(crate) fn bounded_semaphore_killed_holder(trial: &mut Trial) -> Outcome {
    let s = BoundedSemaphore::new(PERMITS).map_err(|e| e.to_string())?;
    let t = crew::tally(1);
    let procs = (0..PARTIES)
        .map(|_| Process::new(bsem_party, (s.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(bsem_fresh, (s.clone(), PERMITS)))?;
    all_back(s.get_value(), PERMITS)?;
    check(s.release().is_err(), || {
        "released past the bound".to_owned()
    })
}

/// Issue 11 #4: 66 holders, all killed; every permit must come back.
pub(crate) fn semaphore_many_dead_holders(_trial: &mut Trial) -> Outcome {
    let n = MANY as u32;
    let s = Semaphore::new(n).map_err(|e| e.to_string())?;
    let t = crew::tally(1);
    let procs = (0..MANY)
        .map(|_| Process::new(hold_one, (s.clone(), t.clone())))
        .collect();
    let mut crew = Crew::start(procs, &t)?;
    crew.kill_all()?;
    drop(crew);
    crew::fresh(Process::new(sem_fresh, (s.clone(), n)))?;
    all_back(s.get_value(), n)
}
