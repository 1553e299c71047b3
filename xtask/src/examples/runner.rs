//! Builds the examples once, runs each (example, start method) pair from the repository root
//! with a 30 s deadline, up to `jobs` at a time, and checks it by seed-programs.md rules 2–5:
//! exit status 0, nothing left running in its process group (or carrying its run marker), no
//! new entry left in `/dev/shm`, and its output rule.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::check::Observed;
use super::{all, cpu_counts, Example, Method};
use crate::cargo::{self, excerpt, Metadata};
use crate::procfs::{self, SHM_DIR};
use crate::report::{print_indented, secs, Tally};
use crate::run::{self, Spec};

/// The package that holds the ported seed examples.
const EXAMPLES_PACKAGE: &str = "multiprocess-examples";

/// Rule 2: every example finishes within this much wall time.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The release build of the examples (cold on a fresh clone) must finish within this.
const BUILD_TIMEOUT: Duration = Duration::from_secs(12 * 60);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// How many examples run at the same time.
    pub(crate) jobs: usize,
    /// The start methods to run each example under.
    pub(crate) methods: Vec<Method>,
    /// Only these examples (all listed ones when empty).
    pub(crate) names: Vec<String>,
    /// Examples that could not finish before this instant are not started (they fail).
    pub(crate) deadline: Option<Instant>,
}

/// The verdict on one (example, method) run.
struct Verdict {
    label: String,
    ok: bool,
    reasons: Vec<String>,
    took: Duration,
    stdout: String,
    stderr: String,
    merged: bool,
}

/// Builds, runs and checks the selected examples, recording one check per (example, method)
/// plus one for the build.
pub(crate) fn run_examples(opts: &Options, tally: &mut Tally) -> Result<()> {
    let selected = select(&opts.names)?;
    let started = Instant::now();
    let meta = match cargo::metadata() {
        Ok(m) => m,
        Err(e) => {
            tally.check(false, "examples: cargo metadata", started.elapsed(), "");
            print_indented("error", &format!("{e:#}"), 30);
            fail_all(&selected, &opts.methods, tally, "cargo metadata failed");
            return Ok(());
        }
    };
    let build_limit = opts.deadline.map_or(BUILD_TIMEOUT, |d| {
        BUILD_TIMEOUT.min(d.saturating_duration_since(Instant::now()))
    });
    if !build(&meta, &selected, opts.names.is_empty(), build_limit, tally) {
        fail_all(
            &selected,
            &opts.methods,
            tally,
            "the examples did not build",
        );
        return Ok(());
    }

    let mut queue = VecDeque::new();
    for ex in &selected {
        for &m in &opts.methods {
            match meta.examples.get(ex.name).map(Vec::as_slice) {
                None | Some([]) => {
                    tally.check(false, &label(ex, m), Duration::ZERO, "missing example")
                }
                Some([_]) => queue.push_back((*ex, m)),
                Some(owners) => tally.check(
                    false,
                    &label(ex, m),
                    Duration::ZERO,
                    &format!("the name is not unique: defined in {}", owners.join(", ")),
                ),
            }
        }
    }
    let total = queue.len();
    let queue = Arc::new(Mutex::new(queue));
    let (tx, rx) = mpsc::channel();
    let bin_dir = meta.target_dir.join("release").join("examples");
    let deadline = opts.deadline;
    let ctx = Arc::new((bin_dir, cargo::workspace_root(), cpu_counts()));
    let workers: Vec<_> = (0..opts.jobs.max(1))
        .map(|_| {
            let (queue, tx, ctx) = (Arc::clone(&queue), tx.clone(), Arc::clone(&ctx));
            thread::spawn(move || loop {
                let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((ex, m)) = job else { break };
                let (bin_dir, root, cpus) = &*ctx;
                let verdict = match deadline {
                    Some(d) if Instant::now() + EXAMPLE_TIMEOUT > d => Verdict::not_run(&ex, m),
                    _ => run_one(&ex, m, bin_dir, root, cpus),
                };
                if tx.send(verdict).is_err() {
                    break;
                }
            })
        })
        .collect();
    drop(tx);
    for v in rx.iter().take(total) {
        tally.check(v.ok, &v.label, v.took, &v.reasons.join("; "));
        if !v.ok {
            let title = if v.merged { "stdout+stderr" } else { "stdout" };
            print_indented(title, &v.stdout, 40);
            if !v.merged {
                print_indented("stderr", &v.stderr, 20);
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

impl Verdict {
    fn not_run(ex: &Example, m: Method) -> Self {
        Verdict {
            label: label(ex, m),
            ok: false,
            reasons: vec!["not run: the time budget is used up".to_owned()],
            took: Duration::ZERO,
            stdout: String::new(),
            stderr: String::new(),
            merged: ex.merged,
        }
    }
}

fn label(ex: &Example, m: Method) -> String {
    format!("example {} [{}]", ex.name, m.as_str())
}

fn select(names: &[String]) -> Result<Vec<Example>> {
    let all = all();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| match all.iter().find(|e| e.name == n) {
            Some(e) => Ok(*e),
            None => bail!("`{n}` is not an example listed in seed-programs.md"),
        })
        .collect()
}

fn fail_all(selected: &[Example], methods: &[Method], tally: &mut Tally, reason: &str) {
    for ex in selected {
        for &m in methods {
            tally.check(false, &label(ex, m), Duration::ZERO, reason);
        }
    }
}

/// Builds the examples in release mode; records the build as one check.
fn build(
    meta: &Metadata,
    selected: &[Example],
    everything: bool,
    limit: Duration,
    tally: &mut Tally,
) -> bool {
    let mut packages = BTreeSet::from([EXAMPLES_PACKAGE.to_owned()]);
    let mut targets = Vec::new();
    for ex in selected {
        if let Some(owners) = meta.examples.get(ex.name) {
            packages.extend(owners.iter().cloned());
            targets.push(ex.name);
        }
    }
    let mut args = vec!["build", "--release"];
    for p in &packages {
        args.extend(["-p", p.as_str()]);
    }
    if everything {
        args.push("--examples");
    } else if targets.is_empty() {
        return true;
    } else {
        for t in &targets {
            args.extend(["--example", t]);
        }
    }
    println!("==> cargo {}", args.join(" "));
    let start = Instant::now();
    if limit.is_zero() {
        tally.check(
            false,
            "examples build",
            Duration::ZERO,
            "not run: time budget used up",
        );
        return false;
    }
    match cargo::cargo(&args, &[], limit) {
        Ok(out) if out.status_problem().is_none() => {
            tally.check(true, "examples build", start.elapsed(), "");
            true
        }
        Ok(out) => {
            let why = if out.timed_out {
                "timed out".to_owned()
            } else {
                out.status_problem().unwrap_or_default()
            };
            tally.check(false, "examples build", start.elapsed(), &why);
            print_indented("cargo build", &excerpt(&out.stdout, 60), 60);
            false
        }
        Err(e) => {
            tally.check(false, "examples build", start.elapsed(), &format!("{e:#}"));
            false
        }
    }
}

/// Runs one example under one method and judges it.
fn run_one(ex: &Example, m: Method, bin_dir: &Path, root: &Path, cpus: &[usize]) -> Verdict {
    let mut v = Verdict {
        label: label(ex, m),
        ok: false,
        reasons: Vec::new(),
        took: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        merged: ex.merged,
    };
    let bin = bin_dir.join(ex.name);
    if !bin.is_file() {
        v.reasons
            .push(format!("binary {} missing after the build", bin.display()));
        return v;
    }
    let shm_before = procfs::shm_names(Path::new(SHM_DIR));
    let mut spec = Spec::new(bin.as_os_str(), root).env("MULTIPROCESS_START_METHOD", m.as_str());
    spec.merged = ex.merged;
    spec.timeout = EXAMPLE_TIMEOUT;
    let out = match run::run(&spec) {
        Ok(o) => o,
        Err(e) => {
            v.reasons.push(format!("{e:#}"));
            return v;
        }
    };
    v.took = out.wall;
    if out.timed_out {
        v.reasons.push(format!(
            "did not finish within {} s",
            EXAMPLE_TIMEOUT.as_secs()
        ));
    } else if let Some(p) = out.status_problem() {
        v.reasons.push(p);
    }
    if let Some(t) = out
        .main_exited
        .filter(|t| out.wall - *t > Duration::from_millis(500))
    {
        v.reasons.push(format!(
            "main exited after {} but its output stayed open until {}",
            secs(t),
            secs(out.wall)
        ));
    }
    if !out.leftovers.is_empty() {
        let list: Vec<String> = out.leftovers.iter().map(ToString::to_string).collect();
        v.reasons.push(format!(
            "{} process(es) still running after main returned (killed): {}",
            list.len(),
            list.join(" | ")
        ));
    }
    let leaked = shm_leaks(Path::new(SHM_DIR), &shm_before);
    if !leaked.is_empty() {
        v.reasons.push(format!(
            "left in {SHM_DIR} (removed): {}",
            leaked.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !out.timed_out {
        let obs = Observed {
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
            wall: out.wall.as_secs_f64(),
            method: m,
            cpu_counts: cpus.to_vec(),
            root: root.to_path_buf(),
            pid: Some(out.pid),
        };
        if let Err(e) = (ex.check)(&obs) {
            v.reasons.push(format!("output: {e:#}"));
        }
    }
    v.ok = v.reasons.is_empty();
    v.stdout = out.stdout;
    v.stderr = out.stderr;
    v
}

/// New entries of `dir` (`/dev/shm`) since `before` that no live process has open or mapped
/// (so they are not a concurrently running example's), removed.
fn shm_leaks(dir: &Path, before: &BTreeSet<String>) -> BTreeSet<String> {
    let fresh = |prev: &BTreeSet<String>| -> BTreeSet<String> {
        procfs::shm_names(dir)
            .difference(prev)
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    if fresh(before).is_empty() {
        return BTreeSet::new();
    }
    // Give processes that were just killed time to release their mappings.
    thread::sleep(Duration::from_millis(200));
    let in_use = procfs::paths_in_use_under(dir);
    let leaked: BTreeSet<String> = fresh(before)
        .into_iter()
        .filter(|n| !in_use.contains(n))
        .collect();
    for name in &leaked {
        let path: PathBuf = dir.join(name);
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(select(&[]).unwrap().len(), super::super::all().len());
        assert_eq!(select(&["sfp_03_pid".to_owned()]).unwrap().len(), 1);
        assert!(select(&["no_such_example".to_owned()]).is_err());
    }

    #[test]
    fn shm_entry_left_unused_is_a_leak_and_removed() {
        // A private directory stands in for /dev/shm, so no one else's entries are touched.
        let tmp = std::env::temp_dir().join(format!("xtask-shm-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let dir = tmp.as_path();
        std::fs::write(dir.join("old"), b"x").unwrap();
        let before = procfs::shm_names(dir);
        let name = format!("xtask-leak-test-{}", std::process::id());
        std::fs::write(dir.join(&name), b"x").unwrap();
        // Another test's entry that is held open must not be blamed.
        let held_name = format!("xtask-held-test-{}", std::process::id());
        let held = std::fs::File::create(dir.join(&held_name)).unwrap();
        let leaked = shm_leaks(dir, &before);
        drop(held);
        let gone = !dir.join(&name).exists();
        std::fs::remove_dir_all(dir).unwrap();
        assert!(leaked.contains(&name), "{leaked:?}");
        assert!(!leaked.contains(&held_name), "{leaked:?}");
        assert!(!leaked.contains("old"), "{leaked:?}");
        assert!(gone);
    }
}
