//! `cargo xtask stress`: the soak run of the fault-injection suite
//! (`crates/multiprocess/tests/faults`): every scenario for many trials
//! (1,000 by default) under each start method, reported per scenario as
//! trials run and failures with their seeds, ending with `N passed, N failed`
//! (one check per scenario and start method).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::cargo::{cargo, excerpt};
use crate::examples::Method;
use crate::report::{print_indented, secs, Tally};

const USAGE: &str = "\
usage: cargo xtask stress [--trials N] [--only SCENARIO] [--seed S]
                          [--method fork|spawn|forkserver]... [--include-known-broken]
  --trials N              trials per scenario (default 1000)
  --only SCENARIO         only scenarios whose name contains SCENARIO (e.g. lock, queue)
  --seed S                the first trial's seed (replay: --seed S --trials 1)
  --method M              only this start method (repeatable; default all three)
  --include-known-broken  also run the scenarios listed in known_broken.rs";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    trials: u64,
    only: Option<String>,
    seed: Option<u64>,
    methods: Vec<Method>,
    include_broken: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        trials: 1000,
        only: None,
        seed: None,
        methods: Vec::new(),
        include_broken: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--trials" => {
                o.trials = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .context("--trials needs a positive number")?;
            }
            "--only" => o.only = Some(value()?.clone()),
            "--seed" => o.seed = Some(value()?.parse().context("--seed needs a number")?),
            "--method" => o.methods.push(Method::parse(value()?)?),
            "--include-known-broken" => o.include_broken = true,
            other => bail!("unexpected argument `{other}`"),
        }
    }
    if o.methods.is_empty() {
        o.methods = Method::ALL.to_vec();
    }
    Ok(o)
}

/// One `FAULTS` line of the suite's output.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// `FAULTS name: N trials, F failed (seeds)`.
    Ran {
        name: &'a str,
        trials: u64,
        failed: u64,
        seeds: &'a str,
    },
    /// `FAULTS name: skipped, known broken: why`.
    Skipped { name: &'a str, why: &'a str },
}

fn parse_line(line: &str) -> Option<Line<'_>> {
    let (name, rest) = line.split_once("FAULTS ")?.1.split_once(": ")?;
    if let Some(why) = rest.strip_prefix("skipped, known broken: ") {
        return Some(Line::Skipped { name, why });
    }
    let (trials, rest) = rest.split_once(" trials, ")?;
    let (failed, seeds) = rest.split_once(" failed").unwrap_or((rest, ""));
    Some(Line::Ran {
        name,
        trials: trials.parse().ok()?,
        failed: failed.parse().ok()?,
        seeds: seeds.trim().trim_start_matches('(').trim_end_matches(')'),
    })
}

/// Runs the suite under `method`, adding one check per scenario to `tally`.
fn run_method(o: &Options, method: Method, tally: &mut Tally) -> Result<()> {
    let trials = o.trials.to_string();
    let seed = o.seed.map(|s| s.to_string());
    let mut env = vec![
        ("MULTIPROCESS_START_METHOD", method.as_str()),
        ("MULTIPROCESS_FAULT_TRIALS", trials.as_str()),
    ];
    if let Some(s) = &seed {
        env.push(("MULTIPROCESS_FAULT_SEED", s));
    }
    if o.include_broken {
        env.push(("MULTIPROCESS_FAULT_INCLUDE_BROKEN", "1"));
    }
    let mut args = vec![
        "test",
        "-p",
        "multiprocess",
        "--test",
        "faults",
        "--",
        "--nocapture",
    ];
    if let Some(only) = &o.only {
        args.push(only);
    }
    println!(
        "\n=== {} ({} trials per scenario)",
        method.as_str(),
        o.trials
    );
    // A trial is aborted by the suite itself after two minutes; this only
    // bounds a run that stopped making progress altogether.
    let limit = Duration::from_secs(600 + o.trials * 120);
    let start = Instant::now();
    let out = cargo(&args, &env, limit)?;
    let (mut seen, mut failed_here) = (0, 0);
    for line in out.stdout.lines() {
        let label = |name: &str| format!("faults {name} [{}]", method.as_str());
        match parse_line(line) {
            Some(Line::Ran {
                name,
                trials,
                failed,
                seeds,
            }) => {
                seen += 1;
                failed_here += u64::from(failed > 0);
                let why = format!(
                    "{failed} of {trials} trials failed; seeds: {seeds}{}",
                    failure_reasons(&format!("{}\n{}", out.stderr, out.stdout), seeds)
                );
                tally.check(failed == 0, &label(name), Duration::ZERO, &why);
                if failed == 0 {
                    println!("      {trials} trials");
                }
            }
            Some(Line::Skipped { name, why }) => {
                println!("SKIP  {} (known broken: {why})", label(name));
            }
            None => {}
        }
    }
    let crashed = out.timed_out
        || out.stdout.contains("HANG: ")
        || (out.status_problem().is_some() && failed_here == 0);
    if crashed || seen == 0 && o.only.is_none() {
        let why = if out.timed_out {
            format!("timed out after {}", secs(limit))
        } else {
            out.status_problem().unwrap_or_default()
        };
        tally.check(
            false,
            &format!("faults suite [{}]", method.as_str()),
            start.elapsed(),
            &why,
        );
        print_indented("output", &excerpt(&out.stdout, 80), 80);
    }
    Ok(())
}

/// Entry point of `cargo xtask stress ARGS...`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut tally = Tally::default();
    let start = Instant::now();
    for &m in &o.methods {
        if let Err(e) = run_method(&o, m, &mut tally) {
            tally.check(
                false,
                &format!("faults suite [{}]", m.as_str()),
                Duration::ZERO,
                &format!("{e:#}"),
            );
        }
    }
    println!("\nstress run took {}", secs(start.elapsed()));
    println!("{}", tally.summary());
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The suite's reason for each failed seed in `seeds` (`seed 5, seed 9`):
/// its assertion lists every failure as `  seed <n>: <why>` (on stderr,
/// since the suite runs with `--nocapture`).
fn failure_reasons(output: &str, seeds: &str) -> String {
    seeds
        .split(", ")
        .filter(|s| !s.is_empty())
        .filter_map(|seed| {
            let prefix = format!("{seed}: ");
            output
                .lines()
                .map(str::trim_start)
                .find(|l| l.starts_with(&prefix))
        })
        .map(|l| format!("\n        {l}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_options() {
        let o = parse(&args("--trials 5 --only lock --seed 7 --method spawn")).unwrap();
        assert_eq!(o.trials, 5);
        assert_eq!(o.only.as_deref(), Some("lock"));
        assert_eq!(o.seed, Some(7));
        assert_eq!(o.methods, vec![Method::Spawn]);
        assert!(!o.include_broken);
        let d = parse(&args("--include-known-broken")).unwrap();
        assert_eq!(
            (d.trials, d.methods.len(), d.include_broken),
            (1000, 3, true)
        );
        assert!(parse(&args("--trials 0")).is_err());
        assert!(parse(&args("--trials")).is_err());
        assert!(parse(&args("--frob")).is_err());
    }

    #[test]
    fn reads_summary_lines() {
        assert_eq!(
            parse_line("FAULTS lock_killed_holder: 1000 trials, 0 failed"),
            Some(Line::Ran {
                name: "lock_killed_holder",
                trials: 1000,
                failed: 0,
                seeds: ""
            })
        );
        assert_eq!(
            parse_line("FAULTS queue_bounded: 10 trials, 2 failed (seed 5, seed 9)"),
            Some(Line::Ran {
                name: "queue_bounded",
                trials: 10,
                failed: 2,
                seeds: "seed 5, seed 9"
            })
        );
        assert_eq!(
            parse_line("FAULTS barrier_x: skipped, known broken: issue 11 #3: dead"),
            Some(Line::Skipped {
                name: "barrier_x",
                why: "issue 11 #3: dead"
            })
        );
        assert_eq!(parse_line("test result: ok"), None);
    }

    #[test]
    fn finds_the_reason_of_each_failed_seed() {
        let stderr = "thread 'x' panicked at harness.rs:\n2 of 10 trials of q failed:\n  \
                      seed 5: item 3 lost\n  seed 9: hang\nreplay one with ...\n";
        assert_eq!(
            failure_reasons(stderr, "seed 5, seed 9"),
            "\n        seed 5: item 3 lost\n        seed 9: hang"
        );
        assert_eq!(failure_reasons(stderr, "seed 7"), "");
        assert_eq!(failure_reasons(stderr, ""), "");
    }
}
