//! `mp-channel`: Python's `multiprocessing` channels — [`pipe`] and
//! [`Connection`], [`wait()`], [`Listener`] / [`client`] with an authkey, and
//! the queues [`Queue`], [`SimpleQueue`], [`JoinableQueue`].
//!
//! ```
//! use mp_channel::{pipe, Queue};
//!
//! let (parent, child) = pipe(true)?;
//! child.send(&vec![1u32, 2, 3])?;
//! let got: Vec<u32> = parent.recv()?;
//! assert_eq!(got, [1, 2, 3]);
//!
//! let q = Queue::<String>::new()?;
//! q.put(&"job".to_string())?;
//! assert_eq!(q.get()?, "job");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`Connection`] / [`pipe`]: messages of serde values (`send`/`recv`) or
//!   bytes (`send_bytes`/`recv_bytes`/`recv_bytes_into`, and typed arrays
//!   of `bytemuck::Pod` values with [`Connection::send_slice`] /
//!   [`Connection::recv_bytes_into_slice`]) over pipes (a
//!   [`pipe`]) or a socket (a [`Listener`]'s), fds passed beside them; `poll`, timeouts, typed errors for end of
//!   stream, wrong direction, bad frames. See [`RecvError`], [`SendError`].
//!   For engines that multiplex many connections (the process pool):
//!   [`Connection::send_many`] batches messages into few writes,
//!   [`Connection::try_recv_message`] takes what has arrived without
//!   waiting, [`Connection::try_recv_buffered`] what is already buffered
//!   without a system call; [`ExclusiveConnection`] is an end that one owner
//!   drives through `&mut self`, without the locks that let threads share
//!   a `Connection`.
//! - With the `async` feature, `Connection::recv_async` /
//!   `Connection::send_async`: the same as futures, on any runtime.
//! - [`wait()`]: readiness of connections, process sentinels, any fd.
//! - [`Listener`] / [`client`]: Unix-socket or TCP connections between
//!   unrelated processes; a mutual HMAC-SHA256 challenge when an authkey is
//!   given ([`deliver_challenge`], [`answer_challenge`]), CPython 3.12's
//!   byte for byte, so Python's `multiprocessing.connection` peers
//!   authenticate with us; [`PyConnection`] then exchanges byte messages
//!   with them in CPython's framing.
//! - [`Queue`] (feeder thread, `maxsize`), [`SimpleQueue`],
//!   [`JoinableQueue`]: MPMC FIFO queues on a shared-memory ring with futex
//!   wake-ups; items may carry fds (connections, shared memory, queues).
//!
//! Every handle — connection, queue — is serde, so it can be a `Process`
//! argument or travel inside another message under every start method.
//!
//! # Dead peers
//! A connection whose peer process died reads as end of stream. A queue
//! producer killed mid-`put` loses that item only; a consumer in the middle
//! of that item notices within about 100 ms that the producer is gone and
//! goes on waiting for others. A killed consumer loses at most the item it
//! was taking. Neither leaks a count: an item is counted in
//! [`Queue::qsize`] (and takes a bounded queue's slot, and is a
//! [`JoinableQueue`] task) from its publication in the ring to its removal.
#![forbid(unsafe_code)]

mod auth;
mod connection;
#[cfg(feature = "async")]
mod connection_async;
mod deadline;
mod error;
mod exclusive;
mod listener;
mod process_local;
mod py_connection;
mod py_frame;
mod queue;
mod reader;
mod scratch;
mod transport;
mod wait;
#[cfg(feature = "async")]
mod wait_async;

pub use auth::{answer_challenge, deliver_challenge};

pub use connection::{pipe, pipe_with_capacity, Connection};
pub use error::{AuthenticationError, ConnectError, RecvError, RecvIntoError, SendError};
pub use exclusive::ExclusiveConnection;
pub use listener::{
    client, client_with_timeout, Address, Listener, DEFAULT_HANDSHAKE_GRACE,
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES,
};
pub use py_connection::PyConnection;
pub use queue::{
    GetError, JoinableQueue, PutError, Queue, QueueStateError, SimpleQueue, TaskDoneError,
    DEFAULT_RING_BYTES,
};
pub use wait::{wait, Waitable};
#[cfg(feature = "async")]
pub use wait_async::wait_async;
