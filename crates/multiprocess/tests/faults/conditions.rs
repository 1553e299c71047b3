//! `Condition`: notifiers add tokens under the condition's lock and notify,
//! waiters wait for a token and take it; one participant is killed at a
//! random moment. Asserts: waiters are woken while a notifier lives, tokens
//! made = tokens taken + left (± the victim's round), a fresh waiter is
//! woken afterwards. And issue 11 #5: a process that notifies and then waits
//! must not take its own notification.

use std::time::{Duration, Instant};

use multiprocess::{Condition, ConditionError, Process};

use crate::crew::{
    self, add, bounded, get, progressed, set, stopped, sub, Crew, Tally, FIRST_FREE, WAIT,
};
use crate::harness::{check, Outcome, Trial};

const TOKENS: usize = FIRST_FREE;
const MADE: usize = FIRST_FREE + 1;
const TAKEN: usize = FIRST_FREE + 2;
const READY: usize = FIRST_FREE + 3;
const WOKEN: usize = FIRST_FREE + 4;

/// Takes the condition's lock (from a dead holder too: the accounting allows
/// for the victim's round), or panics (a hang).
fn acquire(c: &Condition) {
    let start = Instant::now();
    let got = c.acquire(true, Some(WAIT)).unwrap_or(true);
    bounded("acquiring the condition's lock", start, WAIT);
    assert!(got, "hang: condition lock not acquired within {WAIT:?}");
}

/// Roles 0 and 1: make a token and notify one waiter.
fn notifier(c: Condition, t: Tally) {
    while !stopped(&t) {
        acquire(&c);
        add(&t, TOKENS, 1);
        add(&t, MADE, 1);
        c.notify(1).expect("notify while holding the lock");
        c.release().expect("release");
        progressed(&t);
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits (holding the lock) until there is a token or the stop flag is up.
fn await_token(c: &Condition, t: &Tally) -> bool {
    let start = Instant::now();
    loop {
        match c.wait_for(|| get(t, TOKENS) > 0 || stopped(t), Some(WAIT)) {
            Ok(ready) => {
                bounded("waiting for a token", start, WAIT);
                return ready;
            }
            Err(ConditionError::OwnerDied) => {}
            Err(e) => panic!("wait_for: {e}"),
        }
    }
}

/// Roles 2 and 3: wait for a token and take it.
fn waiter(c: Condition, t: Tally) {
    loop {
        acquire(&c);
        let ready = await_token(&c, &t);
        assert!(
            ready,
            "hang: no token within {WAIT:?} while a notifier lives"
        );
        if get(&t, TOKENS) > 0 {
            sub(&t, TOKENS, 1);
            add(&t, TAKEN, 1);
        }
        let stop = stopped(&t);
        c.release().expect("release");
        progressed(&t);
        if stop {
            return;
        }
    }
}

/// The fresh round: a waiter that the test wakes with a new token.
fn fresh_waiter(c: Condition, t: Tally) {
    acquire(&c);
    set(&t, READY, 1);
    let ready = await_token(&c, &t);
    assert!(ready, "fresh waiter not woken within {WAIT:?}");
    c.release().expect("release");
}

/// Waits until a participant set `READY`.
fn await_ready(t: &Tally) -> bool {
    let end = Instant::now() + WAIT;
    while get(t, READY) == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    get(t, READY) != 0
}

/// Gives the fresh waiter its token.
fn give_token(c: &Condition, t: &Tally) {
    if !await_ready(t) {
        return;
    }
    acquire(c);
    add(t, TOKENS, 1);
    let _ = c.notify(1);
    let _ = c.release();
}

pub(crate) fn condition_killed_party(trial: &mut Trial) -> Outcome {
    let c = Condition::new().map_err(|e| e.to_string())?;
    let t = crew::tally(5);
    let procs = (0..4)
        .map(|i| {
            let args = (c.clone(), t.clone());
            if i < 2 {
                Process::new(notifier, args)
            } else {
                Process::new(waiter, args)
            }
        })
        .collect();
    let mut crew = Crew::start(procs, &t)?;
    crew.kill_random(trial, &[0, 1, 2, 3])?;
    crew.stop();
    acquire(&c);
    c.notify_all().map_err(|e| e.to_string())?;
    c.release().map_err(|e| e.to_string())?;
    crew.reap()?;
    let (made, taken, left) = (get(&t, MADE), get(&t, TAKEN), get(&t, TOKENS));
    check(made.abs_diff(taken + left) <= 1, || {
        format!("{made} tokens made, {taken} taken, {left} left")
    })?;
    set(&t, TOKENS, 0);
    let waiter = Process::new(fresh_waiter, (c.clone(), t.clone()));
    crew::fresh_while(vec![waiter], || give_token(&c, &t))
}

/// Waits holding the lock for a notification; counts it in `WOKEN`.
fn plain_waiter(c: Condition, t: Tally) {
    acquire(&c);
    set(&t, READY, 1);
    if c.wait(Some(WAIT)).expect("wait") {
        add(&t, WOKEN, 1);
    }
    c.release().expect("release");
}

/// Issue 11 #5: B waits; A (this process) notifies one waiter and then
/// waits itself. B must be the one woken; A's own wait must time out.
pub(crate) fn condition_notify_then_wait(_trial: &mut Trial) -> Outcome {
    let c = Condition::new().map_err(|e| e.to_string())?;
    let t = crew::tally(5);
    let mut own_wake = false;
    let b = Process::new(plain_waiter, (c.clone(), t.clone()));
    crew::fresh_while(vec![b], || {
        if !await_ready(&t) {
            return;
        }
        // B set READY holding the lock, so it is inside `wait` now.
        acquire(&c);
        let _ = c.notify(1);
        own_wake = c.wait(Some(Duration::from_millis(500))).unwrap_or(false);
        let _ = c.release();
    })?;
    check(!own_wake && get(&t, WOKEN) == 1, || {
        format!(
            "notify(1) then wait: the notifier's own wait returned {own_wake}, \
             the waiter was woken {} time(s)",
            get(&t, WOKEN)
        )
    })
}
