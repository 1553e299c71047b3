//! Runs the memory row `RSS-idle-worker@spawn` with procspawn alone and
//! prints `RESULT <id> <value> <unit>` (see `mp-rss`, its counterpart: the
//! row runs in programs of their own, so that both sides' workers
//! re-execute programs of like size).
//!
//! Usage: `peer-rss RSS-idle-worker@spawn`.

#[path = "../rss.rs"]
mod rss;

fn main() {
    procspawn::init();
    let id = std::env::args().nth(1).unwrap_or_default();
    if id != "RSS-idle-worker@spawn" {
        eprintln!("usage: peer-rss RSS-idle-worker@spawn");
        std::process::exit(2);
    }
    let (value, unit) = rss::idle_worker(false);
    println!("RESULT {id} {value} {unit}");
}
