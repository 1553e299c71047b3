//! Framing of [`Message`]s on a Unix stream socket: [`send`] and [`recv`].
//!
//! A frame is a 16-byte header followed by the payload:
//!
//! | bytes | field |
//! |-------|-------|
//! | 0..4  | magic and version: `b"MPW\x01"` |
//! | 4..12 | payload length, `u64` little-endian |
//! | 12..16| fd count, `u32` little-endian |
//! | 16..  | payload ([`Message::bytes`]) |
//!
//! The fds ride with `SCM_RIGHTS` on the `sendmsg` that carries the first
//! header byte, so the kernel hands them over with the first `recvmsg` that
//! reads part of the header. A frame is sent with one `sendmsg` (header and
//! payload as two iovecs) unless the socket buffer fills up, and received with
//! one `recvmsg` for the header and usually one for the payload; the receiver
//! never reads past the end of the frame, so no state is kept between calls
//! and several readers may share a socket as long as they take turns.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use mp_sys::socket::{self, Blocking, Received};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::WireError;
use crate::limits::{Limits, MAX_FDS_PER_FRAME};
use crate::message::{decode, encode, Message};

/// The first four bytes of every frame: protocol name and version 1.
pub const MAGIC: [u8; 4] = *b"MPW\x01";

/// Length of a frame header in bytes.
pub const HEADER_LEN: usize = 16;

/// Payload buffers start at most this big and double as data arrives, so a
/// peer that declares a huge length but sends little costs little memory.
const FIRST_CHUNK: usize = 256 * 1024;

/// Sends `msg` as one frame, blocking until all of it is written.
///
/// Equivalent to [`send_timeout`] without a timeout.
pub fn send(sock: BorrowedFd<'_>, msg: &Message) -> Result<(), WireError> {
    send_timeout(sock, msg, None)
}

/// Sends `msg` as one frame, giving up after `timeout` (`None` = never).
///
/// Fails with [`WireError::TooManyFds`] before writing anything if the
/// message carries more than [`MAX_FDS_PER_FRAME`] fds. A peer that closed
/// its end gives [`WireError::Io`] with `EPIPE` (never `SIGPIPE`). If the
/// timeout expires after part of the frame was written, the stream is left in
/// the middle of a frame and the connection is unusable.
pub fn send_timeout(
    sock: BorrowedFd<'_>,
    msg: &Message,
    timeout: Option<Duration>,
) -> Result<(), WireError> {
    if msg.fds.len() > MAX_FDS_PER_FRAME {
        return Err(WireError::TooManyFds {
            count: msg.fds.len() as u64,
            max: MAX_FDS_PER_FRAME,
        });
    }
    let header = encode_header(msg.bytes.len() as u64, msg.fds.len() as u32);
    let fds: Vec<BorrowedFd<'_>> = msg.fds.iter().map(AsFd::as_fd).collect();
    let payload = &msg.bytes[..];
    let total = HEADER_LEN + payload.len();
    let deadline = Deadline::new(timeout);
    let mut sent = 0;
    while sent < total {
        let bufs = [
            IoSlice::new(&header[sent.min(HEADER_LEN)..]),
            IoSlice::new(&payload[sent.saturating_sub(HEADER_LEN)..]),
        ];
        // Until the first byte is accepted, nothing (fds included) was sent.
        let attach: &[BorrowedFd<'_>] = if sent == 0 { &fds } else { &[] };
        match socket::send_vectored_with_fds(sock, &bufs, attach, deadline.blocking()) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !socket::poll_writable(sock, deadline.remaining())? {
                    return Err(WireError::Timeout);
                }
            }
            Err(e) => return Err(WireError::Io(e)),
        }
    }
    Ok(())
}

/// Receives one frame, waiting at most `timeout` for all of it (`None` = forever).
///
/// Checks run before anything is allocated: a header declaring more than
/// `limits.max_frame` payload bytes gives [`WireError::TooLarge`], more than
/// `limits.max_fds` fds gives [`WireError::TooManyFds`]; the payload is then
/// left unread, so **the connection is unusable after either** and should be
/// closed. End of stream before the first header byte is [`WireError::Eof`]
/// (a clean close); inside a frame it is [`WireError::Truncated`]. A wrong
/// magic, fds arriving anywhere but with the header, or a fd count that
/// disagrees with the header give [`WireError::Malformed`]; any fds that did
/// arrive are closed. A [`WireError::Timeout`] before the first byte leaves the
/// connection usable; after it, the stream is mid-frame and unusable.
pub fn recv(
    sock: BorrowedFd<'_>,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<Message, WireError> {
    let deadline = Deadline::new(timeout);
    let max_fds = limits.max_fds.min(MAX_FDS_PER_FRAME);
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut fds_overflow = false;
    while got < HEADER_LEN {
        let accept = if fds.is_empty() { max_fds } else { 0 };
        let received = read_some(sock, &mut header[got..], accept, &deadline)?;
        if received.bytes == 0 {
            return Err(match got {
                0 => WireError::Eof,
                _ => truncated(HEADER_LEN, got),
            });
        }
        if received.fds_truncated {
            if !fds.is_empty() {
                return Err(malformed("fds arrived twice within one frame header"));
            }
            fds_overflow = true;
        } else if !received.fds.is_empty() {
            if !fds.is_empty() {
                return Err(malformed("fds arrived twice within one frame header"));
            }
            fds = received.fds;
        }
        got += received.bytes;
    }
    let (len, count) = check_header(&header, limits)?;
    if fds_overflow {
        return Err(malformed(&format!(
            "header declares {count} fds but more arrived"
        )));
    }
    if fds.len() != count {
        return Err(malformed(&format!(
            "header declares {count} fds but {} arrived",
            fds.len()
        )));
    }
    let bytes = read_payload(sock, len, &deadline)?;
    Ok(Message { bytes, fds })
}

/// Encodes `value` and sends it as one frame (see [`encode`] and [`send`]).
pub fn send_value<T: Serialize + ?Sized>(sock: BorrowedFd<'_>, value: &T) -> Result<(), WireError> {
    send(sock, &encode(value)?)
}

/// Receives one frame and decodes it as a `T` (see [`recv`] and [`decode`]).
pub fn recv_value<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<T, WireError> {
    Ok(decode(recv(sock, limits, timeout)?)?)
}

/// Reads exactly `len` payload bytes, growing the buffer as they arrive.
fn read_payload(
    sock: BorrowedFd<'_>,
    len: usize,
    deadline: &Deadline,
) -> Result<Vec<u8>, WireError> {
    let mut bytes = vec![0u8; len.min(FIRST_CHUNK)];
    let mut got = 0;
    while got < len {
        if got == bytes.len() {
            let grown = len.min(bytes.len().saturating_mul(2));
            bytes.try_reserve_exact(grown - bytes.len()).map_err(|_| {
                WireError::Io(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("cannot allocate {len} bytes for a frame payload"),
                ))
            })?;
            bytes.resize(grown, 0);
        }
        let received = read_some(sock, &mut bytes[got..], 0, deadline)?;
        if received.fds_truncated || !received.fds.is_empty() {
            return Err(malformed("fds arrived inside a frame payload"));
        }
        if received.bytes == 0 {
            return Err(truncated(HEADER_LEN + len, HEADER_LEN + got));
        }
        got += received.bytes;
    }
    Ok(bytes)
}

/// One `recvmsg` into `buf`, waiting for readiness until the deadline.
fn read_some(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    deadline: &Deadline,
) -> Result<Received, WireError> {
    loop {
        let mut bufs = [IoSliceMut::new(buf)];
        match socket::recv_vectored_with_fds(sock, &mut bufs, max_fds, deadline.blocking()) {
            Ok(received) => return Ok(received),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !socket::poll_readable(sock, deadline.remaining())? {
                    return Err(WireError::Timeout);
                }
            }
            Err(e) => return Err(WireError::Io(e)),
        }
    }
}

/// The header for a payload of `len` bytes carrying `fds` fds (for code that
/// batches several frames into one write).
pub fn encode_header(len: u64, fds: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4..12].copy_from_slice(&len.to_le_bytes());
    header[12..].copy_from_slice(&fds.to_le_bytes());
    header
}

/// Checks a frame header against the magic and `limits` and returns (payload
/// length, fd count): [`WireError::Malformed`] for a wrong magic,
/// [`WireError::TooManyFds`] or [`WireError::TooLarge`] past the limits (for
/// code that reads frames out of its own buffer).
pub fn check_header(
    header: &[u8; HEADER_LEN],
    limits: &Limits,
) -> Result<(usize, usize), WireError> {
    let (len, count) = decode_header(header)?;
    let max_fds = limits.max_fds.min(MAX_FDS_PER_FRAME);
    if count as usize > max_fds {
        return Err(WireError::TooManyFds {
            count: count.into(),
            max: max_fds,
        });
    }
    if len > limits.max_frame as u64 {
        return Err(WireError::TooLarge {
            len,
            max: limits.max_frame,
        });
    }
    Ok((len as usize, count as usize))
}

/// Checks the magic and returns (payload length, fd count).
fn decode_header(header: &[u8; HEADER_LEN]) -> Result<(u64, u32), WireError> {
    let (magic, rest) = header.split_at(4);
    if magic != MAGIC {
        return Err(malformed(&format!(
            "bad magic {magic:02x?}, expected {MAGIC:02x?} (not an mp-wire stream, or out of step)"
        )));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&rest[..8]);
    let mut count = [0u8; 4];
    count.copy_from_slice(&rest[8..]);
    let (len, count) = (u64::from_le_bytes(len), u32::from_le_bytes(count));
    Ok((len, count))
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

/// An optional point in time by which a whole frame must be through.
#[derive(Debug)]
struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; `None` (or one too far to represent) is no deadline.
    fn new(timeout: Option<Duration>) -> Self {
        Self(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// Without a deadline, let the socket block in the call itself (one
    /// syscall); with one, never block there and wait in `poll` instead.
    fn blocking(&self) -> Blocking {
        match self.0 {
            None => Blocking::Wait,
            Some(_) => Blocking::DontWait,
        }
    }

    /// Time left, `None` meaning forever.
    fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let header = encode_header(0x0102_0304_0506_0708, 3);
        assert_eq!(&header[..4], b"MPW\x01");
        assert_eq!(decode_header(&header).unwrap(), (0x0102_0304_0506_0708, 3));
    }

    #[test]
    fn other_versions_are_malformed() {
        let mut header = encode_header(1, 0);
        header[3] = 2;
        assert!(matches!(
            decode_header(&header),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn deadline_chooses_blocking_mode() {
        assert_eq!(Deadline::new(None).blocking(), Blocking::Wait);
        assert_eq!(Deadline::new(None).remaining(), None);
        let soon = Deadline::new(Some(Duration::from_secs(60)));
        assert_eq!(soon.blocking(), Blocking::DontWait);
        assert!(soon.remaining().unwrap() <= Duration::from_secs(60));
        // Unrepresentable deadlines mean "forever".
        assert_eq!(
            Deadline::new(Some(Duration::MAX)).blocking(),
            Blocking::Wait
        );
    }
}
