//! The top level of a decode: where a message's value begins.
//!
//! A message that carries no fds and whose value is one scalar (a queue's
//! `u64`, a `bool`, an `f64`) is decoded here at once, with postcard's
//! encodings and postcard's errors, without the fd scope (thread-local
//! state opened and closed around every decode) and the depth budget that
//! a value with parts needs: in a queue's `put` + `get` of a `u64` those
//! took about 105 of 575 instructions an item (`valgrind --tool=callgrind
//! target/release/examples/queue_op_cost ring`). So is a unit (`()`, a
//! unit struct: no bytes), the arguments of a process target that takes
//! none, whose full path a freshly forked child would otherwise run from
//! code pages of their own, each a page fault (docs/performance.md, "A
//! forked child's first touches"). Any other value, and any message with
//! fds, takes the full path ([`decode_full`]) from its first byte, so what
//! it accepts and refuses is unchanged.

use std::cell::Cell;
use std::os::fd::OwnedFd;

use postcard::de_flavors::Slice;
use postcard::Error;
use serde::de::{Deserializer, Visitor};

use crate::depth::{Budget, Depth};
use crate::error::DecodeError;
use crate::shared_fd::with_decode_scope;

/// How a decode ended, besides its value: what the full path needs to
/// tell the caller's error apart (see `message::decode_slice_seed`).
pub(crate) struct Ending<'de> {
    /// The bytes after the value's encoding (trailing bytes if any).
    pub(crate) rest: &'de [u8],
    /// Set if the value went deeper than the limit.
    pub(crate) too_deep: Cell<bool>,
    /// What went wrong with the message's fds, if anything.
    pub(crate) fd_error: Option<DecodeError>,
}

impl Ending<'_> {
    pub(crate) fn new() -> Self {
        Ending {
            rest: &[],
            too_deep: Cell::new(false),
            fd_error: None,
        }
    }
}

/// The full path: `visit` with postcard's deserializer of `bytes` under
/// the depth limit, inside an fd scope holding `fds`; records in `ending`
/// what is left after the value and any fd error.
pub(crate) fn decode_full<'de, R>(
    bytes: &'de [u8],
    fds: Vec<OwnedFd>,
    max_depth: usize,
    ending: &mut Ending<'de>,
    visit: impl FnOnce(Depth<'_, &mut postcard::Deserializer<'de, Slice<'de>>>) -> Result<R, Error>,
) -> Result<R, Error> {
    let too_deep = &ending.too_deep;
    let (result, fd_error) = with_decode_scope(fds, || {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        let value = visit(Depth::new(&mut de, Budget::new(max_depth, too_deep)))?;
        Ok((value, de.finalize()?))
    });
    ending.fd_error = fd_error;
    result.map(|(value, rest)| {
        ending.rest = rest;
        value
    })
}

/// The deserializer a value without fds starts with (see the module docs).
pub(crate) struct Top<'de, 'e> {
    bytes: &'de [u8],
    max_depth: usize,
    ending: &'e mut Ending<'de>,
}

impl<'de, 'e> Top<'de, 'e> {
    pub(crate) fn new(bytes: &'de [u8], max_depth: usize, ending: &'e mut Ending<'de>) -> Self {
        Top {
            bytes,
            max_depth,
            ending,
        }
    }

    /// The full path for a value that is not one scalar.
    fn full<R>(
        self,
        visit: impl FnOnce(Depth<'_, &mut postcard::Deserializer<'de, Slice<'de>>>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        decode_full(self.bytes, Vec::new(), self.max_depth, self.ending, visit)
    }

    /// The next `N` bytes (postcard's `try_take_n`).
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (taken, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(Error::DeserializeUnexpectedEnd)?;
        self.bytes = rest;
        Ok(*taken)
    }

    /// The next byte (postcard's `pop`).
    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self
            .bytes
            .split_first()
            .ok_or(Error::DeserializeUnexpectedEnd)?;
        self.bytes = rest;
        Ok(b)
    }

    /// A varint of an unsigned integer of `BITS` bits, as postcard's
    /// `try_take_varint_u16`/`u32`/`u64` read it: at most as many bytes
    /// as the bits need at 7 a byte, the last of the most bytes no larger
    /// than the bits it has left; bytes that end first are an unexpected
    /// end, as postcard's byte-by-byte reading finds.
    #[inline(always)]
    fn varint<const BITS: u32>(&mut self) -> Result<u64, Error> {
        let most = BITS.div_ceil(7) as usize;
        let last_max = (1u8 << (BITS % 7)) - 1;
        let bytes = self.bytes;
        let mut out: u64 = 0;
        let mut i = 0;
        while i < most {
            let Some(&b) = bytes.get(i) else {
                return Err(Error::DeserializeUnexpectedEnd);
            };
            out |= u64::from(b & 0x7F) << (7 * i);
            if b < 0x80 {
                if i == most - 1 && b > last_max {
                    return Err(Error::DeserializeBadVarint);
                }
                self.bytes = &bytes[i + 1..];
                return Ok(out);
            }
            i += 1;
        }
        Err(Error::DeserializeBadVarint)
    }

    /// Ends the value: what is left is the caller's to check.
    fn done<V>(self, value: V) -> V {
        self.ending.rest = self.bytes;
        value
    }
}

/// Postcard's zigzag: 0, -1, 1, -2, … from 0, 1, 2, 3, ….
fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Methods that take the full path with their arguments.
macro_rules! full {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            self.full(|de| de.$method($($arg,)* visitor))
        }
    )*};
}

impl<'de> Deserializer<'de> for Top<'de, '_> {
    type Error = Error;

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = match self.byte()? {
            0 => false,
            1 => true,
            _ => return Err(Error::DeserializeBadBool),
        };
        let v = visitor.visit_bool(v)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_u8(self.byte()?)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_i8<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_i8(self.byte()? as i8)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_u16<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_u16(self.varint::<16>()? as u16)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_u32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_u32(self.varint::<32>()? as u32)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_u64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_u64(self.varint::<64>()?)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_i16<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_i16(unzigzag(self.varint::<16>()?) as i16)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_i32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_i32(unzigzag(self.varint::<32>()?) as i32)?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_i64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_i64(unzigzag(self.varint::<64>()?))?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_f32(f32::from_le_bytes(self.array()?))?;
        Ok(self.done(v))
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_f64(f64::from_le_bytes(self.array()?))?;
        Ok(self.done(v))
    }

    /// Postcard's unit: no bytes.
    #[inline]
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let v = visitor.visit_unit()?;
        Ok(self.done(v))
    }

    /// Postcard's unit struct: no bytes, as a unit.
    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    full!(
        deserialize_any(),
        deserialize_i128(),
        deserialize_u128(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
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

    /// As postcard's: a compact format.
    fn is_human_readable(&self) -> bool {
        false
    }
}
