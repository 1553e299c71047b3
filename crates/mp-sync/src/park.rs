//! [`Park`]: the tiny futex abstraction the state machines are written
//! against—sleep on a word, wake sleepers, ask whether an owner is alive.
//!
//! [`Futex`] is the production implementation (shared futexes from
//! `mp_sys::futex`, liveness from [`mp_shm::ProcessIdent`]); the loom
//! models supply their own.

use std::time::Duration;

use crate::primitive::AtomicU32;

/// How long a waiter sleeps before it checks whether the holder it waits
/// for is still alive. Bounds dead-owner detection to about this much.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// The longest first sleep of a waiter on an asymmetric lock
/// (`Lock::new_asymmetric`), or on a condition published under one, before
/// it looks again under the same registration. The kernel's heavy fence
/// can miss a releaser's CPU (`mp_sys::membarrier` says when), and then a
/// release racing the registration is not seen and does not wake: this
/// bounds what that costs. A release that comes later sees the
/// registration and wakes, so only the first sleep needs the bound.
pub(crate) const SETTLE: Duration = Duration::from_millis(1);

/// Blocking and liveness, as the state machines need them.
pub(crate) trait Park {
    /// Sleeps while `*word == expected`, at most `timeout`. Returns `true`
    /// if the timeout elapsed; any other return may be spurious.
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool;
    /// Wakes up to `n` sleepers on `word`.
    fn wake(word: &AtomicU32, n: u32);
    /// Whether the process named by `owner` (`ProcessIdent` bits) runs.
    fn is_alive(owner: u64) -> bool;
    /// A clock in milliseconds that every process reads alike (it may
    /// wrap): waiters use it to share liveness scans, not for deadlines.
    fn clock_ms() -> u32;
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

    fn clock_ms() -> u32 {
        // The wall clock, because `Instant` is opaque across processes. A
        // jump costs at most one scan too many or one slice's delay.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since.as_millis() as u32 // wraps every 49 days; compared with wrapping_sub
    }
}
