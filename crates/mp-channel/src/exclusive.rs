//! [`ExclusiveConnection`]: one end of a connection with one owner, used
//! through `&mut self`, so it needs none of [`Connection`]'s internal locks.
//!
//! A [`Connection`] takes `&self` everywhere: its receiving and its sending
//! state each sit behind a mutex, so handles in several threads can share
//! an end. Each lock and unlock is a locked instruction, about 8 ns apiece
//! on the machines the benchmarks run on; a link that one owner drives (a
//! pool's link to its worker, driven under the pool's own lock, and the
//! worker's end of it) paid two per send and per receive for nothing. This
//! type is the same end — the same transport, frames, limits and errors;
//! the receive and send code is shared with `Connection` — owned
//! outright: [`Connection::into_exclusive`] makes one (when no other
//! handle shares the end), [`From`] turns it back.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mp_wire::{Limits, Message};
use serde::Serialize;

use crate::connection::{check_fds, with_encoded, Ends, Shared, Writer};
use crate::deadline::Deadline;
use crate::error::{RecvError, SendError};
use crate::process_local::ProcessLocal;
use crate::reader::{Reader, Wait};
use crate::transport::Transport;
use crate::Connection;

/// One end of a message channel that one owner uses through `&mut self`:
/// a [`Connection`] without its internal locks (see the module docs).
/// It cannot be cloned or sent to another process; turn it back into a
/// [`Connection`] for that.
///
/// ```
/// let (a, b) = mp_channel::pipe(true)?;
/// let mut a = a.into_exclusive().expect("no other handle shares it");
/// a.send(&7u64)?;
/// assert_eq!(b.recv::<u64>()?, 7);
/// b.send(&8u64)?;
/// let msg = a.recv_message(None)?;
/// assert_eq!(mp_wire::decode::<u64>(msg)?, 8);
/// assert!(a.try_recv_message()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ExclusiveConnection {
    transport: Transport,
    reader: Reader,
    writer: Writer,
    limits: Limits,
}

impl fmt::Debug for ExclusiveConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExclusiveConnection")
            .field("transport", &self.transport)
            .finish()
    }
}

impl Connection {
    /// This end as an [`ExclusiveConnection`], with what it has received
    /// and not yet read. `Err(self)` if another handle shares the end
    /// ([`try_clone`](Self::try_clone)), or if this process was forked from
    /// the one that made it and has already received or sent through it.
    ///
    /// # Errors
    /// `self`, unchanged, as above.
    pub fn into_exclusive(self) -> Result<ExclusiveConnection, Connection> {
        let limits = self.limits;
        let shared = match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared,
            Err(shared) => return Err(Connection { shared, limits }),
        };
        let Shared {
            transport,
            ends,
            recv_broken,
        } = shared;
        match ends.into_local() {
            Ok(Ends { reader, writer }) => Ok(ExclusiveConnection {
                transport,
                reader: reader.into_inner().unwrap_or_else(|e| e.into_inner()),
                writer: writer.into_inner().unwrap_or_else(|e| e.into_inner()),
                limits,
            }),
            Err(ends) => Err(Connection {
                shared: Arc::new(Shared {
                    transport,
                    ends,
                    recv_broken,
                }),
                limits,
            }),
        }
    }
}

impl From<ExclusiveConnection> for Connection {
    /// The end back as a [`Connection`] (to share it between threads or send
    /// it to another process), with what it has received and not yet read.
    fn from(c: ExclusiveConnection) -> Connection {
        let broken = c.reader.is_broken();
        Connection {
            shared: Arc::new(Shared {
                transport: c.transport,
                ends: ProcessLocal::new(Ends {
                    reader: Mutex::new(c.reader),
                    writer: Mutex::new(c.writer),
                }),
                recv_broken: AtomicBool::new(broken),
            }),
            limits: c.limits,
        }
    }
}

impl ExclusiveConnection {
    /// As [`Connection::readable`].
    pub fn readable(&self) -> bool {
        self.transport.readable() && !self.reader.is_broken()
    }

    /// As [`Connection::writable`].
    pub fn writable(&self) -> bool {
        self.transport.writable()
    }

    /// As [`Connection::as_fd`].
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.transport.main_fd()
    }

    /// As [`Connection::send`].
    ///
    /// # Errors
    /// As [`Connection::send`].
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SendError> {
        with_encoded(value, |msg| self.send_message(msg, None))
    }

    /// As [`Connection::send_timeout`].
    ///
    /// # Errors
    /// As [`Connection::send_timeout`].
    pub fn send_timeout<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<(), SendError> {
        with_encoded(value, |msg| self.send_message(msg, Some(timeout)))
    }

    /// As [`Connection::send_message`].
    ///
    /// # Errors
    /// As [`Connection::send_message`].
    pub fn send_message(
        &mut self,
        msg: &Message,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        if !self.writable() {
            return Err(SendError::NotWritable);
        }
        check_fds(msg.fds.len())?;
        let fds: Vec<BorrowedFd<'_>> = msg.fds.iter().map(AsFd::as_fd).collect();
        self.writer
            .send_frame(&self.transport, &msg.bytes, &fds, Deadline::after(timeout))
    }

    /// As [`Connection::send_many`].
    ///
    /// # Errors
    /// As [`Connection::send_many`].
    pub fn send_many(&mut self, msgs: &[Message]) -> Result<(), SendError> {
        if !self.writable() {
            return Err(SendError::NotWritable);
        }
        self.writer.send_many(&self.transport, msgs)
    }

    /// As [`Connection::recv_message`].
    ///
    /// # Errors
    /// As [`Connection::recv_message`].
    pub fn recv_message(&mut self, timeout: Option<Duration>) -> Result<Message, RecvError> {
        self.read(Wait::Until(Deadline::after(timeout)))?
            .ok_or(RecvError::Timeout)
    }

    /// [`recv_message`](Self::recv_message) into `buf`: a payload that lies
    /// in the read buffer is copied into `buf`'s allocation, which becomes
    /// the message's bytes (see
    /// [`Frame::into_message_in`](mp_wire::Frame::into_message_in)); so a
    /// loop that hands each message's bytes back receives without
    /// allocating. `buf` is left alone when no message is returned.
    ///
    /// # Errors
    /// As [`Connection::recv_message`].
    pub fn recv_message_in(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<Message, RecvError> {
        self.read_in(buf, Wait::Until(Deadline::after(timeout)))?
            .ok_or(RecvError::Timeout)
    }

    /// [`try_recv_message`](Self::try_recv_message) into `buf`, as
    /// [`recv_message_in`](Self::recv_message_in).
    ///
    /// # Errors
    /// As [`Connection::try_recv_message`].
    pub fn try_recv_message_in(&mut self, buf: &mut Vec<u8>) -> Result<Option<Message>, RecvError> {
        self.read_in(buf, Wait::No)
    }

    /// As [`Connection::try_recv_message`].
    ///
    /// # Errors
    /// As [`Connection::try_recv_message`].
    pub fn try_recv_message(&mut self) -> Result<Option<Message>, RecvError> {
        self.read(Wait::No)
    }

    /// As [`Connection::try_recv_buffered`].
    ///
    /// # Errors
    /// As [`Connection::try_recv_buffered`].
    pub fn try_recv_buffered(&mut self) -> Result<Option<Message>, RecvError> {
        self.read(Wait::Buffered)
    }

    /// As [`Connection::has_buffered`].
    pub fn has_buffered(&self) -> bool {
        self.reader.has_buffered()
    }

    /// As [`Connection::poll`].
    ///
    /// # Errors
    /// As [`Connection::poll`].
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, RecvError> {
        if !self.readable() {
            return Err(RecvError::NotReadable);
        }
        if self.has_buffered() {
            return Ok(true);
        }
        mp_sys::socket::poll_readable(self.as_fd(), timeout).map_err(RecvError::Io)
    }

    /// One message into `buf`'s allocation, waiting as `wait` says.
    fn read_in(&mut self, buf: &mut Vec<u8>, wait: Wait) -> Result<Option<Message>, RecvError> {
        let Some(src) = self.transport.source() else {
            return Err(RecvError::NotReadable);
        };
        self.reader.recv(src, &self.limits, usize::MAX, wait, |f| {
            f.into_message_in(buf)
        })
    }

    /// One message, waiting as `wait` says.
    fn read(&mut self, wait: Wait) -> Result<Option<Message>, RecvError> {
        let Some(src) = self.transport.source() else {
            return Err(RecvError::NotReadable);
        };
        self.reader
            .recv(src, &self.limits, usize::MAX, wait, |f| f.into_message())
    }
}

impl AsFd for ExclusiveConnection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.transport.main_fd()
    }
}

impl AsRawFd for ExclusiveConnection {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}
