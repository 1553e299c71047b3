//! [`EventCount`]: the eventcount of `raw/eventcount.rs` over two words
//! that the caller keeps in shared memory, for code outside this crate
//! that sleeps on a condition of its own (mp-channel's queue ring and
//! `JoinableQueue`).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use mp_sys::time::Deadline;

use crate::park::Futex;
use crate::raw::eventcount::{Prepared, RawEventCount};

/// Sleep until a condition holds, across processes, with no system call
/// while nobody sleeps.
///
/// An eventcount is two `u32` words: `seq`, the futex word, and `waiters`,
/// the number of registered waiters. Both start at 0 and must stay in the
/// same memory for as long as anyone waits or notifies (a `MAP_SHARED`
/// region for waiters in several processes). The condition itself is the
/// caller's: whatever changes it must do so with a `SeqCst` write and then
/// call [`notify`](Self::notify); whatever waits for it reads it with
/// `SeqCst` loads. Then no wake-up is lost (see the module documentation
/// of `raw/eventcount.rs` for the argument; loom checks it).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// use mp_sync::EventCount;
///
/// // In real use these words sit in shared memory.
/// let (seq, waiters, items) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
/// let ec = EventCount::new(&seq, &waiters);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         items.fetch_add(1, SeqCst); // make the condition true...
///         ec.notify_all();            // ...then notify (a syscall only if someone waits)
///     });
///     assert!(ec.wait_until(None, || items.load(SeqCst) > 0));
/// });
/// assert_eq!(ec.waiters(), 0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EventCount<'a> {
    raw: RawEventCount<'a>,
    /// The bound of the first sleep of each registration
    /// ([`settling`](EventCount::settling)).
    settle: Option<Duration>,
}

/// A waiter registered with an [`EventCount`] by
/// [`prepare_wait`](EventCount::prepare_wait); dropping it unregisters.
#[derive(Debug)]
#[must_use = "dropping the registration at once makes the wait pointless"]
pub struct EventCountWaiter<'a>(Prepared<'a>);

impl<'a> EventCount<'a> {
    /// The eventcount made of these two words (zero-initialized when the
    /// memory was created; never written by anything else).
    pub fn new(seq: &'a AtomicU32, waiters: &'a AtomicU32) -> EventCount<'a> {
        EventCount {
            raw: RawEventCount { seq, waiters },
            settle: None,
        }
    }

    /// This eventcount, with the first sleep after each registration of
    /// its waits bounded by `settle` (`None`: no bound, as
    /// [`new`](Self::new) makes it), after which the condition is looked
    /// at again under the same registration. [`wait_until`](Self::wait_until)
    /// and [`wait_for_async`](Self::wait_for_async) honour it.
    ///
    /// For a condition published under a lock released with
    /// [`Lock::release_asymmetric`](crate::Lock::release_asymmetric), whose
    /// waiters order their look with
    /// [`Lock::order_with_unlock`](crate::Lock::order_with_unlock): pass that
    /// lock's [`settle`](crate::Lock::settle). The kernel's fence behind it
    /// can miss the publisher's CPU, and then a publication racing the
    /// registration neither shows in the look after it nor wakes; it shows
    /// in the second look. A later publication sees the registration and
    /// wakes, so only the first sleep needs the bound.
    pub fn settling(self, settle: Option<Duration>) -> EventCount<'a> {
        EventCount { settle, ..self }
    }

    /// Registers the caller as a waiter. Re-check the condition next, and
    /// call [`EventCountWaiter::wait`] only if it still fails; a notify that comes
    /// after this call is not missed.
    #[inline]
    pub fn prepare_wait(&self) -> EventCountWaiter<'a> {
        EventCountWaiter(self.raw.prepare())
    }

    /// Wakes up to `n` waiters, after the caller made their condition true
    /// with a `SeqCst` write. Makes no system call when no waiter is
    /// registered; returns whether one was.
    #[inline]
    pub fn notify(&self, n: u32) -> bool {
        self.raw.notify::<Futex>(n)
    }

    /// Wakes every waiter (see [`notify`](Self::notify)).
    #[inline]
    pub fn notify_all(&self) -> bool {
        self.raw.notify::<Futex>(u32::MAX)
    }

    /// The words, for the async forms (`async_wait`).
    #[cfg(feature = "async")]
    pub(crate) fn raw(&self) -> RawEventCount<'a> {
        self.raw
    }

    /// The bound of the first sleep ([`settling`](Self::settling)), for the
    /// async forms.
    #[cfg(feature = "async")]
    pub(crate) fn settle(&self) -> Option<Duration> {
        self.settle
    }

    /// Waiters registered now (including any that a dead process left).
    pub fn waiters(&self) -> u32 {
        self.raw.waiters()
    }

    /// Sleeps until `ready()` holds (`true`) or `timeout` elapses (`false`;
    /// `None` waits for ever). `ready` reads the condition with `SeqCst`
    /// loads; it is called again after every wake-up, and after the first
    /// sleep of a [`settling`](Self::settling) eventcount.
    pub fn wait_until(&self, timeout: Option<Duration>, mut ready: impl FnMut() -> bool) -> bool {
        // Ready already: no registration, no clock read.
        ready()
            || self
                .raw
                .wait_until::<Futex>(Deadline::after(timeout), self.settle, ready)
    }
}

impl EventCountWaiter<'_> {
    /// Sleeps until a notify that came after
    /// [`prepare_wait`](EventCount::prepare_wait), at most `timeout`
    /// (`None`: no limit). Returns `true` if the timeout elapsed. Any
    /// return may be spurious: re-check the condition. The registration
    /// lasts until `self` is dropped, so this may be called again.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        self.0.wait::<Futex>(timeout)
    }

    /// Whether a notify has come since
    /// [`prepare_wait`](EventCount::prepare_wait).
    pub fn notified(&self) -> bool {
        self.0.notified()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;

    #[test]
    fn notify_without_waiters_makes_no_wake() {
        let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
        let ec = EventCount::new(&seq, &waiters);
        assert!(!ec.notify_all());
        assert_eq!(seq.load(SeqCst), 0, "nobody registered: seq untouched");
    }

    #[test]
    fn a_registered_waiter_sees_a_later_notify() {
        let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
        let ec = EventCount::new(&seq, &waiters);
        let w = ec.prepare_wait();
        assert_eq!(ec.waiters(), 1);
        assert!(!w.notified());
        assert!(ec.notify(1));
        assert!(w.notified());
        // The key is stale: the wait returns at once, without timing out.
        assert!(!w.wait(None));
        drop(w);
        assert_eq!(ec.waiters(), 0);
    }

    #[test]
    fn wait_until_times_out_and_unregisters() {
        let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
        let ec = EventCount::new(&seq, &waiters);
        assert!(!ec.wait_until(Some(Duration::from_millis(5)), || false));
        assert!(ec.wait_until(Some(Duration::ZERO), || true));
        assert_eq!(ec.waiters(), 0);
    }
}
