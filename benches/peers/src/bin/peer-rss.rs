//! Runs the memory row `RSS-idle-worker@spawn` or `USS-idle-worker@spawn`
//! with procspawn alone and
//! prints `RESULT <id> <value> <unit>` (see `mp-rss`, its counterpart: the
//! row runs in programs of their own, so that both sides' workers
//! re-execute programs of like size).
//!
//! Usage: `peer-rss <RSS|USS>-idle-worker@spawn`.

#[path = "../rss.rs"]
mod rss;

fn main() {
    procspawn::init();
    let id = std::env::args().nth(1).unwrap_or_default();
    let (value, unit) = match id.as_str() {
        "RSS-idle-worker@spawn" => rss::idle_worker_pss(false),
        "USS-idle-worker@spawn" => rss::idle_worker_uss(false),
        _ => {
            eprintln!("usage: peer-rss <RSS|USS>-idle-worker@spawn");
            std::process::exit(2);
        }
    };
    println!("RESULT {id} {value} {unit}");
}
