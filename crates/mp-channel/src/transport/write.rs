//! Writing one frame: on a socket with its fds attached, or on a pipe
//! after its fds went on the side socket.

use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;

use mp_sys::socket::{self, Blocking};

use super::{Sink, Transport};
use crate::deadline::Deadline;
use crate::error::{send_io, SendError};

/// Bytes a pipe with any room takes in one write without blocking.
const PIPE_BUF: usize = 4096;

/// Frames up to this size (header included) are copied together and sent
/// with one `write`; at most [`PIPE_BUF`], so a timed send of one never blocks.
const SMALL_FRAME: usize = 128;

impl Transport {
    /// Writes `head` then `payload` — one frame, or a batch of frames of
    /// which only the first declares fds — with `fds` beside them. Sets
    /// `*broken` if the stream is left out of step.
    ///
    /// # Errors
    /// [`SendError::NotWritable`], `Timeout`, `Disconnected`, OS errors.
    pub(crate) fn write_frame(
        &self,
        header: &[u8],
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
        deadline: Deadline,
        broken: &mut bool,
    ) -> Result<(), SendError> {
        let total = header.len() + payload.len();
        let mut sent = 0;
        let mut fds_out = false;
        let result = match self.sink() {
            None => return Err(SendError::NotWritable),
            Some(Sink::Socket(sock)) => {
                write_socket(sock, header, payload, fds, deadline, &mut sent)
            }
            Some(Sink::Pipe { data, side }) => (|| {
                if !fds.is_empty() {
                    // Room first, so a timeout leaves no batch without its frame.
                    if !deadline.is_never() && !wait_writable(data, deadline)? {
                        return Err(SendError::Timeout);
                    }
                    send_side_fds(side, fds, deadline)?;
                    fds_out = true;
                }
                write_pipe(data, header, payload, deadline, &mut sent)
            })(),
        };
        if result.is_err() && ((sent > 0 && sent < total) || (fds_out && sent == 0)) {
            *broken = true;
        }
        result
    }
}

/// Waits until `fd` is writable; `false` on timeout.
fn wait_writable(fd: BorrowedFd<'_>, deadline: Deadline) -> Result<bool, SendError> {
    socket::poll_writable(fd, deadline.remaining()).map_err(SendError::Io)
}

/// The unsent rest of `header` + `payload` after `sent` bytes, at most `max` long.
fn rest<'a>(header: &'a [u8], payload: &'a [u8], sent: usize, max: usize) -> [IoSlice<'a>; 2] {
    let h = &header[sent.min(header.len())..];
    let h = &h[..h.len().min(max)];
    let p = &payload[sent.saturating_sub(header.len())..];
    let p = &p[..p.len().min(max - h.len())];
    [IoSlice::new(h), IoSlice::new(p)]
}

/// Writes a frame on a stream socket, the fds riding on its first byte.
fn write_socket(
    sock: BorrowedFd<'_>,
    header: &[u8],
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
    deadline: Deadline,
    sent: &mut usize,
) -> Result<(), SendError> {
    let total = header.len() + payload.len();
    while *sent < total {
        let bufs = rest(header, payload, *sent, usize::MAX);
        let attach = if *sent == 0 { fds } else { &[] };
        let blocking = if deadline.is_never() {
            Blocking::Wait
        } else {
            Blocking::DontWait
        };
        match socket::send_vectored_with_fds(sock, &bufs, attach, blocking) {
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_writable(sock, deadline)? {
                    return Err(SendError::Timeout);
                }
            }
            Err(e) => return Err(send_io(e)),
        }
    }
    Ok(())
}

/// Writes a frame on a pipe (see the [`transport`](super) docs on timeouts).
fn write_pipe(
    pipe: BorrowedFd<'_>,
    header: &[u8],
    payload: &[u8],
    deadline: Deadline,
    sent: &mut usize,
) -> Result<(), SendError> {
    let total = header.len() + payload.len();
    let timed = !deadline.is_never();
    // A small frame goes out as one contiguous `write`, cheaper than `writev`.
    let mut joined = [0u8; SMALL_FRAME];
    let joined = (total <= SMALL_FRAME).then(|| {
        joined[..header.len()].copy_from_slice(header);
        joined[header.len()..total].copy_from_slice(payload);
        &joined[..total]
    });
    while *sent < total {
        if timed && !wait_writable(pipe, deadline)? {
            return Err(SendError::Timeout);
        }
        let written = match joined {
            Some(all) => mp_sys::fd::write(pipe, &all[*sent..]),
            None => {
                let max = if timed { PIPE_BUF } else { usize::MAX };
                mp_sys::fd::writev(pipe, &rest(header, payload, *sent, max))
            }
        };
        match written {
            Ok(n) => *sent += n,
            // Someone made the pipe non-blocking: wait for room instead.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_writable(pipe, deadline)? {
                    return Err(SendError::Timeout);
                }
            }
            Err(e) => return Err(send_io(e)),
        }
    }
    Ok(())
}

/// Sends one side batch: a byte holding the count, with `fds` attached.
fn send_side_fds(
    side: BorrowedFd<'_>,
    fds: &[BorrowedFd<'_>],
    deadline: Deadline,
) -> Result<(), SendError> {
    let count = [u8::try_from(fds.len()).map_err(|_| SendError::TooManyFds {
        count: fds.len(),
        max: mp_wire::MAX_FDS_PER_FRAME,
    })?];
    loop {
        let blocking = if deadline.is_never() {
            Blocking::Wait
        } else {
            Blocking::DontWait
        };
        match socket::send_vectored_with_fds(side, &[IoSlice::new(&count)], fds, blocking) {
            Ok(1) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_writable(side, deadline)? {
                    return Err(SendError::Timeout);
                }
            }
            Err(e) => return Err(send_io(e)),
        }
    }
}
