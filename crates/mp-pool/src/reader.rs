//! A buffered reader of mp-wire frames: one `recvmsg` takes in as many
//! frames as have arrived (the parent reading a worker's replies, a worker
//! reading its prefetched tasks), and frames are then cut out of the buffer
//! without further system calls.
//!
//! Fds: the sender attaches a frame's fds to the `sendmsg` that carries its
//! first byte, and Linux ends a `recvmsg` right after the one queued segment
//! that carries fds. So the fds of one read belong to the frame that starts
//! within that read and declares fds; anything else is a malformed stream.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};

use mp_sys::socket::{self, Blocking};
use mp_wire::frame::HEADER_LEN;
use mp_wire::{Limits, Message, WireError, MAX_FDS_PER_FRAME};

/// The buffer's usual size; it grows only for a frame that does not fit.
const BUF_LEN: usize = 64 * 1024;

/// What one [`FrameReader::fill`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Some bytes arrived.
    Data,
    /// Nothing is there yet (non-blocking read).
    WouldBlock,
    /// The peer closed its end and every complete frame has been read.
    Eof,
}

/// The fds one read brought, with the stream range `[from, to)` it covered.
struct FdRead {
    from: u64,
    to: u64,
    fds: Vec<OwnedFd>,
}

/// Frames buffered from one stream socket.
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    fd_reads: VecDeque<FdRead>,
}

impl FrameReader {
    pub(crate) fn new() -> Self {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            fd_reads: VecDeque::new(),
        }
    }

    /// Whether part of a frame is buffered (so end of stream now would cut it).
    pub(crate) fn has_partial(&self) -> bool {
        self.end > self.start
    }

    /// The header of the frame at the front: (payload length, fd count).
    fn header(&self, limits: &Limits) -> Result<Option<(usize, usize)>, WireError> {
        if self.end - self.start < HEADER_LEN {
            return Ok(None);
        }
        match self
            .buf
            .get(self.start..self.start + HEADER_LEN)
            .map(<&[u8; HEADER_LEN]>::try_from)
        {
            Some(Ok(h)) => mp_wire::frame::check_header(h, limits).map(Some),
            _ => Ok(None),
        }
    }

    /// The next complete buffered frame, if any.
    pub(crate) fn next_frame(&mut self, limits: &Limits) -> Result<Option<Message>, WireError> {
        let Some((len, count)) = self.header(limits)? else {
            return Ok(None);
        };
        if self.end - self.start < HEADER_LEN + len {
            return Ok(None);
        }
        let at = self.base + self.start as u64;
        // Fds of reads that ended before this frame were claimed by no frame.
        if self.fd_reads.front().is_some_and(|r| r.to <= at) {
            return Err(malformed("fds arrived that no frame declared"));
        }
        let mut fds = Vec::new();
        if count > 0 {
            match self.fd_reads.pop_front() {
                Some(r) if r.from <= at && r.fds.len() == count => fds = r.fds,
                _ => {
                    return Err(malformed(&format!(
                        "a frame declares {count} fds that did not arrive with it"
                    )))
                }
            }
        }
        let body = self.start + HEADER_LEN;
        let bytes = self.buf[body..body + len].to_vec();
        self.start = body + len;
        if self.start == self.end {
            self.base += self.start as u64;
            self.start = 0;
            self.end = 0;
            if self.buf.len() > BUF_LEN {
                // Do not keep a big frame's room for the life of the stream.
                self.buf = Vec::new();
            }
        }
        Ok(Some(Message { bytes, fds }))
    }

    /// One `recvmsg` into the buffer (waiting for data only with
    /// [`Blocking::Wait`] on a blocking socket).
    pub(crate) fn fill(
        &mut self,
        sock: BorrowedFd<'_>,
        limits: &Limits,
        blocking: Blocking,
    ) -> Result<Fill, WireError> {
        let want = match self.header(limits)? {
            Some((len, _)) => HEADER_LEN + len,
            None => HEADER_LEN,
        };
        if self.buf.len() - self.start < want.max(BUF_LEN) || self.end == self.buf.len() {
            // Move the partial frame to the front and make room for all of it.
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
            let size = want.max(BUF_LEN).max(self.end + 1);
            if self.buf.len() < size {
                self.buf
                    .try_reserve_exact(size - self.buf.len())
                    .map_err(|_| {
                        WireError::Io(io::Error::new(
                            io::ErrorKind::OutOfMemory,
                            format!("cannot allocate {want} bytes for a frame"),
                        ))
                    })?;
                self.buf.resize(size, 0);
            }
        }
        let mut bufs = [IoSliceMut::new(&mut self.buf[self.end..])];
        let received = match socket::recv_vectored_with_fds(
            sock,
            &mut bufs,
            limits.max_fds.min(MAX_FDS_PER_FRAME),
            blocking,
        ) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
            Err(e) => return Err(WireError::Io(e)),
        };
        if received.fds_truncated {
            return Err(malformed("more fds arrived than a frame may carry"));
        }
        if received.bytes == 0 {
            if self.has_partial() {
                let got = (self.end - self.start) as u64;
                return Err(WireError::Truncated {
                    expected: want.max(HEADER_LEN) as u64,
                    got,
                });
            }
            return Ok(Fill::Eof);
        }
        let from = self.base + self.end as u64;
        self.end += received.bytes;
        if !received.fds.is_empty() {
            self.fd_reads.push_back(FdRead {
                from,
                to: self.base + self.end as u64,
                fds: received.fds,
            });
        }
        Ok(Fill::Data)
    }
}

fn malformed(why: &str) -> WireError {
    WireError::Malformed(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn many_frames_in_one_read_with_fds_on_the_right_one() {
        let (a, b) = mp_sys::socket::socketpair().unwrap();
        let limits = Limits::default();
        mp_wire::send(a.as_fd(), &Message::from_bytes(vec![1, 2, 3])).unwrap();
        let (p, _q) = mp_sys::socket::socketpair().unwrap();
        let with_fd = Message {
            bytes: vec![9],
            fds: vec![p],
        };
        mp_wire::send(a.as_fd(), &with_fd).unwrap();
        mp_wire::send(a.as_fd(), &Message::from_bytes(vec![7; 100_000])).unwrap();
        let mut r = FrameReader::new();
        let mut got = Vec::new();
        while got.len() < 3 {
            match r.next_frame(&limits).unwrap() {
                Some(m) => got.push(m),
                None => {
                    assert_eq!(
                        r.fill(b.as_fd(), &limits, Blocking::Wait).unwrap(),
                        Fill::Data
                    );
                }
            }
        }
        assert_eq!((got[0].bytes.clone(), got[0].fds.len()), (vec![1, 2, 3], 0));
        assert_eq!((got[1].bytes.clone(), got[1].fds.len()), (vec![9], 1));
        assert_eq!(got[2].bytes.len(), 100_000);
        assert_eq!(
            r.fill(b.as_fd(), &limits, Blocking::DontWait).unwrap(),
            Fill::WouldBlock
        );
        drop(a);
        assert_eq!(
            r.fill(b.as_fd(), &limits, Blocking::Wait).unwrap(),
            Fill::Eof
        );
    }

    #[test]
    fn a_cut_frame_and_bad_magic_are_errors() {
        let (a, b) = mp_sys::socket::socketpair().unwrap();
        let limits = Limits::default();
        std::io::Write::write_all(
            &mut std::fs::File::from(a),
            b"MPW\x01\x05\0\0\0\0\0\0\0\0\0\0\0ab",
        )
        .unwrap();
        let mut r = FrameReader::new();
        assert_eq!(
            r.fill(b.as_fd(), &limits, Blocking::Wait).unwrap(),
            Fill::Data
        );
        assert!(r.next_frame(&limits).unwrap().is_none());
        assert!(matches!(
            r.fill(b.as_fd(), &limits, Blocking::Wait),
            Err(WireError::Truncated { .. })
        ));
        let (c, d) = mp_sys::socket::socketpair().unwrap();
        std::io::Write::write_all(&mut std::fs::File::from(c), &[0u8; 16]).unwrap();
        let mut r = FrameReader::new();
        assert_eq!(
            r.fill(d.as_fd(), &limits, Blocking::Wait).unwrap(),
            Fill::Data
        );
        assert!(matches!(
            r.next_frame(&limits),
            Err(WireError::Malformed(_))
        ));
    }
}
