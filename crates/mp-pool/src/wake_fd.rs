//! [`WakeFd`]: a wake-up that a thread sleeping in `poll` watches beside
//! its other fds (the engine thread beside its workers' links, an iterator
//! helping its job beside the workers it reads).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// Two connected non-blocking sockets: [`wake`](Self::wake) writes a byte to
/// one, which makes the other readable until [`drain`](Self::drain) reads
/// it all. Wakes made before the sleeper polls are not lost.
pub(crate) struct WakeFd {
    tx: UnixStream,
    rx: UnixStream,
}

impl WakeFd {
    pub(crate) fn new() -> io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(WakeFd { tx, rx })
    }

    /// Makes [`fd`](Self::fd) readable. A full socket means it already is,
    /// so a failed write loses nothing.
    pub(crate) fn wake(&self) {
        let _ = (&self.tx).write(&[1]);
    }

    /// The fd to poll for readability.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }

    /// Reads every wake made so far (the fd is no longer readable after,
    /// until the next [`wake`](Self::wake)).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn readable(w: &WakeFd) -> bool {
        mp_sys::fd::poll_readable_any(&[w.fd()], Some(Duration::ZERO)).unwrap()[0]
    }

    #[test]
    fn a_wake_is_seen_until_drained() {
        let w = WakeFd::new().unwrap();
        assert!(!readable(&w));
        w.wake();
        w.wake();
        assert!(readable(&w));
        w.drain();
        assert!(!readable(&w));
    }
}
