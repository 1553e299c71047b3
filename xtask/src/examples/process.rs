//! Output checkers for the *process* area of seed-programs.md (22 examples): starting,
//! naming, daemons, joining, terminating, exit codes and the `Process` display.

use std::path::Path;

use anyhow::{bail, ensure, Context as _, Result};

use super::check::{
    before, exact, forbid, index_of, min_wall, multiset, norm_bool, parent_is_main, re, Observed,
};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_simple", simple),
    ("multiprocessing_simpleargs", simpleargs),
    ("multiprocessing_import_main", import_main),
    ("multiprocessing_names", names),
    ("multiprocessing_daemon", daemon),
    ("multiprocessing_daemon_join", daemon_join),
    ("multiprocessing_daemon_join_timeout", daemon_join_timeout),
    ("multiprocessing_terminate", terminate),
    ("multiprocessing_exitcode", exitcode),
    ("multiprocessing_subclass", subclass),
    ("sfp_02_run_function", sfp_02_run_function),
    ("sfp_02_extend_process", sfp_02_extend_process),
    ("sfp_03_process_name", |o| exact(o, &["MyProcess"])),
    ("sfp_03_daemon", |o| exact(o, &["True"])),
    ("sfp_03_pid", sfp_03_pid),
    ("sfp_03_is_alive", |o| exact(o, &["False"])),
    ("sfp_03_exitcode", sfp_03_exitcode),
    ("sfp_03_current_process", sfp_03_current_process),
    ("sfp_03_parent_process", |o| exact(o, &["None"])),
    ("sfp_03_active_children", sfp_03_active_children),
    ("days72_process", |o| exact(o, &["Worker"])),
    ("days72_process_args", days72_process_args),
];

const FIVE_WORKERS: [&str; 5] = ["Worker"; 5];

fn simple(o: &Observed) -> Result<()> {
    exact(o, &FIVE_WORKERS)
}

fn simpleargs(o: &Observed) -> Result<()> {
    multiset(
        o,
        &[
            "Worker: 0",
            "Worker: 1",
            "Worker: 2",
            "Worker: 3",
            "Worker: 4",
        ],
    )
}

fn import_main(o: &Observed) -> Result<()> {
    exact(o, &FIVE_WORKERS)?;
    import_worker_source(&o.root)
}

/// The checkout holds a `multiprocessing_import_worker.rs` that defines `fn worker`.
fn import_worker_source(root: &Path) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    let mut found_without_fn = false;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                if !name.starts_with('.') && !name.starts_with("target") {
                    stack.push(path);
                }
            } else if name == "multiprocessing_import_worker.rs" {
                let src = std::fs::read_to_string(&path).unwrap_or_default();
                if re(r"(?s).*\bfn\s+worker\b.*").is_match(&src) {
                    return Ok(());
                }
                found_without_fn = true;
            }
        }
    }
    ensure!(
        !found_without_fn,
        "multiprocessing_import_worker.rs does not define `fn worker`"
    );
    bail!("no source file multiprocessing_import_worker.rs in the checkout")
}

fn names(o: &Observed) -> Result<()> {
    let starting = [
        "worker 1 Starting",
        "Process-3 Starting",
        "my_service Starting",
    ];
    let exiting = [
        "worker 1 Exiting",
        "Process-3 Exiting",
        "my_service Exiting",
    ];
    let all: Vec<&str> = starting.iter().chain(&exiting).copied().collect();
    multiset(o, &all)?;
    let l = o.lines();
    for s in starting {
        for e in exiting {
            before(&l, s, e)?;
        }
    }
    before(&l, "worker 1 Exiting", "my_service Exiting")?;
    before(&l, "Process-3 Exiting", "my_service Exiting")?;
    min_wall(o, 2.9, "my_service sleeps 3 s")
}

/// Only `allowed` lines; `required` ones once each in this order; `optional` at most once.
fn required_in_order(lines: &[&str], required: &[&str], optional: &[&str]) -> Result<()> {
    for l in lines {
        let n = norm_bool(l);
        ensure!(
            required.contains(&n.as_str()) || optional.contains(&n.as_str()),
            "unexpected line `{l}`"
        );
    }
    let mut last = None;
    for r in required {
        let i = index_of(lines, r)?;
        if let Some((j, prev)) = last {
            ensure!(j < i, "`{prev}` must come before `{r}`");
        }
        last = Some((i, r));
    }
    for opt in optional {
        let n = lines.iter().filter(|l| norm_bool(l) == *opt).count();
        ensure!(n <= 1, "`{opt}` appears {n} times, at most once allowed");
    }
    Ok(())
}

fn daemon(o: &Observed) -> Result<()> {
    let l = o.lines();
    forbid(&l, "Exiting : daemon")?;
    required_in_order(
        &l,
        &["Starting: non-daemon", "Exiting : non-daemon"],
        &["Starting: daemon"],
    )?;
    min_wall(o, 0.95, "main sleeps 1 s")
}

fn daemon_join(o: &Observed) -> Result<()> {
    multiset(
        o,
        &[
            "Starting: non-daemon",
            "Exiting : non-daemon",
            "Starting: daemon",
            "Exiting : daemon",
        ],
    )?;
    let l = o.lines();
    before(&l, "Starting: daemon", "Exiting : daemon")?;
    before(&l, "Starting: non-daemon", "Exiting : non-daemon")?;
    ensure!(
        l.last() == Some(&"Exiting : daemon"),
        "`Exiting : daemon` must be the last line"
    );
    min_wall(o, 1.95, "the daemon sleeps 2 s and is joined")
}

fn daemon_join_timeout(o: &Observed) -> Result<()> {
    let l = o.lines();
    forbid(&l, "Exiting : daemon")?;
    required_in_order(
        &l,
        &[
            "Starting: non-daemon",
            "Exiting : non-daemon",
            "d.is_alive() True",
        ],
        &["Starting: daemon"],
    )?;
    min_wall(o, 0.95, "join(timeout=1)")
}

/// One parsed `Process` display: (form, pid, parent pid, state text).
struct Shown {
    py2: bool,
    pid: Option<String>,
    parent: Option<String>,
    state: String,
}

/// Parses `<Process name='Process-1' [pid=P ]parent=PP STATE[ exitcode=E]>` or the Python 2
/// form `<Process(Process-1, STATE)>`.
fn parse_process(text: &str) -> Option<Shown> {
    let py3 = re(
        r"<Process name='Process-1' (?:pid=(\d+) )?parent=(\d+) (initial|started|stopped exitcode=-SIGTERM)>",
    );
    if let Some(c) = py3.captures(text) {
        return Some(Shown {
            py2: false,
            pid: c.get(1).map(|m| m.as_str().to_owned()),
            parent: Some(c[2].to_owned()),
            state: c[3].to_owned(),
        });
    }
    let py2 = re(r"<Process\(Process-1, (initial|started|stopped\[SIGTERM\])\)>");
    py2.captures(text).map(|c| Shown {
        py2: true,
        pid: None,
        parent: None,
        state: c[1].to_owned(),
    })
}

fn terminate(o: &Observed) -> Result<()> {
    let all = o.lines();
    forbid(&all, "Finished worker")?;
    let starting = all.iter().filter(|l| **l == "Starting worker").count();
    ensure!(starting <= 1, "`Starting worker` appears {starting} times");
    let l: Vec<&str> = all
        .iter()
        .copied()
        .filter(|l| *l != "Starting worker")
        .collect();
    let labels = ["BEFORE", "DURING", "TERMINATED", "JOINED"];
    ensure!(
        l.len() == 4,
        "expected 4 lines BEFORE, DURING, TERMINATED, JOINED (and `Starting worker`), got {}",
        l.len()
    );
    let line_re = re(r"(BEFORE|DURING|TERMINATED|JOINED): (<.*>) (True|true|False|false)");
    let mut shown = Vec::new();
    for (line, label) in l.iter().zip(labels) {
        let c = line_re
            .captures(line)
            .with_context(|| format!("`{line}` is not `{label}: <Process ...> BOOL`"))?;
        ensure!(&c[1] == label, "expected the {label} line, got `{line}`");
        let p = parse_process(&c[2])
            .with_context(|| format!("`{}` is not a `Process` display of Process-1", &c[2]))?;
        let alive = c[3].eq_ignore_ascii_case("true");
        let started = p.state == "started";
        let stopped = p.state.starts_with("stopped");
        let ok = match label {
            "BEFORE" => p.state == "initial" && !alive && p.pid.is_none(),
            "DURING" => started && alive,
            "TERMINATED" => (started && alive) || (stopped && !alive),
            _ => stopped && !alive,
        };
        ensure!(ok, "wrong state or is_alive on the {label} line: `{line}`");
        ensure!(
            p.py2 || label == "BEFORE" || p.pid.is_some(),
            "the {label} line must show the pid: `{line}`"
        );
        shown.push(p);
    }
    ensure!(
        shown.iter().all(|s| s.py2 == shown[0].py2),
        "mixed Python 2 and Python 3 display forms"
    );
    let pids: Vec<_> = shown.iter().filter_map(|s| s.pid.as_ref()).collect();
    ensure!(
        pids.windows(2).all(|w| w[0] == w[1]),
        "the pid differs between lines: {pids:?}"
    );
    let parents: Vec<_> = shown.iter().filter_map(|s| s.parent.as_ref()).collect();
    ensure!(
        parents.windows(2).all(|w| w[0] == w[1]),
        "the parent pid differs between lines: {parents:?}"
    );
    if let Some(p) = parents.first() {
        parent_is_main(o, p)?;
    }
    Ok(())
}

fn exitcode(o: &Observed) -> Result<()> {
    exact(
        o,
        &[
            "Starting process for exit_error",
            "Starting process for exit_ok",
            "Starting process for return_value",
            "Starting process for raises",
            "Starting process for terminated",
            "exit_error.exitcode = 1",
            "exit_ok.exitcode = 0",
            "return_value.exitcode = 0",
            "raises.exitcode = 1",
            "terminated.exitcode = -15",
        ],
    )?;
    ensure!(
        o.stderr.contains("There was an error!"),
        "stderr does not mention `There was an error!`"
    );
    Ok(())
}

fn subclass(o: &Observed) -> Result<()> {
    multiset(
        o,
        &[
            "In Worker-1",
            "In Worker-2",
            "In Worker-3",
            "In Worker-4",
            "In Worker-5",
        ],
    )
}

fn sfp_02_run_function(o: &Observed) -> Result<()> {
    exact(
        o,
        &["Waiting for the process...", "This is from another process"],
    )?;
    min_wall(o, 0.95, "the child sleeps 1 s")
}

fn sfp_02_extend_process(o: &Observed) -> Result<()> {
    exact(
        o,
        &[
            "Waiting for the process to finish",
            "This is another process",
        ],
    )?;
    min_wall(o, 0.95, "the child sleeps 1 s")
}

fn sfp_03_pid(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 2, "expected 2 lines, got {}", l.len());
    ensure!(l[0] == "None", "line 1: expected `None`, got `{}`", l[0]);
    let pid: u64 = l[1]
        .parse()
        .ok()
        .with_context(|| format!("line 2: `{}` is not a pid", l[1]))?;
    ensure!(pid > 0, "line 2: the pid must be positive");
    Ok(())
}

fn sfp_03_exitcode(o: &Observed) -> Result<()> {
    exact(o, &["None", "None", "0"])?;
    min_wall(o, 0.95, "the child sleeps 1 s")
}

fn sfp_03_current_process(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(l.len() == 1, "expected 1 line, got {}", l.len());
    ensure!(
        re(r"<_?MainProcess name='MainProcess' parent=None started>").is_match(l[0]),
        "`{}` is not `<_MainProcess name='MainProcess' parent=None started>`",
        l[0]
    );
    Ok(())
}

fn sfp_03_active_children(o: &Observed) -> Result<()> {
    let l = o.lines();
    ensure!(
        l.first() == Some(&"Active Children Count: 5"),
        "the first line must be `Active Children Count: 5`"
    );
    ensure!(l.len() == 6, "expected 6 lines, got {}", l.len());
    let child = re(r"<Process name='Process-([1-5])' pid=(\d+) parent=(\d+) started>");
    let mut ks = Vec::new();
    let mut pids = Vec::new();
    let mut parents = Vec::new();
    for line in &l[1..] {
        let c = child.captures(line).with_context(|| {
            format!("`{line}` is not `<Process name='Process-K' pid=PID parent=PPID started>`")
        })?;
        ks.push(c[1].parse::<u64>()? - 1);
        pids.push(c[2].to_owned());
        parents.push(c[3].to_owned());
    }
    super::check::once_each(&ks, 5, "Process-K, K-1 =")?;
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    ensure!(distinct.len() == 5, "the pids are not distinct: {pids:?}");
    ensure!(
        parents.iter().all(|p| *p == parents[0]),
        "the parent pids differ: {parents:?}"
    );
    parent_is_main(o, &parents[0])?;
    Ok(())
}

fn days72_process_args(o: &Observed) -> Result<()> {
    multiset(
        o,
        &["Worker 0", "Worker 1", "Worker 2", "Worker 3", "Worker 4"],
    )
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
