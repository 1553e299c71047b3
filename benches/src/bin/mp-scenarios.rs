//! Runs one bench-compare scenario and prints `RESULT <id> <value> <unit>`.
//!
//! Usage: `mp-scenarios <id> [--quick]`, `mp-scenarios raw:<id> [--quick]`
//! (the scenario's raw limit), or `mp-scenarios --list [--quick] [--workers
//! 1,2,4] [--parent-sizes 100MB,1GB]` (one line per scenario: id, better
//! direction, pinning, what it measures, and what its raw version does; the
//! parameterised scaling and memory rows expanded for those worker counts
//! and parent sizes, by default [`Sweep::default_for`]).

use multiprocess_benches::scenarios::families::{self, Sweep};
use multiprocess_benches::{raw, scenarios};

fn main() {
    // The child of the raw fork+exec scenario: exit before any work.
    raw::exit_if_exec_child();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    if args.first().map(String::as_str) == Some("--list") {
        let sweep = match sweep(&args, quick) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("mp-scenarios --list: {e}");
                std::process::exit(2);
            }
        };
        list(&sweep);
        return;
    }
    let Some(id) = args.first() else {
        eprintln!("usage: mp-scenarios [raw:]<id> [--quick] | --list [--quick] [--workers N,...] [--parent-sizes SIZE,...]");
        std::process::exit(2);
    };
    let measured = match id.strip_prefix("raw:") {
        Some(base) => match raw::find(base) {
            Some(r) => Some(r.run(quick)),
            None => families::run_raw(base, quick),
        },
        None => scenarios::run(id, quick),
    };
    match measured {
        Some(m) => println!("RESULT {id} {} {}", m.value, m.unit),
        None => {
            eprintln!("unknown scenario {id:?}");
            std::process::exit(2);
        }
    }
}

/// The sweep `--workers` and `--parent-sizes` ask for, defaults elsewhere.
fn sweep(args: &[String], quick: bool) -> Result<Sweep, String> {
    let mut sweep = Sweep::default_for(quick);
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args.get(i + 1).ok_or(format!("{flag} needs a value")))
            .transpose()
    };
    if let Some(list) = value("--workers")? {
        sweep.workers = list
            .split(',')
            .map(|w| w.parse().ok().filter(|w: &usize| *w > 0))
            .collect::<Option<_>>()
            .ok_or(format!(
                "--workers {list}: positive counts, comma-separated"
            ))?;
    }
    if let Some(list) = value("--parent-sizes")? {
        sweep.parent_sizes = list.split(',').map(str::to_owned).collect();
        if let Some(bad) = sweep
            .parent_sizes
            .iter()
            .find(|s| families::parse_size(s).is_none())
        {
            return Err(format!("--parent-sizes: {bad:?} is not like 100MB or 1GB"));
        }
    }
    Ok(sweep)
}

fn list(sweep: &Sweep) {
    for s in scenarios::ALL {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            s.id,
            if s.lower_is_better { "lower" } else { "higher" },
            if s.pinned { "pinned" } else { "free" },
            s.what,
            raw::find(s.id).map_or("", |r| r.what)
        );
    }
    for l in families::list(sweep) {
        println!(
            "{}\t{}\tfree\t{}\t{}",
            l.id,
            if l.lower_is_better { "lower" } else { "higher" },
            l.what,
            l.raw_what.as_deref().unwrap_or("")
        );
    }
}
