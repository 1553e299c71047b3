//! Runs one bench-compare scenario and prints `RESULT <id> <value> <unit>`.
//!
//! Usage: `mp-scenarios <id> [--quick]`, `mp-scenarios raw:<id> [--quick]`
//! (the scenario's raw limit), or `mp-scenarios --list` (one line per
//! scenario: id, better direction, pinning, what it measures, and what its
//! raw version does).

use multiprocess_benches::{raw, scenarios};

fn main() {
    // The child of the raw fork+exec scenario: exit before any work.
    raw::exit_if_exec_child();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
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
        return;
    }
    let Some(id) = args.first() else {
        eprintln!("usage: mp-scenarios [raw:]<id> [--quick] | --list");
        std::process::exit(2);
    };
    let quick = args.iter().any(|a| a == "--quick");
    let measured = match id.strip_prefix("raw:") {
        Some(base) => raw::find(base).map(|r| r.run(quick)),
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
