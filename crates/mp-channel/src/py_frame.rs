//! CPython's `Connection` framing — a 4-byte big-endian length, then the
//! bytes — for the authkey handshake, which must be byte for byte what a
//! `multiprocessing.connection` peer sends and expects.
//!
//! The handshake runs on the raw stream before any `mp_wire` frame, so
//! these messages bypass the connection's frame decoder: [`PyFrameReader`]
//! reads exactly the bytes of one message (never a byte of what follows,
//! which is the first frame), and [`send`] writes header and bytes as one
//! write, as CPython does for small messages.

use crate::connection::Connection;
use crate::deadline::Deadline;
use crate::error::{RecvError, SendError};

/// Length of CPython's message header (`struct.pack("!i", n)`).
const HEADER_LEN: usize = 4;

/// Sends `bytes` as one CPython-framed message, giving up at `deadline`.
///
/// Only for messages CPython frames with the short header (up to
/// `i32::MAX` bytes; handshake messages are at most a few dozen).
pub(crate) fn send(conn: &Connection, bytes: &[u8], deadline: Deadline) -> Result<(), SendError> {
    let len = i32::try_from(bytes.len()).map_err(|_| {
        SendError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "message too long for the handshake framing",
        ))
    })?;
    conn.write_raw(&len.to_be_bytes(), bytes, deadline)
}

/// Reads one CPython-framed message of at most `max` bytes, in as many
/// reads as it takes; state survives between calls, so a non-blocking
/// caller can come back when more has arrived.
#[derive(Debug)]
pub(crate) struct PyFrameReader {
    max: usize,
    header: [u8; HEADER_LEN],
    got: usize,
    /// The message, once its header is complete.
    body: Option<Vec<u8>>,
}

impl PyFrameReader {
    /// A reader of messages up to `max` bytes.
    pub(crate) fn new(max: usize) -> PyFrameReader {
        PyFrameReader {
            max,
            header: [0; HEADER_LEN],
            got: 0,
            body: None,
        }
    }

    /// The next message from `conn`: waiting until `deadline` for it, or
    /// with `None` taking only what has arrived (`Ok(None)` if the message
    /// is not whole yet).
    ///
    /// # Errors
    /// [`RecvError::TooLarge`] for a length above `max` (or negative, which
    /// only CPython's long form uses), [`RecvError::Eof`] /
    /// [`RecvError::Truncated`] at end of stream, [`RecvError::Timeout`],
    /// [`RecvError::Malformed`] if fds arrive, OS errors.
    pub(crate) fn read(
        &mut self,
        conn: &Connection,
        deadline: Option<Deadline>,
    ) -> Result<Option<Vec<u8>>, RecvError> {
        loop {
            let room = match &mut self.body {
                Some(body) if self.got == body.len() => {
                    self.got = 0;
                    return Ok(self.body.take());
                }
                Some(body) => &mut body[self.got..],
                None => &mut self.header[self.got..],
            };
            let Some(n) = conn.read_raw(room, deadline)? else {
                return Ok(None);
            };
            if n == 0 {
                return Err(self.end_of_stream());
            }
            self.got += n;
            if self.body.is_none() && self.got == HEADER_LEN {
                let len = i32::from_be_bytes(self.header);
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= self.max)
                    .ok_or(RecvError::TooLarge {
                        len: u64::from(len as u32),
                        max: self.max,
                    })?;
                self.body = Some(vec![0; len]);
                self.got = 0;
            }
        }
    }

    /// The error for end of stream now.
    fn end_of_stream(&self) -> RecvError {
        match &self.body {
            None if self.got == 0 => RecvError::Eof,
            None => RecvError::Truncated {
                expected: HEADER_LEN as u64,
                got: self.got as u64,
            },
            Some(body) => RecvError::Truncated {
                expected: (HEADER_LEN + body.len()) as u64,
                got: (HEADER_LEN + self.got) as u64,
            },
        }
    }
}
