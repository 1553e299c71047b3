//! The async side of the eventcount (the `async` feature): "attempt, else
//! register, re-check, and await `seq` moving" — the protocol of
//! `raw/eventcount.rs` with the futex sleep replaced by
//! [`mp_sys::futex_watch::changed`], which a process-wide watcher thread
//! completes when the notifier's `FUTEX_WAKE` comes. The notifiers are the
//! blocking ones, unchanged: an async waiter registers in `waiters` like a
//! blocking one, so a notify that finds it bumps `seq` and wakes.
//!
//! Every async form of this crate (and mp-channel's queues, through
//! [`EventCount::wait_for_async`]) is a loop over [`wait_for`]: its
//! `attempt` is the blocking code's own non-blocking step (a `try_lock`, a
//! look at a flag), so the state machines and their dead-holder recovery
//! stay written once.
//!
//! # Cancellation
//! An attempt runs inside one poll and either takes what it waits for or
//! changes nothing, so a dropped future never holds or loses anything. A
//! future dropped after a notify reached it, without having used it,
//! passes one wake-up on (`notify(1)`): a lock's release that woke only
//! this waiter is not lost for the others. The blocking waiters do the
//! same when they give up on a deadline.

use std::time::Duration;

use mp_sys::futex_watch::{changed, Changed};
use mp_sys::time::Deadline;

use crate::eventcount::EventCount;
use crate::park::Futex;
use crate::raw::eventcount::{Prepared, RawEventCount};

/// Why [`wait_for`] called its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The first look, or a look after a notify (or a spurious wake-up):
    /// try the cheap way.
    Look,
    /// A whole `slice` passed without a notify: also check on the other
    /// parties (a dead holder, a dead producer).
    AfterSlice,
}

/// Calls `attempt` until it yields a value (`Some`) or `deadline` passes
/// (`None`), awaiting a notify of `ec` between attempts, and at most
/// `slice` at a time (`None`: until a notify) so that `attempt` can look
/// for dead parties. `attempt` must take its value whole or change nothing.
pub(crate) async fn wait_for<T>(
    ec: RawEventCount<'_>,
    deadline: Deadline,
    slice: Option<Duration>,
    attempt: impl FnMut(Attempt) -> Option<T>,
) -> Option<T> {
    wait_for_settling(ec, deadline, slice, None, attempt).await
}

/// [`wait_for`] where the first await of each registration lasts at most
/// `settle` (`None`: no bound), after which `attempt` looks again under
/// the same registration before the rest of the slice: the blocking
/// `wait_until_settling`'s bound, for a condition published by a party
/// whose look at the waiters has no full fence before it (`park::SETTLE`).
pub(crate) async fn wait_for_settling<T>(
    ec: RawEventCount<'_>,
    deadline: Deadline,
    slice: Option<Duration>,
    settle: Option<Duration>,
    mut attempt: impl FnMut(Attempt) -> Option<T>,
) -> Option<T> {
    let mut why = Attempt::Look;
    loop {
        if let Some(t) = attempt(why) {
            return Some(t);
        }
        let waiter = PassOn::new(ec);
        // Registered: a notify after the look below is seen.
        if let Some(t) = attempt(Attempt::Look) {
            waiter.disarm();
            return Some(t);
        }
        if deadline.passed() {
            return None; // `waiter` passes on a notify it may have taken
        }
        let key = waiter.prepared.as_ref().map_or(0, Prepared::key);
        let first = settle.filter(|s| slice.is_none_or(|slice| slice > *s));
        let outcome = match first {
            None => changed(ec.seq, key, deadline.slice(slice)).await,
            Some(s) => match changed(ec.seq, key, deadline.slice(Some(s))).await {
                Changed::Woken => Changed::Woken,
                Changed::TimedOut => {
                    if let Some(t) = attempt(Attempt::Look) {
                        waiter.disarm();
                        return Some(t);
                    }
                    let rest = slice.map(|slice| slice - s);
                    changed(ec.seq, key, deadline.slice(rest)).await
                }
            },
        };
        waiter.disarm();
        why = match outcome {
            Changed::Woken => Attempt::Look,
            Changed::TimedOut => Attempt::AfterSlice,
        };
    }
}

/// A registration with the eventcount that, if dropped while armed after a
/// notify reached it, passes one wake-up on.
struct PassOn<'a> {
    ec: RawEventCount<'a>,
    prepared: Option<Prepared<'a>>,
}

impl<'a> PassOn<'a> {
    fn new(ec: RawEventCount<'a>) -> PassOn<'a> {
        PassOn {
            ec,
            prepared: Some(ec.prepare()),
        }
    }

    /// Unregisters without passing anything on (the caller goes on to use
    /// what woke it, or to look again).
    fn disarm(mut self) {
        self.prepared = None;
    }
}

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.prepared.take() {
            let notified = p.notified();
            drop(p);
            if notified {
                self.ec.notify::<Futex>(1);
            }
        }
    }
}

impl<'a> EventCount<'a> {
    /// The async form of [`wait_until`](Self::wait_until), generalised: calls
    /// `attempt` until it returns `Some` (which this returns) or `deadline`
    /// passes (`None`), awaiting a [`notify`](Self::notify) between
    /// attempts without blocking a thread (a process-wide watcher thread
    /// sleeps on the futex word for every pending wait; see
    /// `mp_sys::futex_watch`). Awaits at most `slice` at a time (`None`: no
    /// limit) and then calls `attempt(true)`, so that the caller can look
    /// for dead parties; other calls pass `false`.
    ///
    /// `attempt` reads the condition with `SeqCst` loads, as `wait_until`'s
    /// `ready`, and must take what it returns whole or change nothing: then
    /// dropping the future loses nothing (a notify it had received is passed
    /// on to another waiter).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    /// use mp_sync::EventCount;
    /// use mp_sys::time::Deadline;
    ///
    /// let (seq, waiters, items) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
    /// let ec = EventCount::new(&seq, &waiters);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         items.fetch_add(1, SeqCst);
    ///         ec.notify_all();
    ///     });
    ///     let got = smol::block_on(ec.wait_for_async(Deadline::NEVER, None, |_| {
    ///         (items.load(SeqCst) > 0).then_some("ready")
    ///     }));
    ///     assert_eq!(got, Some("ready"));
    /// });
    /// ```
    pub async fn wait_for_async<T>(
        self,
        deadline: Deadline,
        slice: Option<Duration>,
        mut attempt: impl FnMut(bool) -> Option<T>,
    ) -> Option<T> {
        wait_for_settling(self.raw(), deadline, slice, self.settle(), |why| {
            attempt(why == Attempt::AfterSlice)
        })
        .await
    }
}
