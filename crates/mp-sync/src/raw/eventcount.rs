//! `RawEventCount`: the one "sleep until a condition holds" protocol of the
//! workspace. A waiter registers, reads `seq`, re-checks its condition and
//! sleeps on `seq` only if it still fails. A notifier makes the condition
//! true, and bumps `seq` and wakes sleepers only if someone is registered,
//! so nothing makes a system call while nobody sleeps. Every blocking
//! primitive of this crate sleeps through it, and so do mp-channel's queue
//! ring and `JoinableQueue` (through the public
//! [`EventCount`](crate::EventCount)).
//!
//! # Words
//! | word      | type | meaning |
//! |-----------|------|---------|
//! | `seq`     | u32  | futex word: bumped by every notify that saw a registered waiter |
//! | `waiters` | u32  | waiters registered (asleep on `seq`, or about to be) |
//!
//! # Protocol
//! | step      | who      | effect |
//! |-----------|----------|--------|
//! | prepare   | waiter   | `waiters += 1`, then `key = seq` (a [`Prepared`]) |
//! | re-check  | waiter   | the caller's condition; if it holds, drop the `Prepared` (`waiters -= 1`) |
//! | wait      | waiter   | sleep while `seq == key` (may return spuriously); `waiters -= 1` on drop |
//! | notify(n) | notifier | after making the condition true: if `waiters > 0`, `seq += 1`, wake `n` |
//!
//! # Why no wake-up is lost
//! The waiter's `waiters += 1` … re-check and the notifier's condition
//! write … read of `waiters` are a Dekker pair, every access `SeqCst` (the
//! caller's condition write and re-check included). Either the notifier
//! reads the registration: then it bumps `seq` after changing the
//! condition, and the waiter either read its key before the bump (its
//! futex wait returns at once, or is woken) or after it (its re-check comes
//! later still and sees the condition). Or the notifier read `waiters`
//! before the registration: then the condition changed before the
//! registration too, and the re-check sees it. The loom models check this
//! (`tests/loom_models.rs`).
//!
//! A process killed while registered leaves `waiters` one too high: later
//! notifies then make a needless system call, nothing worse.

use std::time::Duration;

use mp_sys::time::Deadline;

use crate::park::Park;
use crate::primitive::{dekker_load, AtomicU32, Ordering};

/// The two words of an eventcount.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEventCount<'a> {
    pub(crate) seq: &'a AtomicU32,
    pub(crate) waiters: &'a AtomicU32,
}

/// A registered waiter with its key; dropping it unregisters.
#[derive(Debug)]
#[must_use = "dropping the registration at once makes the wait pointless"]
pub(crate) struct Prepared<'a> {
    ec: RawEventCount<'a>,
    key: u32,
}

impl<'a> RawEventCount<'a> {
    /// Registers the caller as a waiter and reads the key. The caller
    /// re-checks its condition next and sleeps with [`Prepared::wait`]
    /// only if it still fails.
    #[inline]
    pub(crate) fn prepare(&self) -> Prepared<'a> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        Prepared {
            ec: *self,
            key: self.seq.load(Ordering::SeqCst),
        }
    }

    /// Wakes up to `n` registered waiters, if there are any; the caller has
    /// just made their condition true (with a `SeqCst` write). Returns
    /// whether anyone was registered.
    #[inline]
    pub(crate) fn notify<P: Park>(&self, n: u32) -> bool {
        if dekker_load(self.waiters) == 0 {
            return false;
        }
        self.wake::<P>(n);
        true
    }

    #[cold]
    fn wake<P: Park>(&self, n: u32) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        P::wake(self.seq, n);
    }

    /// Waiters registered now.
    pub(crate) fn waiters(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Sleeps until `ready()` holds (`true`) or `deadline` passes (`false`).
    /// `ready` reads the condition with `SeqCst` loads; it is checked after
    /// registering (the caller has usually just seen it fail) and again
    /// after every wake-up.
    ///
    /// The first sleep of each registration lasts at most `settle` (`None`:
    /// no bound); then `ready()` is looked at once more under the same
    /// registration before the rest of the wait. For a condition whose
    /// publisher looks at the waiters without a full fence after publishing
    /// (`park::SETTLE`): a publication racing the registration may be
    /// missed by the look after it and not wake the waiter, but is visible
    /// by the second look; every later one sees the registration and wakes.
    pub(crate) fn wait_until<P: Park>(
        &self,
        deadline: Deadline,
        settle: Option<Duration>,
        mut ready: impl FnMut() -> bool,
    ) -> bool {
        loop {
            let waiter = self.prepare();
            if ready() {
                return true;
            }
            let mut first = settle;
            loop {
                let left = deadline.remaining();
                if left == Some(Duration::ZERO) {
                    return false;
                }
                match first.take() {
                    Some(s) if left.is_none_or(|l| l > s) => {
                        if waiter.wait::<P>(Some(s)) && !waiter.notified() {
                            if ready() {
                                return true;
                            }
                            continue; // the rest, on the same registration
                        }
                    }
                    _ => {
                        waiter.wait::<P>(left);
                    }
                }
                break;
            }
            drop(waiter);
            if ready() {
                return true;
            }
        }
    }
}

impl Prepared<'_> {
    /// Sleeps while no notify has come since [`prepare`](RawEventCount::prepare),
    /// at most `timeout`. Returns `true` if the timeout elapsed; any return
    /// may be spurious, so the caller re-checks its condition. Can be
    /// called again: the registration lasts until `self` is dropped.
    pub(crate) fn wait<P: Park>(&self, timeout: Option<Duration>) -> bool {
        P::wait(self.ec.seq, self.key, timeout)
    }

    /// The value of `seq` read at [`prepare`](RawEventCount::prepare): an
    /// async waiter awaits `seq` moving from it (`async_wait`).
    #[cfg(feature = "async")]
    pub(crate) fn key(&self) -> u32 {
        self.key
    }

    /// Whether a notify has come since [`prepare`](RawEventCount::prepare).
    pub(crate) fn notified(&self) -> bool {
        self.ec.seq.load(Ordering::SeqCst) != self.key
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        self.ec.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}
