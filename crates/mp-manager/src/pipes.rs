//! Moving a connection's requests off its Unix socket onto a pair of pipes,
//! both sides of it: the client's [`Link`] and [`upgrade`], the server's
//! [`take_pipes`] and [`Served`].
//!
//! A request/reply over a Unix stream socket costs about twice a pipe round
//! trip, and each one wakes the waiting client once for nothing (the
//! server's read frees the request's buffer, which wakes whoever sleeps on
//! the client's socket, and a reader sleeping in `recvmsg` is woken by
//! that). So right after the handshake a client on a Unix address makes a
//! duplex `mp_channel::pipe`, sends the server its end (the [`PIPES`]
//! control request, then the end as one message), and once the server
//! said yes, sends every request on the pipes.
//!
//! Both keep the socket open beside the pipes. A client that dies closes
//! both, which ends the server thread's wait on the pipes. A server that
//! stops shuts every socket down; a client checking an idle link sees that
//! (as it sees the pipes closed). Whether the server's threads see it
//! depends on where the server runs: a server process ends when it stops,
//! closing every pipe, so its threads just read the pipes (one system call
//! per request); a server serving in a process that goes on
//! (`serve_forever`) waits on the pipes *and* the socket, so the `shutdown`
//! ends the wait as it did before. Either way a thread that reads a request
//! after the stop hangs up without running it. A server that says no to
//! the pipes (one that does not know the request) leaves the client on
//! a new socket.
//!
//! [`PIPES`]: crate::protocol::PIPES

use std::time::Duration;

use mp_channel::{Address, Connection, RecvError};

use crate::client::gone;
use crate::error::{ManagerError, RemoteError};
use crate::protocol::{self, RequestRef};

/// How long a server waits for the pipe end that must follow a [`PIPES`]
/// request (it was sent right after it).
///
/// [`PIPES`]: crate::protocol::PIPES
const END_TIMEOUT: Duration = Duration::from_secs(5);

/// A client's connection to a server: what requests go through, and the
/// socket kept open beside it once they go through pipes.
#[derive(Debug)]
pub(crate) struct Link {
    /// Where requests are sent and replies read.
    pub(crate) conn: Connection,
    /// The authenticated socket, when `conn` is the pipe pair (the server
    /// watches it: closing it hangs up).
    _socket: Option<Connection>,
}

impl Link {
    /// Whether requests go over pipes.
    #[cfg(test)]
    pub(crate) fn on_pipes(&self) -> bool {
        self._socket.is_some()
    }

    /// Whether the link can take a request: nothing arrived unasked on the
    /// connection or the socket beside it (a server says nothing unasked,
    /// so readable means hung up).
    pub(crate) fn usable(&self) -> bool {
        let quiet = |c: &Connection| matches!(c.poll(Some(Duration::ZERO)), Ok(false));
        quiet(&self.conn) && self._socket.as_ref().is_none_or(quiet)
    }

    /// A link that sends its requests on `socket` itself.
    pub(crate) fn socket(socket: Connection) -> Link {
        Link {
            conn: socket,
            _socket: None,
        }
    }
}

/// Moves the requests of `socket`, a new authenticated connection to
/// `address`, onto pipes (on a Unix address; a TCP one stays as it is, and
/// so does one for which pipes cannot be made). `receive` reads the
/// server's answer (the client's reply reader, with its timeout).
///
/// `None`: the server refused. The socket is closed then, not used: a
/// server that does not know the request also answers the message after
/// it (as a malformed request), which would put the socket out of step.
pub(crate) fn upgrade(
    socket: Connection,
    address: &Address,
    receive: impl FnOnce(&Connection) -> Result<Vec<u8>, ManagerError>,
) -> Result<Option<Link>, ManagerError> {
    if !matches!(address, Address::Unix(_)) {
        return Ok(Some(Link::socket(socket)));
    }
    // Pipes cost fds (three per end, beside the socket): a process short
    // of them stays on the socket.
    let Ok((mine, theirs)) = mp_channel::pipe(true) else {
        return Ok(Some(Link::socket(socket)));
    };
    let request = RequestRef {
        object: protocol::CONTROL,
        method: protocol::PIPES,
        args: &[],
    };
    socket.send(&request).map_err(|e| gone(address, e))?;
    socket.send(&theirs).map_err(|e| gone(address, e))?;
    // The server has its own copies of the fds now.
    drop(theirs);
    match receive(&socket) {
        Ok(_) => Ok(Some(Link {
            conn: mine,
            _socket: Some(socket),
        })),
        Err(ManagerError::Remote(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Server side of [`PIPES`](crate::protocol::PIPES): the pipe end that
/// follows the request on `socket`. An end that is missing, late, or not a
/// duplex connection is an error (the reply to the request).
pub(crate) fn take_pipes(socket: &Connection) -> Result<Connection, RemoteError> {
    let bad = |why: &dyn std::fmt::Display| {
        RemoteError::protocol(format!("no pipes after '{}': {why}", protocol::PIPES))
    };
    let end = socket
        .recv_timeout::<Connection>(END_TIMEOUT)
        .map_err(|e| bad(&e))?;
    if !(end.readable() && end.writable()) {
        return Err(bad(&"the end is not duplex"));
    }
    Ok(end)
}

/// What a server's connection thread serves: the authenticated socket,
/// and the pipes the client moved its requests to, once it did.
pub(crate) struct Served {
    socket: Connection,
    pipes: Option<Connection>,
}

impl Served {
    /// A connection served over `socket`.
    pub(crate) fn new(socket: Connection) -> Served {
        Served {
            socket,
            pipes: None,
        }
    }

    /// The socket (where a [`PIPES`](crate::protocol::PIPES) request's end
    /// arrives).
    pub(crate) fn socket(&self) -> &Connection {
        &self.socket
    }

    /// Whether requests come over pipes.
    pub(crate) fn on_pipes(&self) -> bool {
        self.pipes.is_some()
    }

    /// From now on, requests come over `pipes` (if there are any).
    pub(crate) fn use_pipes(&mut self, pipes: Option<Connection>) {
        self.pipes = pipes;
    }

    /// Where requests come from and replies go.
    pub(crate) fn conn(&self) -> &Connection {
        self.pipes.as_ref().unwrap_or(&self.socket)
    }

    /// Waits for the next request, if `watch_socket` says so: `Ok(true)`
    /// when one can be read from [`conn`](Self::conn) (or its end of
    /// stream), `Ok(false)` when the socket beside the pipes became
    /// readable — hung up by the client or by the server's shutdown, or
    /// written to against the protocol: either way, serving ends. On the
    /// socket alone, or without `watch_socket`, there is nothing to wait
    /// for (the read waits).
    pub(crate) fn wait(&self, watch_socket: bool) -> Result<bool, RecvError> {
        let Some(pipes) = self.pipes.as_ref().filter(|_| watch_socket) else {
            return Ok(true);
        };
        // `mp_channel::wait` on two fixed fds, without its lists.
        if pipes.has_buffered() {
            return Ok(true);
        }
        let fds = [pipes.as_fd(), self.socket.as_fd()];
        let mut ready = [false; 2];
        loop {
            mp_sys::fd::poll_readable_into(&fds, None, &mut ready).map_err(RecvError::Io)?;
            match ready {
                [_, true] => return Ok(false),
                [true, false] => return Ok(true),
                // EINTR: nothing is ready yet.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Reply, Request};

    /// A server from before the `pipes` request answers it and the end
    /// after it with an error each: the client leaves that socket.
    #[test]
    fn a_server_that_does_not_know_pipes_is_left_alone() {
        let (a, b) = mp_sys::socket::socketpair().unwrap();
        let (client, server) = (Connection::from_fd(a), Connection::from_fd(b));
        let old = std::thread::spawn(move || {
            let first: Request = server.recv().unwrap();
            assert_eq!(first.method, protocol::PIPES);
            let unknown: Reply = Err(RemoteError::protocol("unknown control method 'pipes'"));
            server.send(&unknown).unwrap();
            assert!(server.recv::<Request>().is_err());
            // As an old server answers the end it could not read. The client
            // may have left already (it gave up at the first error), so this
            // send may find the socket closed.
            let malformed: Reply = Err(RemoteError::protocol("malformed request"));
            let _ = server.send(&malformed);
        });
        let answer = |s: &Connection| -> Result<Vec<u8>, ManagerError> {
            let r: Reply = s.recv_timeout(Duration::from_secs(10)).unwrap();
            Ok(r?.into_vec())
        };
        let address = Address::Unix("/nonexistent/mp-manager-pipes-test".into());
        assert!(upgrade(client, &address, answer).unwrap().is_none());
        old.join().unwrap();
    }

    #[test]
    fn a_tcp_address_stays_on_its_socket() {
        let (a, _b) = mp_sys::socket::socketpair().unwrap();
        let address = Address::tcp_loopback(1);
        let link = upgrade(Connection::from_fd(a), &address, |_| unreachable!())
            .unwrap()
            .unwrap();
        assert!(!link.on_pipes());
    }
}
