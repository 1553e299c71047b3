//! tokio's own reactor for [`readiness`](crate::readiness), when a wait is
//! polled inside a tokio runtime (feature `tokio`).
//!
//! Under tokio, async-io's reactor runs on async-io's own thread, so every
//! readiness event costs a wake-up of that thread and then of tokio's (four
//! context switches per pool round trip instead of two; measured in
//! docs/performance.md). Registering the fd with tokio's reactor instead
//! lets the thread that drives tokio see the event itself. Outside a tokio
//! runtime the caller keeps async-io.
//!
//! A tokio runtime that polls these waits must have its IO driver enabled
//! (`enable_io` or `enable_all`, as `#[tokio::main]` and `#[tokio::test]`
//! do), as for tokio's own IO types: tokio panics when an fd is registered
//! in a runtime without one, and offers no way to ask beforehand.
//!
//! tokio's reactor is edge-triggered and keeps a readiness until it is
//! cleared, while the fd is read by others (through the original fd, by a
//! blocking waiter or another task): a reported readiness is checked with a
//! zero-timeout `poll(2)` and cleared when stale, so a wait resolves only
//! when the fd is readable (or writable) now.
//!
//! # Safety
//! One `unsafe` call: tokio's `AsyncFd::register_with_interest`, whose
//! contract (the fd stays open and the same for the `AsyncFd`'s life) holds
//! because the registered `OwnedFd` is a duplicate owned by the `AsyncFd`
//! alone and never taken out.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::{Handle, Id};

/// A duplicate of an fd registered with one tokio runtime's reactor, left
/// in its blocking mode (only waited on, never read or written through).
#[derive(Debug)]
pub(crate) struct TokioFd {
    /// The runtime whose reactor holds the registration.
    runtime: Id,
    fd: AsyncFd<OwnedFd>,
}

/// The runtime the calling thread is inside, if any.
pub(crate) fn current_runtime() -> Option<Id> {
    Handle::try_current().ok().map(|h| h.id())
}

impl TokioFd {
    /// Registers a duplicate of `fd` for `interest` with the current tokio
    /// runtime's reactor. `None` outside a tokio runtime, or when the
    /// duplicate or registration fails (async-io then serves, and reports
    /// such an error itself).
    pub(crate) fn in_current(fd: BorrowedFd<'_>, interest: Interest) -> Option<TokioFd> {
        let runtime = current_runtime()?;
        let dup = fd.try_clone_to_owned().ok()?;
        // SAFETY: `register_with_interest` needs the fd to stay open, and
        // `as_raw_fd` to return it, for the `AsyncFd`'s whole life. The
        // `OwnedFd` is moved into the `AsyncFd` and owned by it alone: it is
        // closed only when the `AsyncFd` drops it (after deregistering), and
        // it is never taken out (`into_inner`) nor reached mutably
        // (`get_mut`), so its raw fd cannot change or be closed before.
        let fd = unsafe { AsyncFd::register_with_interest(dup, interest) }.ok()?;
        Some(TokioFd { runtime, fd })
    }

    /// The runtime whose reactor holds the registration.
    pub(crate) fn runtime(&self) -> Id {
        self.runtime
    }

    /// Ready once the fd is readable, or has hung up or failed.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, Interest::READABLE)
    }

    /// Ready once the fd is writable, or has failed.
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, Interest::WRITABLE)
    }

    /// Ready once the fd is ready for `interest` (`READABLE` or
    /// `WRITABLE`) now, by a zero-timeout `poll(2)` after tokio reports it.
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        let readable = interest.is_readable();
        loop {
            let mut guard = ready!(if readable {
                self.fd.poll_read_ready(cx)
            } else {
                self.fd.poll_write_ready(cx)
            })?;
            let now = if readable {
                crate::socket::poll_readable(self.fd.as_fd(), Some(Duration::ZERO))?
            } else {
                crate::socket::poll_writable(self.fd.as_fd(), Some(Duration::ZERO))?
            };
            if now {
                return Poll::Ready(Ok(()));
            }
            // Stale (read or filled by someone else meanwhile): clear it,
            // which keeps any readiness that came after the guard's, and
            // wait again.
            guard.clear_ready();
        }
    }
}
