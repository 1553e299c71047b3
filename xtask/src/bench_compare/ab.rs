//! `cargo xtask bench-compare --against BIN`: an interleaved A/B run of this
//! tree's scenario runner against another build of it (`BIN`, e.g. the
//! `mp-scenarios` of the commit before a change, copied aside). Rounds
//! alternate which side goes first, latency scenarios are pinned as in the
//! main comparison, and the table gives medians, spreads and new ÷ old in
//! the direction of "better" (> 1: the change is an improvement). Nothing
//! is written to docs: the table is printed for docs/performance.md.
//!
//! Both builds run from fresh copies whose pages were written out and
//! dropped from the page cache ([`on_equal_footing`]): the same binary
//! starts processes 10-15 % slower from the file the linker wrote than from
//! a `cp` of it (h-start's section of docs/performance.md), which would
//! bias a tree's build against a copied base by about as much as a change
//! gains.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{measure, Row, Samples, Scenario};

/// A copy of `bin` at `dir/name`, written out to disk and dropped from the
/// page cache, so that it is loaded the way an `exec` of a file at rest
/// loads it, whatever state the original's pages are in.
pub(super) fn on_equal_footing(bin: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let copy = dir.join(name);
    std::fs::copy(bin, &copy).with_context(|| format!("copying {}", bin.display()))?;
    let file = std::fs::File::open(&copy)?;
    file.sync_all()?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(copy)
}

/// Runs every scenario in `scenarios` with `new_bin` and `old_bin`,
/// `rounds` times each, alternating which goes first; returns rows whose
/// `ours` holds the new samples and `cpython` the old.
pub(super) fn run(
    root: &Path,
    scenarios: &[Scenario],
    new_bin: &Path,
    old_bin: &Path,
    rounds: usize,
    quick: bool,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for s in scenarios {
        let mut row = Row {
            scenario: s.clone(),
            ours: Samples::default(),
            cpython: Samples::default(),
            raw: None,
            peer: None,
        };
        for round in 0..rounds {
            for k in 0..2 {
                let (samples, bin) = if (round + k) % 2 == 0 {
                    (&mut row.ours, new_bin)
                } else {
                    (&mut row.cpython, old_bin)
                };
                let mut args: Vec<OsString> = vec![s.id.clone().into()];
                if quick {
                    args.push("--quick".into());
                }
                let (v, u) = measure(root, bin.as_os_str().to_owned(), args, &s.id, s.pinned)?;
                samples.values.push(v);
                samples.unit = u;
            }
        }
        println!("{}", console_row(&row));
        rows.push(row);
    }
    Ok(rows)
}

fn fmt(s: &Samples) -> String {
    super::table::sample_cell(s)
}

fn console_row(r: &Row) -> String {
    format!(
        "{:<14} new {:>22}   old {:>22}   new/old {}",
        r.scenario.id,
        fmt(&r.ours),
        fmt(&r.cpython),
        r.speedup().map_or("—".into(), |x| format!("{x:.2}×"))
    )
}

/// The A/B table in Markdown.
pub(super) fn markdown(rows: &[Row], command: &str) -> String {
    let mut out = format!(
        "Command: `{command}`\n\n| id | scenario | new (this tree) | old (--against) | new vs old (>1 better) |\n|---|---|---|---|---|\n"
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.scenario.id,
            r.scenario.what,
            fmt(&r.ours),
            fmt(&r.cpython),
            r.speedup().map_or("—".into(), |x| format!("{x:.2}×"))
        ));
    }
    out
}
