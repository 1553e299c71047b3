//! The trial loop: seeds, the number of trials, the known-broken list, one
//! trial at a time, and the summary line `cargo xtask stress` reads.
//!
//! Environment:
//! - `MULTIPROCESS_FAULT_TRIALS`: trials per scenario (default
//!   [`DEFAULT_TRIALS`], the bounded form test-all runs).
//! - `MULTIPROCESS_FAULT_SEED`: the first trial's seed (the others follow
//!   from it); with `MULTIPROCESS_FAULT_TRIALS=1` it replays one trial.
//! - `MULTIPROCESS_FAULT_INCLUDE_BROKEN=1`: run the [`KNOWN_BROKEN`]
//!   scenarios too.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::known_broken::KNOWN_BROKEN;

/// Trials per scenario when `MULTIPROCESS_FAULT_TRIALS` is not set.
pub(crate) const DEFAULT_TRIALS: u64 = 3;

/// A trial that takes longer than this is a hang: the test binary aborts with
/// the scenario and seed rather than stay stuck.
const TRIAL_DEADLINE: Duration = Duration::from_secs(120);

/// What a trial (or one check in it) concluded: `Err` says what went wrong.
pub(crate) type Outcome = Result<(), String>;

/// One trial: the random choices made from its seed.
#[derive(Debug)]
pub(crate) struct Trial {
    rng: StdRng,
}

impl Trial {
    /// A trial whose choices all follow from `seed`.
    pub(crate) fn new(seed: u64) -> Trial {
        Trial {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n)
    }

    /// 16 random bytes (a seed for proptest's runner).
    pub(crate) fn seed_bytes(&mut self) -> [u8; 16] {
        self.rng.gen()
    }

    /// Sleeps between 0 and `max_ms` milliseconds.
    pub(crate) fn pause(&mut self, max_ms: u64) {
        let ms = self.rng.gen_range(0..=max_ms);
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Scenarios run one at a time: a pipe end a fork child of another test
/// inherits would delay an end-of-file, and the machine is small.
static SERIAL: Mutex<()> = Mutex::new(());

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
    )
}

/// The first seed: `MULTIPROCESS_FAULT_SEED`, or the clock.
fn base_seed() -> u64 {
    env_u64("MULTIPROCESS_FAULT_SEED").unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.as_nanos() as u64 ^ u64::from(std::process::id())
    })
}

/// Why `name` is skipped, if it is known broken and not asked for.
fn skip_reason(name: &str) -> Option<&'static str> {
    if std::env::var_os("MULTIPROCESS_FAULT_INCLUDE_BROKEN").is_some_and(|v| v != "0") {
        return None;
    }
    KNOWN_BROKEN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Aborts the test binary if `done` is not set within [`TRIAL_DEADLINE`].
fn watchdog(name: &str, seed: u64) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let name = name.to_owned();
    std::thread::spawn(move || {
        let end = Instant::now() + TRIAL_DEADLINE;
        while Instant::now() < end {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "HANG: fault scenario {name} (seed {seed}) did not finish within {TRIAL_DEADLINE:?}"
        );
        std::process::abort();
    });
    done
}

/// Runs one trial, turning a panic into a failure.
fn one_trial(name: &str, seed: u64, scenario: fn(&mut Trial) -> Outcome) -> Outcome {
    let done = watchdog(name, seed);
    let mut trial = Trial::new(seed);
    let result = catch_unwind(AssertUnwindSafe(|| scenario(&mut trial)));
    done.store(true, Ordering::SeqCst);
    match result {
        Ok(outcome) => outcome,
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned())),
    }
}

/// Runs `scenario` for the configured number of trials (or reports it as
/// skipped when it is known broken), prints the summary line
/// `FAULTS <name>: <n> trials, <f> failed` and fails the test, with every
/// failing seed and how to replay it, if any trial failed.
pub(crate) fn run(name: &str, scenario: fn(&mut Trial) -> Outcome) {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(why) = skip_reason(name) {
        // Written past the test harness's capture, so that test-all shows it.
        let line = format!("FAULTS {name}: skipped, known broken: {why}\n");
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), line.as_bytes());
        return;
    }
    let trials = env_u64("MULTIPROCESS_FAULT_TRIALS").unwrap_or(DEFAULT_TRIALS);
    let base = base_seed();
    let mut failures = Vec::new();
    for i in 0..trials {
        let seed = base.wrapping_add(i);
        if let Err(why) = one_trial(name, seed, scenario) {
            failures.push(format!("seed {seed}: {why}"));
        }
    }
    let seeds: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.split(':').next())
        .collect();
    println!(
        "FAULTS {name}: {trials} trials, {} failed{}",
        failures.len(),
        if seeds.is_empty() {
            String::new()
        } else {
            format!(" ({})", seeds.join(", "))
        }
    );
    assert!(
        failures.is_empty(),
        "{} of {trials} trials of {name} failed:\n  {}\nreplay one with \
         MULTIPROCESS_FAULT_SEED=<seed> MULTIPROCESS_FAULT_TRIALS=1 \
         MULTIPROCESS_START_METHOD={} cargo test -p multiprocess --test faults -- {name}",
        failures.len(),
        failures.join("\n  "),
        std::env::var("MULTIPROCESS_START_METHOD").unwrap_or_else(|_| "<method>".into()),
    );
}

/// Fails with `what` unless `ok`.
pub(crate) fn check(ok: bool, what: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}
