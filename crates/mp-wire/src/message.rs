//! [`Message`] and the codec: [`encode`] a serde value into bytes plus fds,
//! [`decode`] it back.

use std::os::fd::OwnedFd;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{DecodeError, EncodeError};
use crate::flavor::ByteVec;
use crate::shared_fd::{with_decode_scope, with_encode_scope};

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
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Message, EncodeError> {
    let (result, fds, fd_error) =
        with_encode_scope(|| postcard::serialize_with_flavor(value, ByteVec::default()));
    match result {
        Ok(bytes) => Ok(Message { bytes, fds }),
        // postcard drops the text of custom errors; prefer the SharedFd one.
        Err(e @ postcard::Error::SerdeSerCustom) => {
            Err(fd_error.unwrap_or(EncodeError::Serialize(e)))
        }
        Err(e) => Err(EncodeError::Serialize(e)),
    }
}

/// Decodes a value of type `T` from `msg`, handing its fds to the value's
/// [`SharedFd`](crate::SharedFd)s.
///
/// The whole of `msg.bytes` must be consumed: trailing bytes are refused with
/// [`DecodeError::TrailingBytes`], since they mean sender and receiver
/// disagree on the type. Fds that no `SharedFd` claimed are closed. Any input
/// yields a value or an error, never a panic; for a recursive type, though,
/// nesting depth is bounded only by the stack, so keep [`Limits`](crate::Limits)
/// modest when decoding such types from untrusted peers.
pub fn decode<T: DeserializeOwned>(msg: Message) -> Result<T, DecodeError> {
    let Message { bytes, fds } = msg;
    let (result, fd_error) = with_decode_scope(fds, || postcard::take_from_bytes::<T>(&bytes));
    match result {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(DecodeError::TrailingBytes { count: rest.len() }),
        Err(e @ postcard::Error::SerdeDeCustom) => {
            Err(fd_error.unwrap_or(DecodeError::Deserialize(e)))
        }
        Err(e) => Err(DecodeError::Deserialize(e)),
    }
}
