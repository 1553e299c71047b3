//! Beyond Python's pool (mpire's `progress_bar=True`, tqdm over `imap`): a
//! progress hook called in this process as tasks finish (a chunk's worth
//! per call), with the number done, the total and the finished tasks'
//! indices — here printing each quarter,
//! then (with the `progress-bar` feature, on by default in the examples)
//! drawing an `indicatif` bar on stderr.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use multiprocess::pool::{Callbacks, TaskOptions};
use multiprocess::{Pool, PoolError};

fn slow_square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    x * x
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::with_processes(2)?;

    // A hook of our own: count the calls, print each quarter.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let opts = TaskOptions::new().on_progress(move |p| {
        seen.fetch_add(1, Ordering::Relaxed);
        let total = p.total.unwrap_or(0).max(1);
        if p.done * 4 % total == 0 {
            println!(
                "{:>3}% ({}/{total}), just finished: tasks {:?}",
                p.done * 100 / total,
                p.done,
                p.tasks
            );
        }
    });
    let squares = pool
        .map_async_opts(slow_square, 0..100u64, Some(5), Callbacks::new(), opts)?
        .get()?;
    println!(
        "map returned {} results; the hook ran {} times (once per chunk of 5)",
        squares.len(),
        calls.load(Ordering::Relaxed)
    );

    // The ready-made terminal bar.
    #[cfg(feature = "progress-bar")]
    {
        let bar = multiprocess::progress_bar::ProgressBar::new("squares");
        let opts = TaskOptions::new().on_progress(bar.hook());
        let n = pool
            .imap_unordered_opts(slow_square, 0..200u64, 1, opts)?
            .count();
        println!("imap_unordered yielded {n} results (the bar is on stderr when it is a terminal)");
    }
    Ok(())
}
