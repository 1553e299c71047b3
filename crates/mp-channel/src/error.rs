//! Error types of connections: sending, receiving, receiving into a buffer,
//! and authentication.

use std::io;

use mp_wire::{DecodeError, EncodeError};

/// Why [`Connection::send`](crate::Connection::send) (or `send_bytes`) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// This end is the read end of a one-way pipe.
    #[error("connection is read-only")]
    NotWritable,
    /// The peer closed its end (`EPIPE`/`ECONNRESET`): Python's `BrokenPipeError`.
    #[error("the peer closed the connection")]
    Disconnected,
    /// The timeout expired. If part of the message had been written, the
    /// connection is now unusable for sending (see [`SendError::Unusable`]).
    #[error("timed out")]
    Timeout,
    /// The value could not be encoded; nothing was sent.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The value carries more fds than one message can (253); nothing was sent.
    #[error("message carries {count} fds, more than the limit of {max}")]
    TooManyFds {
        /// Fds in the message.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier send stopped in the middle of a message, so the stream is
    /// out of step and nothing more can be sent.
    #[error("connection is unusable for sending: an earlier send stopped mid-message")]
    Unusable,
    /// The operating system reported an error.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
}

/// Why [`Connection::recv`](crate::Connection::recv) (or `recv_bytes`, `poll`) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// This end is the write end of a one-way pipe.
    #[error("connection is write-only")]
    NotReadable,
    /// The peer closed its end and every message was read: Python's `EOFError`.
    #[error("end of stream: the peer closed the connection")]
    Eof,
    /// No whole message arrived within the timeout. The connection stays
    /// usable: a message that was partly read is finished by the next call.
    #[error("timed out")]
    Timeout,
    /// The peer closed the connection in the middle of a message.
    #[error("got end of file during message: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the frame (header included) should have had.
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The message is longer than the limit (the connection's
    /// [`max_message`](crate::Connection::set_max_message), or `recv_bytes`'s
    /// `max`). The message is left unread, so the connection is unusable
    /// for receiving afterwards, as in Python.
    #[error("bad message length: {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The declared length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The bytes on the stream are not a frame of this protocol (garbage,
    /// bad header, stray fds). The connection is unusable afterwards.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A whole message arrived but did not decode as the requested type; the
    /// connection stays usable.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An earlier error left the stream out of step; nothing more can be read.
    #[error("connection is unusable for receiving after an earlier error: {0}")]
    Unusable(String),
    /// The operating system reported an error.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
}

impl RecvError {
    /// Whether the stream is out of step after this error, so that later
    /// receives fail with [`RecvError::Unusable`].
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(
            self,
            RecvError::Truncated { .. }
                | RecvError::TooLarge { .. }
                | RecvError::Malformed(_)
                | RecvError::Io(_)
        )
    }
}

/// Why [`Connection::recv_bytes_into`](crate::Connection::recv_bytes_into) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecvIntoError {
    /// Receiving failed (nothing was consumed, or see [`RecvError`]).
    #[error(transparent)]
    Recv(#[from] RecvError),
    /// `offset` is beyond the end of the buffer; nothing was received.
    #[error("offset too large: {offset} > buffer length {len}")]
    OffsetTooLarge {
        /// The requested offset.
        offset: usize,
        /// The buffer's length.
        len: usize,
    },
    /// Python's `BufferTooShort`: the message did not fit after `offset`.
    /// It was consumed and is returned here whole; the connection stays usable.
    #[error("buffer too short for a message of {} bytes", .0.len())]
    BufferTooShort(Vec<u8>),
}

impl RecvIntoError {
    /// The message carried by [`RecvIntoError::BufferTooShort`], if that is the error.
    pub fn into_message(self) -> Option<Vec<u8>> {
        match self {
            RecvIntoError::BufferTooShort(m) => Some(m),
            _ => None,
        }
    }
}

/// The authentication handshake failed: Python's `AuthenticationError`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticationError {
    /// The peer rejected our answer to its challenge: our keys differ.
    #[error("digest sent was rejected")]
    DigestRejected,
    /// The peer's answer to our challenge was wrong: our keys differ.
    #[error("digest received was wrong")]
    DigestWrong,
    /// The peer does not speak the handshake (wrong message, wrong length).
    #[error("protocol error during authentication: {0}")]
    Protocol(String),
    /// Sending a handshake message failed.
    #[error("authentication failed while sending: {0}")]
    Send(#[source] SendError),
    /// Receiving a handshake message failed (end of stream, timeout, ...).
    #[error("authentication failed while receiving: {0}")]
    Recv(#[source] RecvError),
}

/// Why [`Listener::accept`](crate::Listener::accept) or [`client`](crate::client) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// Binding, accepting or connecting failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The authkey handshake failed, on either side.
    #[error(transparent)]
    Authentication(#[from] AuthenticationError),
    /// No connection arrived within the timeout.
    #[error("timed out")]
    Timeout,
}

/// Maps an OS error from a send to [`SendError`], recognising a closed peer.
pub(crate) fn send_io(e: io::Error) -> SendError {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => SendError::Disconnected,
        _ => SendError::Io(e),
    }
}
