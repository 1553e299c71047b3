//! Futex wait/wake on a shared `AtomicU32` (never `FUTEX_PRIVATE_FLAG`).
//!
//! The words live in `MAP_SHARED` memory that other processes map too, so the
//! kernel must key waiters by the physical page, not by this address space:
//! these wrappers therefore never pass `FUTEX_PRIVATE_FLAG`. Timeouts are
//! relative, which `FUTEX_WAIT` measures on `CLOCK_MONOTONIC`.
//!
//! ```
//! use std::sync::atomic::AtomicU32;
//! use std::time::Duration;
//! use mp_sys::futex::{wait, wake, WaitOutcome};
//!
//! let word = AtomicU32::new(1);
//! // The word is not 0, so the call returns at once.
//! assert_eq!(wait(&word, 0, None).unwrap(), WaitOutcome::ValueChanged);
//! assert_eq!(wait(&word, 1, Some(Duration::from_millis(1))).unwrap(), WaitOutcome::TimedOut);
//! assert_eq!(wake(&word, 1), 0);
//! ```

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::io::Errno;
use rustix::thread::futex;

/// How a [`wait`] call ended. Every outcome may be spurious from the
/// caller's point of view: callers re-check their word in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Another thread or process called [`wake`] (or the wake-up was spurious).
    Woken,
    /// The word did not hold `expected` when the kernel checked it (`EAGAIN`).
    ValueChanged,
    /// The timeout elapsed (`ETIMEDOUT`).
    TimedOut,
    /// A signal handler ran (`EINTR`).
    Interrupted,
}

/// `futex(uaddr, FUTEX_WAIT, expected, timeout)`—sleeps while `*word == expected`.
///
/// Returns at once with [`WaitOutcome::ValueChanged`] if the word differs
/// from `expected`. `timeout` is relative and measured on `CLOCK_MONOTONIC`;
/// `None` waits without limit. The word may be shared with other processes.
///
/// # Errors
/// Any errno other than `EAGAIN`, `ETIMEDOUT` and `EINTR` (for example
/// `EFAULT`, which cannot happen for a valid reference).
///
/// # References
/// - [Linux `futex(2)`](https://man7.org/linux/man-pages/man2/futex.2.html)
#[doc(alias = "FUTEX_WAIT")]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<WaitOutcome> {
    let ts = timeout.map(|d| futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    match futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()) {
        Ok(()) => Ok(WaitOutcome::Woken),
        Err(Errno::AGAIN) => Ok(WaitOutcome::ValueChanged),
        Err(Errno::TIMEDOUT) => Ok(WaitOutcome::TimedOut),
        Err(Errno::INTR) => Ok(WaitOutcome::Interrupted),
        Err(e) => Err(e.into()),
    }
}

/// `futex(uaddr, FUTEX_WAKE, n)`—wakes up to `n` waiters sleeping on `word`
/// in any process, returning how many were woken.
///
/// `n == u32::MAX` wakes everyone (values above `i32::MAX` are clamped).
///
/// # References
/// - [Linux `futex(2)`](https://man7.org/linux/man-pages/man2/futex.2.html)
#[doc(alias = "FUTEX_WAKE")]
pub fn wake(word: &AtomicU32, n: u32) -> usize {
    let n = n.min(i32::MAX as u32);
    // FUTEX_WAKE on a valid, aligned word cannot fail; report "nobody woken"
    // if a future kernel ever disagrees rather than panicking.
    futex::wake(word, futex::Flags::empty(), n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    #[test]
    fn wake_releases_a_sleeping_thread() {
        let word = Arc::new(AtomicU32::new(0));
        let w2 = Arc::clone(&word);
        let t = std::thread::spawn(move || {
            while w2.load(Ordering::Acquire) == 0 {
                let _ = wait(&w2, 0, Some(Duration::from_secs(5))).unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        word.store(1, Ordering::Release);
        wake(&word, u32::MAX);
        t.join().unwrap();
    }
}
