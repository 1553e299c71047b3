//! Waiting for an fd's readiness as a future, on `async-io`'s reactor (one
//! `epoll` shared by the whole process, driven by whichever thread blocks
//! in `async_io::block_on` or by its own `async-io` thread otherwise), so
//! the futures work under any executor — tokio, smol, a hand-written one —
//! and a pending wait costs a registration, not a thread.
//!
//! The fd is duplicated for the wait: `epoll` refuses the same fd twice, and
//! two tasks may wait on one fd (two clones of a connection, two joins of a
//! process). The duplicate is registered as it is, never switched to
//! non-blocking mode, so blocking users of the same open file (in this
//! process or another) are unaffected.

use std::future::Future;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, ReadableOwned, Timer};

/// Resolves once `fd` is readable, or has hung up or failed (as `poll(2)`'s
/// `POLLIN`, `POLLHUP`, `POLLERR`).
///
/// Cancellation-safe: dropping the future only removes the registration.
///
/// # Errors
/// The fd cannot be duplicated (`EMFILE`) or registered with the reactor.
pub async fn readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    registered(fd)?.readable().await
}

/// Resolves once `fd` is writable, or has failed (`POLLOUT`, `POLLERR`);
/// at once, without touching the reactor, if it is already.
///
/// Cancellation-safe as [`readable`].
///
/// # Errors
/// As [`readable`].
pub async fn writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    // A pipe or socket usually has room: one `poll` instead of a
    // registration (a `dup`, three `epoll_ctl`s and a reactor turn).
    if crate::socket::poll_writable(fd, Some(Duration::ZERO))? {
        return Ok(());
    }
    registered(fd)?.writable().await
}

/// An fd kept registered with the reactor, for an owner that waits on it
/// again and again (a pool worker's socket, awaited by one result future
/// after another): one `dup` and registration for its life instead of one
/// per wait, and a wait costs at most one `epoll_ctl` (re-arming the
/// one-shot interest). The duplicate stays in its blocking mode, as for
/// [`readable`].
#[derive(Debug)]
pub struct Registration(Arc<Async<OwnedFd>>);

impl Registration {
    /// Registers a duplicate of `fd`.
    ///
    /// # Errors
    /// As [`readable`].
    pub fn new(fd: BorrowedFd<'_>) -> io::Result<Registration> {
        registered(fd).map(|a| Registration(Arc::new(a)))
    }

    /// A wait for the fd to be readable (or hung up, or failed); several
    /// may be pending at once. Cancellation-safe as [`readable`].
    pub fn readable(&self) -> ReadableWait {
        ReadableWait {
            ready: Arc::clone(&self.0).readable_owned(),
            fd: Arc::clone(&self.0),
        }
    }
}

/// A pending [`Registration::readable`]: resolves once the fd has been
/// readable since its first poll. Each poll keeps one waker (a repeated
/// poll replaces it, never wakes the task itself).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadableWait {
    ready: ReadableOwned<OwnedFd>,
    fd: Arc<Async<OwnedFd>>,
}

impl ReadableWait {
    /// Whether the fd is readable (or hung up) right now: one zero-timeout
    /// `poll`, no reactor. For a poll that was woken, or repeated, while
    /// this wait is pending: the reactor may report an event a turn late
    /// (async-io holds back one that may predate the registration), so a
    /// wake-up is a reason to look.
    ///
    /// # Errors
    /// `poll(2)` failed.
    pub fn readable_now(&self) -> io::Result<bool> {
        crate::socket::poll_readable(self.fd.get_ref(), Some(Duration::ZERO))
    }
}

impl Future for ReadableWait {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ready).poll(cx)
    }
}

/// A duplicate of `fd` registered with the reactor, left in its blocking
/// mode (the caller only waits on it, never reads or writes through it).
fn registered(fd: BorrowedFd<'_>) -> io::Result<Async<OwnedFd>> {
    Async::new_nonblocking(fd.try_clone_to_owned()?)
}

/// Resolves once any of `fds` is readable (or has hung up or failed), with
/// `true`, or with `false` when `timeout` elapses first (`None`: no limit).
/// The async twin of [`poll_readable_any`](crate::fd::poll_readable_any);
/// the caller finds out which fds are ready with a zero-timeout poll.
///
/// Cancellation-safe as [`readable`].
///
/// # Errors
/// As [`readable`].
pub async fn readable_any(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<bool> {
    let registered = fds
        .iter()
        .map(|fd| registered(*fd))
        .collect::<io::Result<Vec<_>>>()?;
    let mut timer = timeout.map(Timer::after);
    std::future::poll_fn(|cx| {
        for r in &registered {
            if let Poll::Ready(ready) = r.poll_readable(cx) {
                return Poll::Ready(ready.map(|()| true));
            }
        }
        match timer.as_mut().map(|t| Pin::new(t).poll(cx)) {
            Some(Poll::Ready(_)) => Poll::Ready(Ok(false)),
            _ => Poll::Pending,
        }
    })
    .await
}
