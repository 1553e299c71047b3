//! Output checkers for the *sync* area of seed-programs.md (9 examples): Event, Lock,
//! Condition, Semaphore and Barrier, with their ordering and timing constraints.

use anyhow::{ensure, Context as _, Result};

use super::check::{
    before, exact, float_in, index_of, min_wall, multiset, once_each, parse_str_list, re, Observed,
    FLOAT,
};
use super::Checker;

/// The examples of this area with their checkers.
pub(crate) const EXAMPLES: &[(&str, Checker)] = &[
    ("multiprocessing_event", event),
    ("multiprocessing_lock", lock),
    ("multiprocessing_condition", condition),
    ("multiprocessing_semaphore", semaphore),
    ("sfp_04_lock", sfp_04_lock),
    ("sfp_04_semaphore", sfp_04_semaphore),
    ("sfp_04_event", sfp_04_event),
    ("sfp_04_condition", sfp_04_condition),
    ("sfp_04_barrier", sfp_04_barrier),
];

fn event(o: &Observed) -> Result<()> {
    let first = [
        "main: waiting before calling Event.set()",
        "wait_for_event: starting",
        "wait_for_event_timeout: starting",
    ];
    let timeout = "wait_for_event_timeout: e.is_set()-> False";
    let last = ["main: event is set", "wait_for_event: e.is_set()-> True"];
    let all: Vec<&str> = first
        .iter()
        .chain([&timeout])
        .chain(&last)
        .copied()
        .collect();
    multiset(o, &all)?;
    let l = o.lines();
    for f in first {
        before(&l, f, timeout)?;
    }
    for e in last {
        before(&l, timeout, e)?;
    }
    min_wall(o, 2.9, "main sets the event after 3 s")
}

fn lock(o: &Observed) -> Result<()> {
    multiset(o, &["Lock acquired via with", "Lock acquired directly"])
}

fn condition(o: &Observed) -> Result<()> {
    let ordered = [
        "Starting stage_2[1]",
        "Starting stage_2[2]",
        "Starting s1",
        "s1 done and ready for stage 2",
    ];
    let running = ["stage_2[1] running", "stage_2[2] running"];
    let all: Vec<&str> = ordered.iter().chain(&running).copied().collect();
    multiset(o, &all)?;
    let l = o.lines();
    for w in ordered.windows(2) {
        before(&l, w[0], w[1])?;
    }
    for r in running {
        before(&l, ordered[3], r)?;
    }
    min_wall(o, 1.9, "stage_2 processes start 1 s apart, s1 1 s later")
}

fn semaphore(o: &Observed) -> Result<()> {
    let activating = re(r"Activating (\d) now running (\[.*\])");
    let now = re(r"Now running (\[.*\])");
    let mut activated = Vec::new();
    let mut now_lines = 0;
    for line in o.lines() {
        let (list_text, who) = if let Some(c) = activating.captures(line) {
            (c.get(2).map_or("", |m| m.as_str()), Some(c[1].to_owned()))
        } else if let Some(c) = now.captures(line) {
            now_lines += 1;
            (c.get(1).map_or("", |m| m.as_str()), None)
        } else {
            anyhow::bail!("unexpected line `{line}`");
        };
        let list = parse_str_list(list_text).with_context(|| format!("in `{line}`"))?;
        ensure!(
            list.len() <= 3,
            "more than 3 names in a list: `{line}` (Semaphore(3) admits at most 3)"
        );
        for (i, n) in list.iter().enumerate() {
            ensure!(
                n.len() == 1 && n.as_bytes()[0].is_ascii_digit(),
                "name `{n}` is not one of 0…9 in `{line}`"
            );
            ensure!(!list[..i].contains(n), "name `{n}` repeated in `{line}`");
        }
        if let Some(n) = who {
            ensure!(list.contains(&n), "`{line}`: the list does not contain {n}");
            activated.push(n.parse::<u64>()?);
        }
    }
    once_each(&activated, 10, "Activating")?;
    ensure!(now_lines >= 1, "no `Now running` line");
    Ok(())
}

/// Captures `(K, F)` from every line; each line must match `pattern` (K then F groups).
fn k_and_f(lines: &[&str], pattern: &str, hi: f64) -> Result<Vec<(u64, f64)>> {
    let r = re(pattern);
    lines
        .iter()
        .map(|line| {
            let c = r
                .captures(line)
                .with_context(|| format!("unexpected line `{line}`"))?;
            Ok((c[1].parse()?, float_in(&c[2], 0.0, hi)?))
        })
        .collect()
}

fn keys(pairs: &[(u64, f64)]) -> Vec<u64> {
    pairs.iter().map(|p| p.0).collect()
}

fn sum(pairs: &[(u64, f64)]) -> f64 {
    pairs.iter().map(|p| p.1).sum()
}

fn max(pairs: &[(u64, f64)]) -> f64 {
    pairs.iter().map(|p| p.1).fold(0.0, f64::max)
}

fn sfp_04_lock(o: &Observed) -> Result<()> {
    let pairs = k_and_f(
        &o.lines(),
        &format!(r">(\d+) got lock, sleeping ({FLOAT})"),
        1.0,
    )?;
    once_each(&keys(&pairs), 10, "process")?;
    min_wall(
        o,
        sum(&pairs),
        "the sum of the sleeps, serialized by the lock",
    )
}

/// Ten `PREFIX K got F` lines under a Semaphore(2): timing ≥ half the sum and ≥ the largest.
pub(crate) fn semaphore_of_two(o: &Observed, pattern: &str) -> Result<()> {
    let pairs = k_and_f(&o.lines(), pattern, 1.0)?;
    once_each(&keys(&pairs), 10, "process")?;
    min_wall(
        o,
        sum(&pairs) / 2.0,
        "half the sum of the sleeps, 2 at a time",
    )?;
    min_wall(o, max(&pairs), "the largest sleep")
}

fn sfp_04_semaphore(o: &Observed) -> Result<()> {
    semaphore_of_two(o, &format!(r"Process (\d+) got ({FLOAT})"))
}

fn sfp_04_event(o: &Observed) -> Result<()> {
    let l = o.lines();
    let blocking = index_of(&l, "Main process blocking...")?;
    let waiting = re(r"Process (\d+) waiting\.\.\.");
    let got = re(&format!(r"Process (\d+) got ({FLOAT})"));
    let (mut wait_keys, mut got_pairs) = (Vec::new(), Vec::new());
    let (mut last_wait, mut first_got) = (blocking, usize::MAX);
    for (i, line) in l.iter().enumerate() {
        if i == blocking {
            continue;
        } else if let Some(c) = waiting.captures(line) {
            wait_keys.push(c[1].parse()?);
            last_wait = last_wait.max(i);
        } else if let Some(c) = got.captures(line) {
            got_pairs.push((c[1].parse()?, float_in(&c[2], 0.0, 1.0)?));
            first_got = first_got.min(i);
        } else {
            anyhow::bail!("unexpected line `{line}`");
        }
    }
    once_each(&wait_keys, 5, "waiting process")?;
    once_each(&keys(&got_pairs), 5, "got process")?;
    ensure!(
        last_wait < first_got,
        "every `waiting` line and the `blocking` line must come before every `got` line"
    );
    min_wall(o, 2.0 + max(&got_pairs), "2 s + the largest sleep")
}

fn sfp_04_condition(o: &Observed) -> Result<()> {
    exact(
        o,
        &[
            "Main process waiting for data...",
            "Child sending notification...",
            "Main process all done",
        ],
    )?;
    min_wall(o, 0.95, "the child sleeps 1 s")
}

fn sfp_04_barrier(o: &Observed) -> Result<()> {
    let l = o.lines();
    index_of(&l, "Main process waiting on all results...")?;
    let last = "All processes have their result";
    ensure!(l.last() == Some(&last), "`{last}` must be the last line");
    index_of(&l, last)?;
    let rest: Vec<&str> = l
        .iter()
        .copied()
        .filter(|x| *x != last && *x != "Main process waiting on all results...")
        .collect();
    let pairs = k_and_f(&rest, &format!(r"Process (\d+) got: ({FLOAT})"), 10.0)?;
    once_each(&keys(&pairs), 5, "process")?;
    min_wall(o, max(&pairs), "the largest sleep")
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
