//! What carries a [`Connection`](crate::Connection)'s bytes: one stream
//! socket, or — for ends made by [`pipe`](crate::pipe) — a pair of pipes
//! with a side socket for fds.
//!
//! # The pipe transport
//! A pipe round trip costs about half of a Unix-socket one, so `pipe()`
//! ends move their frames over pipes: each end holds the read end of the
//! pipe it receives on and/or the write end of the pipe it sends on, plus
//! one end of a side `socketpair` that carries nothing but fds.
//!
//! A frame whose header declares fds is preceded on the side socket by one
//! `sendmsg` of one byte (the fd count) with the fds attached. The sender
//! holds the end's writer lock across both writes and sends the side batch
//! first, so by the time a reader sees the header on the pipe, the batch is
//! already queued on its side socket: the reader takes it without waiting
//! (`MSG_DONTWAIT`), and a header whose batch is missing, or whose batch has
//! the wrong number of fds, is a typed [`RecvError::Malformed`](crate::RecvError::Malformed).
//!
//! As in Python, two *processes* writing the same end at the same time are
//! not supported: their large messages may interleave, and fd-carrying
//! messages may pair with each other's fds. Threads of one process are
//! fine (they share the writer lock).
//!
//! End of stream comes from the pipe (every writer closed it). Sends on a
//! pipe whose reader is gone fail with `EPIPE` as long as `SIGPIPE` is
//! ignored, which Rust's runtime (and every `multiprocess` child) does.
//!
//! # Timeouts on pipes
//! The pipes stay in blocking mode (so an untimed send or receive is one
//! system call). A timed receive polls first, then reads what is there; a
//! timed send polls for room, then writes at most `PIPE_BUF` bytes, which
//! a pipe with room takes without blocking.

mod read;
mod write;

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use mp_sys::socket;
use mp_wire::SharedFd;
use serde::{Deserialize, Serialize};

pub(crate) use read::{take_side_fds, Source};

/// A connection end's fds.
#[derive(Debug)]
pub(crate) enum Transport {
    /// One stream socket (from a [`Listener`](crate::Listener), [`client`](crate::client)
    /// or [`Connection::from_fd`](crate::Connection::from_fd)).
    Socket {
        fd: SharedFd,
        readable: bool,
        writable: bool,
    },
    /// Pipes for the bytes, a socket for the fds.
    Pipe {
        /// The read end of the pipe this end receives on.
        rx: Option<SharedFd>,
        /// The write end of the pipe this end sends on.
        tx: Option<SharedFd>,
        /// This end of the fd side channel.
        side: SharedFd,
    },
}

/// Where a frame is written to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sink<'a> {
    Socket(BorrowedFd<'a>),
    Pipe {
        data: BorrowedFd<'a>,
        side: BorrowedFd<'a>,
    },
}

impl Transport {
    /// A pipe-transport pair: duplex, or (read-only end, write-only end).
    pub(crate) fn pipe_pair(duplex: bool) -> io::Result<(Transport, Transport)> {
        let (side_a, side_b) = socket::socketpair()?;
        let (r1, w1) = mp_sys::fd::pipe()?;
        let end = |rx: Option<OwnedFd>, tx: Option<OwnedFd>, side: OwnedFd| Transport::Pipe {
            rx: rx.map(SharedFd::from),
            tx: tx.map(SharedFd::from),
            side: SharedFd::from(side),
        };
        if !duplex {
            return Ok((end(Some(r1), None, side_a), end(None, Some(w1), side_b)));
        }
        let (r2, w2) = mp_sys::fd::pipe()?;
        Ok((
            end(Some(r2), Some(w1), side_a),
            end(Some(r1), Some(w2), side_b),
        ))
    }

    /// Asks for pipe buffers of at least `capacity` bytes on the pipes this
    /// end reads and writes (best effort: a refusal keeps the default);
    /// nothing for a socket.
    pub(crate) fn grow_pipes(&self, capacity: usize) {
        if let Transport::Pipe { rx, tx, .. } = self {
            for fd in rx.iter().chain(tx) {
                // Refused: the pipe keeps its default size, which
                // `send_capacity` reports.
                let _ = mp_sys::fd::set_pipe_size(fd, capacity);
            }
        }
    }

    /// The bytes the pipe this end sends on buffers; `None` for a socket
    /// (or a receive-only end).
    pub(crate) fn send_capacity(&self) -> Option<usize> {
        match self {
            Transport::Pipe { tx: Some(tx), .. } => mp_sys::fd::pipe_size(tx).ok(),
            _ => None,
        }
    }

    /// Whether this end can receive.
    pub(crate) fn readable(&self) -> bool {
        match self {
            Transport::Socket { readable, .. } => *readable,
            Transport::Pipe { rx, .. } => rx.is_some(),
        }
    }

    /// Whether this end can send.
    pub(crate) fn writable(&self) -> bool {
        match self {
            Transport::Socket { writable, .. } => *writable,
            Transport::Pipe { tx, .. } => tx.is_some(),
        }
    }

    /// The fd that shows readiness: the socket, or the receiving pipe (the
    /// sending one for a write-only end).
    pub(crate) fn main_fd(&self) -> BorrowedFd<'_> {
        match self {
            Transport::Socket { fd, .. } => fd.as_fd(),
            Transport::Pipe { rx: Some(fd), .. } | Transport::Pipe { tx: Some(fd), .. } => {
                fd.as_fd()
            }
            Transport::Pipe { side, .. } => side.as_fd(),
        }
    }

    /// Where to read frames from (`None` if this end cannot receive).
    pub(crate) fn source(&self) -> Option<Source<'_>> {
        match self {
            Transport::Socket { fd, readable, .. } => readable.then(|| Source::Socket(fd.as_fd())),
            Transport::Pipe { rx, side, .. } => rx.as_ref().map(|rx| Source::Pipe {
                data: rx.as_fd(),
                side: side.as_fd(),
            }),
        }
    }

    fn sink(&self) -> Option<Sink<'_>> {
        match self {
            Transport::Socket { fd, writable, .. } => writable.then(|| Sink::Socket(fd.as_fd())),
            Transport::Pipe { tx, side, .. } => tx.as_ref().map(|tx| Sink::Pipe {
                data: tx.as_fd(),
                side: side.as_fd(),
            }),
        }
    }
}

/// What a connection end looks like on the wire: its fds (out of band) and
/// its directions.
#[derive(Serialize, Deserialize)]
pub(crate) enum Wire<F> {
    /// [`Transport::Socket`].
    Socket {
        fd: F,
        readable: bool,
        writable: bool,
    },
    /// [`Transport::Pipe`].
    Pipe {
        rx: Option<F>,
        tx: Option<F>,
        side: F,
    },
}

impl Transport {
    /// This end's fds as they are serialized (each duplicated on encoding).
    pub(crate) fn to_wire(&self) -> Wire<&SharedFd> {
        match self {
            Transport::Socket {
                fd,
                readable,
                writable,
            } => Wire::Socket {
                fd,
                readable: *readable,
                writable: *writable,
            },
            Transport::Pipe { rx, tx, side } => Wire::Pipe {
                rx: rx.as_ref(),
                tx: tx.as_ref(),
                side,
            },
        }
    }

    /// The end a deserialized [`Wire`] describes.
    pub(crate) fn from_wire(wire: Wire<SharedFd>) -> Transport {
        match wire {
            Wire::Socket {
                fd,
                readable,
                writable,
            } => Transport::Socket {
                fd,
                readable,
                writable,
            },
            Wire::Pipe { rx, tx, side } => Transport::Pipe { rx, tx, side },
        }
    }
}
