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
//! The magic is `b"MPW\x01"`. The fds ride with `SCM_RIGHTS` on the
//! `sendmsg` that carries the first header byte, so the kernel hands them
//! over with the first `recvmsg` that reads part of the header (the rule is
//! enforced by the [`FrameDecoder`], the one receive side of this layout). A
//! frame is sent with one `sendmsg` (header and payload as two iovecs)
//! unless the socket buffer fills up. [`recv`] reads one frame with one
//! `recvmsg` for the header and usually one for the payload; it never reads
//! past the end of the frame, so no state is kept between calls and several
//! readers may share a socket as long as they take turns.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use mp_sys::socket::{self, Blocking, Received};
use mp_sys::time::Deadline;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::decoder::FrameDecoder;
use crate::error::WireError;
use crate::header::{encode_header, HEADER_LEN};
use crate::limits::{Limits, MAX_FDS_PER_FRAME};
use crate::message::{decode_with_limits, encode, Message};

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
    let deadline = Deadline::after(timeout);
    let mut sent = 0;
    while sent < total {
        let bufs = [
            IoSlice::new(&header[sent.min(HEADER_LEN)..]),
            IoSlice::new(&payload[sent.saturating_sub(HEADER_LEN)..]),
        ];
        // Until the first byte is accepted, nothing (fds included) was sent.
        let attach: &[BorrowedFd<'_>] = if sent == 0 { &fds } else { &[] };
        match socket::send_vectored_with_fds(sock, &bufs, attach, blocking(&deadline)) {
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
///
/// This is a [`FrameDecoder`] reading with
/// [`spare_exact`](FrameDecoder::spare_exact): it never reads past the end
/// of the frame, so no state is kept between calls and several readers may
/// share a socket as long as they take turns.
pub fn recv(
    sock: BorrowedFd<'_>,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<Message, WireError> {
    let deadline = Deadline::after(timeout);
    let max_fds = limits.max_fds.min(MAX_FDS_PER_FRAME);
    let mut decoder = FrameDecoder::new();
    loop {
        if let Some(msg) = decoder.next_frame(limits)? {
            return Ok(msg);
        }
        let received = read_some(sock, decoder.spare_exact(), max_fds, &deadline)?;
        decoder.filled(received.bytes, received.fds, received.fds_truncated)?;
    }
}

/// Encodes `value` and sends it as one frame (see [`encode`] and [`send`]).
pub fn send_value<T: Serialize + ?Sized>(sock: BorrowedFd<'_>, value: &T) -> Result<(), WireError> {
    send(sock, &encode(value)?)
}

/// Receives one frame and decodes it as a `T` (see [`recv`] and
/// [`decode_with_limits`], which applies `limits.max_depth`).
pub fn recv_value<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<T, WireError> {
    Ok(decode_with_limits(recv(sock, limits, timeout)?, limits)?)
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
        match socket::recv_vectored_with_fds(sock, &mut bufs, max_fds, blocking(deadline)) {
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

/// Whether a send or receive with this deadline may sleep in the call
/// itself: without a deadline, let the socket block there (one system call);
/// with one, never block there and wait in `poll` instead.
fn blocking(deadline: &Deadline) -> Blocking {
    if deadline.is_never() {
        Blocking::Wait
    } else {
        Blocking::DontWait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_chooses_blocking_mode() {
        assert_eq!(blocking(&Deadline::NEVER), Blocking::Wait);
        let soon = Deadline::after(Some(Duration::from_secs(60)));
        assert_eq!(blocking(&soon), Blocking::DontWait);
    }
}
