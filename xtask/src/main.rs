//! `cargo xtask`: project automation.
//!
//! - `cargo xtask test-all [--skip-lints] [-j N]`: the project's single test command (fmt,
//!   clippy, rustdoc, unit and doc tests, loom models, integration tests and every seed example
//!   under every start method). Its last line is `N passed, N failed`; it exits 0 only when nothing failed.
//! - `cargo xtask examples [--method M]... [-j N] [NAME...]`: build, run and check just the
//!   seed examples (all of them, or the named ones).
//! - `cargo xtask mpi`: test-all's MPI step alone (needs Open MPI).
//! - `cargo xtask bench-compare [--quick]`: the side-by-side benchmark against CPython.
//! - `cargo xtask stress [--trials N] [--only SCENARIO] [--seed S]`: the fault-injection soak run.
#![forbid(unsafe_code)]

mod bench_compare;
mod cargo;
mod examples;
mod features;
mod loom;
mod manifest;
mod mpi;
mod mpi_srun;
mod procfs;
mod report;
mod run;
mod steps;
mod stress;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use examples::runner::{run_examples, Options};
use examples::Method;
use report::Tally;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test-all [--skip-lints] [--budget MINUTES] [-j N]
      fmt, clippy, rustdoc, unit + doc tests, loom models, integration tests per start method,
      and every seed example per start method; ends with `N passed, N failed`;
      whatever cannot finish within the budget (default 25 minutes) fails as not run
  mpi
      test-all's MPI step alone: mp-mpi's tests under mpirun -n 3 (and across two network
      namespaces as root), and the mpi_pool example locally and under mpirun
  examples [--method fork|spawn|forkserver]... [-j N] [NAME...]
      build, run and check the seed examples (all, or the named ones)
  examples --list
      list the seed examples by area

  bench-compare [--quick] [--rounds N] [--only ID,...] [--workers N,...] [--parent-sizes SIZE,...]
      every scenario M1-M8 here, as its raw limit (straight system calls), in CPython
      and in the Rust peers, alternating, latency scenarios pinned; prints the table
      (speed-up over CPython, ours / raw against issue 13's targets) and, unless
      --only is given, writes docs/performance.md and docs/perf-chart.svg; the
      scaling and memory rows too (S-10us@<N>w per --workers count, default 1, 2, 4, ...
      up to the cores; M1-<method>@<size> per --parent-sizes, default 100MB,1GB, 100MB
      with --quick; RSS- and USS-idle-worker@<method>); --only takes ids or base ids (S-10us)
  bench-compare --against OLD_MP_SCENARIOS [--rounds N] [--only ID,...]
      interleaved A/B of this tree against another build of mp-scenarios (a copy of
      target/release/mp-scenarios from before a change); prints the table only

  stress [--trials N] [--only SCENARIO] [--seed S] [--include-known-broken]
      the fault-injection suite, 1000 trials per scenario, per start method

  -j N   run N examples at a time (default 2)";

enum Command {
    TestAll(steps::TestAll),
    Mpi,
    Examples(Options),
    List,
    Help,
}

fn parse(args: &[String]) -> Result<Command> {
    let Some((cmd, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let mut jobs = 2;
    let mut skip_lints = false;
    let mut methods = Vec::new();
    let mut names = Vec::new();
    let mut list = false;
    let mut budget_mins: u64 = 25;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-j" | "--jobs" => {
                let n = it.next().context("-j needs a number")?;
                jobs = n
                    .parse()
                    .ok()
                    .filter(|j| *j > 0)
                    .context("-j needs a positive number")?;
            }
            "--skip-lints" if cmd == "test-all" => skip_lints = true,
            "--budget" if cmd == "test-all" => {
                let n = it.next().context("--budget needs minutes")?;
                budget_mins = n
                    .parse()
                    .ok()
                    .filter(|m| *m > 0)
                    .context("--budget needs a positive number of minutes")?;
            }
            "--list" if cmd == "examples" => list = true,
            "--method" if cmd == "examples" => {
                methods.push(Method::parse(it.next().context("--method needs a value")?)?);
            }
            flag if flag.starts_with('-') => bail!("unknown option `{flag}`"),
            name if cmd == "examples" => names.push(name.to_owned()),
            other => bail!("unexpected argument `{other}`"),
        }
    }
    Ok(match cmd.as_str() {
        "test-all" => Command::TestAll(steps::TestAll {
            skip_lints,
            jobs,
            budget: std::time::Duration::from_secs(budget_mins * 60),
        }),
        "examples" if list => Command::List,
        "examples" => Command::Examples(Options {
            jobs,
            methods: if methods.is_empty() {
                Method::ALL.to_vec()
            } else {
                methods
            },
            names,
            deadline: None,
        }),
        "mpi" => Command::Mpi,
        "help" | "-h" | "--help" => Command::Help,
        other => bail!("unknown command `{other}`"),
    })
}

fn finish(tally: &Tally) -> ExitCode {
    if !tally.failures.is_empty() {
        println!();
        println!("=== failed");
        for f in report::recap(&tally.failures) {
            println!("  {f}");
        }
    }
    println!();
    println!("{}", tally.summary());
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("bench-compare") {
        return match bench_compare::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("stress") {
        return stress::main(&args[1..]);
    }
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::List) => {
            for ex in examples::all() {
                println!("{:<14} {}", ex.area, ex.name);
            }
            ExitCode::SUCCESS
        }
        Ok(Command::TestAll(opts)) => finish(&steps::test_all(&opts)),
        Ok(Command::Mpi) => finish(&steps::mpi_only(std::time::Duration::from_secs(15 * 60))),
        Ok(Command::Examples(opts)) => {
            let mut tally = Tally::default();
            match run_examples(&opts, &mut tally) {
                Ok(()) => finish(&tally),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_commands() {
        match parse(&args("test-all --skip-lints -j 3")).unwrap() {
            Command::TestAll(t) => {
                assert!(t.skip_lints && t.jobs == 3);
                assert_eq!(t.budget.as_secs(), 25 * 60);
            }
            _ => panic!("not test-all"),
        }
        match parse(&args("examples --method spawn sfp_03_pid")).unwrap() {
            Command::Examples(o) => {
                assert_eq!(o.methods, vec![Method::Spawn]);
                assert_eq!(o.names, vec!["sfp_03_pid"]);
                assert_eq!(o.jobs, 2);
            }
            _ => panic!("not examples"),
        }
        assert!(matches!(parse(&[]).unwrap(), Command::Help));
        assert!(matches!(
            parse(&args("examples --list")).unwrap(),
            Command::List
        ));
        assert!(parse(&args("test-all -j 0")).is_err());
        match parse(&args("test-all --budget 5")).unwrap() {
            Command::TestAll(t) => assert_eq!(t.budget.as_secs(), 300),
            _ => panic!("not test-all"),
        }
        assert!(parse(&args("test-all --method fork")).is_err());
        assert!(parse(&args("examples --method thread")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
    }
}
