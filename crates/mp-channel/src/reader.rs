//! The receiving half of a [`Connection`](crate::Connection): a buffered
//! reader of `mp-wire` frames that matches fds to the frame that carried them.
//!
//! Frames are read with as few `recvmsg` (or, from a pipe, `read`) calls
//! as possible: small frames come into a 64 KiB buffer, several at a time,
//! so a message usually costs one system call (header and payload
//! together); a payload larger than what the buffer holds is read straight
//! into its own allocation, which grows as data arrives (a peer that
//! declares a huge length but sends little costs little memory).
//!
//! # Fds
//! On a pipe, a header that declares fds takes them from the side socket
//! (see [`transport`](crate::transport)). On a stream socket, the sender
//! attaches a frame's fds to the `sendmsg` whose first byte is the frame's
//! first header byte. Linux hands them to the `recvmsg` that reads part of
//! that message and then stops reading, so a batch of fds belongs to the
//! last frame whose header starts in the bytes of that `recvmsg`. Each
//! batch is recorded with the stream range of its `recvmsg`; a header that
//! declares fds claims the batch whose range holds its first byte, and a
//! batch no header claims is a protocol error. Nothing here trusts the
//! peer: every mismatch is a [`RecvError::Malformed`].
//!
//! # Timeouts
//! State survives a timeout: bytes already read stay buffered (or in the
//! partial payload), so the next call finishes the message.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use mp_wire::frame::{HEADER_LEN, MAGIC};
use mp_wire::{Limits, Message};

use crate::error::RecvError;
use crate::transport::{take_side_fds, Source};

/// Size of the read buffer.
const BUF_LEN: usize = 64 * 1024;

/// A large payload starts this big and doubles as data arrives.
const FIRST_CHUNK: usize = 256 * 1024;

/// Fds received with one `recvmsg`, and the stream range that call read.
#[derive(Debug)]
struct FdBatch {
    from: u64,
    to: u64,
    fds: Vec<OwnedFd>,
    truncated: bool,
}

/// A large frame whose payload is being read directly into `bytes`.
#[derive(Debug)]
struct Partial {
    len: usize,
    got: usize,
    bytes: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// The buffered reader; one per connection end.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    pos: u64,
    batches: VecDeque<FdBatch>,
    partial: Option<Partial>,
    /// Set by an error that leaves the stream out of step.
    broken: Option<String>,
}

/// A point in time by which a call must finish (`None` = never).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; `None`, or a timeout too long to represent, is never.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// Whether this deadline never passes.
    pub(crate) fn is_never(self) -> bool {
        self.0.is_none()
    }

    /// Time left (`None` = forever).
    pub(crate) fn remaining(self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// A [`Deadline`] fixed only when first asked for, so a call that needs
/// no waiting does not read the clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LazyDeadline {
    timeout: Option<Duration>,
    at: Option<Deadline>,
}

impl LazyDeadline {
    /// An already fixed deadline.
    pub(crate) fn fixed(at: Deadline) -> LazyDeadline {
        LazyDeadline {
            timeout: (!at.is_never()).then_some(Duration::ZERO),
            at: Some(at),
        }
    }

    /// `timeout` from the first [`get`](Self::get) (`None` = never).
    pub(crate) fn after(timeout: Option<Duration>) -> LazyDeadline {
        LazyDeadline { timeout, at: None }
    }

    /// Whether this deadline never passes.
    pub(crate) fn is_never(&self) -> bool {
        self.timeout.is_none()
    }

    /// The deadline, fixed now if it was not yet.
    pub(crate) fn get(&mut self) -> Deadline {
        *self.at.get_or_insert_with(|| Deadline::after(self.timeout))
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    len: u64,
    fds: u32,
}

impl Reader {
    /// An empty reader.
    pub(crate) fn new() -> Reader {
        Reader {
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
            pos: 0,
            batches: VecDeque::new(),
            partial: None,
            broken: None,
        }
    }

    /// Whether bytes (or fds) that arrived are waiting here, unread.
    pub(crate) fn has_buffered(&self) -> bool {
        self.start < self.end || self.partial.is_some() || !self.batches.is_empty()
    }

    /// Receives one whole frame. Payloads longer than `max` fail with
    /// [`RecvError::TooLarge`] before being read.
    pub(crate) fn recv(
        &mut self,
        src: Source<'_>,
        limits: &Limits,
        max: usize,
        deadline: Deadline,
    ) -> Result<Message, RecvError> {
        if let Some(why) = &self.broken {
            return Err(RecvError::Unusable(why.clone()));
        }
        let result = self.recv_inner(src, limits, max, deadline);
        if let Err(e) = &result {
            if e.is_fatal() {
                self.broken = Some(e.to_string());
            }
        }
        result
    }

    fn recv_inner(
        &mut self,
        src: Source<'_>,
        limits: &Limits,
        max: usize,
        deadline: Deadline,
    ) -> Result<Message, RecvError> {
        if self.partial.is_some() {
            return self.finish_partial(src, deadline);
        }
        while self.end - self.start < HEADER_LEN {
            self.fill(src, deadline)?;
        }
        let header = parse_header(&self.buf[self.start..self.start + HEADER_LEN])?;
        let max_fds = limits.max_fds.min(mp_wire::MAX_FDS_PER_FRAME);
        if header.fds as usize > max_fds {
            return Err(RecvError::Malformed(format!(
                "frame declares {} fds, more than the limit of {max_fds}",
                header.fds
            )));
        }
        let max = max.min(limits.max_frame);
        if header.len > max as u64 {
            return Err(RecvError::TooLarge {
                len: header.len,
                max,
            });
        }
        let len = header.len as usize;
        if HEADER_LEN + len <= self.buf.len() {
            // Small frame: wait until all of it is buffered, then take it.
            while self.end - self.start < HEADER_LEN + len {
                self.fill(src, deadline)?;
            }
            let fds = self.claim_fds(src, header)?;
            let from = self.start + HEADER_LEN;
            let bytes = self.buf[from..from + len].to_vec();
            self.consume(HEADER_LEN + len);
            return Ok(Message { bytes, fds });
        }
        // Large frame: move what is buffered into its own allocation.
        let fds = self.claim_fds(src, header)?;
        self.consume(HEADER_LEN);
        let have = (self.end - self.start).min(len);
        let initial = len.min(FIRST_CHUNK.max(have));
        let mut bytes = Vec::new();
        reserve(&mut bytes, initial, len)?;
        bytes.extend_from_slice(&self.buf[self.start..self.start + have]);
        bytes.resize(initial, 0);
        self.consume(have);
        self.partial = Some(Partial {
            len,
            got: have,
            bytes,
            fds,
        });
        self.finish_partial(src, deadline)
    }

    /// Reads the rest of a large payload straight into its buffer.
    fn finish_partial(
        &mut self,
        src: Source<'_>,
        deadline: Deadline,
    ) -> Result<Message, RecvError> {
        let Some(p) = self.partial.as_mut() else {
            return Err(RecvError::Malformed("no partial frame".into()));
        };
        while p.got < p.len {
            if p.got == p.bytes.len() {
                let grown = p.len.min(p.bytes.len().saturating_mul(2).max(FIRST_CHUNK));
                reserve(&mut p.bytes, grown, p.len)?;
                p.bytes.resize(grown, 0);
            }
            let received = src.read_some(&mut p.bytes[p.got..], 0, deadline)?;
            if received.fds_truncated || !received.fds.is_empty() {
                return Err(RecvError::Malformed(
                    "fds arrived inside a message payload".into(),
                ));
            }
            if received.bytes == 0 {
                return Err(RecvError::Truncated {
                    expected: (HEADER_LEN + p.len) as u64,
                    got: (HEADER_LEN + p.got) as u64,
                });
            }
            p.got += received.bytes;
            self.pos += received.bytes as u64;
        }
        let p = self.partial.take().expect("checked above");
        let mut bytes = p.bytes;
        bytes.truncate(p.len);
        Ok(Message { bytes, fds: p.fds })
    }

    /// One `recvmsg` into the free part of the buffer (compacting first).
    fn fill(&mut self, src: Source<'_>, deadline: Deadline) -> Result<(), RecvError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() || self.buf.len() - self.start < 2 * HEADER_LEN {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let from = self.pos + (self.end - self.start) as u64;
        let received = src.read_some(
            &mut self.buf[self.end..],
            mp_wire::MAX_FDS_PER_FRAME,
            deadline,
        )?;
        if received.bytes == 0 {
            let buffered = self.end - self.start;
            if buffered == 0 {
                return Err(RecvError::Eof);
            }
            let expected = match parse_header(&self.buf[self.start..self.end]) {
                Ok(h) => HEADER_LEN as u64 + h.len,
                Err(_) => HEADER_LEN as u64,
            };
            return Err(RecvError::Truncated {
                expected,
                got: buffered as u64,
            });
        }
        self.end += received.bytes;
        if received.fds_truncated || !received.fds.is_empty() {
            self.batches.push_back(FdBatch {
                from,
                to: from + received.bytes as u64,
                fds: received.fds,
                truncated: received.fds_truncated,
            });
        }
        Ok(())
    }

    /// Takes the fds of the frame whose header is at `self.pos`.
    fn claim_fds(&mut self, src: Source<'_>, header: Header) -> Result<Vec<OwnedFd>, RecvError> {
        if let Source::Pipe { side, .. } = src {
            return match header.fds {
                0 => Ok(Vec::new()),
                n => take_side_fds(side, n),
            };
        }
        let at = self.pos;
        if let Some(stray) = self.batches.front().filter(|b| b.to <= at) {
            return Err(RecvError::Malformed(format!(
                "{} fds arrived that no message claimed",
                stray.fds.len()
            )));
        }
        if header.fds == 0 {
            return Ok(Vec::new());
        }
        match self.batches.front() {
            Some(b) if b.from <= at && at < b.to => {}
            _ => {
                return Err(RecvError::Malformed(format!(
                    "message declares {} fds but none arrived with it",
                    header.fds
                )))
            }
        }
        let batch = self.batches.pop_front().expect("checked above");
        if batch.truncated || batch.fds.len() != header.fds as usize {
            return Err(RecvError::Malformed(format!(
                "message declares {} fds but {}{} arrived",
                header.fds,
                batch.fds.len(),
                if batch.truncated { " or more" } else { "" }
            )));
        }
        Ok(batch.fds)
    }

    /// Drops `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }
}

/// Parses (the start of) a header; checks the magic.
fn parse_header(bytes: &[u8]) -> Result<Header, RecvError> {
    let magic = &bytes[..4.min(bytes.len())];
    if magic != &MAGIC[..magic.len()] {
        return Err(RecvError::Malformed(format!(
            "bad magic {magic:02x?}, expected {MAGIC:02x?} (not a multiprocess stream, or out of step)"
        )));
    }
    if bytes.len() < HEADER_LEN {
        return Err(RecvError::Malformed("short header".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[4..12]);
    let mut fds = [0u8; 4];
    fds.copy_from_slice(&bytes[12..16]);
    Ok(Header {
        len: u64::from_le_bytes(len),
        fds: u32::from_le_bytes(fds),
    })
}

/// Grows `bytes`' capacity to `to`, as a typed error if memory runs out.
fn reserve(bytes: &mut Vec<u8>, to: usize, len: usize) -> Result<(), RecvError> {
    bytes
        .try_reserve_exact(to.saturating_sub(bytes.len()))
        .map_err(|_| {
            RecvError::Io(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("cannot allocate {len} bytes for a message"),
            ))
        })
}
