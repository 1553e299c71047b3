//! A terminal progress bar for pool calls (feature `progress-bar`), drawn
//! by [`indicatif`](https://docs.rs/indicatif) from a pool's progress hook
//! ([`TaskOptions::on_progress`](crate::pool::TaskOptions::on_progress)).
//!
//! ```
//! use multiprocess::pool::TaskOptions;
//! use multiprocess::progress_bar::ProgressBar;
//! use multiprocess::Pool;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! let pool = Pool::with_processes(2)?;
//! let bar = ProgressBar::new("squares");
//! let opts = TaskOptions::new().on_progress(bar.hook());
//! let squares: Vec<u64> = pool
//!     .imap_opts(square, 0..100u64, 4, opts)?
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(squares[9], 81);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mp_pool::ProgressUpdate;

/// A progress bar on standard error for one pool call: `{message} [####...]
/// done/total (eta)`, or a counter while the total is not known (a
/// buffered `imap`). Hidden when standard error is not a terminal, so a
/// program's output stays clean when it is piped or logged.
///
/// The hook redraws at most a few hundred times per call whatever its
/// number of tasks, so a bar costs about what an empty hook costs.
#[derive(Clone)]
pub struct ProgressBar {
    shared: Arc<Shared>,
}

struct Shared {
    bar: indicatif::ProgressBar,
    /// The bar knows its length.
    sized: AtomicBool,
    /// The highest `done` drawn.
    shown: AtomicUsize,
}

impl std::fmt::Debug for ProgressBar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressBar")
            .field("shown", &self.shared.shown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// How many redraws a call of known length gets at most.
const REDRAWS: usize = 200;
/// Without a known total, redraw every this many tasks.
const UNSIZED_STEP: usize = 64;

impl ProgressBar {
    /// A bar titled `message`, for one call.
    pub fn new(message: impl Into<String>) -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(counter_style());
        bar.set_message(message.into());
        ProgressBar {
            shared: Arc::new(Shared {
                bar,
                sized: AtomicBool::new(false),
                shown: AtomicUsize::new(0),
            }),
        }
    }

    /// The hook to give [`TaskOptions::on_progress`](crate::pool::TaskOptions::on_progress).
    pub fn hook(&self) -> impl Fn(ProgressUpdate) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |u: ProgressUpdate| shared.update(u)
    }

    /// Ends the bar where it is (a call that failed or was cancelled never
    /// reaches its total; a finished one ends the bar by itself).
    pub fn abandon(&self) {
        self.shared.bar.abandon();
    }
}

impl Shared {
    fn update(&self, u: ProgressUpdate) {
        if let Some(total) = u.total {
            if !self.sized.swap(true, Ordering::Relaxed) {
                self.bar.set_length(total as u64);
                self.bar.set_style(bar_style());
            }
        }
        let last = u.total == Some(u.done);
        let step = u.total.map_or(UNSIZED_STEP, |t| (t / REDRAWS).max(1));
        if !last && !u.done.is_multiple_of(step) {
            return;
        }
        // Hooks may run on two threads: never draw backwards.
        if self.shown.fetch_max(u.done, Ordering::Relaxed) < u.done {
            self.bar.set_position(u.done as u64);
        }
        if last {
            self.bar.finish();
        }
    }
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("#>.")
}

fn counter_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg} {pos} done ({elapsed})")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(done: usize, total: Option<usize>) -> ProgressUpdate {
        // `ProgressUpdate` is non-exhaustive: start from one a real call made.
        let mut u = template();
        u.done = done;
        u.total = total;
        u.tasks = done.saturating_sub(1)..done;
        u
    }

    /// A `ProgressUpdate` from a real (thread) pool call.
    fn template() -> ProgressUpdate {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let s = seen.clone();
        let pool = crate::ThreadPool::with_threads(1).expect("pool");
        let opts = crate::pool::TaskOptions::new().on_progress(move |u| {
            *s.lock().expect("lock") = Some(u);
        });
        pool.map_async_opts(|x: u8| x, [1u8], None, crate::Callbacks::new(), opts)
            .expect("map")
            .get()
            .expect("result");
        let u = seen.lock().expect("lock").take();
        u.expect("the hook ran")
    }

    #[test]
    fn the_bar_never_goes_back_and_finishes_at_the_total() {
        let bar = ProgressBar::new("test");
        let hook = bar.hook();
        hook(update(3, None));
        assert_eq!(bar.shared.bar.length(), None);
        hook(update(10, Some(1000)));
        assert_eq!(bar.shared.bar.length(), Some(1000));
        assert_eq!(bar.shared.bar.position(), 10);
        // Out of order: an earlier count arrives late.
        hook(update(5, Some(1000)));
        assert_eq!(bar.shared.bar.position(), 10);
        // Between redraw steps nothing is drawn.
        hook(update(11, Some(1000)));
        assert_eq!(bar.shared.bar.position(), 10);
        hook(update(1000, Some(1000)));
        assert_eq!(bar.shared.bar.position(), 1000);
        assert!(bar.shared.bar.is_finished());
    }
}
