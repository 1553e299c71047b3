//! `Lock` and `RLock`: participants take the lock in a loop; one is killed at
//! a random moment. Asserts: never two holders at once (a clean acquisition
//! finds nobody inside), each death is reported as `OwnerDied` to at most one
//! acquirer, at most the victim's round is left unfinished, and a fresh
//! process takes the lock afterwards.

use std::time::Instant;

use multiprocess::{AcquireError, Lock, Process, RLock};

use crate::crew::{self, add, bounded, get, progressed, set, stopped, Tally, FIRST_FREE, WAIT};
use crate::harness::{check, Outcome, Trial};

const INSIDE: usize = FIRST_FREE;
const ACQUIRED: usize = FIRST_FREE + 1;
const RELEASED: usize = FIRST_FREE + 2;
const DIED: usize = FIRST_FREE + 3;
const PARTIES: usize = 3;

/// The guard of a timed acquisition; `OwnerDied` is counted and its damage
/// (the dead holder's `INSIDE` mark) repaired. A timeout is a hang.
pub(crate) fn held<G>(r: Result<G, AcquireError<G>>, t: &Tally, start: Instant) -> G {
    bounded("acquiring", start, WAIT);
    match r {
        Ok(g) => {
            assert_eq!(
                get(t, INSIDE),
                0,
                "acquired cleanly while someone was inside"
            );
            g
        }
        Err(AcquireError::OwnerDied(died)) => {
            add(t, DIED, 1);
            set(t, INSIDE, 0);
            died.into_inner()
        }
        Err(AcquireError::Timeout) => panic!("hang: no acquisition within {WAIT:?}"),
    }
}

/// One round inside the lock.
fn inside(t: &Tally) {
    add(t, INSIDE, 1);
    add(t, ACQUIRED, 1);
    std::hint::spin_loop();
    crew::sub(t, INSIDE, 1);
    add(t, RELEASED, 1);
}

fn lock_party(lock: Lock, t: Tally) {
    while !stopped(&t) {
        let start = Instant::now();
        let g = held(lock.lock_timeout(WAIT), &t, start);
        inside(&t);
        drop(g);
        progressed(&t);
    }
}

fn rlock_party(lock: RLock, t: Tally) {
    while !stopped(&t) {
        let start = Instant::now();
        let outer = held(lock.lock_timeout(WAIT), &t, start);
        let inner = lock.lock().expect("recursion by the owner");
        inside(&t);
        drop(inner);
        drop(outer);
        progressed(&t);
    }
}

/// The fresh round: the lock can be taken (a death may still be reported
/// once), then taken cleanly.
fn lock_fresh(lock: Lock, t: Tally) {
    drop(held(lock.lock_timeout(WAIT), &t, Instant::now()));
    let g = lock.lock_timeout(WAIT);
    assert!(g.is_ok(), "second acquisition not clean");
}

fn rlock_fresh(lock: RLock, t: Tally) {
    drop(held(lock.lock_timeout(WAIT), &t, Instant::now()));
    let g = lock.lock_timeout(WAIT);
    assert!(g.is_ok(), "second acquisition not clean");
}

/// What every lock trial asserts after the participants are reaped.
fn accounts(t: &Tally) -> Outcome {
    let (acq, rel, died) = (get(t, ACQUIRED), get(t, RELEASED), get(t, DIED));
    check(acq >= rel && acq - rel <= 1, || {
        format!("{acq} rounds began but {rel} ended: more than the victim's round lost")
    })?;
    check(died <= 1, || format!("one death reported {died} times"))
}

pub(crate) fn lock_killed_holder(trial: &mut Trial) -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let t = crew::tally(4);
    let procs = (0..PARTIES)
        .map(|_| Process::new(lock_party, (lock.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(lock_fresh, (lock.clone(), t.clone())))?;
    accounts(&t)
}

pub(crate) fn rlock_killed_holder(trial: &mut Trial) -> Outcome {
    let lock = RLock::new().map_err(|e| e.to_string())?;
    let t = crew::tally(4);
    let procs = (0..PARTIES)
        .map(|_| Process::new(rlock_party, (lock.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(rlock_fresh, (lock.clone(), t.clone())))?;
    accounts(&t)
}
