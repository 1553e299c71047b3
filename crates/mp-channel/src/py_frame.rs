//! CPython's `Connection` framing: a 4-byte big-endian signed length, then
//! the bytes; for more than `i32::MAX` bytes, -1 and then an 8-byte
//! big-endian length. The authkey handshake always uses it (it must be
//! byte for byte what a `multiprocessing.connection` peer sends and
//! expects), and so does a [`PyConnection`](crate::PyConnection) for all
//! its messages.
//!
//! These messages bypass the connection's `mp_wire` frame decoder:
//! [`PyFrameReader`] reads exactly the bytes of one message, never a byte
//! of what follows (after a handshake, the first `mp_wire` frame), and
//! [`send`] writes header and bytes together, as CPython does for small
//! messages.

use crate::connection::Connection;
use crate::deadline::Deadline;
use crate::error::{RecvError, SendError};

/// Length of the short header (`struct.pack("!i", n)`).
const SHORT: usize = 4;
/// Length of the long header (`-1`, then `struct.pack("!Q", n)`).
const LONG: usize = 12;

/// The header CPython writes before `len` bytes.
fn header(len: usize) -> Vec<u8> {
    match i32::try_from(len) {
        Ok(short) => short.to_be_bytes().to_vec(),
        Err(_) => [
            (-1i32).to_be_bytes().as_slice(),
            &(len as u64).to_be_bytes(),
        ]
        .concat(),
    }
}

/// Sends `bytes` as one CPython-framed message, giving up at `deadline`.
///
/// # Errors
/// As [`Connection::send_bytes`](crate::Connection::send_bytes).
pub(crate) fn send(conn: &Connection, bytes: &[u8], deadline: Deadline) -> Result<(), SendError> {
    conn.write_raw(&header(bytes.len()), bytes, deadline)
}

/// A message's buffer starts at most this big and doubles as data arrives,
/// so a peer that declares a huge length but sends little costs little.
const FIRST_CHUNK: usize = 256 * 1024;

/// Reads one CPython-framed message at a time, in as many reads as it
/// takes; state survives between calls, so a caller that gave up waiting
/// (a timeout, or a non-blocking look) can come back for the rest.
#[derive(Debug, Default)]
pub(crate) struct PyFrameReader {
    header: [u8; LONG],
    /// Bytes of the header, then of the body, read so far.
    got: usize,
    /// The message being read (its declared length and the bytes so far),
    /// once its header is complete.
    body: Option<(usize, Vec<u8>)>,
}

impl PyFrameReader {
    /// A reader at the start of a message.
    pub(crate) fn new() -> PyFrameReader {
        PyFrameReader::default()
    }

    /// The next message from `conn`, of at most `max` bytes: waiting until
    /// `deadline` for it, or with `None` taking only what has arrived
    /// (`Ok(None)` if the message is not whole yet).
    ///
    /// # Errors
    /// [`RecvError::TooLarge`] for a declared length above `max` (nothing
    /// of the message is read; the stream is out of step afterwards),
    /// [`RecvError::Malformed`] for a negative length other than CPython's
    /// -1 or for fds arriving, [`RecvError::Eof`] / [`RecvError::Truncated`]
    /// at end of stream, [`RecvError::Timeout`], out-of-memory and other OS
    /// errors.
    pub(crate) fn read(
        &mut self,
        conn: &Connection,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<Option<Vec<u8>>, RecvError> {
        loop {
            if self.body.is_none() {
                if let Some(len) = self.declared()? {
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|&len| len <= max)
                        .ok_or(RecvError::TooLarge { len, max })?;
                    self.body = Some((len, Vec::new()));
                    self.got = 0;
                }
            }
            let room = match &mut self.body {
                Some((len, bytes)) if self.got == *len => {
                    bytes.truncate(*len);
                    let bytes = std::mem::take(bytes);
                    *self = PyFrameReader::new();
                    return Ok(Some(bytes));
                }
                Some((len, bytes)) => {
                    if self.got == bytes.len() {
                        let grown = (*len).min(bytes.len().saturating_mul(2).max(FIRST_CHUNK));
                        bytes.try_reserve_exact(grown - bytes.len()).map_err(|_| {
                            RecvError::Io(std::io::Error::new(
                                std::io::ErrorKind::OutOfMemory,
                                format!("cannot allocate {len} bytes for a message"),
                            ))
                        })?;
                        bytes.resize(grown, 0);
                    }
                    &mut bytes[self.got..]
                }
                None => {
                    let need = self.need();
                    &mut self.header[self.got..need]
                }
            };
            let Some(n) = conn.read_raw(room, deadline)? else {
                return Ok(None);
            };
            if n == 0 {
                return Err(self.end_of_stream());
            }
            self.got += n;
        }
    }

    /// Header bytes the current message needs: 4, or 12 for the long form.
    fn need(&self) -> usize {
        if self.got >= SHORT && self.header[..SHORT] == (-1i32).to_be_bytes() {
            LONG
        } else {
            SHORT
        }
    }

    /// The declared length once the header is complete (`None` before).
    fn declared(&self) -> Result<Option<u64>, RecvError> {
        if self.got < self.need() {
            return Ok(None);
        }
        let mut short = [0u8; SHORT];
        short.copy_from_slice(&self.header[..SHORT]);
        match i32::from_be_bytes(short) {
            -1 => {
                let mut long = [0u8; 8];
                long.copy_from_slice(&self.header[SHORT..LONG]);
                Ok(Some(u64::from_be_bytes(long)))
            }
            n => u64::try_from(n).map(Some).map_err(|_| {
                RecvError::Malformed(format!("message length {n} in CPython's framing"))
            }),
        }
    }

    /// The error for end of stream now.
    fn end_of_stream(&self) -> RecvError {
        match &self.body {
            None if self.got == 0 => RecvError::Eof,
            None => RecvError::Truncated {
                expected: self.need() as u64,
                got: self.got as u64,
            },
            Some((len, _)) => RecvError::Truncated {
                expected: (self.need() + len) as u64,
                got: (self.need() + self.got) as u64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_cpythons() {
        assert_eq!(header(5), [0, 0, 0, 5]);
        assert_eq!(header(0x7fff_ffff), [0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(
            header(0x8000_0000),
            [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn both_header_forms_are_read_and_nothing_past_the_message() {
        let (a, b) = crate::pipe(true).unwrap();
        let long = [
            (-1i32).to_be_bytes().as_slice(),
            &3u64.to_be_bytes(),
            b"abc",
        ]
        .concat();
        a.write_raw(&header(2), b"hi", Deadline::NEVER).unwrap();
        a.write_raw(&long, b"", Deadline::NEVER).unwrap();
        a.write_raw(&header(0), b"", Deadline::NEVER).unwrap();
        a.send(&7u8).unwrap();
        let mut reader = PyFrameReader::new();
        let t = Some(Deadline::after(Some(std::time::Duration::from_secs(5))));
        assert_eq!(reader.read(&b, 10, t).unwrap().unwrap(), b"hi");
        assert_eq!(reader.read(&b, 10, t).unwrap().unwrap(), b"abc");
        assert_eq!(reader.read(&b, 10, t).unwrap().unwrap(), b"");
        // The frame after the messages is intact for the frame decoder.
        assert_eq!(b.recv::<u8>().unwrap(), 7);
        a.write_raw(&header(11), b"", Deadline::NEVER).unwrap();
        assert!(matches!(
            reader.read(&b, 10, t),
            Err(RecvError::TooLarge { len: 11, max: 10 })
        ));
        let (a, b) = crate::pipe(true).unwrap();
        a.write_raw(&(-2i32).to_be_bytes(), b"", Deadline::NEVER)
            .unwrap();
        assert!(matches!(
            PyFrameReader::new().read(&b, 10, t),
            Err(RecvError::Malformed(_))
        ));
    }
}
