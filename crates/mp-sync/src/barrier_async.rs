//! [`Barrier`]'s async forms (the `async` feature): `wait_async` and
//! `wait_timeout_async`, the raw barrier's own steps (`try_arrive`,
//! `try_pass`, `give_up`; see `raw/barrier.rs`) driven from polls through
//! [`wait_for`]. A child module of `barrier.rs`.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::{outcome, Barrier};
use crate::async_wait::{wait_for, Attempt};
use crate::error::BrokenBarrierError;
use crate::ident;
use crate::park::{Futex, SLICE};
use crate::primitive::AtomicU64;
use crate::raw::barrier::{Arrival, Arrived, Broken, RawBarrier};

impl Barrier {
    /// [`wait`](Self::wait) as a future: resolves to this caller's arrival
    /// index once `parties` callers (blocking or async, in any process)
    /// arrived, without blocking a thread. The default timeout given at
    /// creation applies, and breaks the barrier, as for `wait`.
    ///
    /// Cancellation: a future dropped while its generation still fills
    /// *withdraws* its arrival — the barrier stays unbroken and waits for
    /// one more party, which gets the withdrawn arrival's index — as
    /// `asyncio.Barrier` does for a cancelled task and `threading.Barrier`
    /// for a thread that raises out of `wait`. So a runtime's timeout
    /// (`tokio::time::timeout`, a `select!` branch) around this future means
    /// "stop waiting", and the caller may arrive again later; use
    /// [`wait_timeout_async`](Self::wait_timeout_async) for Python's
    /// `wait(timeout)`, which breaks the barrier for everyone. Withdrawing
    /// rather than breaking is safe here because the dropping party is
    /// alive (a party that *dies* inside `wait` breaks the barrier, as the
    /// blocking form documents, since it can never arrive again). A
    /// future dropped after its generation was released or broken has
    /// passed or failed all the same; only its result is lost. A future
    /// dropped before it arrived (while a previous generation drains)
    /// changed nothing.
    ///
    /// Each poll takes the barrier's internal lock for a few instructions;
    /// the last arrival runs the action inside its poll, and another poll
    /// that needs the lock meanwhile waits for it, blocking its thread.
    ///
    /// ```
    /// let b = mp_sync::Barrier::new(2)?;
    /// let other = b.clone();
    /// let blocking = std::thread::spawn(move || other.wait());
    /// let mine = smol::block_on(b.wait_async()).unwrap();
    /// let theirs = blocking.join().unwrap().unwrap();
    /// assert_eq!(mine + theirs, 1); // indices 0 and 1
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`BrokenBarrierError`], as for [`wait`](Self::wait).
    pub async fn wait_async(&self) -> Result<usize, BrokenBarrierError> {
        self.wait_until_async(Deadline::after(self.timeout())).await
    }

    /// [`wait_timeout`](Self::wait_timeout) as a future: when `timeout`
    /// elapses first the barrier breaks for everyone, as in Python.
    /// Dropped early, it withdraws as [`wait_async`](Self::wait_async).
    ///
    /// # Errors
    /// [`BrokenBarrierError`], as for [`wait`](Self::wait).
    pub async fn wait_timeout_async(&self, timeout: Duration) -> Result<usize, BrokenBarrierError> {
        self.wait_until_async(Deadline::after(Some(timeout))).await
    }

    async fn wait_until_async(&self, deadline: Deadline) -> Result<usize, BrokenBarrierError> {
        let raw = self.raw();
        let me = ident::process();
        let run = self.action_runner();
        // Wait out a draining or resetting generation, then arrive.
        let arrive = |why| raw.try_arrive::<Futex, _>(me, why == Attempt::AfterSlice, run);
        let arrival = match wait_for(raw.wake, deadline, Some(SLICE), arrive).await {
            // Timed out before arriving: breaks, as the blocking form.
            None => {
                raw.abort::<Futex>(me);
                return Err(BrokenBarrierError);
            }
            Some(Arrived::Done(r)) => return outcome(r),
            Some(Arrived::Inside(arrival)) => arrival,
        };
        let mut inside = Inside {
            raw,
            me,
            arrival: Some(arrival),
        };
        let pass = |why| raw.try_pass::<Futex>(me, why == Attempt::AfterSlice, &mut inside.arrival);
        let result = match wait_for(raw.wake, deadline, Some(SLICE), pass).await {
            Some(r) => r,
            None => match inside.arrival.take() {
                Some(arrival) => raw.give_up::<Futex>(me, arrival, true),
                None => Err(Broken), // (unreachable: `try_pass` left it)
            },
        };
        result.map_err(|Broken| BrokenBarrierError)
    }
}

/// An arrival not yet settled; dropped so (the future was cancelled), it
/// withdraws.
struct Inside<'a, A: Fn(usize) -> Option<&'a AtomicU64>> {
    raw: RawBarrier<'a, A>,
    me: u64,
    arrival: Option<Arrival<'a>>,
}

impl<'a, A: Fn(usize) -> Option<&'a AtomicU64>> Drop for Inside<'a, A> {
    fn drop(&mut self) {
        if let Some(arrival) = self.arrival.take() {
            let _ = self.raw.give_up::<Futex>(self.me, arrival, false);
        }
    }
}
