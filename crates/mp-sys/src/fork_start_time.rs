//! A child's own start time, known at the fork instead of read from
//! `/proc`.
//!
//! A process's start time (field 22 of `/proc/<pid>/stat`) is what tells a
//! live process from a later one that reuses its pid, so mp-shm's process
//! identity pairs the two, and a child's first lock or queue operation
//! needs it. Reading the file costs 10–15 µs, and 60–110 µs as the first
//! thing a freshly forked child does (each page it touches for the first
//! time is a fault).
//!
//! The kernel takes that start time during the `fork` call: the task's
//! `start_boottime`, `CLOCK_BOOTTIME` in nanoseconds, which `/proc` shows
//! in clock ticks (`nsec_to_clock_t`: a floor division when a tick is a
//! whole number of nanoseconds, as `USER_HZ` = 100 makes it). So a fork
//! made by this crate reads `CLOCK_BOOTTIME` just before the call and
//! again first thing in the child. The start time lies between the two
//! readings; when both fall into the same tick, that tick *is* the start
//! time, and the child records it with its pid. A fork that straddles a
//! tick's edge (about one in a hundred) records nothing, and the caller
//! reads `/proc` as before. Keyed by pid, a record inherited by a process
//! that some other code forked names the wrong pid and is ignored.
//!
//! Both readings and `/proc` see `CLOCK_BOOTTIME` through a time
//! namespace's offset, the child's own `/proc` included. The one case the
//! bracket cannot see is a parent that called `unshare(CLONE_NEWTIME)`: its
//! reading lacks the offset its children get. An offset of a tick or more
//! puts the two readings in different ticks (or the second before the
//! first), and nothing is recorded; an offset below one tick (10 ms) would
//! go unnoticed, and no runtime sets one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The pid [`START_TICKS`] belongs to (0: none).
static START_PID: AtomicU32 = AtomicU32::new(0);
/// The start time, in clock ticks since boot, of the process [`START_PID`].
static START_TICKS: AtomicU64 = AtomicU64::new(0);

/// `CLOCK_BOOTTIME` now, in nanoseconds: taken just before a fork.
#[inline]
pub(crate) fn boottime_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    // The clock counts from boot: never negative.
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// Nanoseconds per clock tick, if a tick is a whole number of them (so
/// that `/proc`'s conversion is a floor division).
#[inline]
fn tick_ns() -> Option<u64> {
    let hz = rustix::param::clock_ticks_per_second();
    (hz > 0 && 1_000_000_000 % hz == 0).then(|| 1_000_000_000 / hz)
}

/// The tick both readings fall into, if they fall into the same one.
#[inline]
fn same_tick(before_ns: u64, after_ns: u64, tick_ns: u64) -> Option<u64> {
    let tick = before_ns / tick_ns;
    (after_ns >= before_ns && after_ns / tick_ns == tick).then_some(tick)
}

/// In a child just forked, given [`boottime_ns`] read before the fork:
/// records the child's start time if the fork stayed within one tick.
/// Inline, into the fork's own code: as a function elsewhere in the
/// program it cost every forked child a page fault of its own
/// (docs/performance.md, "A forked child's first touches").
#[inline]
pub(crate) fn record_in_child(before_ns: u64) {
    let after_ns = boottime_ns();
    if let Some(ticks) = tick_ns().and_then(|t| same_tick(before_ns, after_ns, t)) {
        START_TICKS.store(ticks, Ordering::Relaxed);
        START_PID.store(
            rustix::process::getpid().as_raw_nonzero().get() as u32,
            Ordering::Release,
        );
    }
}

/// The start time of the calling process, `pid`, in clock ticks since
/// boot (as `/proc/<pid>/stat` shows it), if this crate forked it and
/// knew the time then; `None` tells the caller to read `/proc`.
pub fn own_start_time(pid: u32) -> Option<u64> {
    (START_PID.load(Ordering::Acquire) == pid).then(|| START_TICKS.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tick_needs_both_readings_in_one_tick() {
        let tick = 10_000_000;
        assert_eq!(same_tick(30_000_000, 30_000_000, tick), Some(3));
        assert_eq!(same_tick(30_000_000, 39_999_999, tick), Some(3));
        assert_eq!(same_tick(39_999_999, 40_000_000, tick), None);
        assert_eq!(same_tick(25_000_000, 31_000_000, tick), None);
        // A clock that went backwards (it cannot) records nothing.
        assert_eq!(same_tick(35_000_000, 31_000_000, tick), None);
    }

    #[test]
    fn a_process_not_forked_here_has_no_record() {
        assert_eq!(own_start_time(std::process::id()), None);
    }
}
