//! `Event`: setters set it, waiters wait for it and clear it; one participant
//! is killed at a random moment. Asserts: every wait returns `true` within
//! its timeout while a setter lives, and a fresh process sees clear/set/wait
//! work afterwards.

use std::time::{Duration, Instant};

use multiprocess::{Event, Process};

use crate::crew::{self, bounded, progressed, stopped, Crew, Tally, WAIT};
use crate::harness::{Outcome, Trial};

/// Roles 0 and 2: set the event now and then.
fn setter(ev: Event, t: Tally) {
    while !stopped(&t) {
        ev.set();
        progressed(&t);
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Roles 1 and 3: wait for the event, then clear it.
fn waiter(ev: Event, t: Tally) {
    while !stopped(&t) {
        let start = Instant::now();
        let set = ev.wait(Some(WAIT));
        bounded("Event::wait", start, WAIT);
        assert!(
            set,
            "hang: event not set within {WAIT:?} while a setter lives"
        );
        ev.clear();
        progressed(&t);
    }
}

/// The fresh round: clear, a wait that times out, set, a wait that succeeds.
fn fresh_round(ev: Event) {
    ev.clear();
    assert!(
        !ev.wait(Some(Duration::from_millis(20))),
        "cleared event waited true"
    );
    ev.set();
    assert!(ev.wait(Some(WAIT)), "set event waited false");
    assert!(ev.is_set());
}

pub(crate) fn event_killed_party(trial: &mut Trial) -> Outcome {
    let ev = Event::new().map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let procs = (0..4)
        .map(|i| {
            let args = (ev.clone(), t.clone());
            if i % 2 == 0 {
                Process::new(setter, args)
            } else {
                Process::new(waiter, args)
            }
        })
        .collect();
    let mut crew = Crew::start(procs, &t)?;
    crew.kill_random(trial, &[0, 1, 2, 3])?;
    crew.stop();
    ev.set(); // waiters still inside `wait` return at once
    crew.reap()?;
    crew::fresh(Process::new(fresh_round, (ev.clone(),)))
}
