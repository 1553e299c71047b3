//! The steps of `cargo xtask test-all`: formatting, clippy, rustdoc, unit and doc tests,
//! integration tests once per start method, the MPI tests under `mpirun`, and every seed
//! example once per start method — all inside one time budget, so a hang fails checks
//! instead of the CI job.

use std::time::{Duration, Instant};

use crate::cargo::{self, cargo, excerpt, failed_test_names, parse_test_output};
use crate::examples::runner::{self, Options};
use crate::examples::Method;
use crate::features;
use crate::loom;
use crate::mpi;
use crate::report::{print_indented, secs, Tally};
use crate::run::Outcome;

/// Options of `test-all`.
#[derive(Debug, Clone)]
pub(crate) struct TestAll {
    /// Skip fmt, clippy and rustdoc.
    pub(crate) skip_lints: bool,
    /// How many examples run at the same time.
    pub(crate) jobs: usize,
    /// The whole run must end within this; steps that would not fit fail as "not run".
    pub(crate) budget: Duration,
}

/// Per-command limits (cold builds included); each is further capped by what is left of the
/// budget.
const FMT_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const BUILD_TIMEOUT: Duration = Duration::from_secs(12 * 60);
const TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Shared state of one test-all run.
struct Ctx {
    tally: Tally,
    deadline: Instant,
}

impl Ctx {
    /// The timeout for the next command: `cap`, or less when the budget is nearly used up.
    fn limit(&self, cap: Duration) -> Duration {
        cap.min(self.deadline.saturating_duration_since(Instant::now()))
    }
}

/// Runs every step, printing as it goes; returns the totals.
pub(crate) fn test_all(opts: &TestAll) -> Tally {
    let start = Instant::now();
    let mut ctx = Ctx {
        tally: Tally::default(),
        deadline: start + opts.budget,
    };
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut step = |name: &'static str, ctx: &mut Ctx, f: &mut dyn FnMut(&mut Ctx)| {
        println!();
        println!("=== {name}");
        let t = Instant::now();
        f(ctx);
        timings.push((name, t.elapsed()));
    };

    if !opts.skip_lints {
        step("fmt", &mut ctx, &mut |c| {
            let args = ["fmt", "--all", "--", "--check"];
            check_step(c, "fmt", &args, &[], FMT_TIMEOUT, fmt_excerpt);
        });
        step("clippy", &mut ctx, &mut |c| {
            let args = [
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ];
            check_step(c, "clippy", &args, &[], BUILD_TIMEOUT, |o| excerpt(o, 80));
        });
        step("rustdoc", &mut ctx, &mut |c| {
            let args = ["doc", "--workspace", "--no-deps"];
            let env = [("RUSTDOCFLAGS", "-D warnings")];
            check_step(c, "rustdoc", &args, &env, BUILD_TIMEOUT, |o| excerpt(o, 80));
        });
        // The docs a contributor reads: every module's and private item's
        // links resolve too.
        step("rustdoc (private items)", &mut ctx, &mut |c| {
            let args = [
                "doc",
                "--workspace",
                "--no-deps",
                "--document-private-items",
            ];
            let env = [("RUSTDOCFLAGS", "-D warnings")];
            check_step(
                c,
                "rustdoc (private items)",
                &args,
                &env,
                BUILD_TIMEOUT,
                |o| excerpt(o, 80),
            );
        });
    }
    step("features", &mut ctx, &mut |c| match features::checks() {
        Ok(checks) => {
            for check in &checks {
                let args: Vec<&str> = check.args.iter().map(String::as_str).collect();
                check_step(c, &check.label, &args, &[], BUILD_TIMEOUT, |o| {
                    excerpt(o, 80)
                });
            }
        }
        Err(e) => c
            .tally
            .check(false, "features", Duration::ZERO, &format!("{e:#}")),
    });
    step("unit and doc tests", &mut ctx, &mut |c| {
        let lib = ["test", "--workspace", "--lib", "--bins", "--no-fail-fast"];
        test_step(c, "unit tests", &lib, &[]);
        let doc = ["test", "--workspace", "--doc", "--no-fail-fast"];
        test_step(c, "doc tests", &doc, &[]);
    });
    step(loom::LABEL, &mut ctx, &mut |c| {
        loom::models(|label, args, env| test_step(c, label, args, env));
    });
    step("integration tests", &mut ctx, &mut integration);
    step("tokio reactor", &mut ctx, &mut tokio_reactor);
    step("mpi", &mut ctx, &mut mpi_step);
    step("examples", &mut ctx, &mut |c| {
        let opts = Options {
            jobs: opts.jobs,
            methods: Method::ALL.to_vec(),
            names: Vec::new(),
            deadline: Some(c.deadline),
        };
        if let Err(e) = runner::run_examples(&opts, &mut c.tally) {
            c.tally
                .check(false, "examples", Duration::ZERO, &format!("{e:#}"));
        }
    });

    println!();
    println!("=== timing");
    for (name, d) in &timings {
        println!("{name:>20}  {}", secs(*d));
    }
    println!("{:>20}  {}", "total", secs(start.elapsed()));
    ctx.tally
}

/// The MPI step (see [`mpi`]): fails at once, saying what to install, without `mpirun`.
fn mpi_step(c: &mut Ctx) {
    match mpi::preflight() {
        Ok(version) => {
            println!("{version}");
            mpi::tests(|label, args, env| test_step(c, label, args, env));
            let limit = c.limit(BUILD_TIMEOUT);
            mpi::example(&mut c.tally, limit);
        }
        Err(why) => c.tally.check(false, mpi::LABEL, Duration::ZERO, &why),
    }
}

/// `cargo xtask mpi`: the MPI step of `test-all` alone, within `budget`.
pub(crate) fn mpi_only(budget: Duration) -> Tally {
    let mut ctx = Ctx {
        tally: Tally::default(),
        deadline: Instant::now() + budget,
    };
    mpi_step(&mut ctx);
    ctx.tally
}

/// A step that is one check: the command must succeed.
fn check_step(
    c: &mut Ctx,
    label: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cap: Duration,
    show: fn(&str) -> String,
) {
    println!("==> cargo {}", args.join(" "));
    let limit = c.limit(cap);
    if limit.is_zero() {
        c.tally
            .check(false, label, Duration::ZERO, "not run: time budget used up");
        return;
    }
    let start = Instant::now();
    match cargo(args, env, limit) {
        Ok(out) if out.status_problem().is_none() && !out.timed_out => {
            warn_leftovers(&out);
            c.tally.check(true, label, start.elapsed(), "");
        }
        Ok(out) => {
            let why = if out.timed_out {
                format!("timed out after {}", secs(limit))
            } else {
                out.status_problem().unwrap_or_default()
            };
            c.tally.check(false, label, start.elapsed(), &why);
            print_hung(&out);
            print_indented("output", &show(&out.stdout), 100);
        }
        Err(e) => c
            .tally
            .check(false, label, start.elapsed(), &format!("{e:#}")),
    }
}

/// On a timeout, which processes were still running (a hung test binary, and what it waits in).
fn print_hung(out: &Outcome) {
    if out.timed_out && !out.at_timeout.is_empty() {
        let list: Vec<String> = out.at_timeout.iter().map(ToString::to_string).collect();
        print_indented("running at the timeout (killed)", &list.join("\n"), 40);
    }
}

/// Processes a cargo command left running are killed by the runner; say so (not counted).
fn warn_leftovers(out: &Outcome) {
    if !out.leftovers.is_empty() && !out.timed_out {
        let list: Vec<String> = out.leftovers.iter().map(ToString::to_string).collect();
        println!(
            "WARN  {} process(es) were still running after cargo exited (killed): {}",
            list.len(),
            list.join(" | ")
        );
    }
}

/// For `cargo fmt --check`: the files that need formatting, then the start of the diff.
fn fmt_excerpt(output: &str) -> String {
    let mut files: Vec<&str> = Vec::new();
    for l in output.lines() {
        if let Some(rest) = l.strip_prefix("Diff in ") {
            let file = rest.split(':').next().unwrap_or(rest);
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    let mut s = format!("files that need `cargo fmt`: {}\n", files.join(", "));
    for l in output.lines().take(40) {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// A `cargo test` step: every test counts; a build failure, a crashed test binary or a
/// timeout counts as one more failure.
fn test_step(c: &mut Ctx, label: &str, args: &[&str], env: &[(&str, &str)]) {
    let shown_env: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    println!("==> {shown_env}cargo {}", args.join(" "));
    let limit = c.limit(TEST_TIMEOUT);
    if limit.is_zero() {
        c.tally
            .check(false, label, Duration::ZERO, "not run: time budget used up");
        return;
    }
    let start = Instant::now();
    let out = match cargo(args, env, limit) {
        Ok(out) => out,
        Err(e) => {
            c.tally
                .check(false, label, start.elapsed(), &format!("{e:#}"));
            return;
        }
    };
    let took = start.elapsed();
    warn_leftovers(&out);
    let counts = parse_test_output(&out.stdout);
    let crashed = counts
        .failed_targets
        .saturating_sub(counts.failing_binaries);
    let mut extra = crashed;
    let mut notes = Vec::new();
    if crashed > 0 {
        notes.push(format!("{crashed} test target(s) crashed"));
    }
    if out.timed_out {
        extra += 1;
        notes.push(format!("timed out after {}", secs(limit)));
    } else if out.status_problem().is_some() && counts.failed == 0 && extra == 0 {
        extra = 1;
        notes.push("cargo test failed before reporting a test failure".to_owned());
    }
    let failed = counts.failed + extra;
    c.tally.tests(label, counts.passed, failed);
    for l in out.stdout.lines().filter_map(|l| l.split_once("FAULTS ")) {
        if let Some((name, why)) = l.1.split_once(": skipped, known broken: ") {
            println!("SKIP  fault scenario {name}: known broken ({why})");
        }
    }
    let verdict = if failed == 0 { "PASS" } else { "FAIL" };
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(": {}", notes.join("; "))
    };
    println!(
        "{verdict}  {label}: {} passed, {failed} failed, in {} test binaries ({}){note}",
        counts.passed,
        counts.binaries,
        secs(took)
    );
    if failed > 0 {
        let names = failed_test_names(&out.stdout);
        if !names.is_empty() {
            println!("      failed tests: {}", names.join(", "));
        }
        print_hung(&out);
        print_indented("output", &excerpt(&out.stdout, 120), 120);
    }
}

/// Integration tests, once per start method (skipped when the workspace has none).
fn integration(c: &mut Ctx) {
    let tests = match cargo::metadata() {
        Ok(m) => m.integration_tests,
        Err(e) => {
            c.tally.check(
                false,
                "integration tests: cargo metadata",
                Duration::ZERO,
                "",
            );
            print_indented("error", &format!("{e:#}"), 30);
            return;
        }
    };
    if tests.is_empty() {
        println!("SKIP  integration tests: the workspace has no tests/ targets yet");
        return;
    }
    for m in Method::ALL {
        let label = format!("integration tests [{}]", m.as_str());
        // mp-mpi's tests need an MPI launcher and its `mpi` feature: the
        // mpi step runs them (under `mpirun -n 3`).
        let args = [
            "test",
            "--workspace",
            "--exclude",
            "mp-mpi",
            "--test",
            "*",
            "--no-fail-fast",
        ];
        test_step(
            c,
            &label,
            &args,
            &[("MULTIPROCESS_START_METHOD", m.as_str())],
        );
    }
}

/// The async tests again with mp-sys's `tokio` feature, so waits inside a
/// tokio runtime go through tokio's reactor (`readiness_tokio.rs`) instead
/// of async-io's, which the integration step covers: mp-sys's unit tests,
/// then every crate's async test binaries under each start method.
fn tokio_reactor(c: &mut Ctx) {
    let unit = ["test", "-p", "mp-sys", "--features", "tokio", "--lib"];
    test_step(c, "tokio reactor: mp-sys unit tests", &unit, &[]);
    let mut args = vec!["test", "--features", "mp-sys/tokio", "--no-fail-fast"];
    for (krate, tests) in ASYNC_TESTS {
        args.extend(["-p", krate]);
        for t in *tests {
            args.extend(["--test", t]);
        }
    }
    for m in Method::ALL {
        let label = format!("tokio reactor: async tests [{}]", m.as_str());
        test_step(
            c,
            &label,
            &args,
            &[("MULTIPROCESS_START_METHOD", m.as_str())],
        );
    }
}

/// Each crate's test binaries that await: what the `tokio reactor` step runs.
const ASYNC_TESTS: &[(&str, &[&str])] = &[
    ("mp-sync", &["sync_async"]),
    (
        "mp-channel",
        &["connection_async", "listener_async", "queue_async"],
    ),
    ("mp-process", &["join_async"]),
    (
        "mp-pool",
        &[
            "result_future",
            "result_future_runtimes",
            "imap_stream",
            "futures",
        ],
    ),
    ("mp-manager", &["pool_async", "proxy_async"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_excerpt_lists_files_once() {
        let out = "Diff in /w/a.rs:3:\n-x\n+y\nDiff in /w/a.rs:9:\nDiff in /w/b.rs:1:\n";
        let e = fmt_excerpt(out);
        assert!(
            e.starts_with("files that need `cargo fmt`: /w/a.rs, /w/b.rs\n"),
            "{e}"
        );
    }

    #[test]
    fn limit_is_capped_by_the_budget() {
        let c = Ctx {
            tally: Tally::default(),
            deadline: Instant::now() + Duration::from_secs(5),
        };
        assert!(c.limit(Duration::from_secs(60)) <= Duration::from_secs(5));
        assert_eq!(c.limit(Duration::from_secs(1)), Duration::from_secs(1));
        let past = Ctx {
            tally: Tally::default(),
            deadline: Instant::now() - Duration::from_secs(1),
        };
        assert!(past.limit(Duration::from_secs(60)).is_zero());
    }
}
