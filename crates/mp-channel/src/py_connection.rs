//! [`PyConnection`]: byte messages in CPython's framing, so a Python
//! `multiprocessing.connection` peer (a `Listener`, a `Client`, either end
//! of an authenticated connection) can exchange messages with us.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mp_sys::socket;

use crate::connection::Connection;
use crate::deadline::Deadline;
use crate::error::{RecvError, SendError};
use crate::process_local::ProcessLocal;
use crate::py_frame::{self, PyFrameReader};

/// A connection that frames its messages as CPython's `Connection` does (a
/// 4-byte big-endian length, or -1 and an 8-byte one past 2 GiB), for
/// byte messages with a Python peer: Python's `send_bytes`/`recv_bytes` on
/// the other side see exactly what they would from another Python process.
///
/// Make one from a [`Connection`] that has carried nothing but the authkey
/// handshake — what [`client`](crate::client) and
/// [`Listener::accept`](crate::Listener::accept) return, since the
/// handshake is CPython's — with `PyConnection::from(conn)`. Only bytes
/// travel (no serde values, no fds): `send`/`recv` on the Python side
/// pickle, so to exchange values agree on an encoding both sides can read
/// (JSON, `struct`, ...) and send its bytes.
///
/// ```no_run
/// use mp_channel::{client, Address, PyConnection};
/// // A Python server: Listener(('127.0.0.1', 6000), authkey=b'secret')
/// let conn = PyConnection::from(client(&Address::tcp_loopback(6000), Some(b"secret"))?);
/// conn.send_bytes(b"hello")?;                 // Python: c.recv_bytes() == b'hello'
/// let reply = conn.recv_bytes(None)?;         // Python: c.send_bytes(b'...')
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// As with [`Connection`], methods take `&self` and sends (and receives)
/// are serialized by a lock, and a message longer than `recv_bytes`'
/// maximum leaves the connection unusable for receiving and
/// [`readable`](Self::readable) `false`, as in Python.
///
/// A child forked with a copy of a `PyConnection` (a closure's capture)
/// receives with a reader of its own: it never waits for the lock of a
/// parent thread that was in `recv_bytes` at the fork, nor goes on with a
/// message the parent had begun to read.
pub struct PyConnection {
    conn: Connection,
    /// The receiving state (lock and message begun) of each process that
    /// uses the connection: its maker's, and any forked child's.
    reader: ProcessLocal<Mutex<PyFrameReader>>,
    /// Set once a receive error left the stream out of step.
    broken: AtomicBool,
}

impl fmt::Debug for PyConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyConnection")
            .field("conn", &self.conn)
            .finish()
    }
}

impl From<Connection> for PyConnection {
    fn from(conn: Connection) -> PyConnection {
        PyConnection {
            conn,
            reader: ProcessLocal::new(Mutex::new(PyFrameReader::new())),
            broken: AtomicBool::new(false),
        }
    }
}

impl PyConnection {
    /// Sends `bytes` as one message (Python's `send_bytes`).
    ///
    /// # Errors
    /// As [`Connection::send_bytes`].
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), SendError> {
        py_frame::send(&self.conn, bytes, Deadline::NEVER)
    }

    /// Like [`send_bytes`](Self::send_bytes), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`Connection::send_bytes_timeout`].
    pub fn send_bytes_timeout(&self, bytes: &[u8], timeout: Duration) -> Result<(), SendError> {
        py_frame::send(&self.conn, bytes, Deadline::after(Some(timeout)))
    }

    /// Receives one message (Python's `recv_bytes(maxlength)`), blocking
    /// until one arrives or the peer closes.
    ///
    /// # Errors
    /// [`RecvError::Eof`] once the peer closed; a message longer than `max`
    /// is [`RecvError::TooLarge`] and leaves the connection unusable for
    /// receiving ([`readable`](Self::readable) turns `false`), as do
    /// [`RecvError::Truncated`] and [`RecvError::Malformed`]; OS errors.
    pub fn recv_bytes(&self, max: Option<usize>) -> Result<Vec<u8>, RecvError> {
        self.recv(max, Deadline::NEVER)
    }

    /// Like [`recv_bytes`](Self::recv_bytes), giving up after `timeout`
    /// with [`RecvError::Timeout`] (a message partly read is finished by the
    /// next call).
    ///
    /// # Errors
    /// As `recv_bytes`, plus `Timeout`.
    pub fn recv_bytes_timeout(
        &self,
        max: Option<usize>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RecvError> {
        self.recv(max, Deadline::after(Some(timeout)))
    }

    /// Whether a message (or the end of the stream) can be read now,
    /// waiting at most `timeout` (`None`: forever). Never consumes anything.
    ///
    /// # Errors
    /// [`RecvError::NotReadable`] if this connection is not
    /// [`readable`](Self::readable); OS errors.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, RecvError> {
        if !self.readable() {
            return Err(RecvError::NotReadable);
        }
        socket::poll_readable(self.as_fd(), timeout).map_err(RecvError::Io)
    }

    /// Whether this connection can receive (`false` once a receive error
    /// left it unusable, as in Python).
    pub fn readable(&self) -> bool {
        self.conn.readable() && !self.broken.load(Ordering::Relaxed)
    }

    /// Whether this connection can send.
    pub fn writable(&self) -> bool {
        self.conn.writable()
    }

    /// Closes the connection (Python's `close()`; dropping does the same).
    pub fn close(self) {}

    fn recv(&self, max: Option<usize>, deadline: Deadline) -> Result<Vec<u8>, RecvError> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(RecvError::Unusable(
                "an earlier receive left the stream out of step".into(),
            ));
        }
        let mut reader = self
            .reader
            .local()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match reader.read(&self.conn, max.unwrap_or(usize::MAX), Some(deadline)) {
            Ok(Some(message)) => Ok(message),
            // Only a read without a deadline stops short of a message.
            Ok(None) => Err(RecvError::Timeout),
            Err(e) => {
                if e.is_fatal() {
                    self.broken.store(true, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }
}

impl AsFd for PyConnection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }
}

impl AsRawFd for PyConnection {
    fn as_raw_fd(&self) -> RawFd {
        self.conn.as_raw_fd()
    }
}
