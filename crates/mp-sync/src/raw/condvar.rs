//! `RawCondvar`: a process-shared condition variable with exact notify
//! counts, no blocking handshake, and notifications that only waiters
//! already waiting can take.
//!
//! # Words
//! | word      | type | meaning |
//! |-----------|------|---------|
//! | `fresh`   | u32  | waiters registered since the last notify that found any (changed under the lock) |
//! | `waiters` | u32  | older waiters (registered before that notify), not yet given a token |
//! | `tokens`  | u32  | wake-ups handed to older waiters and not yet consumed |
//! | `epoch`   | u32  | bumped by every notify that moves `fresh` waiters into `waiters` |
//! | `wake`    | 2×u32 | a [`RawEventCount`]: sleepers wait on it for a token |
//!
//! # Protocol
//! | step | who | under the lock? | effect |
//! |------|-----|-----------------|--------|
//! | register | waiter | yes | `fresh += 1`; its ticket is `epoch`; then the caller releases the lock |
//! | sleep | waiter | no | once `epoch != ticket` (a notify came after it registered): consume a token (CAS `t → t-1`); else register on `wake`, re-check, sleep |
//! | notify(n) | notifier | yes | if `fresh > 0`: `waiters += fresh`, `fresh = 0`, `epoch += 1`; then `k = min(n, waiters)`; `waiters -= k`; `tokens += k`; notify all sleepers (a syscall only if one sleeps) |
//! | give up | waiter after its deadline | yes (re-acquired) | consume a token if it may (then it counts as notified), else `fresh -= 1` (ticket = `epoch`) or `waiters -= 1` |
//!
//! Invariant: waiters in the protocol = `fresh + waiters + tokens`, and the
//! waiters whose ticket is older than `epoch` number `waiters + tokens`.
//! So `notify(n)` makes exactly `min(n, waiting)` calls of `wait` return
//! `true`, a waiter that gives up never leaves a token behind unaccounted,
//! and a waiter that registered after a notify can never take that
//! notify's token: its ticket equals `epoch` until a later notify, which
//! hands out tokens of its own. That is CPython's rule (`notify` wakes only
//! waiters that were already waiting): a process that calls `notify()` and
//! then `wait()` no longer takes its own notification. Among the older
//! waiters tokens are fungible (CPython's `multiprocessing.Condition`,
//! built on a semaphore, is not FIFO either). Because a woken sleeper may
//! be one that may not take a token yet, notify wakes every sleeper; the
//! others register and sleep again.
//!
//! Unlike CPython, `notify` does not wait for the woken to acknowledge, so
//! a waiter killed mid-wait cannot hang the notifier; it leaves at most one
//! stale count behind, absorbed by a later waiter (a spurious `true`).

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, Ordering};
use crate::raw::eventcount::RawEventCount;

/// The words of a condition variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawCondvar<'a> {
    pub(crate) fresh: &'a AtomicU32,
    pub(crate) waiters: &'a AtomicU32,
    pub(crate) tokens: &'a AtomicU32,
    pub(crate) epoch: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
}

/// A waiter's place: the `epoch` at which it registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u32);

impl RawCondvar<'_> {
    /// Registers the caller; it must hold the lock and release it next.
    pub(crate) fn register(&self) -> Ticket {
        self.fresh.fetch_add(1, Ordering::SeqCst);
        Ticket(self.epoch.load(Ordering::SeqCst))
    }

    /// Whether a notify has come since `ticket` registered, so that the
    /// tokens are (also) meant for it.
    fn may_take(&self, ticket: Ticket) -> bool {
        self.epoch.load(Ordering::SeqCst) != ticket.0
    }

    pub(crate) fn take_token(&self, ticket: Ticket) -> bool {
        if !self.may_take(ticket) {
            return false;
        }
        let mut t = self.tokens.load(Ordering::SeqCst);
        while t > 0 {
            match self
                .tokens
                .compare_exchange_weak(t, t - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => t = now,
            }
        }
        false
    }

    /// Sleeps (without the lock) until a token is taken or `deadline`
    /// passes; returns whether a token was taken. Call [`finish`](Self::finish)
    /// after re-acquiring the lock.
    pub(crate) fn sleep<P: Park>(&self, ticket: Ticket, deadline: Deadline) -> bool {
        loop {
            if self.take_token(ticket) {
                return true;
            }
            if deadline.passed() {
                return false;
            }
            let waiter = self.wake.prepare();
            if !self.may_take(ticket) || self.tokens.load(Ordering::SeqCst) == 0 {
                waiter.wait::<P>(deadline.slice(Some(SLICE)));
            }
        }
    }

    /// Settles a waiter whose [`sleep`](Self::sleep) returned `notified`,
    /// with the lock held again; returns the final verdict.
    pub(crate) fn finish(&self, ticket: Ticket, notified: bool) -> bool {
        if notified || self.take_token(ticket) {
            return true;
        }
        if self.may_take(ticket) {
            // Moved into `waiters` by a notify, and no token left for it.
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.fresh.fetch_sub(1, Ordering::SeqCst);
        }
        false
    }

    /// Wakes up to `n` waiters registered before this call (caller holds
    /// the lock); returns how many were handed a token.
    pub(crate) fn notify<P: Park>(&self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let fresh = self.fresh.load(Ordering::SeqCst);
        if fresh > 0 {
            self.fresh.store(0, Ordering::SeqCst);
            self.waiters.fetch_add(fresh, Ordering::SeqCst);
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
        let w = self.waiters.load(Ordering::SeqCst);
        let k = w.min(n);
        if k == 0 {
            return 0;
        }
        self.waiters.fetch_sub(k, Ordering::SeqCst);
        self.tokens.fetch_add(k, Ordering::SeqCst);
        self.wake.notify::<P>(u32::MAX);
        k
    }

    /// Registered waiters not yet notified.
    pub(crate) fn waiting(&self) -> u32 {
        self.fresh
            .load(Ordering::Relaxed)
            .saturating_add(self.waiters.load(Ordering::Relaxed))
    }
}
