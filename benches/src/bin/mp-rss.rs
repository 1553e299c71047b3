//! Runs the memory row `RSS-idle-worker@<method>` (or its USS twin,
//! `USS-idle-worker@<method>`) alone and prints `RESULT <id> <value>
//! <unit>`: the Pss of an idle pool worker depends on the size
//! of the program it runs (a spawned worker re-executes it, and each fault
//! in its code maps the pages around it too), so the row runs in a program
//! that holds only it, as the peer's row does (`peer-rss`), not in
//! `mp-scenarios` with every other scenario and raw limit.
//!
//! Usage: `mp-rss <RSS|USS>-idle-worker@<method>`.

use multiprocess_benches::scenarios::families;

fn main() {
    let Some(id) = std::env::args().nth(1) else {
        eprintln!("usage: mp-rss <RSS|USS>-idle-worker@<fork|spawn|forkserver>");
        std::process::exit(2);
    };
    match families::run_idle_worker(&id) {
        Some(m) => println!("RESULT {id} {} {}", m.value, m.unit),
        None => {
            eprintln!("unknown scenario {id:?}");
            std::process::exit(2);
        }
    }
}
