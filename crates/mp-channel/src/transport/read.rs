//! Reading: one `recvmsg` from a socket or one `read` from a pipe, and
//! taking a pipe frame's fds from the side socket.

use std::io::{self, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};

use mp_sys::socket::{self, Blocking, Received};

use mp_wire::WireError;

use crate::deadline::Deadline;
use crate::error::RecvError;

/// Where a frame is read from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A stream socket: fds arrive with the bytes.
    Socket(BorrowedFd<'a>),
    /// A pipe; fds arrive on `side`.
    Pipe {
        data: BorrowedFd<'a>,
        side: BorrowedFd<'a>,
    },
}

impl Source<'_> {
    /// One read into `buf` (accepting up to `max_fds` fds on a socket),
    /// waiting for data until the deadline. 0 bytes is end of stream.
    pub(crate) fn read_some(
        self,
        buf: &mut [u8],
        max_fds: usize,
        deadline: Deadline,
    ) -> Result<Received, RecvError> {
        match self {
            Source::Socket(sock) => read_socket(sock, buf, max_fds, deadline),
            Source::Pipe { data, .. } => read_pipe(data, buf, deadline).map(|bytes| Received {
                bytes,
                fds: Vec::new(),
                fds_truncated: false,
            }),
        }
    }

    /// One read of what has arrived, without waiting: `None` if nothing
    /// has (0 bytes is end of stream).
    pub(crate) fn read_now(
        self,
        buf: &mut [u8],
        max_fds: usize,
    ) -> Result<Option<Received>, RecvError> {
        let pipe = match self {
            Source::Socket(sock) => {
                let mut bufs = [IoSliceMut::new(buf)];
                return match socket::recv_vectored_with_fds(
                    sock,
                    &mut bufs,
                    max_fds,
                    Blocking::DontWait,
                ) {
                    Ok(received) => Ok(Some(received)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(Some(eof())),
                    Err(e) => Err(RecvError::Io(e)),
                };
            }
            Source::Pipe { data, .. } => data,
        };
        // Pipes stay blocking: a read that does not wait.
        let bytes = match mp_sys::fd::read_nowait(pipe, buf).map_err(RecvError::Io)? {
            Some(bytes) => bytes,
            None => return Ok(None),
        };
        Ok(Some(Received {
            bytes,
            fds: Vec::new(),
            fds_truncated: false,
        }))
    }
}

/// What a read at end of stream gives.
fn eof() -> Received {
    Received {
        bytes: 0,
        fds: Vec::new(),
        fds_truncated: false,
    }
}

/// Takes the side batch of a pipe frame declaring `count` fds; it must
/// already be there (see the [`transport`](super) docs).
pub(crate) fn take_side_fds(side: BorrowedFd<'_>, count: usize) -> Result<Vec<OwnedFd>, WireError> {
    let mut byte = [0u8; 1];
    let got = socket::recv_vectored_with_fds(
        side,
        &mut [IoSliceMut::new(&mut byte)],
        mp_wire::MAX_FDS_PER_FRAME,
        Blocking::DontWait,
    );
    let missing = || {
        WireError::Malformed(format!(
            "message declares {count} fds but none arrived with it"
        ))
    };
    let batch = match got {
        Ok(b) if b.bytes == 1 => b,
        Ok(_) => return Err(missing()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::ConnectionReset
            ) =>
        {
            return Err(missing())
        }
        Err(e) => return Err(WireError::Io(e)),
    };
    if batch.fds_truncated || batch.fds.len() != count || usize::from(byte[0]) != count {
        return Err(WireError::Malformed(format!(
            "message declares {count} fds but {}{} arrived (batch says {})",
            batch.fds.len(),
            if batch.fds_truncated { " or more" } else { "" },
            byte[0]
        )));
    }
    Ok(batch.fds)
}

/// One `read` from a pipe, polling first if there is a deadline.
fn read_pipe(pipe: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline) -> Result<usize, RecvError> {
    let timed = !deadline.is_never();
    loop {
        if timed && !wait_readable(pipe, deadline)? {
            return Err(RecvError::Timeout);
        }
        match mp_sys::fd::read(pipe, &mut *buf) {
            Ok(n) => return Ok(n),
            // Someone made the pipe non-blocking: wait for data instead.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_readable(pipe, deadline)? {
                    return Err(RecvError::Timeout);
                }
            }
            Err(e) => return Err(RecvError::Io(e)),
        }
    }
}

/// Waits until `fd` is readable (or at end of stream); `false` on timeout.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Deadline) -> Result<bool, RecvError> {
    socket::poll_readable(fd, deadline.remaining()).map_err(RecvError::Io)
}

/// One `recvmsg`, waiting for readiness until the deadline.
fn read_socket(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    deadline: Deadline,
) -> Result<Received, RecvError> {
    let blocking = if deadline.is_never() {
        Blocking::Wait
    } else {
        Blocking::DontWait
    };
    loop {
        let mut bufs = [IoSliceMut::new(buf)];
        match socket::recv_vectored_with_fds(sock, &mut bufs, max_fds, blocking) {
            Ok(received) => return Ok(received),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_readable(sock, deadline)? {
                    return Err(RecvError::Timeout);
                }
            }
            // A TCP peer that closed with data unread resets the connection:
            // for us that is the end of the stream.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(eof()),
            Err(e) => return Err(RecvError::Io(e)),
        }
    }
}
