//! `Barrier`: parties pass it in a loop; one is killed at a random moment.
//! Asserts: the survivors' waits end (pass or `BrokenBarrierError`) within
//! their timeout, and afterwards — after a `reset()` if the death broke it —
//! a full set of fresh parties passes. And issue 11 #3: a party killed
//! *inside* `wait`, even alone, breaks the barrier for whoever comes next
//! (it is never passed with), and `reset()` restores it.

use std::time::{Duration, Instant};

use multiprocess::{Barrier, BrokenBarrierError, Process};

use crate::crew::{self, bounded, progressed, stopped, Crew, Tally, WAIT};
use crate::harness::{check, Outcome, Trial};

const PARTIES: usize = 3;

/// A survivor waits this long for the dead party before the barrier breaks.
const PASS_WAIT: Duration = Duration::from_secs(2);

/// Passes the barrier until it breaks (a party died) or the stop flag is up.
fn party(b: Barrier, t: Tally) {
    while !stopped(&t) {
        let start = Instant::now();
        let r = b.wait_timeout(PASS_WAIT);
        bounded("Barrier::wait_timeout", start, PASS_WAIT);
        if r.is_err() {
            return;
        }
        progressed(&t);
    }
}

/// The fresh round: two passes.
fn fresh_party(b: Barrier) {
    for pass in 0..2 {
        let start = Instant::now();
        let r = b.wait_timeout(WAIT);
        bounded("Barrier::wait_timeout", start, WAIT);
        assert!(
            r.is_ok(),
            "fresh party: pass {pass} failed: barrier unusable"
        );
    }
}

/// Resets a barrier a death broke, then runs `parties` fresh parties.
fn fresh_round(b: &Barrier, parties: usize) -> Outcome {
    if b.broken() {
        b.reset();
    }
    crew::fresh_all(
        (0..parties)
            .map(|_| Process::new(fresh_party, (b.clone(),)))
            .collect(),
    )
}

pub(crate) fn barrier_killed_party(trial: &mut Trial) -> Outcome {
    let b = Barrier::new(PARTIES).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let procs = (0..PARTIES)
        .map(|_| Process::new(party, (b.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    fresh_round(&b, PARTIES)
}

/// Waits inside the barrier until killed.
fn wait_long(b: Barrier) {
    let _ = b.wait_timeout(6 * WAIT);
}

/// Issue 11 #3: one party of two enters `wait` and is killed there, alone.
/// The next `wait` must not pass with the dead party: it gets
/// `BrokenBarrierError` (within the liveness slice, not its timeout), the
/// barrier stays broken, and after `reset()` two fresh parties pass twice
/// (see docs/faults.md for why breaking is right).
pub(crate) fn barrier_party_killed_in_wait(_trial: &mut Trial) -> Outcome {
    let b = Barrier::new(2).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let mut crew = Crew::start(vec![Process::new(wait_long, (b.clone(),))], &t)?;
    let end = Instant::now() + WAIT;
    while b.n_waiting() == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    check(b.n_waiting() == 1, || {
        "the party never entered wait".to_owned()
    })?;
    crew.kill(0)?;
    crew.reap()?;
    let start = Instant::now();
    let r = b.wait_timeout(WAIT);
    let took = start.elapsed();
    check(r == Err(BrokenBarrierError), || {
        format!("the wait after a lone party died inside returned {r:?}, not BrokenBarrierError")
    })?;
    check(took < WAIT, || {
        format!("the death was found by the timeout ({took:?}), not the liveness check")
    })?;
    check(b.broken(), || "not broken after the death".to_owned())?;
    b.reset();
    check(!b.broken(), || "still broken after reset()".to_owned())?;
    fresh_round(&b, 2)
}
