//! `mp-wire`: the "reduction" layer of `multiprocess` — what Python's pickle
//! and `Connection` framing do, for serde values, with fds passed beside the
//! bytes.
//!
//! ```
//! use std::os::fd::{AsFd, OwnedFd};
//! use std::time::Duration;
//! use mp_wire::{decode, encode, recv, send, Limits, SharedFd};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Job {
//!     name: String,
//!     #[serde(with = "mp_wire::serde_bytes")]
//!     data: Vec<u8>,
//!     log: SharedFd,
//! }
//!
//! let (here, there) = mp_sys::socket::socketpair()?;
//! let log = OwnedFd::from(std::fs::File::open("/dev/null")?);
//! let job = Job { name: "resize".into(), data: vec![1, 2, 3], log: SharedFd::from(log) };
//!
//! send(here.as_fd(), &encode(&job)?)?;
//! let msg = recv(there.as_fd(), &Limits::default(), Some(Duration::from_secs(5)))?;
//! assert_eq!(msg.fds.len(), 1);
//! let job: Job = decode(msg)?;
//! assert_eq!((job.name.as_str(), &job.data[..]), ("resize", &[1, 2, 3][..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layers
//! - **Codec** ([`encode`], [`decode`], [`Message`]): a value becomes postcard
//!   bytes plus a list of fds. Any field of type [`SharedFd`] is replaced in
//!   the bytes by an index into that list (the pattern ipc-channel uses), so
//!   handle types (shared memory, locks, connections) can derive `Serialize`
//!   and `Deserialize` and still arrive working in another process.
//!   [`decode`] refuses trailing bytes, never panics on bad input, and
//!   stops a value nesting deeper than [`Limits::max_depth`] before it
//!   overflows the stack. [`encode_into`] and [`encode_to`] reuse a caller's buffer and
//!   [`decode_from`] reads borrowed bytes, for callers that move many
//!   values through buffers of their own (mp-channel's queues);
//!   [`encode_to_sink`] hands the bytes to a [`Sink`] of the caller's and
//!   [`decode_copied`] decodes bytes that can only be copied out (a queue's
//!   shared ring, a large item straight in, and a top-level byte string
//!   or text out in one copy).
//! - **Framing** ([`send`], [`recv`], [`send_value`], [`recv_value`]): one
//!   message per frame on a Unix stream socket, fds attached with
//!   `SCM_RIGHTS`; see the [`frame`] module for the layout. Receiving checks
//!   [`Limits`] before allocating and takes a timeout covering the whole frame.
//! - **Decoding and batching without I/O** ([`FrameDecoder`],
//!   [`FrameEncoder`]): the one receive side of the frame layout — buffer,
//!   limits, the rule that gives received fds to frames — for readers that
//!   own their socket and their waiting (mp-channel's `Connection`, and
//!   through it the pool); and frames laid out for one batched write.
//!   [`FrameDecoder::next_frame_map`] lends a frame from the read buffer
//!   ([`Frame`]), so that a reader decoding it at once with
//!   [`decode_from_with_limits`] copies and allocates nothing for it.
//!
//! # Secrets
//! [`AuthKey`] holds an authentication key's bytes behind a `Debug` that
//! prints `AuthKey(<redacted>)`, zeroed on drop; mp-process (the process
//! authkey, re-exported as `mp_process::AuthKey`) and mp-channel (a
//! `Listener`'s key) both keep keys in it.
//!
//! # Byte payloads
//! serde hands a plain `Vec<u8>` or `&[u8]` to postcard one element at a time
//! (a call per byte on both sides, many times slower for large buffers).
//! Mark byte fields with `#[serde(with = "mp_wire::serde_bytes")]`, or use
//! [`serde_bytes::ByteBuf`], to encode them as one length-prefixed block.
//!
//! # Trust
//! postcard runs no code on decode: the receiver chooses the type. A peer can
//! still send garbage, lie about lengths or fds, or stop mid-frame; each case
//! is a typed error ([`WireError`], [`DecodeError`]), and so is a value that
//! nests deeper than [`Limits::max_depth`] (256 levels by default), which
//! would otherwise overflow the receiver's stack.
#![forbid(unsafe_code)]

mod authkey;
mod copied;
mod decoder;
mod depth;
mod encoder;
mod error;
pub mod frame;
mod header;
mod keep_text;
mod limits;
mod message;
mod seed;
mod serializer;
mod shared_fd;
mod sink;
mod top;

pub use authkey::AuthKey;
pub use copied::{decode_copied, CopySource};
pub use decoder::{Frame, FrameDecoder, TakeFds};
pub use encoder::FrameEncoder;
pub use error::{DecodeError, EncodeError, WireError};
pub use frame::{recv, recv_value, send, send_timeout, send_value};
pub use limits::{Limits, MAX_FDS_PER_FRAME};
pub use message::{
    decode, decode_from, decode_from_with_limits, decode_seed, decode_with_limits, encode,
    encode_into, encode_to, encode_to_sink, Message,
};
pub use seed::AppendTo;
pub use serde_bytes;
pub use shared_fd::SharedFd;
pub use sink::Sink;
