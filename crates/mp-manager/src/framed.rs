//! [`Framed`]: the request/reply framing used after authentication — a
//! `u32` little-endian length, then the payload — over a buffered stream.
//!
//! Manager messages never carry file descriptors (values holding them are
//! refused), so they do not need mp-wire's `SCM_RIGHTS` framing, which reads
//! header and payload with separate calls so that readers can share a
//! socket. A connection here has one reader, so it reads ahead: a small
//! message arrives with one `recvmsg`, and leaves with one `sendmsg`. That
//! halves the system calls of a round trip (benchmark M6).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use mp_sys::socket::{self, Blocking};

use crate::address::Stream;

/// Bytes of the length prefix.
const HEADER: usize = 4;

/// Why a frame could not be received.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The peer closed the stream between frames.
    #[error("connection closed")]
    Eof,
    /// The peer closed the stream inside a frame.
    #[error("connection closed in the middle of a message")]
    Truncated,
    /// The frame declares more bytes than allowed.
    #[error("message of {0} bytes is too large")]
    TooLarge(u64),
    /// Nothing complete arrived in time.
    #[error("timed out")]
    Timeout,
    /// The operating system reported an error.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A stream with a read-ahead buffer.
#[derive(Debug)]
pub(crate) struct Framed {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl AsFd for Framed {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl Framed {
    pub(crate) fn new(stream: Stream) -> Self {
        Self {
            stream,
            buf: vec![0; 8192],
            start: 0,
            end: 0,
        }
    }

    /// Sends one frame (one `sendmsg` unless the socket buffer fills up).
    /// A closed peer is `EPIPE`, never `SIGPIPE`.
    pub(crate) fn send(&self, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 4 GiB"))?;
        let header = len.to_le_bytes();
        let total = HEADER + payload.len();
        let mut sent = 0;
        while sent < total {
            let bufs = [
                IoSlice::new(&header[sent.min(HEADER)..]),
                IoSlice::new(&payload[sent.saturating_sub(HEADER)..]),
            ];
            let n = socket::send_vectored_with_fds(self.as_fd(), &bufs, &[], Blocking::Wait)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += n;
        }
        Ok(())
    }

    /// Receives one frame of at most `max` bytes, waiting at most
    /// `timeout` (`None`: forever).
    pub(crate) fn recv(
        &mut self,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, FrameError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        while self.end - self.start < HEADER {
            self.fill(deadline, self.start == self.end)?;
        }
        let mut len = [0u8; HEADER];
        len.copy_from_slice(&self.buf[self.start..self.start + HEADER]);
        let len = u32::from_le_bytes(len) as usize;
        if len > max {
            return Err(FrameError::TooLarge(len as u64));
        }
        self.start += HEADER;
        while self.end - self.start < len {
            self.fill(deadline, false)?;
        }
        let out = self.buf[self.start..self.start + len].to_vec();
        self.start += len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(out)
    }

    /// Reads more bytes; `between` says no frame has started (end of stream
    /// there is a clean close).
    fn fill(&mut self, deadline: Option<Instant>, between: bool) -> Result<(), FrameError> {
        if self.end == self.buf.len() {
            // Move the partial frame to the front to make room; grow only
            // as bytes really arrive (a declared length costs nothing).
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if !socket::poll_readable(self.as_fd(), Some(left))? {
                return Err(FrameError::Timeout);
            }
        }
        let mut bufs = [IoSliceMut::new(&mut self.buf[self.end..])];
        let got =
            socket::recv_vectored_with_fds(self.stream.as_fd(), &mut bufs, 0, Blocking::Wait)?;
        if got.bytes == 0 {
            return Err(if between && self.start == self.end {
                FrameError::Eof
            } else {
                FrameError::Truncated
            });
        }
        self.end += got.bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Framed, Framed) {
        let (a, b) = UnixStream::pair().unwrap();
        (Framed::new(Stream::Unix(a)), Framed::new(Stream::Unix(b)))
    }

    #[test]
    fn frames_of_every_size_and_back_to_back() {
        let (a, mut b) = pair();
        let big = vec![7u8; 100_000];
        let t = std::thread::spawn(move || {
            a.send(b"one").unwrap();
            a.send(b"").unwrap();
            a.send(&big).unwrap();
            a.send(b"last").unwrap();
        });
        let timeout = Some(Duration::from_secs(10));
        assert_eq!(b.recv(1 << 20, timeout).unwrap(), b"one");
        assert_eq!(b.recv(1 << 20, timeout).unwrap(), b"");
        assert_eq!(b.recv(1 << 20, timeout).unwrap().len(), 100_000);
        assert_eq!(b.recv(1 << 20, timeout).unwrap(), b"last");
        t.join().unwrap();
        assert!(matches!(b.recv(1 << 20, timeout), Err(FrameError::Eof)));
    }

    #[test]
    fn limits_truncation_and_timeouts() {
        let (a, mut b) = pair();
        assert!(matches!(
            b.recv(10, Some(Duration::from_millis(20))),
            Err(FrameError::Timeout)
        ));
        a.send(&[0; 11]).unwrap();
        assert!(matches!(b.recv(10, None), Err(FrameError::TooLarge(11))));
        let (a, mut b) = pair();
        mp_sys::fd::write_all(a.as_fd(), &[9, 0, 0, 0, 1]).unwrap();
        drop(a);
        assert!(matches!(b.recv(10, None), Err(FrameError::Truncated)));
    }
}
