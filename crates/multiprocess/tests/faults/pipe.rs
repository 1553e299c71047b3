//! `Pipe`: a writer sends numbered messages, a reader checks they arrive in
//! order; one of the two is a child killed at a random moment, the other is
//! this process (a fork child inherits every fd its parent holds, so two
//! children would hold each other's ends). Asserts: the survivor learns of
//! the death as an error (`RecvError` other than a timeout, or
//! `SendError::Disconnected`) within its timeout — never a hang, never a
//! message out of order — and a fresh pipe works afterwards.

use std::time::Instant;

use multiprocess::{pipe, Connection, Process, RecvError, SendError};

use crate::crew::{self, add, bounded, get, progressed, Crew, Tally, FIRST_FREE, WAIT};
use crate::harness::{check, Outcome, Trial};

/// Set by the survivor when it saw the typed error.
const NOTICED: usize = FIRST_FREE;

/// Sends 0, 1, 2, ... until the reader is gone.
fn writer(c: Connection, t: Tally) {
    let mut n = 0u64;
    loop {
        let start = Instant::now();
        match c.send_timeout(&n, WAIT) {
            Ok(()) => {}
            Err(SendError::Disconnected) => {
                add(&t, NOTICED, 1);
                return;
            }
            Err(e) => panic!("send after {n} messages: {e} (expected Disconnected)"),
        }
        bounded("send", start, WAIT);
        progressed(&t);
        n += 1;
    }
}

/// Receives until the writer is gone, checking the order.
fn reader(c: Connection, t: Tally) {
    let mut want = 0u64;
    loop {
        let start = Instant::now();
        let r = c.recv_timeout::<u64>(WAIT);
        bounded("recv", start, WAIT);
        match r {
            Ok(n) => {
                assert_eq!(n, want, "message out of order");
                want += 1;
                progressed(&t);
            }
            Err(RecvError::Timeout) => panic!("hang: no message and no error within {WAIT:?}"),
            Err(_) => {
                add(&t, NOTICED, 1);
                return;
            }
        }
    }
}

/// The fresh round: one message each way through a new pipe.
fn fresh_round() {
    let (a, b) = pipe(true).expect("pipe");
    a.send(&7u64).expect("send");
    assert_eq!(b.recv_timeout::<u64>(WAIT).expect("recv"), 7);
    b.send(&8u64).expect("send");
    assert_eq!(a.recv_timeout::<u64>(WAIT).expect("recv"), 8);
}

pub(crate) fn pipe_dead_peer(trial: &mut Trial) -> Outcome {
    let (r, w) = pipe(false).map_err(|e| e.to_string())?;
    let t = crew::tally(1);
    let child_writes = trial.below(2) == 0;
    // Starting hands the child its end; this process keeps only the other.
    let (child, mine) = if child_writes {
        (Process::new(writer, (w, t.clone())), r)
    } else {
        (Process::new(reader, (r, t.clone())), w)
    };
    let mut crew = Crew::start(vec![child], &t)?;
    let me = {
        let t = t.clone();
        std::thread::spawn(move || {
            if child_writes {
                reader(mine, t);
            } else {
                writer(mine, t);
            }
        })
    };
    crew.kill_random(trial, &[0])?;
    let survived = me.join().is_ok();
    crew.reap()?;
    check(survived && get(&t, NOTICED) == 1, || {
        "this process's end did not see the death as an error (its panic is above)".to_owned()
    })?;
    crew::fresh(Process::new(fresh_round, ()))
}
