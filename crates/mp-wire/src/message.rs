//! [`Message`] and the codec: [`encode`] a serde value into bytes plus fds,
//! [`decode`] it back.

use std::marker::PhantomData;
use std::os::fd::OwnedFd;

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::Serialize;

use crate::error::{DecodeError, EncodeError};
use crate::keep_text::{Nested, Slot};
use crate::limits::Limits;
use crate::serializer::{serialize, serialize_message};
use crate::shared_fd::with_encode_scope;
use crate::sink::Sink;
use crate::top::{decode_full, Ending, Top};

/// An encoded value: bytes plus the fds that travel beside them (out of band).
///
/// `bytes` is the postcard encoding of the value, in which every
/// [`SharedFd`](crate::SharedFd) appears as an index into `fds`.
#[derive(Debug, Default)]
pub struct Message {
    /// The postcard-encoded value.
    pub bytes: Vec<u8>,
    /// The fds the value's [`SharedFd`](crate::SharedFd)s refer to, in index order.
    pub fds: Vec<OwnedFd>,
}

impl Message {
    /// A message of `bytes` carrying no fds.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            fds: Vec::new(),
        }
    }

    /// Duplicates the message, fds included (`F_DUPFD_CLOEXEC` each).
    pub fn try_clone(&self) -> std::io::Result<Self> {
        let fds = self
            .fds
            .iter()
            .map(OwnedFd::try_clone)
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            bytes: self.bytes.clone(),
            fds,
        })
    }
}

/// Encodes `value` with postcard; every [`SharedFd`](crate::SharedFd) inside
/// it is duplicated into [`Message::fds`].
///
/// Nested calls (an `encode` inside a `Serialize` impl) are fine: each call
/// has its own fd list.
///
/// A value whose `Serialize` impl fails with a custom message is encoded a
/// second time through a wrapper that keeps that message (postcard's
/// error drops it); values that encode pay nothing for it. The second pass
/// runs the impl again, so an impl with side effects sees them twice on
/// that error path only.
#[inline]
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Message, EncodeError> {
    encode_into(value, Vec::new())
}

/// [`encode`] into `buf` (cleared first), so that a caller encoding many
/// values can keep one allocation: the message's bytes are `buf`, which the
/// caller takes back from [`Message::bytes`] when done with it.
///
/// ```
/// let msg = mp_wire::encode_into(&7u32, Vec::with_capacity(64))?;
/// assert_eq!(msg.bytes, [7]);
/// let again = mp_wire::encode_into(&8u32, msg.bytes)?; // the same allocation
/// assert_eq!(again.bytes, [8]);
/// # Ok::<(), mp_wire::EncodeError>(())
/// ```
///
/// # Errors
/// As [`encode`] (`buf` is dropped).
#[inline]
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buf: Vec<u8>) -> Result<Message, EncodeError> {
    let mut msg = Message {
        bytes: buf,
        fds: Vec::new(),
    };
    encode_to(value, &mut msg)?;
    Ok(msg)
}

/// [`encode`] into `msg`, in place: its bytes are cleared and then hold the
/// encoding (the allocation is kept), its fds are replaced by the value's.
/// Nothing is moved in or out, which a caller encoding small values at a
/// high rate notices (a queue's `put`).
///
/// ```
/// let mut msg = mp_wire::Message::from_bytes(Vec::with_capacity(64));
/// mp_wire::encode_to(&7u32, &mut msg)?;
/// assert_eq!(msg.bytes, [7]);
/// mp_wire::encode_to(&8u32, &mut msg)?; // the same allocation
/// assert_eq!(msg.bytes, [8]);
/// # Ok::<(), mp_wire::EncodeError>(())
/// ```
///
/// # Errors
/// As [`encode`]; `msg` then holds no fds and bytes of no use.
#[inline]
pub fn encode_to<T: Serialize + ?Sized>(value: &T, msg: &mut Message) -> Result<(), EncodeError> {
    msg.bytes.clear();
    let bytes = &mut msg.bytes;
    let (result, fds, fd_error) = serialize_message(value, bytes);
    msg.fds = fds;
    match (result, fd_error) {
        (Ok(()), _) => Ok(()),
        (Err(e), fd_error) => {
            msg.fds.clear();
            Err(encode_error(value, e, fd_error))
        }
    }
}

/// [`encode`] into a destination of the caller's ([`Sink`]), which gets the
/// bytes as postcard produces them; returns the value's fds. For a caller
/// that keeps the bytes somewhere a `Vec` cannot be (mp-channel's queues
/// write a large item straight into their shared ring).
///
/// ```
/// struct Count(usize);
/// impl mp_wire::Sink for Count {
///     fn append(&mut self, bytes: &[u8]) { self.0 += bytes.len(); }
/// }
/// let mut count = Count(0);
/// let fds = mp_wire::encode_to_sink(&(1u8, "abc"), &mut count)?;
/// assert_eq!((count.0, fds.len()), (5, 0));
/// # Ok::<(), mp_wire::EncodeError>(())
/// ```
///
/// # Errors
/// As [`encode`]; the sink then holds bytes of no use.
#[inline]
pub fn encode_to_sink<T: Serialize + ?Sized, S: Sink>(
    value: &T,
    sink: &mut S,
) -> Result<Vec<OwnedFd>, EncodeError> {
    let (result, fds, fd_error) = serialize_message(value, sink);
    match (result, fd_error) {
        (Ok(()), _) => Ok(fds),
        (Err(e), fd_error) => Err(encode_error(value, e, fd_error)),
    }
}

/// The error of an encoding that failed with `e` (and `fd_error`, the
/// first `SharedFd` failure, if any).
#[cold]
fn encode_error<T: Serialize + ?Sized>(
    value: &T,
    e: postcard::Error,
    fd_error: Option<EncodeError>,
) -> EncodeError {
    match (e, fd_error) {
        // A SharedFd failure is the most precise.
        (_, Some(fd_error)) => fd_error,
        (postcard::Error::SerdeSerCustom, None) => custom_text(value),
        (e, None) => EncodeError::Serialize(e),
    }
}

/// The error of a value whose `Serialize` impl failed with a custom
/// message: encoded again through [`Nested`] to read that message.
#[cold]
fn custom_text<T: Serialize + ?Sized>(value: &T) -> EncodeError {
    let slot = Slot::default();
    let mut bytes = Vec::new();
    let (result, _fds, fd_error) =
        with_encode_scope(|| serialize(&Nested::new(value, &slot), &mut bytes));
    match result {
        // Encoded the second time (an impl that fails only sometimes).
        Ok(_) => EncodeError::Serialize(postcard::Error::SerdeSerCustom),
        Err(e) => fd_error
            .or_else(|| slot.take().map(EncodeError::Custom))
            .unwrap_or(EncodeError::Serialize(e)),
    }
}

/// Decodes a value of type `T` from `msg`, handing its fds to the value's
/// [`SharedFd`](crate::SharedFd)s; values may nest at most
/// [`Limits::DEFAULT_MAX_DEPTH`] levels (see [`decode_with_limits`]).
///
/// The whole of `msg.bytes` must be consumed: trailing bytes are refused with
/// [`DecodeError::TrailingBytes`], since they mean sender and receiver
/// disagree on the type. Fds that no `SharedFd` claimed are closed. Any input
/// yields a value or an error, never a panic, and a recursive type nested
/// too deeply is [`DecodeError::TooDeep`], never a stack overflow.
#[inline]
pub fn decode<T: DeserializeOwned>(msg: Message) -> Result<T, DecodeError> {
    decode_depth(msg, Limits::DEFAULT_MAX_DEPTH)
}

/// [`decode`] with the nesting limit of `limits`
/// ([`Limits::max_depth`]; the other limits are the framing's).
///
/// ```
/// use mp_wire::{decode_with_limits, encode, DecodeError, Limits};
/// let msg = encode(&vec![vec![1u8]])?;                 // 2 levels
/// let shallow = Limits { max_depth: 1, ..Limits::default() };
/// let err = decode_with_limits::<Vec<Vec<u8>>>(msg, &shallow).unwrap_err();
/// assert!(matches!(err, DecodeError::TooDeep { limit: 1 }));
/// # Ok::<(), mp_wire::EncodeError>(())
/// ```
///
/// # Errors
/// As [`decode`]; [`DecodeError::TooDeep`] past `limits.max_depth`.
pub fn decode_with_limits<T: DeserializeOwned>(
    msg: Message,
    limits: &Limits,
) -> Result<T, DecodeError> {
    decode_depth(msg, limits.max_depth)
}

/// [`decode`] from borrowed bytes and their fds: a caller that reads
/// messages into a buffer of its own decodes from it without moving the
/// bytes into a [`Message`] first.
///
/// ```
/// let mut buf = vec![0u8; 64];
/// let msg = mp_wire::encode(&"hi")?;
/// buf[..msg.bytes.len()].copy_from_slice(&msg.bytes);
/// let s: String = mp_wire::decode_from(&buf[..msg.bytes.len()], Vec::new())?;
/// assert_eq!(s, "hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`decode`].
pub fn decode_from<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, DecodeError> {
    decode_slice(bytes, fds, Limits::DEFAULT_MAX_DEPTH)
}

/// [`decode_from`] with `limits`' nesting depth: [`decode_with_limits`]
/// from borrowed bytes (a frame lent by
/// [`FrameDecoder::next_frame_map`](crate::FrameDecoder::next_frame_map)).
///
/// # Errors
/// As [`decode_with_limits`].
pub fn decode_from_with_limits<T: DeserializeOwned>(
    bytes: &[u8],
    fds: Vec<OwnedFd>,
    limits: &Limits,
) -> Result<T, DecodeError> {
    decode_slice(bytes, fds, limits.max_depth)
}

/// Decodes with at most `max_depth` levels of nesting. Inline, as
/// [`decode_slice_seed`] is: the decode lands in its caller's code, not in
/// code of its own elsewhere in the program, which a freshly forked child
/// decoding its target's arguments would take a page fault to run
/// (docs/performance.md, "A forked child's first touches").
#[inline]
fn decode_depth<T: DeserializeOwned>(msg: Message, max_depth: usize) -> Result<T, DecodeError> {
    let Message { bytes, fds } = msg;
    decode_slice(&bytes, fds, max_depth)
}

/// Decodes `bytes` with `fds` and at most `max_depth` levels of nesting.
#[inline]
fn decode_slice<T: DeserializeOwned>(
    bytes: &[u8],
    fds: Vec<OwnedFd>,
    max_depth: usize,
) -> Result<T, DecodeError> {
    decode_slice_seed(bytes, fds, max_depth, PhantomData::<T>)
}

/// [`decode_from`] through a serde `DeserializeSeed`: the value `seed`
/// makes of the message, which may be state the caller keeps (decoding a
/// sequence into a vector of the caller's, [`AppendTo`](crate::AppendTo),
/// allocates nothing when the vector has room).
///
/// ```
/// let mut kept: Vec<u64> = Vec::with_capacity(8);
/// let msg = mp_wire::encode(&[1u64, 2, 3][..])?;
/// mp_wire::decode_seed(&msg.bytes, Vec::new(), mp_wire::AppendTo(&mut kept))?;
/// assert_eq!(kept, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`decode`].
pub fn decode_seed<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    fds: Vec<OwnedFd>,
    seed: S,
) -> Result<S::Value, DecodeError> {
    decode_slice_seed(bytes, fds, Limits::DEFAULT_MAX_DEPTH, seed)
}

/// Decodes `bytes` with `fds` and at most `max_depth` levels of nesting
/// into what `seed` makes. Inlined into every caller, its errors one cold
/// call ([`decode_failed`]): as a call of its own it cost a queue's small
/// `get` about 29 of 543 instructions (prologue, the result moved through
/// memory), `valgrind --tool=callgrind target/release/examples/queue_op_cost ring`.
#[inline(always)]
fn decode_slice_seed<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    fds: Vec<OwnedFd>,
    max_depth: usize,
    seed: S,
) -> Result<S::Value, DecodeError> {
    let mut ending = Ending::new();
    // Without fds, a scalar value is decoded at once (see `top`).
    let result = if fds.is_empty() {
        seed.deserialize(Top::new(bytes, max_depth, &mut ending))
    } else {
        decode_full(bytes, fds, max_depth, &mut ending, |de| {
            seed.deserialize(de)
        })
    };
    match result {
        Ok(value) if ending.rest.is_empty() => Ok(value),
        result => Err(decode_failed(result.err(), ending, max_depth)),
    }
}

/// The error of a decode that failed with `error`, or left bytes after
/// its value (`None`; its value was dropped), told apart by `ending`.
#[cold]
fn decode_failed(
    error: Option<postcard::Error>,
    ending: Ending<'_>,
    max_depth: usize,
) -> DecodeError {
    match error {
        None => DecodeError::TrailingBytes {
            count: ending.rest.len(),
        },
        Some(_) if ending.too_deep.get() => DecodeError::TooDeep { limit: max_depth },
        Some(e @ postcard::Error::SerdeDeCustom) => {
            ending.fd_error.unwrap_or(DecodeError::Deserialize(e))
        }
        Some(e) => DecodeError::Deserialize(e),
    }
}
