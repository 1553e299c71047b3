//! [`wait_async`]: [`wait`] as a future (the `async` feature), on
//! `async-io`'s reactor, so it runs under any executor.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use mp_sys::readiness::readable_any;

use crate::deadline::Deadline;
use crate::wait::{wait, Waitable};

/// [`wait`] as a future: resolves with the indices of the objects that are
/// ready (at least one), or an empty list once `timeout` passes (`None`:
/// no limit), without blocking a thread. Ready means what it means for
/// `wait`: a message or end of stream on a connection (so a dead peer is
/// ready, and its `recv` then says `Eof`), a process sentinel's process
/// ended, a pipe with data or no writer.
///
/// Cancellation-safe: waiting consumes nothing.
///
/// ```
/// let (a, b) = mp_channel::pipe(true)?;
/// let (c, d) = mp_channel::pipe(true)?;
/// c.send(&1u8)?;
/// let ready = smol::block_on(mp_channel::wait_async(&[&b, &d], None))?;
/// assert_eq!(ready, vec![1]);
/// # drop(a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The OS error of `poll(2)`, or of registering an fd with the reactor.
pub async fn wait_async(
    objects: &[&(dyn Waitable + Sync)],
    timeout: Option<Duration>,
) -> io::Result<Vec<usize>> {
    let deadline = Deadline::after(timeout);
    let plain: Vec<&dyn Waitable> = objects.iter().map(|&o| o as &dyn Waitable).collect();
    loop {
        let ready = wait(&plain, Some(Duration::ZERO))?;
        if !ready.is_empty() || deadline.passed() {
            return Ok(ready);
        }
        let fds: Vec<BorrowedFd<'_>> = objects.iter().map(|o| o.wait_fd()).collect();
        readable_any(&fds, deadline.remaining()).await?;
    }
}
