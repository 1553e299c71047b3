//! The admission gate: how many accepted connections may be in the
//! handshake phase at once, and what happens past that.
//!
//! Each accepted connection gets a thread that runs the handshake under a
//! deadline and then serves the connection. Without a bound, anyone who can
//! reach a TCP address could make the server start one thread per silent
//! connection. So at most [`MAX_HANDSHAKES`] connections are in the
//! handshake at a time. Past the bound, the gate hangs up the **oldest**
//! unfinished handshake (a `shutdown` of its socket, which ends its
//! thread's wait at once) once it has been unfinished for [`GRACE`], to
//! make room for the new one; until then the new connection waits (for at
//! most `GRACE`), with those behind it in the kernel's backlog. Why:
//! - closing new connections would let a handful of silent clients lock
//!   everyone else out for a whole handshake timeout, again and again;
//! - leaving them in the backlog until a handshake times out makes an
//!   honest client queue behind every silent one (backlog / bound × the
//!   timeout, minutes with the default);
//! - an honest client finishes its handshake within a round trip, far
//!   below `GRACE`, so the oldest unfinished handshake past `GRACE` is
//!   almost surely silent, and a burst of honest clients (more than the
//!   bound at once) only waits for the slots they free, never is hung up.
//!   A client hung up all the same (a very slow one) reconnects: the
//!   manager's client retries a handshake whose peer hung up.
//!
//! The accept loop therefore never waits on a particular client: at most
//! `GRACE` per admission while the gate is full, then for a hung-up thread
//! to leave, which it does at once. A flood of silent connections delays
//! an honest one by about (flood / bound) × `GRACE`.

use std::collections::{HashMap, VecDeque};
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How many connections may be in the handshake at once.
pub(crate) const MAX_HANDSHAKES: usize = 128;

/// How long a handshake may stay unfinished before a newer connection may
/// take its place when the gate is full.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// A safety net for the wait after a hang-up (the hung-up thread wakes
/// the gate when it leaves).
const RECHECK: Duration = Duration::from_millis(50);

/// One unfinished handshake: a ticket and a copy of its socket.
struct Pending {
    ticket: u64,
    socket: OwnedFd,
    since: Instant,
    hung_up: bool,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Pending>,
    next_ticket: u64,
    /// Copies of the sockets of connections past their handshake, by
    /// ticket, so that a stopping server can hang them all up.
    serving: HashMap<u64, OwnedFd>,
    /// The server stopped: connections that finish their handshake now are
    /// hung up at once.
    closed: bool,
}

/// The connections in the handshake phase.
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<State>,
    left: Condvar,
}

/// A connection's place in the gate, given back when dropped (if its
/// thread could not be started, or its handshake failed); see
/// [`Admission::serving`].
pub(crate) struct Admission {
    gate: Arc<Gate>,
    ticket: u64,
    /// The handshake succeeded.
    served: bool,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate.leave(self.ticket, self.served);
    }
}

impl Admission {
    /// The handshake succeeded: the place in the gate is given back, and
    /// the connection is remembered until the returned guard is dropped
    /// (so that stopping the server hangs it up).
    pub(crate) fn serving(mut self) -> Serving {
        self.served = true;
        Serving {
            gate: self.gate.clone(),
            ticket: self.ticket,
        }
    }
}

/// A connection being served; forgotten when dropped.
pub(crate) struct Serving {
    gate: Arc<Gate>,
    ticket: u64,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let mut st = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        st.serving.remove(&self.ticket);
    }
}

impl Gate {
    /// Admits `socket` (a copy of the accepted connection's descriptor)
    /// while the gate is full: as soon as a handshake ends, or by hanging up
    /// the oldest unfinished one once it is [`GRACE`] old.
    pub(crate) fn admit(self: &Arc<Self>, socket: OwnedFd) -> Admission {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.pending.len() >= MAX_HANDSHAKES {
            let mut wait = RECHECK;
            if let Some(oldest) = st.pending.iter_mut().find(|p| !p.hung_up) {
                let age = oldest.since.elapsed();
                if age >= GRACE {
                    oldest.hung_up = true;
                    // Ends the handshake thread's read or write with an
                    // error; it then leaves the gate.
                    let _ = mp_sys::socket::shutdown(oldest.socket.as_fd(), Shutdown::Both);
                    log::debug!(
                        target: mp_process::LOG_TARGET,
                        "manager: too many handshakes at once; hung up the oldest"
                    );
                } else {
                    wait = wait.min(GRACE - age);
                }
            }
            st = self
                .left
                .wait_timeout(st, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.pending.push_back(Pending {
            ticket,
            socket,
            since: Instant::now(),
            hung_up: false,
        });
        Admission {
            gate: self.clone(),
            ticket,
            served: false,
        }
    }

    /// The handshake of `ticket` ended (done, failed or hung up); if it
    /// succeeded (`serving`), its socket is kept for [`close_all`](Self::close_all).
    fn leave(&self, ticket: u64, serving: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = st.pending.iter().position(|p| p.ticket == ticket) {
            if let Some(p) = st.pending.remove(i) {
                if st.closed {
                    let _ = mp_sys::socket::shutdown(p.socket.as_fd(), Shutdown::Both);
                } else if serving {
                    st.serving.insert(ticket, p.socket);
                }
            }
        }
        self.left.notify_all();
    }

    /// The server stopped: hangs up every connection, in its handshake or
    /// served, and those that finish their handshake later.
    pub(crate) fn close_all(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.closed = true;
        let sockets = st
            .pending
            .iter()
            .map(|p| &p.socket)
            .chain(st.serving.values());
        for socket in sockets {
            let _ = mp_sys::socket::shutdown(socket.as_fd(), Shutdown::Both);
        }
    }

    /// How many connections are in the handshake now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_hangs_up_the_oldest() {
        let gate = Arc::new(Gate::default());
        let pairs: Vec<(OwnedFd, OwnedFd)> = (0..MAX_HANDSHAKES)
            .map(|_| mp_sys::socket::socketpair().unwrap())
            .collect();
        let admissions: Vec<Admission> = pairs
            .iter()
            .map(|(ours, _)| gate.admit(ours.try_clone().unwrap()))
            .collect();
        assert_eq!(gate.len(), MAX_HANDSHAKES);
        std::thread::scope(|s| {
            // The next admission waits until the oldest (hung up) leaves.
            let (extra, _peer) = mp_sys::socket::socketpair().unwrap();
            let admitting = s.spawn(|| gate.admit(extra));
            // The oldest's peer sees end of stream: it was shut down.
            let oldest_peer = &pairs[0].1;
            assert!(
                mp_sys::socket::poll_readable(oldest_peer, Some(Duration::from_secs(10))).unwrap()
            );
            let mut admissions = admissions.into_iter();
            drop(admissions.next());
            let _newest = admitting.join().unwrap();
            assert_eq!(gate.len(), MAX_HANDSHAKES);
            // The others were not hung up.
            assert!(!mp_sys::socket::poll_readable(&pairs[1].1, Some(Duration::ZERO)).unwrap());
        });
    }

    #[test]
    fn closing_hangs_up_served_connections_and_later_ones() {
        let gate = Arc::new(Gate::default());
        let (a, a_peer) = mp_sys::socket::socketpair().unwrap();
        let (b, b_peer) = mp_sys::socket::socketpair().unwrap();
        let served = gate.admit(a).serving();
        let late = gate.admit(b);
        gate.close_all();
        assert!(mp_sys::socket::poll_readable(&a_peer, Some(Duration::ZERO)).unwrap());
        // Its handshake finishes after the close: hung up then.
        let _late = late.serving();
        assert!(mp_sys::socket::poll_readable(&b_peer, Some(Duration::ZERO)).unwrap());
        drop(served);
        assert_eq!(gate.len(), 0);
    }
}
