//! Error types of the wire layer: encoding, decoding and framing failures.

use std::io;

/// Why a value could not be encoded into a [`Message`](crate::Message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// postcard refused the value (a sequence or map of unknown length, ...).
    #[error("cannot encode value: {0}")]
    Serialize(#[source] postcard::Error),
    /// The value's `Serialize` implementation failed with this message
    /// (`serde::ser::Error::custom`), kept word for word.
    #[error("cannot encode value: {0}")]
    Custom(String),
    /// A [`SharedFd`](crate::SharedFd) in the value could not be duplicated.
    #[error("cannot duplicate a shared fd: {0}")]
    DupFd(#[source] io::Error),
    /// The value holds more [`SharedFd`](crate::SharedFd)s than an index can name.
    #[error("too many shared fds in one value")]
    TooManyFds,
}

/// Why a [`Message`](crate::Message) could not be decoded into a value.
///
/// Decoding never panics on bad input: any byte string, any fd list and any
/// target type yield either a value or one of these errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a valid postcard encoding of the requested type
    /// (wrong type, truncated, bad varint, bad UTF-8, unknown enum variant, ...).
    #[error("cannot decode value: {0}")]
    Deserialize(#[source] postcard::Error),
    /// The value was decoded but bytes were left over: the message was
    /// encoded from a different type.
    #[error("{count} trailing bytes after the decoded value")]
    TrailingBytes {
        /// How many bytes were left unread.
        count: usize,
    },
    /// A [`SharedFd`](crate::SharedFd) named an fd the message does not carry.
    #[error("shared fd index {index} out of range: the message carries {count} fds")]
    FdOutOfRange {
        /// The index found in the bytes.
        index: u32,
        /// How many fds the message carries.
        count: usize,
    },
    /// The value nests deeper than [`Limits::max_depth`](crate::Limits)
    /// levels (a hostile or runaway recursive value); decoding stopped
    /// before it could overflow the stack.
    #[error("value nests deeper than the limit of {limit} levels")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// Two [`SharedFd`](crate::SharedFd)s named the same fd.
    #[error("shared fd index {index} used twice")]
    FdReused {
        /// The index found in the bytes.
        index: u32,
    },
}

/// Why a frame could not be sent or received.
///
/// After any receive error other than [`WireError::Timeout`] raised before
/// the first byte of a frame arrived, the stream's position is unknown and the
/// connection should be closed: see [`recv`](crate::recv).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The peer closed the stream cleanly, between two frames.
    #[error("end of stream")]
    Eof,
    /// The peer closed the stream in the middle of a frame.
    #[error("truncated frame: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the frame (header included) should have had.
        expected: u64,
        /// Bytes that arrived before end of stream.
        got: u64,
    },
    /// The frame's declared payload length exceeds [`Limits::max_frame`](crate::Limits).
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared payload length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The frame carries (or would carry) more fds than allowed.
    #[error("frame carries {count} fds, more than the limit of {max}")]
    TooManyFds {
        /// Declared (or attempted) number of fds.
        count: u64,
        /// The limit in force.
        max: usize,
    },
    /// The bytes on the stream are not a frame of this protocol.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// No complete frame arrived (or could be sent) within the timeout.
    #[error("timed out")]
    Timeout,
    /// The operating system reported an error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The value could not be encoded (from [`send_value`](crate::send_value)).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A frame arrived but did not decode (from [`recv_value`](crate::recv_value)).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}
