//! The async forms of [`Connection`]'s `send` and `recv` (the `async`
//! feature): the same frames, the same reader and writer, waiting for the
//! fd's readiness on `async-io`'s reactor instead of blocking a thread.
//!
//! Receiving is a loop of "take a whole frame if one has arrived, else await
//! readability": the bytes of a partial frame stay in the connection's
//! decoder between polls, so a dropped `recv_async` loses nothing and the
//! next receive (async or blocking) finishes the message.
//!
//! Sending awaits writability and then writes the whole frame in one go with
//! the blocking writer, inside one poll: a frame is either sent whole or not
//! at all, so a dropped `send_async` never leaves half a frame on the
//! stream. The price is that a frame larger than the free space of the pipe
//! or socket buffer (64 KiB for a pipe, about 200 KiB for a Unix socket)
//! holds the polling thread until the peer has read the rest: fine for a
//! peer in another process or on another thread, a deadlock if the reader
//! is a task that only this thread polls (a current-thread runtime). A
//! writer that keeps a partial frame across polls (and marks the end
//! unusable for sending if dropped mid-frame) needs the transport to write
//! without blocking; it is not there yet.

use std::os::fd::{AsFd, BorrowedFd};

use mp_sys::readiness::{readable, writable};
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connection::Connection;
use crate::error::{RecvError, SendError};
use crate::reader::Wait;
use crate::transport::Transport;

impl Connection {
    /// [`recv`](Self::recv) as a future: receives one message and decodes it
    /// as a `T`, waiting without blocking a thread, on any runtime.
    ///
    /// Cancellation-safe: dropping the future loses no message and no byte
    /// (a partly arrived frame stays buffered for the next receive). A peer
    /// that exits or dies is [`RecvError::Eof`], never a hang. There is no
    /// timeout argument; compose with the runtime's (`tokio::time::timeout`,
    /// smol's `future::or` with a `Timer`).
    ///
    /// While a blocking receive runs on another handle of the same end
    /// ([`try_clone`](Self::try_clone)), polling this future waits for it
    /// (they share one reader); don't mix the two on one end.
    ///
    /// ```
    /// let (a, b) = mp_channel::pipe(true)?;
    /// smol::block_on(async {
    ///     a.send_async(&("hello", 42u32)).await?;
    ///     let got: (String, u32) = b.recv_async().await?;
    ///     assert_eq!(got, ("hello".to_string(), 42));
    ///     drop(a);
    ///     assert!(matches!(b.recv_async::<u32>().await, Err(mp_channel::RecvError::Eof)));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`recv`](Self::recv), without `Timeout`.
    pub async fn recv_async<T: DeserializeOwned>(&self) -> Result<T, RecvError> {
        loop {
            if let Some(value) = self.read_decoded(Wait::No)? {
                return Ok(value);
            }
            // As in `recv_message_async`.
            readable(self.as_fd()).await.map_err(RecvError::Io)?;
        }
    }

    /// [`recv_message`](Self::recv_message) as a future: one message
    /// undecoded (bytes plus fds). Cancellation-safe as
    /// [`recv_async`](Self::recv_async).
    ///
    /// # Errors
    /// As [`recv_async`](Self::recv_async), without decode errors.
    pub async fn recv_message_async(&self) -> Result<Message, RecvError> {
        loop {
            if let Some(msg) = self.try_recv_message()? {
                return Ok(msg);
            }
            // Readable also when the peer hung up: the next read sees the
            // end of the stream.
            readable(self.as_fd()).await.map_err(RecvError::Io)?;
        }
    }

    /// [`send`](Self::send) as a future: waits without blocking a thread
    /// until the pipe or socket can take data, then sends `value` as one
    /// message.
    ///
    /// Cancellation-safe: the frame is written whole within one poll, so a
    /// dropped future has sent the message entirely or not at all. A frame
    /// larger than the free buffer space holds the polling thread until the
    /// peer has read the rest: don't send such a frame to a reader that is
    /// polled only by this thread (see the guide's "Async" section). A peer that exits
    /// or dies is [`SendError::Disconnected`], never a hang.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_async<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        let msg = mp_wire::encode(value)?;
        self.send_message_async(&msg).await
    }

    /// [`send_message`](Self::send_message) as a future, without a timeout
    /// (compose with the runtime's). Cancellation-safe as
    /// [`send_async`](Self::send_async).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_message_async(&self, msg: &Message) -> Result<(), SendError> {
        let Some(fd) = send_fd(self.transport()) else {
            return Err(SendError::NotWritable);
        };
        // Writable also when the peer is gone: the write then fails with
        // `Disconnected`.
        writable(fd).await.map_err(SendError::Io)?;
        self.send_message(msg, None)
    }
}

/// The fd this end sends on: the socket, or the pipe it writes; `None` for
/// a receive-only end.
fn send_fd(transport: &Transport) -> Option<BorrowedFd<'_>> {
    match transport {
        Transport::Socket {
            fd, writable: true, ..
        } => Some(fd.as_fd()),
        Transport::Socket { .. } => None,
        Transport::Pipe { tx, .. } => tx.as_ref().map(AsFd::as_fd),
    }
}
