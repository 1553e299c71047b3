//! `RawCondvar`: a process-shared condition variable with exact notify
//! counts and no blocking handshake.
//!
//! # Words
//! | word      | type | meaning |
//! |-----------|------|---------|
//! | `waiters` | u32  | registered waiters not yet given a token (changed under the lock) |
//! | `tokens`  | u32  | wake-ups handed out and not yet consumed |
//! | `wake`    | 2×u32 | a [`RawEventCount`]: sleepers wait on it for a token |
//!
//! # Protocol
//! | step | who | under the lock? | effect |
//! |------|-----|-----------------|--------|
//! | register | waiter | yes | `waiters += 1`, then the caller releases the lock |
//! | sleep | waiter | no | consume a token (CAS `t → t-1`), or register on `wake`, re-check `tokens` and sleep |
//! | notify(n) | notifier | yes | `k = min(n, waiters)`; `waiters -= k`; `tokens += k`; notify `k` (a syscall only if one sleeps) |
//! | give up | waiter after its deadline | yes (re-acquired) | consume a token if any (then it counts as notified), else `waiters -= 1` |
//!
//! Invariant: waiters in the protocol = `waiters + tokens`. So `notify(n)`
//! makes exactly `min(n, waiting)` calls of `wait` return `true`, and a
//! waiter that gives up never leaves a token behind unaccounted. Tokens are
//! fungible: a waiter that registered after a `notify` may take a token
//! before an older waiter wakes (the older one stays registered for the
//! next notify). Unlike CPython, `notify` does not wait for the woken to
//! acknowledge, so a waiter killed mid-wait cannot hang the notifier; it
//! leaves at most one stale count behind, absorbed by a later waiter.

use mp_sys::time::Deadline;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, Ordering};
use crate::raw::eventcount::RawEventCount;

/// The words of a condition variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawCondvar<'a> {
    pub(crate) waiters: &'a AtomicU32,
    pub(crate) tokens: &'a AtomicU32,
    pub(crate) wake: RawEventCount<'a>,
}

impl RawCondvar<'_> {
    /// Registers the caller; it must hold the lock and release it next.
    pub(crate) fn register(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
    }

    fn take_token(&self) -> bool {
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
    pub(crate) fn sleep<P: Park>(&self, deadline: Deadline) -> bool {
        loop {
            if self.take_token() {
                return true;
            }
            if deadline.passed() {
                return false;
            }
            let waiter = self.wake.prepare();
            if self.tokens.load(Ordering::SeqCst) == 0 {
                waiter.wait::<P>(deadline.slice(Some(SLICE)));
            }
        }
    }

    /// Settles a waiter whose [`sleep`](Self::sleep) returned `notified`,
    /// with the lock held again; returns the final verdict.
    pub(crate) fn finish(&self, notified: bool) -> bool {
        if notified || self.take_token() {
            return true;
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        false
    }

    /// Wakes up to `n` registered waiters (caller holds the lock); returns
    /// how many were handed a token.
    pub(crate) fn notify<P: Park>(&self, n: u32) -> u32 {
        let w = self.waiters.load(Ordering::SeqCst);
        let k = w.min(n);
        if k == 0 {
            return 0;
        }
        self.waiters.fetch_sub(k, Ordering::SeqCst);
        self.tokens.fetch_add(k, Ordering::SeqCst);
        self.wake.notify::<P>(k);
        k
    }

    /// Registered waiters not yet notified.
    pub(crate) fn waiting(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }
}
