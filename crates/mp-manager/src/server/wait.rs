//! Blocking inside the server: [`Cx`], the calling connection, and
//! [`wait_until`], a condition-variable wait with a deadline that gives up
//! when the caller hangs up (so a client that died while waiting for a lock
//! or a queue item never takes it).

use std::os::fd::BorrowedFd;
use std::sync::{Condvar, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::RemoteError;

/// How often a blocked call checks that its caller is still there.
const PEER_CHECK: Duration = Duration::from_millis(100);

/// The connection a call arrived on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx<'a> {
    /// Where the request came from, and the socket beside it (the same fd
    /// unless the requests come over pipes; see `crate::pipes`).
    fds: [BorrowedFd<'a>; 2],
}

impl<'a> Cx<'a> {
    /// A call that came over `conn`.
    #[cfg(test)]
    pub(crate) fn new(conn: BorrowedFd<'a>) -> Self {
        Self { fds: [conn, conn] }
    }

    /// A call that came over `conn`, served beside `socket` (which the
    /// server shuts down when it stops).
    pub(crate) fn beside(conn: BorrowedFd<'a>, socket: BorrowedFd<'a>) -> Self {
        Self {
            fds: [conn, socket],
        }
    }

    /// Whether the caller hung up (or the server is stopping). A caller
    /// waiting for its reply sends nothing, so a readable connection means
    /// end of stream (or a peer breaking the protocol, which is given up
    /// on as well).
    pub(crate) fn peer_gone(&self) -> bool {
        !matches!(
            mp_sys::fd::poll_readable_any(&self.fds, Some(Duration::ZERO)),
            Ok(ready) if !ready.contains(&true)
        )
    }
}

/// The error for a call abandoned because its caller went away.
pub(crate) fn caller_gone() -> RemoteError {
    RemoteError::protocol("the caller went away")
}

/// Waits on `cv` until `done(state)` holds (returns `true`), the timeout
/// passes (returns `false`; `None` waits forever) or the caller hangs up
/// (an error). `done` is checked first, so a zero timeout is a poll.
pub(crate) fn wait_until<'m, S>(
    cx: &Cx<'_>,
    cv: &Condvar,
    mut guard: MutexGuard<'m, S>,
    timeout: Option<Duration>,
    mut done: impl FnMut(&mut S) -> bool,
) -> Result<(MutexGuard<'m, S>, bool), RemoteError> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        if done(&mut guard) {
            return Ok((guard, true));
        }
        let slice = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok((guard, false));
                }
                left.min(PEER_CHECK)
            }
            None => PEER_CHECK,
        };
        guard = cv
            .wait_timeout(guard, slice)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if cx.peer_gone() {
            return Err(caller_gone());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::Mutex;

    /// A connected pair: the first end stands for the server's connection.
    pub(crate) fn pair() -> (OwnedFd, OwnedFd) {
        mp_sys::socket::socketpair().unwrap()
    }

    #[test]
    fn times_out_and_notices_hangup() {
        let (a, b) = pair();
        let cx = Cx::new(a.as_fd());
        assert!(!cx.peer_gone());
        let m = Mutex::new(0);
        let cv = Condvar::new();
        let (guard, ok) = wait_until(
            &cx,
            &cv,
            m.lock().unwrap(),
            Some(Duration::from_millis(20)),
            |v| *v == 1,
        )
        .unwrap();
        assert!(!ok);
        drop(guard);
        drop(b);
        assert!(cx.peer_gone());
        assert!(wait_until(&cx, &cv, m.lock().unwrap(), None, |v| *v == 1).is_err());
    }
}
