//! [`FrameDecoder`]: the receive side of the wire protocol, without I/O.
//!
//! Buffer discipline, fd-ownership rule and limits are documented on the type.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;

use crate::error::WireError;
use crate::header::{check_header, HEADER_LEN};
use crate::limits::Limits;
use crate::message::Message;

/// Largest size of the read buffer; frames larger than this get their own
/// allocation.
const BUF_LEN: usize = 64 * 1024;

/// Size of the read buffer at first: it doubles (up to [`BUF_LEN`]) each
/// time a read fills it, so a quiet stream keeps one page resident.
const START_LEN: usize = 4 * 1024;

/// A large payload's allocation starts at most this big and doubles as data
/// arrives.
const FIRST_CHUNK: usize = 256 * 1024;

/// The fds of a stream whose fds travel apart: a header declaring `n > 0`
/// fds gets them from this (see [`FrameDecoder::next_frame_with`]).
pub type TakeFds<'a> = dyn FnMut(usize) -> Result<Vec<OwnedFd>, WireError> + 'a;

/// A whole frame, as [`FrameDecoder::next_frame_map`] hands it over: its
/// payload borrowed from the read buffer where it lies there (a small
/// frame: no copy, no allocation), or the large payload's own allocation;
/// and its fds.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The payload.
    pub bytes: Cow<'a, [u8]>,
    /// The fds its header declared.
    pub fds: Vec<OwnedFd>,
}

impl Frame<'_> {
    /// The frame as an owned [`Message`] (copying a borrowed payload).
    pub fn into_message(self) -> Message {
        Message {
            bytes: self.bytes.into_owned(),
            fds: self.fds,
        }
    }

    /// [`into_message`](Self::into_message), copying a borrowed payload
    /// into `buf`'s allocation (cleared first) instead of a new one: the
    /// message's bytes are that allocation, and `buf` is left empty. A
    /// payload in its own allocation is moved, and `buf` left alone.
    ///
    /// ```
    /// use mp_wire::{FrameDecoder, FrameEncoder, Limits, Message};
    /// let mut enc = FrameEncoder::new();
    /// enc.push(&Message::from_bytes(b"hi".to_vec()))?;
    /// let mut dec = FrameDecoder::new();
    /// let wire = enc.as_bytes();
    /// dec.spare()[..wire.len()].copy_from_slice(wire);
    /// dec.filled(wire.len(), Vec::new(), false)?;
    /// let mut buf = Vec::with_capacity(64);
    /// let at = buf.as_ptr();
    /// let msg = dec
    ///     .next_frame_map(&Limits::default(), None, |f| f.into_message_in(&mut buf))?
    ///     .expect("a whole frame");
    /// assert_eq!(msg.bytes, b"hi");
    /// assert_eq!(msg.bytes.as_ptr(), at, "the buffer given");
    /// assert_eq!(buf.capacity(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_message_in(self, buf: &mut Vec<u8>) -> Message {
        let bytes = match self.bytes {
            Cow::Borrowed(b) => {
                buf.clear();
                buf.extend_from_slice(b);
                std::mem::take(buf)
            }
            Cow::Owned(v) => v,
        };
        Message {
            bytes,
            fds: self.fds,
        }
    }
}

/// Where a whole frame's payload is: in the read buffer from `at`, `len`
/// bytes long, or in its own allocation.
enum Payload {
    Buffered { at: usize, len: usize },
    Own(Vec<u8>),
}

/// Fds received with one read, and the stream range `[from, to)` it covered.
#[derive(Debug)]
struct FdBatch {
    from: u64,
    to: u64,
    fds: Vec<OwnedFd>,
    truncated: bool,
}

/// The frame whose header has been checked and whose fds have been claimed.
#[derive(Debug)]
struct Current {
    /// Payload length.
    len: usize,
    fds: Vec<OwnedFd>,
    /// For a frame larger than the buffer: its payload so far, in its own
    /// allocation (the header has left the buffer).
    large: Option<Large>,
}

/// A large payload being read into its own allocation.
#[derive(Debug)]
struct Large {
    bytes: Vec<u8>,
    got: usize,
}

/// Turns the bytes and fds read from a stream into [`Message`]s.
///
/// The caller owns the socket (or pipe) and the waiting; the decoder owns
/// everything else: the read buffer, the fds that arrived and the rule that
/// gives them to frames, the checks against [`Limits`], and large payloads
/// read straight into their own allocation. Every reader of frames in the
/// workspace is a loop around one:
///
/// ```text
/// loop {
///     if let Some(msg) = decoder.next_frame(&limits)? { return Ok(msg) }
///     let received = recvmsg(sock, decoder.spare(), MAX_FDS_PER_FRAME)?;
///     decoder.filled(received.bytes, received.fds, received.fds_truncated)?;
/// }
/// ```
///
/// # Buffering
/// [`spare`](FrameDecoder::spare) offers the free part of a buffer that
/// starts at 4 KiB and doubles, up to 64 KiB, each time a read fills it: one
/// read takes in as many frames as have arrived and a small message usually
/// costs one system call, header and payload together, while a quiet
/// stream (an idle worker's task pipe, a manager client) keeps one page
/// resident rather than sixteen.
/// [`spare_exact`](FrameDecoder::spare_exact) offers only the bytes the
/// current frame still lacks, so the reader never takes bytes of the next
/// frame and several readers may share a stream by taking turns (what
/// [`recv`](crate::recv()) does). A payload that does not fit in the buffer is
/// moved to its own allocation, which starts at 256 KiB at most and doubles
/// as data arrives: a peer that declares a huge length but sends little
/// costs little memory.
///
/// # Fds
/// The sender attaches a frame's fds to the `sendmsg` that carries the
/// frame's first header byte (and never attaches fds for two frames to one
/// `sendmsg`). Linux hands them to the `recvmsg` that reads part of that
/// `sendmsg`'s bytes and ends that `recvmsg` there. So each batch of fds is
/// recorded with the stream range its read covered, and a header that
/// declares fds claims the batch whose range holds the header's first byte.
/// A header declaring fds with no such batch, a batch with a different
/// number of fds (or cut short by the kernel), and a batch that no header
/// claims are all [`WireError::Malformed`]; the fds are closed. Streams whose
/// fds travel apart (a pipe with a side socket) use
/// [`next_frame_with`](FrameDecoder::next_frame_with) instead.
///
/// # Errors
/// Any error from [`next_frame`](FrameDecoder::next_frame) or
/// [`filled`](FrameDecoder::filled) leaves the stream out of step: drop the
/// decoder (and the connection). Between calls nothing is lost, so a reader
/// that gives up waiting (a timeout) can come back and finish the frame.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// The read buffer (allocated on first use).
    buf: Vec<u8>,
    /// The size [`spare`](Self::spare) grows the buffer to: 0 until a read
    /// first fills it (meaning [`START_LEN`]), then doubling up to
    /// [`BUF_LEN`].
    grow_to: usize,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]` (of the next byte, while a large
    /// payload is read).
    pos: u64,
    batches: VecDeque<FdBatch>,
    current: Option<Current>,
}

impl FrameDecoder {
    /// An empty decoder at the start of a stream.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Whether anything that arrived is waiting here: bytes, fds, or part of
    /// a frame (so the stream alone would not show it readable).
    #[inline]
    pub fn has_buffered(&self) -> bool {
        self.has_partial() || !self.batches.is_empty()
    }

    /// Whether part of a frame is here (so end of stream now would cut it).
    #[inline]
    pub fn has_partial(&self) -> bool {
        self.start < self.end || self.current.is_some()
    }

    /// The next complete frame, if one is here. Checks each header against
    /// `limits` when it is complete, before anything is allocated for it;
    /// fds are taken from what arrived with the stream's bytes.
    ///
    /// # Errors
    /// [`WireError::Malformed`] for a bad magic or misplaced fds,
    /// [`WireError::TooLarge`], [`WireError::TooManyFds`], or an
    /// out-of-memory [`WireError::Io`] for a large payload.
    pub fn next_frame(&mut self, limits: &Limits) -> Result<Option<Message>, WireError> {
        self.next(limits, None, |f| f.into_message())
    }

    /// Like [`next_frame`](Self::next_frame), for a stream whose fds travel
    /// apart: a header declaring `n > 0` fds gets them from `take_fds(n)`,
    /// which must return exactly `n` fds or an error; fds arriving with the
    /// bytes are [`WireError::Malformed`].
    ///
    /// # Errors
    /// As `next_frame`, plus whatever `take_fds` returns.
    pub fn next_frame_with(
        &mut self,
        limits: &Limits,
        take_fds: &mut TakeFds<'_>,
    ) -> Result<Option<Message>, WireError> {
        self.next(limits, Some(take_fds), |f| f.into_message())
    }

    /// The next complete frame, if one is here, handed to `map` (whose
    /// result this returns): [`next_frame`](Self::next_frame) (`take_fds`
    /// `None`) or [`next_frame_with`](Self::next_frame_with) without the
    /// [`Message`] — a frame lying whole in the read buffer is lent from
    /// there, so a reader that decodes it at once copies and allocates
    /// nothing for it. The frame has left the decoder when `map` sees it.
    ///
    /// ```
    /// use mp_wire::{FrameDecoder, FrameEncoder, Limits};
    ///
    /// let mut batch = FrameEncoder::new();
    /// batch.push(&mp_wire::encode(&7u64)?)?;
    /// let mut decoder = FrameDecoder::new();
    /// decoder.spare()[..batch.len()].copy_from_slice(batch.as_bytes());
    /// decoder.filled(batch.len(), Vec::new(), false)?;
    /// let limits = Limits::default();
    /// let seven = decoder.next_frame_map(&limits, None, |frame| {
    ///     mp_wire::decode_from_with_limits::<u64>(&frame.bytes, frame.fds, &limits)
    /// })?;
    /// assert_eq!(seven.transpose()?, Some(7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`next_frame_with`](Self::next_frame_with); `map` is not called.
    pub fn next_frame_map<R>(
        &mut self,
        limits: &Limits,
        take_fds: Option<&mut TakeFds<'_>>,
        map: impl FnOnce(Frame<'_>) -> R,
    ) -> Result<Option<R>, WireError> {
        self.next(limits, take_fds, map)
    }

    /// Space to read into: the free part of the buffer, or the rest of a
    /// large payload's allocation. Empty only if the buffer is full of
    /// complete frames that wait for [`next_frame`](Self::next_frame) (call
    /// it before each read). Follow the read with [`filled`](Self::filled).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.reading_large() {
            return self.large_rest();
        }
        let need = self.need();
        self.make_room(need, self.grow_to.max(START_LEN));
        &mut self.buf[self.end..]
    }

    /// Space for exactly the bytes the current frame still lacks (the rest
    /// of its header, or of its payload once
    /// [`next_frame`](Self::next_frame) has checked the header), so a read
    /// never takes bytes of the next frame. Empty only if a complete header
    /// waits for `next_frame`. Follow the read with [`filled`](Self::filled).
    pub fn spare_exact(&mut self) -> &mut [u8] {
        if self.reading_large() {
            return self.large_rest();
        }
        let need = self.need();
        self.make_room(need, need);
        let to = (self.start + need).max(self.end);
        &mut self.buf[self.end..to]
    }

    /// Records a read of `n` bytes into the last [`spare`](Self::spare) (or
    /// [`spare_exact`](Self::spare_exact)) slice, with the fds that came
    /// with it; `fds_truncated` says the kernel dropped some (`MSG_CTRUNC`,
    /// or more than the reader accepted). `n == 0` is end of stream.
    ///
    /// # Errors
    /// [`WireError::Eof`] for end of stream between frames,
    /// [`WireError::Truncated`] inside one; [`WireError::Malformed`] for fds
    /// arriving inside a large payload; an out-of-memory [`WireError::Io`]
    /// when a large payload's allocation cannot grow.
    pub fn filled(
        &mut self,
        n: usize,
        fds: Vec<OwnedFd>,
        fds_truncated: bool,
    ) -> Result<(), WireError> {
        if n == 0 {
            return Err(self.end_of_stream());
        }
        if let Some(Current {
            len,
            large: Some(l),
            ..
        }) = &mut self.current
        {
            if fds_truncated || !fds.is_empty() {
                return Err(malformed("fds arrived inside a frame payload"));
            }
            debug_assert!(l.got + n <= l.bytes.len(), "filled more than spare offered");
            l.got = (l.got + n).min(l.bytes.len());
            self.pos += n as u64;
            if l.got == l.bytes.len() && l.got < *len {
                let grown = (*len).min(l.bytes.len().saturating_mul(2).max(FIRST_CHUNK));
                reserve(&mut l.bytes, grown, *len)?;
                l.bytes.resize(grown, 0);
            }
            return Ok(());
        }
        debug_assert!(
            self.end + n <= self.buf.len(),
            "filled more than spare offered"
        );
        let n = n.min(self.buf.len() - self.end);
        let from = self.pos + (self.end - self.start) as u64;
        self.end += n;
        if self.end == self.buf.len() {
            // The read took all it was offered: more may be waiting, so the
            // next one is offered twice as much.
            self.grow_to = (self.buf.len() * 2).clamp(START_LEN, BUF_LEN);
        }
        if fds_truncated || !fds.is_empty() {
            self.batches.push_back(FdBatch {
                from,
                to: from + n as u64,
                fds,
                truncated: fds_truncated,
            });
        }
        Ok(())
    }

    /// Whether a large payload is being read into its own allocation.
    fn reading_large(&self) -> bool {
        matches!(self.current, Some(Current { large: Some(_), .. }))
    }

    /// The unread rest of a large payload's allocation (empty if none).
    fn large_rest(&mut self) -> &mut [u8] {
        match &mut self.current {
            Some(Current { large: Some(l), .. }) => &mut l.bytes[l.got..],
            _ => &mut [],
        }
    }

    /// The error for end of stream now.
    fn end_of_stream(&self) -> WireError {
        match &self.current {
            None if self.start == self.end => WireError::Eof,
            None => truncated(HEADER_LEN, self.end - self.start),
            Some(c) => {
                let got = match &c.large {
                    Some(l) => HEADER_LEN + l.got,
                    None => self.end - self.start,
                };
                truncated(HEADER_LEN + c.len, got)
            }
        }
    }

    /// Bytes from `start` that the current frame needs in the buffer.
    fn need(&self) -> usize {
        match &self.current {
            Some(c) => HEADER_LEN + c.len,
            None => HEADER_LEN,
        }
    }

    /// Makes room in the buffer for `need` bytes from `start` (moving the
    /// buffered bytes to the front if they would not fit), growing it to at
    /// least `size`.
    fn make_room(&mut self, need: usize, size: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.start < need.max(2 * HEADER_LEN)
            || self.end == self.buf.len()
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let size = size.max(need).max(self.end + 1).min(BUF_LEN.max(need));
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
    }

    fn next<R>(
        &mut self,
        limits: &Limits,
        take_fds: Option<&mut TakeFds<'_>>,
        map: impl FnOnce(Frame<'_>) -> R,
    ) -> Result<Option<R>, WireError> {
        if !self.has_buffered() {
            // The look before each read: with nothing here there is no
            // header to check and no batch of fds to match.
            return Ok(None);
        }
        if let Some(whole) = self.whole_without_fds(limits)? {
            let (at, len) = whole;
            return Ok(Some(map(Frame {
                bytes: Cow::Borrowed(&self.buf[at..at + len]),
                fds: Vec::new(),
            })));
        }
        if self.current.is_none() && !self.accept_header(limits, take_fds)? {
            return Ok(None);
        }
        let Some(cur) = &mut self.current else {
            return Ok(None);
        };
        let payload = match &mut cur.large {
            Some(l) if l.got < cur.len => return Ok(None),
            Some(l) => {
                let mut bytes = std::mem::take(&mut l.bytes);
                bytes.truncate(cur.len);
                Payload::Own(bytes)
            }
            None => {
                let len = cur.len;
                if self.end - self.start < HEADER_LEN + len {
                    return Ok(None);
                }
                let at = self.start + HEADER_LEN;
                // The bytes stay where they are until the next read:
                // `consume` moves only the indices.
                self.consume(HEADER_LEN + len);
                Payload::Buffered { at, len }
            }
        };
        let fds = self.current.take().map(|c| c.fds).unwrap_or_default();
        // A batch that ended within this frame can belong to no later one.
        if let Some(stray) = self.batches.front().filter(|b| b.to <= self.pos) {
            return Err(stray_fds(stray));
        }
        let bytes = match payload {
            Payload::Buffered { at, len } => Cow::Borrowed(&self.buf[at..at + len]),
            Payload::Own(bytes) => Cow::Owned(bytes),
        };
        Ok(Some(map(Frame { bytes, fds })))
    }

    /// The common case, without the bookkeeping of a frame in progress: no
    /// frame begun, no fds waiting, and at `start` a whole frame whose
    /// header declares none. Checks its header, consumes it and returns
    /// where its payload lies (`None` if that is not the case: the general
    /// path takes it from there, checking the header the same way).
    #[inline]
    fn whole_without_fds(&mut self, limits: &Limits) -> Result<Option<(usize, usize)>, WireError> {
        let have = self.end - self.start;
        if self.current.is_some() || !self.batches.is_empty() || have < HEADER_LEN {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[self.start..self.start + HEADER_LEN]);
        let (len, count) = check_header(&header, limits)?;
        if count != 0 || have - HEADER_LEN < len {
            return Ok(None);
        }
        let at = self.start + HEADER_LEN;
        // The bytes stay where they are until the next read.
        self.consume(HEADER_LEN + len);
        Ok(Some((at, len)))
    }

    /// Checks the header at `start` if it is complete, claims its fds and
    /// makes it the current frame (moving a large one's payload to its own
    /// allocation). `false` if the header is not complete yet.
    fn accept_header(
        &mut self,
        limits: &Limits,
        take_fds: Option<&mut TakeFds<'_>>,
    ) -> Result<bool, WireError> {
        if self.end - self.start < HEADER_LEN {
            return Ok(false);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[self.start..self.start + HEADER_LEN]);
        let (len, count) = check_header(&header, limits)?;
        let fds = match take_fds {
            Some(take) => self.take_apart(count, take)?,
            None => self.claim(count)?,
        };
        let mut cur = Current {
            len,
            fds,
            large: None,
        };
        if HEADER_LEN + len > BUF_LEN {
            self.consume(HEADER_LEN);
            let have = (self.end - self.start).min(len);
            let initial = len.min(FIRST_CHUNK.max(have));
            let mut bytes = Vec::new();
            reserve(&mut bytes, initial, len)?;
            bytes.extend_from_slice(&self.buf[self.start..self.start + have]);
            bytes.resize(initial, 0);
            self.consume(have);
            cur.large = Some(Large { bytes, got: have });
        }
        self.current = Some(cur);
        Ok(true)
    }

    /// Takes the batch of fds for a header at `pos` declaring `count`.
    fn claim(&mut self, count: usize) -> Result<Vec<OwnedFd>, WireError> {
        let at = self.pos;
        if let Some(stray) = self.batches.front().filter(|b| b.to <= at) {
            return Err(stray_fds(stray));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        let ours = |b: &FdBatch| b.from <= at && at < b.to;
        let Some(batch) = self
            .batches
            .front()
            .is_some_and(ours)
            .then(|| self.batches.pop_front())
            .flatten()
        else {
            return Err(malformed(&format!(
                "frame declares {count} fds but none arrived with its header"
            )));
        };
        if batch.truncated || batch.fds.len() != count {
            return Err(malformed(&format!(
                "frame declares {count} fds but {}{} arrived",
                batch.fds.len(),
                if batch.truncated { " or more" } else { "" }
            )));
        }
        Ok(batch.fds)
    }

    /// Gets `count` fds from `take` for a stream whose fds travel apart.
    fn take_apart(
        &mut self,
        count: usize,
        take: &mut TakeFds<'_>,
    ) -> Result<Vec<OwnedFd>, WireError> {
        if let Some(stray) = self.batches.front() {
            return Err(stray_fds(stray));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        let fds = take(count)?;
        if fds.len() != count {
            return Err(malformed(&format!(
                "frame declares {count} fds but {} arrived",
                fds.len()
            )));
        }
        Ok(fds)
    }

    /// Drops `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// The error for a batch of fds that no frame claimed.
fn stray_fds(batch: &FdBatch) -> WireError {
    malformed(&format!(
        "{} fds arrived that no frame claimed (inside a frame payload, not with a header)",
        batch.fds.len()
    ))
}

/// Grows `bytes`' capacity to `to`, as a typed error if memory runs out.
fn reserve(bytes: &mut Vec<u8>, to: usize, len: usize) -> Result<(), WireError> {
    bytes
        .try_reserve_exact(to.saturating_sub(bytes.len()))
        .map_err(|_| {
            WireError::Io(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("cannot allocate {len} bytes for a frame payload"),
            ))
        })
}

/// A [`WireError::Malformed`] with `why`.
fn malformed(why: &str) -> WireError {
    WireError::Malformed(why.to_string())
}

/// A [`WireError::Truncated`] for a frame of `expected` bytes cut at `got`.
fn truncated(expected: usize, got: usize) -> WireError {
    WireError::Truncated {
        expected: expected as u64,
        got: got as u64,
    }
}
