//! Structure-aware fuzzing of the receive paths of `Connection`: a child
//! receives each hostile frame (huge declared lengths, truncated frames, fd
//! counts that lie, garbage, deep nesting, broken headers) as a `Nest`, a
//! `Vec<u8>`, a `String`, a tuple or raw bytes, on a fresh socket per case.
//! Asserts: every case ends in a value or a typed error within the timeout,
//! and the receiver never crashes — a crash kills the child, never this
//! test runner, and fails the trial with the case that did it.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use multiprocess::{pipe, Connection, Process, RecvError};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::crew::{self, Crew, OVERRUN, WAIT};
use crate::frames::{self, any_case, Case, Nest};
use crate::harness::{Outcome, Trial};

/// Hostile frames per trial.
const CASES: u32 = 32;

/// Receives one hostile message of the kind asked for.
fn receive(hostile: &Connection, kind: u8) -> Result<(), RecvError> {
    match kind {
        0 => hostile.recv_timeout::<Nest>(WAIT).map(drop),
        1 => hostile.recv_timeout::<Vec<u8>>(WAIT).map(drop),
        2 => hostile.recv_timeout::<String>(WAIT).map(drop),
        3 => hostile.recv_timeout::<(u64, String)>(WAIT).map(drop),
        _ => hostile.recv_bytes_timeout(None, WAIT).map(drop),
    }
}

/// The child: for each socket it is sent, receives one message and reports
/// how that went; `None` ends it.
fn receiver(ctl: Connection) {
    while let Ok(Some((hostile, kind))) = ctl.recv_timeout::<Option<(Connection, u8)>>(WAIT) {
        let start = Instant::now();
        let report = match receive(&hostile, kind) {
            Ok(()) => "ok".to_owned(),
            Err(RecvError::Timeout) => format!("hang: timed out after {:?}", start.elapsed()),
            Err(e) => format!("typed error: {e}"),
        };
        if ctl.send(&report).is_err() {
            return;
        }
    }
}

/// Sends one case to the receiver; `Err` if it hung or died.
fn one_case(ctl: &Connection, case: &Case, kind: u8) -> Result<(), String> {
    let (mine, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    let hostile = Connection::from_fd(OwnedFd::from(theirs));
    ctl.send(&Some((hostile, kind)))
        .map_err(|e| format!("the receiving child is gone ({e})"))?;
    frames::send(case, mine);
    match ctl.recv_timeout::<String>(WAIT + OVERRUN) {
        Ok(r) if r.starts_with("hang") => Err(r),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("the receiving child crashed or hung ({e})")),
    }
}

/// Runs `cases` against one receiver child, which must end cleanly.
fn against_receiver(cases: impl FnOnce(&Connection) -> Outcome) -> Outcome {
    let (ctl, child_end) = pipe(true).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let mut crew = Crew::start(vec![Process::new(receiver, (child_end,))], &t)?;
    let outcome = cases(&ctl);
    let _ = ctl.send(&None::<(Connection, u8)>);
    match (outcome, crew.reap()) {
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        (a, b) => a.and(b),
    }
}

pub(crate) fn decoder_fuzz(trial: &mut Trial) -> Outcome {
    let config = Config {
        cases: CASES,
        max_shrink_iters: 0,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::XorShift, &trial.seed_bytes());
    against_receiver(|ctl| {
        let mut runner = TestRunner::new_with_rng(config, rng);
        runner
            .run(&(any_case(), 0u8..5), |(case, kind)| {
                one_case(ctl, &case, kind)
                    .map_err(|e| TestCaseError::fail(format!("{case:?} as kind {kind}: {e}")))
            })
            .map_err(|e| e.to_string())
    })
}

/// Issue 11 #7: one frame nesting a `Nest` a million levels deep.
pub(crate) fn decoder_deep_nesting(_trial: &mut Trial) -> Outcome {
    against_receiver(|ctl| {
        one_case(ctl, &Case::Nested { depth: 1_000_000 }, 0)
            .map_err(|e| format!("a million-level nested enum: {e}"))
    })
}
