//! Runs one bench-compare scenario and prints `RESULT <id> <value> <unit>`.
//!
//! Usage: `mp-scenarios <id> [--quick]`, or `mp-scenarios --list`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for s in multiprocess_benches::scenarios::ALL {
            println!(
                "{}\t{}\t{}\t{}",
                s.id,
                if s.lower_is_better { "lower" } else { "higher" },
                if s.pinned { "pinned" } else { "free" },
                s.what
            );
        }
        return;
    }
    let Some(id) = args.first() else {
        eprintln!("usage: mp-scenarios <id> [--quick] | --list");
        std::process::exit(2);
    };
    let quick = args.iter().any(|a| a == "--quick");
    match multiprocess_benches::scenarios::run(id, quick) {
        Some(m) => println!("RESULT {id} {} {}", m.value, m.unit),
        None => {
            eprintln!("unknown scenario {id:?}");
            std::process::exit(2);
        }
    }
}
