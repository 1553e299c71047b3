//! [`decode_copied`]: decoding a message that only copies can reach — bytes
//! in memory another process may write, which this workspace never borrows
//! as a `&[u8]` (see mp-sys's `mmap` module) — with a value that is one
//! byte string or text at the top level (`ByteBuf`, `String`) copied once,
//! straight into the buffer the value keeps.
//!
//! Any other value is copied whole into the caller's scratch buffer first
//! and decoded from it as [`decode_from`](crate::decode_from) does, so the
//! fast path changes nothing else: the same format, limits, trailing-byte
//! check and errors. Which path runs is decided by the first (for these
//! values, the only) `deserialize_*` call the value's `Deserialize` makes.
//! The source's bytes are copied out, and the caller's `release` run
//! (mp-channel's queues take the record off their ring and release the
//! reader lock there), before any of the value's own code runs.

use std::cell::Cell;

use serde::de::{DeserializeOwned, Deserializer, Visitor};

use crate::depth::{Budget, Depth};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::shared_fd::with_decode_scope;

/// An encoded message (without fds) that can only be copied out.
pub trait CopySource {
    /// Bytes in the message.
    fn len(&self) -> usize;

    /// Whether the message has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the message's bytes from `offset` on into `buf`; callers keep
    /// `offset + buf.len() <= self.len()`.
    fn copy_to(&self, offset: usize, buf: &mut [u8]);

    /// Appends a copy of `len` bytes from `offset` on to `buf` (callers
    /// keep `offset + len <= self.len()`). The default zeroes the room
    /// first and [`copy_to`](Self::copy_to)s into it; a source that can
    /// copy into uninitialized capacity saves that pass.
    fn append_to(&self, offset: usize, len: usize, buf: &mut Vec<u8>) {
        let at = buf.len();
        buf.resize(at + len, 0);
        self.copy_to(offset, &mut buf[at..]);
    }
}

/// Decodes a `T` from `source`, as [`decode_from`](crate::decode_from)
/// decodes it from the same bytes without fds. A `T` that is a byte string
/// or text at the top level (it calls `deserialize_byte_buf`,
/// `deserialize_bytes`, `deserialize_string` or `deserialize_str`, as
/// `serde_bytes::ByteBuf` and `String` do) gets its bytes copied once into
/// a buffer of its own; any other is copied into `scratch` (overwritten in
/// place, grown if needed) and decoded from there. `release` runs once,
/// right after the source's bytes are copied out (also when they turn out
/// to be malformed), before any code of `T`'s runs.
///
/// ```
/// use mp_wire::{decode_copied, encode, CopySource};
/// use mp_wire::serde_bytes::ByteBuf;
/// struct Bytes(Vec<u8>);
/// impl CopySource for Bytes {
///     fn len(&self) -> usize { self.0.len() }
///     fn copy_to(&self, offset: usize, buf: &mut [u8]) {
///         buf.copy_from_slice(&self.0[offset..offset + buf.len()]);
///     }
/// }
/// let mut scratch = Vec::new();
/// let msg = encode(&ByteBuf::from(vec![7u8; 1000]))?;
/// let v: ByteBuf = decode_copied(&Bytes(msg.bytes), &mut scratch, || {})?;
/// assert_eq!(v.len(), 1000);
/// assert!(scratch.is_empty(), "copied straight into the value");
/// let msg = encode(&(1u8, 2u16))?;
/// let v: (u8, u16) = decode_copied(&Bytes(msg.bytes), &mut scratch, || {})?;
/// assert_eq!(v, (1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`decode`](crate::decode).
pub fn decode_copied<T: DeserializeOwned, S: CopySource + ?Sized>(
    source: &S,
    scratch: &mut Vec<u8>,
    release: impl FnOnce(),
) -> Result<T, DecodeError> {
    let max_depth = Limits::DEFAULT_MAX_DEPTH;
    let release = Cell::new(Some(release));
    let seen = Seen::default();
    let (result, fd_error) = with_decode_scope(Vec::new(), || {
        T::deserialize(TopLevel {
            source,
            scratch,
            release: &release,
            seen: &seen,
        })
    });
    if let Some(release) = release.take() {
        release();
    }
    match result {
        Ok(_) if seen.trailing.get() > 0 => Err(DecodeError::TrailingBytes {
            count: seen.trailing.get(),
        }),
        Ok(value) => Ok(value),
        Err(_) if seen.too_deep.get() => Err(DecodeError::TooDeep { limit: max_depth }),
        Err(e @ postcard::Error::SerdeDeCustom) => {
            Err(fd_error.unwrap_or(DecodeError::Deserialize(e)))
        }
        Err(e) => Err(DecodeError::Deserialize(e)),
    }
}

/// What the decoding found besides its result.
#[derive(Default)]
struct Seen {
    /// Bytes left over after the value (0: none).
    trailing: Cell<usize>,
    /// The value nested too deeply.
    too_deep: Cell<bool>,
}

/// The deserializer handed to the top-level value.
struct TopLevel<'a, 'de, S: ?Sized, F> {
    source: &'a S,
    scratch: &'de mut Vec<u8>,
    release: &'a Cell<Option<F>>,
    seen: &'a Seen,
}

impl<'de, S: CopySource + ?Sized, F: FnOnce()> TopLevel<'_, 'de, S, F> {
    fn release(&self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }

    /// The value's bytes, for a byte string or text: the length prefix
    /// read, the rest copied into a buffer of their own.
    fn block(&self) -> Result<Vec<u8>, postcard::Error> {
        let total = self.source.len();
        let mut prefix = [0u8; 10]; // the longest varint of a u64
        let n = total.min(prefix.len());
        self.source.copy_to(0, &mut prefix[..n]);
        let taken = postcard::take_from_bytes::<usize>(&prefix[..n]);
        let (len, rest) = match taken {
            Ok(taken) => taken,
            Err(e) => {
                self.release();
                return Err(e);
            }
        };
        let start = n - rest.len();
        let Some(left) = total.checked_sub(start).filter(|&left| left >= len) else {
            self.release();
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        };
        let mut bytes = Vec::new();
        self.source.append_to(start, len, &mut bytes);
        self.release();
        self.seen.trailing.set(left - len);
        Ok(bytes)
    }

    /// The whole message in `scratch`, for any other value.
    fn copied(self) -> &'de [u8] {
        let total = self.source.len();
        if self.scratch.len() < total {
            self.scratch.resize(total, 0);
        }
        self.source.copy_to(0, &mut self.scratch[..total]);
        if let Some(release) = self.release.take() {
            release();
        }
        &self.scratch[..total]
    }
}

/// Decodes from the copied bytes with postcard (through the nesting limit),
/// recording bytes left over.
macro_rules! from_copy {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, postcard::Error> {
            let seen = self.seen;
            let bytes = self.copied();
            let mut de = postcard::Deserializer::from_bytes(bytes);
            let value = Depth::new(&mut de, Budget::new(Limits::DEFAULT_MAX_DEPTH, &seen.too_deep))
                .$method($($arg,)* visitor)?;
            seen.trailing.set(de.finalize()?.len());
            Ok(value)
        }
    )*};
}

impl<'de, S: CopySource + ?Sized, F: FnOnce()> Deserializer<'de> for TopLevel<'_, 'de, S, F> {
    type Error = postcard::Error;

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.block()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.block()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let text = String::from_utf8(self.block()?);
        visitor.visit_string(text.map_err(|_| postcard::Error::DeserializeBadUtf8)?)
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    from_copy!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(),
        deserialize_ignored_any(),
    );
}
