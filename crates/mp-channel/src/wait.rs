//! [`wait`]: block until one of several connections, process sentinels or
//! other fds is ready (Python's `multiprocessing.connection.wait`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::connection::Connection;
use crate::deadline::Deadline;

/// Something [`wait`] can watch: a [`Connection`], or anything with an fd
/// (a process sentinel, a socket, a pipe end, a [`BorrowedFd`]).
pub trait Waitable {
    /// The fd to poll for readability.
    fn wait_fd(&self) -> BorrowedFd<'_>;

    /// Whether the object is ready without looking at the fd (a connection
    /// holding already received bytes).
    fn ready_now(&self) -> bool {
        false
    }
}

impl<T: AsFd + ?Sized> Waitable for T {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

impl Waitable for Connection {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }

    fn ready_now(&self) -> bool {
        self.has_buffered()
    }
}

/// Waits until at least one of `objects` is ready and returns the indices
/// of those that are, in order; an empty list once `timeout` passes
/// (`None` = wait forever, `Some(Duration::ZERO)` = just look).
///
/// Ready means: a connection or socket has a message or hit end of stream
/// (the peer closed); a process sentinel's process ended; a pipe has data
/// or no writer. Signals (`EINTR`) do not cut the wait short.
///
/// ```
/// use std::time::Duration;
/// let (a, b) = mp_channel::pipe(true)?;
/// let (c, d) = mp_channel::pipe(true)?;
/// assert!(mp_channel::wait(&[&b, &d], Some(Duration::ZERO))?.is_empty());
/// c.send(&1u8)?;
/// assert_eq!(mp_channel::wait(&[&b, &d], None)?, vec![1]);
/// # drop(a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The OS error of `poll(2)`.
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let buffered: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].ready_now())
        .collect();
    if !buffered.is_empty() {
        return Ok(buffered);
    }
    let fds: Vec<BorrowedFd<'_>> = objects.iter().map(|o| o.wait_fd()).collect();
    let deadline = Deadline::after(timeout);
    loop {
        let ready = mp_sys::fd::poll_readable_any(&fds, deadline.remaining())?;
        let ready: Vec<usize> = (0..ready.len()).filter(|&i| ready[i]).collect();
        if !ready.is_empty() || deadline.remaining() == Some(Duration::ZERO) {
            return Ok(ready);
        }
    }
}
