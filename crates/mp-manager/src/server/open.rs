//! The connections a server is serving, each read by its own thread, kept
//! so that a server that stops can hang them all up at once (a `shutdown`
//! of a socket ends its thread's wait), and whether it stopped (a thread
//! that reads a request after that hangs up without running it).

use std::collections::HashMap;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::refcount::ConnId;

/// Copies of the sockets of the connections being served, by connection.
#[derive(Default)]
pub(crate) struct OpenConnections {
    sockets: Mutex<HashMap<ConnId, OwnedFd>>,
    /// Set by [`close_all`](Self::close_all), before any hang-up.
    closed: AtomicBool,
}

impl OpenConnections {
    fn sockets(&self) -> MutexGuard<'_, HashMap<ConnId, OwnedFd>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `id` is being served over `socket` (a copy of its fd).
    pub(crate) fn insert(&self, id: ConnId, socket: OwnedFd) {
        self.sockets().insert(id, socket);
    }

    /// Connection `id` closed.
    pub(crate) fn remove(&self, id: ConnId) {
        self.sockets().remove(&id);
    }

    /// Hangs up every connection being served.
    pub(crate) fn close_all(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for socket in self.sockets().values() {
            let _ = mp_sys::socket::shutdown(socket.as_fd(), Shutdown::Both);
        }
    }

    /// Whether [`close_all`](Self::close_all) was called.
    pub(crate) fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// How many connections are being served.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sockets().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn closing_hangs_up_every_open_connection() {
        let open = OpenConnections::default();
        let (a, a_peer) = mp_sys::socket::socketpair().unwrap();
        let (b, b_peer) = mp_sys::socket::socketpair().unwrap();
        let (c, c_peer) = mp_sys::socket::socketpair().unwrap();
        open.insert(1, a.try_clone().unwrap());
        open.insert(2, b.try_clone().unwrap());
        open.insert(3, c.try_clone().unwrap());
        open.remove(3);
        assert_eq!(open.len(), 2);
        assert!(!open.closed());
        open.close_all();
        assert!(open.closed());
        assert!(mp_sys::socket::poll_readable(&a_peer, Some(Duration::ZERO)).unwrap());
        assert!(mp_sys::socket::poll_readable(&b_peer, Some(Duration::ZERO)).unwrap());
        // A connection that closed before is not touched.
        assert!(!mp_sys::socket::poll_readable(&c_peer, Some(Duration::ZERO)).unwrap());
    }
}
