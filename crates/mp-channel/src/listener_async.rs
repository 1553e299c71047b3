//! [`Listener::accept_async`] (the `async` feature): `accept` as a future.
//! A child module of `listener.rs`, so it sees the handshakes under way.
//!
//! Each poll makes one pass of the blocking algorithm that waits for
//! nothing (take in what the listen queue holds, advance every handshake
//! with what has arrived), then awaits readability of the listening socket
//! and of every connection in its handshake, or the earliest handshake
//! deadline, on `async-io`'s reactor.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use mp_sys::readiness::readable_any;

use super::{lock, Listener};
use crate::connection::Connection;
use crate::deadline::Deadline;
use crate::error::ConnectError;

impl Listener {
    /// [`accept`](Self::accept) as a future: the next connection whose
    /// handshake (with an authkey) completes, without blocking a thread,
    /// on any runtime.
    ///
    /// Cancellation-safe: a dropped future loses no connection; handshakes
    /// under way go on at the next `accept` (async or blocking). A client
    /// that dies or stalls mid-handshake fails as for `accept`, never
    /// hangs it.
    ///
    /// ```
    /// use mp_channel::{client, Address, Listener};
    ///
    /// let listener = Listener::bind(Some(Address::tcp_loopback(0)), Some(b"key"))?;
    /// let address = listener.address().clone();
    /// let c = std::thread::spawn(move || client(&address, Some(b"key")).map(|c| c.send(&5u8)));
    /// let conn = smol::block_on(listener.accept_async())?;
    /// assert_eq!(conn.recv::<u8>()?, 5);
    /// c.join().unwrap()??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub async fn accept_async(&self) -> Result<Connection, ConnectError> {
        self.accept_until_async(Deadline::NEVER).await
    }

    /// [`accept_timeout`](Self::accept_timeout) as a future.
    ///
    /// # Errors
    /// As `accept`, plus [`ConnectError::Timeout`].
    pub async fn accept_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<Connection, ConnectError> {
        self.accept_until_async(Deadline::after(Some(timeout)))
            .await
    }

    async fn accept_until_async(&self, deadline: Deadline) -> Result<Connection, ConnectError> {
        let now = Deadline::after(Some(Duration::ZERO));
        loop {
            match self.accept_until(now, &[]) {
                Ok(Some(conn)) => return Ok(conn),
                Ok(None) | Err(ConnectError::Timeout) => {}
                Err(e) => return Err(e),
            }
            if deadline.passed() {
                return Err(ConnectError::Timeout);
            }
            let (fds, wake) = self.watch_list(deadline)?;
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
            readable_any(&borrowed, wake.remaining()).await?;
        }
    }

    /// Duplicates of the fds an accept waits on (the listening socket and
    /// every connection in its handshake; the lock on them is not held
    /// across the await), and when it must look again at the latest.
    fn watch_list(&self, deadline: Deadline) -> std::io::Result<(Vec<OwnedFd>, Deadline)> {
        let pending = lock(&self.accepting.local().pending);
        let mut fds = vec![self.as_fd().try_clone_to_owned()?];
        let mut wake = deadline;
        for p in pending.iter() {
            fds.push(p.conn.as_fd().try_clone_to_owned()?);
            wake = wake.min(p.handshake.deadline());
            // Once past, a grace period only matters when a new client
            // comes, which the listening socket's readiness says.
            if !p.grace_ends.passed() {
                wake = wake.min(p.grace_ends);
            }
        }
        Ok((fds, wake))
    }
}
