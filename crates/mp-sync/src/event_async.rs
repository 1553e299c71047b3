//! [`Event`]'s async form (the `async` feature): `wait_async`. A child
//! module of `event.rs`.

use std::time::Duration;

use mp_sys::time::Deadline;

use super::Event;
use crate::async_wait::wait_for;

impl Event {
    /// [`wait`](Self::wait) as a future: resolves to `true` once the flag
    /// is set (also if it is cleared again before this future is polled,
    /// as [`wait`](Self::wait) would have woken), `false` when `timeout`
    /// elapses first (`None`: no limit). No thread waits; a set from any
    /// process wakes it.
    ///
    /// Cancellation-safe: waiting consumes nothing.
    ///
    /// ```
    /// let event = mp_sync::Event::new()?;
    /// let setter = event.clone();
    /// std::thread::spawn(move || setter.set());
    /// assert!(smol::block_on(event.wait_async(None)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait_async(&self, timeout: Option<Duration>) -> bool {
        let raw = self.raw();
        let mut registered_seq = None;
        let attempt = |_| {
            // A set-then-clear that came after the first look counts as
            // set, as for a blocking waiter woken by it.
            let seq = raw.wake.seq.load(std::sync::atomic::Ordering::SeqCst);
            let moved = registered_seq.is_some_and(|s| s != seq);
            registered_seq.get_or_insert(seq);
            (raw.is_set() || moved).then_some(())
        };
        wait_for(raw.wake, Deadline::after(timeout), None, attempt)
            .await
            .is_some()
    }
}
