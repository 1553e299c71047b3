//! `cargo xtask bench-compare [--quick] [--rounds N] [--only ID,...] [--workers N,...]
//! [--parent-sizes SIZE,...] [--against BIN]`: every
//! scenario of DESIGN.md §5 in this library and, in the same run, its raw
//! limit (`mp-scenarios raw:<id>`, straight system calls), CPython's
//! `multiprocessing` and (where they can express it) the Rust peers
//! procspawn / ipc-channel (`benches/peers`), rotating the sides round by
//! round to cancel drift, latency scenarios pinned to one CPU. Prints the
//! tables with medians, spreads, the speed-ups over CPython and the ratios
//! to the raw limit against issue 13's targets, and writes
//! `docs/performance.md` (the generated section) and `docs/perf-chart.svg`.
//!
//! The scaling and memory rows (issue 13, deliverable 3) are parameterised,
//! `<base>@<param>` (benches/src/scenarios/families.rs): `S-10us@2w` for
//! each worker count of `--workers` (default 1, 2, 4, … up to the core
//! count), `M1-fork@1GB` for each parent size of `--parent-sizes` (default
//! 100MB and 1GB; 100MB only with `--quick`), `RSS-idle-worker@<method>` and
//! `USS-idle-worker@<method>`.
//! They run interleaved with the others and get their own table.

mod ab;
mod chart;
mod table;
mod targets;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::run::{run, Spec};

/// One scenario as the Rust runner lists it.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) id: String,
    pub(crate) lower_is_better: bool,
    pub(crate) pinned: bool,
    pub(crate) what: String,
    /// What the raw version does, if the runner has one.
    pub(crate) raw_what: Option<String>,
}

impl Scenario {
    /// Whether this is a parameterised scaling or memory row (`S-10us@2w`).
    pub(crate) fn is_family(&self) -> bool {
        self.id.contains('@')
    }

    /// The id without its parameter (`S-10us` for `S-10us@2w`).
    pub(crate) fn base(&self) -> &str {
        self.id.split_once('@').map_or(&self.id, |(base, _)| base)
    }

    /// Whether the row runs in programs of its own (`mp-rss`, `peer-rss`):
    /// an idle spawned worker's memory grows with the size of the program
    /// it re-executes, so both sides run it in programs holding only it.
    pub(crate) fn own_program(&self) -> bool {
        matches!(self.base(), "RSS-idle-worker" | "USS-idle-worker")
    }

    /// Whether a runner that lists `listed` runs this row: by its id, or
    /// (for a parameterised row) by its base id.
    fn listed_as(&self, listed: &str) -> bool {
        listed == self.id || (self.is_family() && listed == self.base())
    }
}

/// The samples of one side.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    pub(crate) values: Vec<f64>,
    pub(crate) unit: String,
}

impl Samples {
    pub(crate) fn median(&self) -> Option<f64> {
        let mut v = self.values.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        Some(if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        })
    }

    /// Half the min–max range, as a percentage of the median.
    pub(crate) fn spread_pct(&self) -> Option<f64> {
        let med = self.median()?;
        let min = self.values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (med > 0.0).then(|| (max - min) / 2.0 / med * 100.0)
    }
}

/// A finished comparison row.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) scenario: Scenario,
    pub(crate) ours: Samples,
    pub(crate) cpython: Samples,
    /// The raw limit's samples (`mp-scenarios raw:<id>`), if it ran.
    pub(crate) raw: Option<Samples>,
    /// The Rust peer crate that ran this scenario too, and its samples.
    pub(crate) peer: Option<(String, Samples)>,
}

impl Row {
    /// How many times better we are (>1 means faster than CPython).
    pub(crate) fn speedup(&self) -> Option<f64> {
        self.ratio(&self.cpython)
    }

    /// How many times better we are than the Rust peer (>1 means faster).
    pub(crate) fn peer_speedup(&self) -> Option<f64> {
        self.ratio(&self.peer.as_ref()?.1)
    }

    /// Ours ÷ the raw limit: the raw cost we pay for a latency, the share
    /// of the raw rate we reach for a rate (see [`targets`]).
    ///
    /// Paired by round: the median of ours ÷ raw within each round, where
    /// the two ran back to back. This machine switches, for minutes at a
    /// time, between states in which the same work takes up to three times
    /// the CPU time (for raw and ours alike; docs/performance.md, h-m3b's
    /// M3b section), so the two sides' medians can come from different
    /// states, while a round's two runs share one. The ratio of the two
    /// medians is [`raw_ratio_of_medians`](Self::raw_ratio_of_medians).
    pub(crate) fn raw_ratio(&self) -> Option<f64> {
        let raw = self.raw.as_ref()?;
        if raw.values.len() != self.ours.values.len() {
            return self.raw_ratio_of_medians();
        }
        let paired = Samples {
            values: self
                .ours
                .values
                .iter()
                .zip(&raw.values)
                .filter(|(o, r)| **o > 0.0 && **r > 0.0)
                .map(|(o, r)| o / r)
                .collect(),
            unit: String::new(),
        };
        paired.median()
    }

    /// The median of ours ÷ the median of raw (unpaired).
    pub(crate) fn raw_ratio_of_medians(&self) -> Option<f64> {
        let (o, r) = (self.ours.median()?, self.raw.as_ref()?.median()?);
        (o > 0.0 && r > 0.0).then(|| o / r)
    }

    /// Issue 13's target for this row and whether the raw ratio meets it.
    pub(crate) fn target(&self) -> Option<(targets::Target, Option<bool>)> {
        let t = targets::target(&self.scenario.id)?;
        Some((t, self.raw_ratio().map(|r| t.met(r))))
    }

    fn ratio(&self, other: &Samples) -> Option<f64> {
        let (o, c) = (self.ours.median()?, other.median()?);
        if o <= 0.0 || c <= 0.0 {
            return None;
        }
        Some(if self.scenario.lower_is_better {
            c / o
        } else {
            o / c
        })
    }
}

struct Options {
    quick: bool,
    rounds: usize,
    only: Vec<String>,
    /// A/B mode: another build of `mp-scenarios` to run against this tree's.
    against: Option<PathBuf>,
    /// The scaling rows' worker counts, as given (`1,2,4`).
    workers: Option<String>,
    /// The memory rows' parent sizes, as given (`100MB,1GB`).
    parent_sizes: Option<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        quick: false,
        rounds: 0,
        only: Vec::new(),
        against: None,
        workers: None,
        parent_sizes: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => {
                o.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .context("--rounds needs a positive number")?
            }
            "--only" => {
                o.only = it
                    .next()
                    .context("--only needs ids")?
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--workers" => {
                let list = it.next().context("--workers needs counts (1,2,4)")?;
                if list
                    .split(',')
                    .any(|w| w.parse::<usize>().map_or(true, |w| w == 0))
                {
                    bail!("--workers {list}: positive counts, comma-separated");
                }
                o.workers = Some(list.clone());
            }
            "--parent-sizes" => {
                o.parent_sizes = Some(
                    it.next()
                        .context("--parent-sizes needs sizes (100MB,1GB)")?
                        .clone(),
                )
            }
            "--against" => {
                let bin = PathBuf::from(it.next().context("--against needs a path")?);
                if !bin.is_file() {
                    bail!("--against {}: no such file", bin.display());
                }
                o.against = Some(std::fs::canonicalize(bin)?);
            }
            other => bail!("unknown bench-compare option `{other}`"),
        }
    }
    if o.rounds == 0 {
        o.rounds = if o.quick { 3 } else { 7 };
    }
    Ok(o)
}

fn parse_result(stdout: &str, id: &str) -> Result<(f64, String)> {
    for line in stdout.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("RESULT") && f.next() == Some(id) {
            let value: f64 = f.next().context("no value")?.parse().context("bad value")?;
            let unit = f.next().context("no unit")?.to_owned();
            return Ok((value, unit));
        }
    }
    bail!("no RESULT line for {id} in {stdout:?}")
}

/// Runs `program args...` (pinned to CPU 0 when asked) and reads its RESULT line.
fn measure(
    root: &Path,
    program: OsString,
    args: Vec<OsString>,
    id: &str,
    pinned: bool,
) -> Result<(f64, String)> {
    let spec = if pinned && which("taskset") {
        let mut all = vec![OsString::from("-c"), OsString::from("0"), program];
        all.extend(args);
        Spec::new("taskset", root).args(all)
    } else {
        Spec::new(program, root).args(args)
    };
    let mut spec = spec;
    spec.merged = false;
    spec.timeout = Duration::from_secs(300);
    let out = run(&spec)?;
    if let Some(problem) = out.status_problem() {
        bail!("{id} failed ({problem}): {}", out.stderr.trim());
    }
    parse_result(&out.stdout, id)
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// Entry point of `cargo xtask bench-compare`.
pub(crate) fn main(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let root = crate::cargo::workspace_root();
    let started = Instant::now();
    let build = [
        "build",
        "--release",
        "-p",
        "multiprocess-benches",
        "--bin",
        "mp-scenarios",
        "--bin",
        "mp-rss",
        "-p",
        "multiprocess-peer-benches",
        "--bin",
        "peer-scenarios",
        "--bin",
        "peer-rss",
    ];
    println!("==> cargo {}", build.join(" "));
    let st = Command::new("cargo")
        .current_dir(&root)
        .args(build)
        .status()
        .context("running cargo build")?;
    if !st.success() {
        bail!("building the scenario runners failed");
    }
    let target: PathBuf = crate::cargo::metadata()?.target_dir;
    let rust_bin = target.join("release").join("mp-scenarios");
    let peer_bin = target.join("release").join("peer-scenarios");
    let rust_rss = target.join("release").join("mp-rss");
    let peer_rss = target.join("release").join("peer-rss");
    let peer_list = Command::new(&peer_bin).arg("--list").output()?;
    let peers: Vec<(String, String)> = String::from_utf8_lossy(&peer_list.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, krate)| (id.to_owned(), krate.to_owned()))
        .collect();
    let script = root.join("benches/python/scenarios.py");
    let mut list_args = vec!["--list".to_owned()];
    if opts.quick {
        list_args.push("--quick".into());
    }
    if let Some(w) = &opts.workers {
        list_args.extend(["--workers".into(), w.clone()]);
    }
    if let Some(p) = &opts.parent_sizes {
        list_args.extend(["--parent-sizes".into(), p.clone()]);
    }
    let listing = Command::new(&rust_bin).args(&list_args).output()?;
    if !listing.status.success() {
        bail!(
            "mp-scenarios {}: {}",
            list_args.join(" "),
            String::from_utf8_lossy(&listing.stderr).trim()
        );
    }
    let mut scenarios: Vec<Scenario> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            (f.len() >= 4).then(|| Scenario {
                id: f[0].to_owned(),
                lower_is_better: f[1] == "lower",
                pinned: f[2] == "pinned",
                what: f[3].to_owned(),
                raw_what: f.get(4).filter(|w| !w.is_empty()).map(|w| (*w).to_owned()),
            })
        })
        .collect();
    if !opts.only.is_empty() {
        // An id, or a base id for all its parameterised rows.
        scenarios.retain(|s| opts.only.iter().any(|o| *o == s.id || *o == s.base()));
    }
    if let Some(old) = &opts.against {
        let dir = target.join("bench-ab");
        let new_copy = ab::on_equal_footing(&rust_bin, &dir, "new")?;
        let old_copy = ab::on_equal_footing(old, &dir, "old")?;
        let rows = ab::run(
            &root,
            &scenarios,
            &new_copy,
            &old_copy,
            opts.rounds,
            opts.quick,
        )?;
        let command = format!(
            "cargo xtask bench-compare{} --against {}{}{}",
            if opts.quick { " --quick" } else { "" },
            old.display(),
            if opts.only.is_empty() {
                String::new()
            } else {
                format!(" --only {}", opts.only.join(","))
            },
            format_args!(" --rounds {}", opts.rounds)
        );
        println!();
        print!("{}", ab::markdown(&rows, &command));
        println!("({:.0} s)", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let py = Command::new("python3")
        .arg(&script)
        .arg("--list")
        .output()?;
    let py_ids = String::from_utf8_lossy(&py.stdout).to_string();
    let python = Command::new("python3").arg("--version").output()?;
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();

    let mut rows = Vec::new();
    for s in &scenarios {
        let peer = peers.iter().find(|(id, _)| s.listed_as(id));
        let mut row = Row {
            scenario: s.clone(),
            ours: Samples::default(),
            cpython: Samples::default(),
            raw: s.raw_what.as_ref().map(|_| Samples::default()),
            peer: peer.map(|(_, krate)| (krate.clone(), Samples::default())),
        };
        let has_py = py_ids.lines().any(|l| s.listed_as(l.trim()));
        let raw_id = format!("raw:{}", s.id);
        for round in 0..opts.rounds {
            // Rotate which side goes first, to cancel drift.
            for k in 0..SIDES {
                let side = (round + k) % SIDES;
                let mut args: Vec<OsString> = vec![s.id.clone().into()];
                if opts.quick {
                    args.push("--quick".into());
                }
                let mut id = s.id.as_str();
                let (ours_bin, theirs_bin) = if s.own_program() {
                    (&rust_rss, &peer_rss)
                } else {
                    (&rust_bin, &peer_bin)
                };
                let (samples, program) = match (side, row.raw.as_mut(), row.peer.as_mut()) {
                    (0, _, _) => (&mut row.ours, ours_bin.clone().into_os_string()),
                    (1, Some(raw), _) => {
                        args[0] = raw_id.clone().into();
                        id = &raw_id;
                        (raw, rust_bin.clone().into_os_string())
                    }
                    (2, _, _) if has_py => {
                        args.insert(0, script.clone().into());
                        (&mut row.cpython, OsString::from("python3"))
                    }
                    (3, _, Some((_, peer))) => (peer, theirs_bin.clone().into_os_string()),
                    _ => continue,
                };
                let (v, u) = measure(&root, program, args, id, s.pinned)?;
                samples.values.push(v);
                samples.unit = u;
            }
        }
        println!("{}", table::console_row(&row));
        rows.push(row);
    }
    let default_rounds = if opts.quick { 3 } else { 7 };
    let command = format!(
        "cargo xtask bench-compare{}{}{}{}",
        if opts.quick { " --quick" } else { "" },
        if opts.rounds != default_rounds {
            format!(" --rounds {}", opts.rounds)
        } else {
            String::new()
        },
        opts.workers
            .as_ref()
            .map_or(String::new(), |w| format!(" --workers {w}")),
        opts.parent_sizes
            .as_ref()
            .map_or(String::new(), |p| format!(" --parent-sizes {p}")),
    );
    let (family, core): (Vec<Row>, Vec<Row>) =
        rows.into_iter().partition(|r| r.scenario.is_family());
    println!();
    if !core.is_empty() {
        print!("{}", table::markdown(&core));
    }
    if !family.is_empty() {
        println!();
        print!("{}", table::family_markdown(&family));
    }
    if !opts.only.is_empty() {
        println!(
            "\n(--only: docs/performance.md and docs/perf-chart.svg left as they are; {:.0} s)",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let docs = root.join("docs");
    chart::write_svg(&core, &docs.join("perf-chart.svg"))?;
    write_performance_md(
        &docs.join("performance.md"),
        &core,
        &family,
        &command,
        &python,
        opts.rounds,
    )?;
    println!(
        "\nwrote docs/performance.md and docs/perf-chart.svg ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Ours, raw, CPython, the peer: the sides that take turns in each round.
const SIDES: usize = 4;

const BEGIN: &str = "<!-- bench-compare:begin -->";
const END: &str = "<!-- bench-compare:end -->";

fn write_performance_md(
    path: &Path,
    rows: &[Row],
    family: &[Row],
    command: &str,
    python: &str,
    rounds: usize,
) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let section = format!(
        "{BEGIN}\n## Side by side with CPython and the raw limit (generated)\n\n\
         Command: `{command}` — {rounds} rounds per scenario, the sides (multiprocess, its raw \
         limit, CPython, a Rust peer) taking turns to go first, latency scenarios pinned to \
         CPU 0 (`taskset -c 0`). Machine: Linux {}, CPUs {}, {python}. Values are medians; ± is \
         half the min–max range over the rounds. Speed-up > 1 means multiprocess is faster than \
         CPython. The raw limit is the same measurement written straight on system calls \
         (`mp-scenarios raw:<id>`, `benches/src/raw/`), described per row below; ours ÷ raw is \
         the raw cost we pay for a latency (target a ceiling) and the share of the raw rate we \
         reach for a rate (target a floor), taken within each round (the two sides run back to \
         back) and given as the median over the rounds; the targets are issue 13's.\n\n{}\n{}\n\
         ![speed-up over CPython](perf-chart.svg)\n\n\
         ## Side by side with the Rust peers (generated)\n\n\
         The same run, the same scenarios written with procspawn 1.0.2 and ipc-channel 0.22 \
         (`benches/peers/src/main.rs` says how each one is expressed), for the scenarios they \
         can express.\n\n{}{}{END}\n",
        kernel.trim(),
        cpus.trim(),
        table::markdown(rows),
        table::raw_legend(rows),
        table::peer_markdown(rows),
        family_section(family)
    );
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            // The hand-written part after the section keeps one blank line.
            let rest = old[e + END.len()..].trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{}{section}{gap}{rest}", &old[..b])
        }
        _ if old.is_empty() => format!("# Performance\n\n{section}"),
        _ => format!("{}\n{section}", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

/// The scaling and memory rows' part of the generated section (nothing if
/// the run had none).
fn family_section(family: &[Row]) -> String {
    if family.is_empty() {
        return String::new();
    }
    format!(
        "\n## Scaling and memory (generated)\n\n\
         The same run: `S-<task>@<N>w` is `Pool(N).map` of tasks that each burn that much \
         thread CPU time (so more workers than cores cannot finish tasks by waiting), one \
         second of CPU work per row; `M1-<method>@<size>` is M1 (its quick count of starts) \
         after the parent has written that much fresh memory, fork and spawn beside their \
         raw limit under the same ballast (the raw fork server would inherit it, so \
         forkserver has none); \
         `RSS-idle-worker@<method>` is the Pss (`/proc/<pid>/smaps_rollup`) of the idle \
         worker of a `Pool(1)`, each side in a program that holds only that row (`mp-rss`, \
         `peer-rss`: a spawned worker re-executes its program, and its code's Pss grows with \
         the program's size), and `USS-idle-worker@<method>` the same worker's USS \
         (`Private_Clean` + `Private_Dirty`: the pages no other process maps, which the \
         machine gets back when the worker ends). Ratios > 1 mean multiprocess is better \
         (faster, or smaller); no targets.\n\n{}",
        table::family_markdown(family)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lower: bool, ours: &[f64], cpy: &[f64]) -> Row {
        Row {
            scenario: Scenario {
                id: "X".into(),
                lower_is_better: lower,
                pinned: false,
                what: String::new(),
                raw_what: None,
            },
            ours: Samples {
                values: ours.to_vec(),
                unit: "us".into(),
            },
            cpython: Samples {
                values: cpy.to_vec(),
                unit: "us".into(),
            },
            raw: None,
            peer: None,
        }
    }

    #[test]
    fn statistics_and_speedup() {
        let r = row(true, &[1.0, 3.0, 2.0], &[10.0, 30.0, 20.0]);
        assert_eq!(r.ours.median(), Some(2.0));
        assert_eq!(r.speedup(), Some(10.0));
        assert_eq!(r.ours.spread_pct(), Some(50.0));
        let r = row(false, &[100.0, 100.0], &[10.0, 30.0]);
        assert_eq!(r.cpython.median(), Some(20.0));
        assert_eq!(r.speedup(), Some(5.0));
        assert_eq!(row(true, &[], &[1.0]).speedup(), None);
        assert_eq!(r.peer_speedup(), None);
        let mut r = row(true, &[2.0], &[1.0]);
        r.peer = Some((
            "procspawn".into(),
            Samples {
                values: vec![8.0],
                unit: "us".into(),
            },
        ));
        assert_eq!(r.peer_speedup(), Some(4.0));
    }

    #[test]
    fn regenerating_keeps_the_hand_written_parts() {
        let path = std::env::temp_dir().join(format!("xtask-perf-{}.md", std::process::id()));
        let before = format!("# P\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## Notes\n\ntail\n");
        std::fs::write(&path, before).unwrap();
        let mut r = row(true, &[2.0], &[10.0]);
        r.scenario.id = "M2".into();
        r.raw = Some(Samples {
            values: vec![1.0],
            unit: "us".into(),
        });
        let mut s = row(false, &[4.0], &[2.0]);
        s.scenario.id = "S-1ms@2w".into();
        write_performance_md(
            &path,
            &[r],
            &[s],
            "cargo xtask bench-compare",
            "Python 3",
            7,
        )
        .unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(after.starts_with("# P\n\nintro\n\n<!-- bench-compare:begin -->\n"));
        assert!(after.ends_with(&format!("{END}\n\n## Notes\n\ntail\n")));
        assert!(!after.contains("old table"));
        assert!(after.contains("| 2.00× | ≤ 1.3× | **missed** |"), "{after}");
        let scaling = after.find("## Scaling and memory (generated)").unwrap();
        assert!(scaling < after.find(END).unwrap());
        assert!(after[scaling..].contains("| S-1ms@2w |"), "{after}");
    }

    #[test]
    fn only_the_idle_worker_rows_run_in_programs_of_their_own() {
        let mut r = row(false, &[1.0], &[1.0]);
        for (id, own) in [
            ("RSS-idle-worker@spawn", true),
            ("RSS-idle-worker@fork", true),
            ("USS-idle-worker@spawn", true),
            ("M1-spawn@1GB", false),
            ("M4b", false),
        ] {
            r.scenario.id = id.into();
            assert_eq!(r.scenario.own_program(), own, "{id}");
        }
    }

    #[test]
    fn families_match_their_base_id() {
        let mut r = row(false, &[1.0], &[1.0]);
        r.scenario.id = "M1-spawn@1GB".into();
        assert!(r.scenario.is_family());
        assert_eq!(r.scenario.base(), "M1-spawn");
        assert!(r.scenario.listed_as("M1-spawn"));
        assert!(r.scenario.listed_as("M1-spawn@1GB"));
        assert!(!r.scenario.listed_as("M1-fork"));
        r.scenario.id = "M1-spawn".into();
        assert!(!r.scenario.is_family());
        assert!(!r.scenario.listed_as("M1-spawn@1GB"));
    }

    #[test]
    fn parses_sweep_options() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse(&args(&["--workers", "1,2,4", "--parent-sizes", "1GB"])).unwrap();
        assert_eq!(o.workers.as_deref(), Some("1,2,4"));
        assert_eq!(o.parent_sizes.as_deref(), Some("1GB"));
        assert!(parse(&args(&["--workers", "1,0"])).is_err());
        assert!(parse(&args(&["--workers", "two"])).is_err());
        assert!(parse(&args(&["--workers"])).is_err());
    }

    #[test]
    fn parses_result_lines() {
        assert_eq!(
            parse_result("noise\nRESULT M7 1.5 us\n", "M7").unwrap(),
            (1.5, "us".to_string())
        );
        assert!(parse_result("RESULT M8 1 us", "M7").is_err());
        assert!(parse_result("RESULT M7 x us", "M7").is_err());
    }
}
