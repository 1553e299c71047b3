//! [`Deadline`]: the one "give up at this instant" type of the workspace.
//!
//! Every blocking call that takes a timeout turns it into a `Deadline` once,
//! at the start, and asks it for the time left before each wait, so a call
//! that waits several times (a frame read in pieces, a futex wait re-armed
//! after a spurious wake-up, a handshake of several messages) never waits
//! longer than the caller asked in total. Time is `Instant`, i.e.
//! `CLOCK_MONOTONIC`: wall-clock changes do not move a deadline.
//!
//! [`CoarseInstant`] is the same clock read at tick resolution, for stamps
//! that are only compared with spans many ticks long.

use std::time::{Duration, Instant};

/// An optional point in time after which a blocking call gives up
/// (`NEVER`: the call may wait for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// Never gives up.
    pub const NEVER: Deadline = Deadline(None);

    /// Gives up `timeout` from now (`None`: never). A timeout too long to
    /// represent as an `Instant` counts as thirty years.
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future)))
    }

    /// Gives up at `at`.
    pub fn at(at: Instant) -> Deadline {
        Deadline(Some(at))
    }

    /// The instant, if there is one.
    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    /// Whether this deadline never passes.
    pub fn is_never(&self) -> bool {
        self.0.is_none()
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// Time left (`None`: for ever; `Some(ZERO)` once passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The next sleep: the time left, capped at `cap` (`None` cap: no cap;
    /// `None` result: sleep without a limit).
    pub fn slice(&self, cap: Option<Duration>) -> Option<Duration> {
        match (self.remaining(), cap) {
            (Some(l), Some(c)) => Some(l.min(c)),
            (l, c) => l.or(c),
        }
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (a, b) => Deadline(a.or(b)),
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 30)
}

/// A reading of the monotonic clock at the scheduler tick's resolution
/// (`CLOCK_MONOTONIC_COARSE`, a few milliseconds), for stamps that are only
/// compared with spans many ticks long (how long a connection sat idle):
/// about a quarter of what [`Instant::now`] costs (5.4 against 21.6 ns on
/// the VM of the benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoarseInstant(Duration);

impl CoarseInstant {
    /// Now, to within a tick.
    pub fn now() -> CoarseInstant {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        CoarseInstant(Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        ))
    }

    /// The time since this reading, to within a tick (never negative).
    pub fn elapsed(&self) -> Duration {
        CoarseInstant::now().0.saturating_sub(self.0)
    }

    /// The time from `earlier` to this reading (zero if `earlier` is later).
    pub fn duration_since(&self, earlier: CoarseInstant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_never_passes() {
        assert!(!Deadline::NEVER.passed());
        assert_eq!(Deadline::NEVER.remaining(), None);
        assert_eq!(Deadline::after(None), Deadline::NEVER);
        assert_eq!(
            Deadline::NEVER.slice(Some(Duration::from_millis(5))),
            Some(Duration::from_millis(5))
        );
    }

    #[test]
    fn zero_timeout_has_passed() {
        let d = Deadline::after(Some(Duration::ZERO));
        assert!(d.passed());
        assert_eq!(d.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn slice_is_capped_and_bounded() {
        let d = Deadline::after(Some(Duration::from_secs(100)));
        assert_eq!(
            d.slice(Some(Duration::from_millis(50))),
            Some(Duration::from_millis(50))
        );
        assert!(d.slice(None).unwrap() <= Duration::from_secs(100));
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let d = Deadline::after(Some(Duration::MAX));
        assert!(!d.passed() && !d.is_never());
    }

    #[test]
    fn min_picks_the_earlier() {
        let soon = Deadline::after(Some(Duration::from_secs(1)));
        let late = Deadline::after(Some(Duration::from_secs(100)));
        assert_eq!(soon.min(late), soon);
        assert_eq!(Deadline::NEVER.min(late), late);
        assert_eq!(late.min(Deadline::NEVER), late);
    }

    #[test]
    fn a_coarse_reading_follows_the_clock_within_a_tick() {
        let (fine, coarse) = (Instant::now(), CoarseInstant::now());
        std::thread::sleep(Duration::from_millis(60));
        let (fine, coarse) = (fine.elapsed(), coarse.elapsed());
        // A tick is at most 10 ms (HZ >= 100); allow two.
        assert!(
            coarse + Duration::from_millis(20) >= fine,
            "{coarse:?} {fine:?}"
        );
        assert!(
            coarse <= fine + Duration::from_millis(20),
            "{coarse:?} {fine:?}"
        );
        let (a, b) = (CoarseInstant::now(), CoarseInstant::now());
        assert!(b >= a, "monotonic");
    }

    #[test]
    fn duration_since_is_the_difference_and_never_negative() {
        let a = CoarseInstant(Duration::from_millis(5));
        let b = CoarseInstant(Duration::from_millis(12));
        assert_eq!(b.duration_since(a), Duration::from_millis(7));
        assert_eq!(a.duration_since(b), Duration::ZERO);
    }
}
