//! [`Park`]: the tiny futex abstraction the state machines are written
//! against—sleep on a word, wake sleepers, ask whether an owner is alive.
//!
//! [`Futex`] is the production implementation (shared futexes from
//! `mp_sys::futex`, liveness from [`mp_shm::ProcessIdent`]); the loom
//! models supply their own.

use std::time::{Duration, Instant};

use crate::primitive::AtomicU32;

/// How long a waiter sleeps before it checks whether the holder it waits
/// for is still alive. Bounds dead-owner detection to about this much.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// Blocking and liveness, as the state machines need them.
pub(crate) trait Park {
    /// Sleeps while `*word == expected`, at most `timeout`. Returns `true`
    /// if the timeout elapsed; any other return may be spurious.
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool;
    /// Wakes up to `n` sleepers on `word`.
    fn wake(word: &AtomicU32, n: u32);
    /// Whether the process named by `owner` (`ProcessIdent` bits) runs.
    fn is_alive(owner: u64) -> bool;
}

/// The production [`Park`]: shared futexes and `/proc` liveness.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Futex;

#[cfg(not(loom))]
impl Park for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        matches!(
            mp_sys::futex::wait(word, expected, timeout),
            Ok(mp_sys::futex::WaitOutcome::TimedOut)
        )
    }

    fn wake(word: &AtomicU32, n: u32) {
        mp_sys::futex::wake(word, n);
    }

    fn is_alive(owner: u64) -> bool {
        mp_shm::ProcessIdent::from_bits(owner).is_alive()
    }
}

/// An optional point in time after which a blocking call gives up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// Never gives up.
    pub(crate) const NEVER: Deadline = Deadline(None);

    /// Gives up after `timeout` from now (`None`: never).
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future)))
    }

    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// The next sleep: the time left, capped at `cap` (`None` cap: no cap).
    pub(crate) fn slice(&self, cap: Option<Duration>) -> Option<Duration> {
        let left = self.0.map(|d| d.saturating_duration_since(Instant::now()));
        match (left, cap) {
            (Some(l), Some(c)) => Some(l.min(c)),
            (l, c) => l.or(c),
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 30)
}
