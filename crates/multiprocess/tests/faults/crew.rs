//! The participants of a trial: shared counters they report through, starting
//! them, killing one at a random moment, stopping and reaping the rest, and
//! a fresh participant that proves the primitive still works.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiprocess::{Process, RawArray};

use crate::harness::{check, Outcome, Trial};

/// The caller's timeout of every wait that must succeed. A wait that runs out
/// of it is a hang: the participant fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The short timeout of waits that loop while checking the stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// What a wait may take beyond its timeout: the liveness slice (50 ms) plus
/// generous scheduling slack on a loaded machine. Longer is a failure.
pub(crate) const OVERRUN: Duration = Duration::from_secs(5);

/// Counter: set to 1 when participants must stop.
const STOP: usize = 0;
/// Counter: rounds of use completed, by all participants together.
const PROGRESS: usize = 1;
/// The first counter a scenario may use for its own purposes.
pub(crate) const FIRST_FREE: usize = 2;

/// Shared counters (`u64`, atomic) participants report through.
pub(crate) type Tally = RawArray<u64>;

/// Counters `0..n` for a scenario (plus the stop flag and progress count).
pub(crate) fn tally(n: usize) -> Tally {
    RawArray::new(FIRST_FREE + n).expect("shared counters")
}

/// Adds `n` to counter `i`.
pub(crate) fn add(t: &Tally, i: usize, n: u64) -> u64 {
    t.slot()
        .atomic_u64(i * 8)
        .expect("counter")
        .fetch_add(n, Ordering::SeqCst)
        + n
}

/// Subtracts `n` from counter `i`.
pub(crate) fn sub(t: &Tally, i: usize, n: u64) -> u64 {
    t.slot()
        .atomic_u64(i * 8)
        .expect("counter")
        .fetch_sub(n, Ordering::SeqCst)
        .wrapping_sub(n)
}

/// Sets counter `i` to `v`.
pub(crate) fn set(t: &Tally, i: usize, v: u64) {
    t.slot()
        .atomic_u64(i * 8)
        .expect("counter")
        .store(v, Ordering::SeqCst);
}

/// Counter `i`.
pub(crate) fn get(t: &Tally, i: usize) -> u64 {
    t.slot()
        .atomic_u64(i * 8)
        .expect("counter")
        .load(Ordering::SeqCst)
}

/// Clears the stop flag, for another round of participants.
pub(crate) fn unstop(t: &Tally) {
    set(t, STOP, 0);
}

/// Whether participants were told to stop.
pub(crate) fn stopped(t: &Tally) -> bool {
    get(t, STOP) != 0
}

/// Counts one round of use (in a participant).
pub(crate) fn progressed(t: &Tally) {
    add(t, PROGRESS, 1);
}

/// Fails (panics, in a participant) if a wait that began at `start` with
/// `timeout` overran it by more than [`OVERRUN`].
pub(crate) fn bounded(what: &str, start: Instant, timeout: Duration) {
    let took = start.elapsed();
    assert!(
        took <= timeout + OVERRUN,
        "{what} took {took:?} with a timeout of {timeout:?}"
    );
}

/// The participants of one trial; whatever is still running when this is
/// dropped is killed and reaped.
#[derive(Debug)]
pub(crate) struct Crew {
    procs: Vec<Process>,
    tally: Tally,
    victim: Option<usize>,
}

impl Crew {
    /// Starts `procs`, which report through `tally`.
    pub(crate) fn start(procs: Vec<Process>, tally: &Tally) -> Result<Crew, String> {
        let mut crew = Crew {
            procs: Vec::new(),
            tally: tally.clone(),
            victim: None,
        };
        for mut p in procs {
            p.start()
                .map_err(|e| format!("starting a participant: {e}"))?;
            crew.procs.push(p);
        }
        Ok(crew)
    }

    /// Waits until the participants together completed `rounds` rounds.
    pub(crate) fn await_progress(&self, rounds: u64) -> Outcome {
        let end = Instant::now() + WAIT;
        while get(&self.tally, PROGRESS) < rounds {
            if Instant::now() > end {
                return Err(format!(
                    "participants made {} of {rounds} rounds within {WAIT:?}",
                    get(&self.tally, PROGRESS)
                ));
            }
            if let Some(code) = self.procs.iter().find_map(Process::exitcode) {
                return Err(format!("a participant exited early with {code}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Once every participant is under way, waits a random moment and
    /// SIGKILLs one of those in `candidates`; returns its index.
    pub(crate) fn kill_random(
        &mut self,
        t: &mut Trial,
        candidates: &[usize],
    ) -> Result<usize, String> {
        self.await_progress(2 * self.procs.len() as u64)?;
        t.pause(30);
        let i = candidates[t.below(candidates.len())];
        self.kill(i)?;
        Ok(i)
    }

    /// SIGKILLs participant `i` now.
    pub(crate) fn kill(&mut self, i: usize) -> Outcome {
        self.procs[i]
            .kill()
            .map_err(|e| format!("killing participant {i}: {e}"))?;
        self.victim = Some(i);
        Ok(())
    }

    /// Once every participant is under way, SIGKILLs all of them.
    pub(crate) fn kill_all(&mut self) -> Outcome {
        self.await_progress(self.procs.len() as u64)?;
        for p in &mut self.procs {
            p.kill()
                .map_err(|e| format!("killing a participant: {e}"))?;
            let _ = p.join_timeout(WAIT);
        }
        Ok(())
    }

    /// Waits for participants `which` to exit (at most [`WAIT`] plus
    /// [`OVERRUN`] each), leaving the verdict on how they ended to
    /// [`reap`](Self::reap).
    pub(crate) fn await_exit(&mut self, which: &[usize]) {
        for &i in which {
            let _ = self.procs[i].join_timeout(WAIT + OVERRUN);
        }
    }

    /// Tells the participants to stop and reaps them (see [`reap`](Self::reap)).
    pub(crate) fn stop_and_reap(&mut self) -> Outcome {
        self.stop();
        self.reap()
    }

    /// Tells the participants to stop.
    pub(crate) fn stop(&self) {
        add(&self.tally, STOP, 1);
    }

    /// Reaps the participants: each survivor must exit with 0 within
    /// [`WAIT`] plus [`OVERRUN`]; the victim must have died of SIGKILL.
    pub(crate) fn reap(&mut self) -> Outcome {
        let mut problems = Vec::new();
        for (i, p) in self.procs.iter_mut().enumerate() {
            let _ = p.join_timeout(WAIT + OVERRUN);
            match (p.exitcode(), Some(i) == self.victim) {
                (None, _) => problems.push(format!(
                    "participant {i} did not finish within {:?} of the stop (hang)",
                    WAIT + OVERRUN
                )),
                (Some(-9), true) | (Some(0), false) => {}
                (Some(code), _) => problems.push(format!(
                    "participant {i} exited with {code} (its stderr says why)"
                )),
            }
        }
        check(problems.is_empty(), || problems.join("; "))
    }
}

/// The common trial: starts `procs`, SIGKILLs one at a random moment, stops
/// and reaps the rest.
pub(crate) fn kill_one(trial: &mut Trial, procs: Vec<Process>, tally: &Tally) -> Outcome {
    let all: Vec<usize> = (0..procs.len()).collect();
    let mut crew = Crew::start(procs, tally)?;
    crew.kill_random(trial, &all)?;
    crew.stop_and_reap()
}

impl Drop for Crew {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.exitcode().is_none() {
                let _ = p.kill();
                let _ = p.join_timeout(WAIT);
            }
        }
    }
}

/// Runs one fresh participant to completion: it must exit with 0 within
/// twice [`WAIT`] (its own waits use `WAIT`).
pub(crate) fn fresh(p: Process) -> Outcome {
    fresh_all(vec![p])
}

/// Runs fresh participants together (a barrier round needs them all), each
/// checked as by [`fresh`].
pub(crate) fn fresh_all(procs: Vec<Process>) -> Outcome {
    fresh_while(procs, || {})
}

/// Starts fresh participants, runs `meanwhile` (the test's part of their
/// round), then checks each as [`fresh`] does.
pub(crate) fn fresh_while(mut procs: Vec<Process>, meanwhile: impl FnOnce()) -> Outcome {
    for p in &mut procs {
        p.start()
            .map_err(|e| format!("starting a fresh participant: {e}"))?;
    }
    meanwhile();
    let mut outcome = Ok(());
    for p in procs {
        let r = finish_fresh(p);
        if outcome.is_ok() {
            outcome = r;
        }
    }
    outcome
}

/// Waits for a started fresh participant (killing it if it hangs).
fn finish_fresh(mut p: Process) -> Outcome {
    let _ = p.join_timeout(2 * WAIT);
    match p.exitcode() {
        Some(0) => Ok(()),
        None => {
            let _ = p.kill();
            let _ = p.join_timeout(WAIT);
            Err(format!(
                "a fresh participant did not complete a round within {:?} (primitive unusable)",
                2 * WAIT
            ))
        }
        Some(code) => Err(format!(
            "a fresh participant exited with {code} (primitive unusable; its stderr says why)"
        )),
    }
}
