//! The serde serializer every value is encoded with: postcard's wire
//! format (version 1, what `postcard::from_bytes` and this crate's decoders
//! read), written into a [`Sink`].
//!
//! postcard's own serializer writes each varint a byte at a time into an
//! array and then hands the sink a slice of it: for a small item that copy
//! (a call to `memcpy`, or loads spanning the fresh byte stores) cost more
//! than everything else the encoding did (a `u64` took about 9 ns on its
//! own). Here a varint of up to eight bytes is assembled in a register and
//! goes to the sink as one word ([`Sink::append_le`]).
//!
//! The format, for reference (each rule is checked against postcard's own
//! output in the tests below):
//! - `bool`, `u8`, `i8`: one byte;
//! - `u16` to `u128` and `usize`: a varint (seven bits a byte, least
//!   significant group first, the high bit set on every byte but the last);
//!   `i16` to `i128`: zigzag, then a varint; `f32`, `f64`: their bits,
//!   little-endian;
//! - `char`: as the `str` of its UTF-8; `str` and bytes: a varint length,
//!   then the bytes;
//! - `None`: 0; `Some(v)`: 1, then `v`; unit, unit structs: nothing;
//! - an enum variant: its index as a varint, then its contents; newtype
//!   structs, tuples and structs: their fields in order;
//! - sequences and maps: a varint count (a sequence of unknown length is
//!   [`SerializeSeqLengthUnknown`](postcard::Error::SerializeSeqLengthUnknown)),
//!   then the elements, or each key followed by its value;
//! - `collect_str`: formatted twice, to count its length, then to write it.
//!
//! Errors are postcard's ([`postcard::Error`]), so that callers keep one
//! error type for both directions.

use std::fmt::{self, Display, Write as _};
use std::os::fd::OwnedFd;

use postcard::Error;
use serde::ser::{self, Serialize};

use crate::error::EncodeError;
use crate::shared_fd::LazyEncodeScope;
use crate::sink::Sink;

mod top;

/// Encodes `value` into `sink` in postcard's format.
///
/// # Errors
/// A sequence or map that does not tell its length, a `Display` that fails
/// in `collect_str`, or an error of the value's own `Serialize`
/// ([`SerdeSerCustom`](Error::SerdeSerCustom)).
#[inline]
pub(crate) fn serialize<T: Serialize + ?Sized, S: Sink>(
    value: &T,
    sink: &mut S,
) -> postcard::Result<()> {
    value.serialize(&mut Serializer { sink })
}

/// [`serialize`] of a message's value, with the fd scope a `SharedFd` in
/// it needs: opened only once the value turns out to have parts (see
/// [`top`]). Returns the result, the fds `SharedFd`s pushed, and the first
/// `SharedFd` failure, if any.
#[inline]
pub(crate) fn serialize_message<T: Serialize + ?Sized, S: Sink>(
    value: &T,
    sink: &mut S,
) -> (postcard::Result<()>, Vec<OwnedFd>, Option<EncodeError>) {
    let mut scope = LazyEncodeScope::new();
    let result = value.serialize(top::Top::new(&mut Serializer { sink }, &mut scope));
    let (fds, error) = scope.finish();
    (result, fds, error)
}

/// A serde serializer writing postcard's format into a [`Sink`].
pub(crate) struct Serializer<'a, S> {
    sink: &'a mut S,
}

/// Bits of a varint word: eight bytes of seven bits each.
const WORD_BITS: u32 = 56;

/// `v` as a varint in a word, least significant byte first, and its
/// length in bytes; `v` must be below 2^56 (eight groups of seven bits).
#[inline]
fn varint_word(mut v: u64) -> (u64, usize) {
    debug_assert!(v < 1 << WORD_BITS);
    let mut word = 0u64;
    let mut n = 0;
    loop {
        word |= (v & 0x7f) << (8 * n);
        v >>= 7;
        if v == 0 {
            return (word, n + 1);
        }
        word |= 0x80 << (8 * n);
        n += 1;
    }
}

/// Appends `v` as a varint.
#[inline]
fn varint_u64<S: Sink>(sink: &mut S, v: u64) {
    if v < 1 << WORD_BITS {
        varint_short(sink, v);
    } else {
        varint_long(sink, u128::from(v));
    }
}

/// Appends `v`, below 2^56, as a varint of at most eight bytes. (Not
/// [`varint_u64`] again at the end of [`varint_long`]: that recursion made
/// the compiler keep `varint_u64` out of line in some callers, a call per
/// integer with the sink's state passed through memory.)
#[inline(always)]
fn varint_short<S: Sink>(sink: &mut S, v: u64) {
    if v < 0x80 {
        sink.push(v as u8);
    } else if v < 1 << 21 {
        let (word, len) = varint_word_of_two_or_three(v);
        sink.append_le(word, len);
    } else {
        let (word, len) = varint_word(v);
        sink.append_le(word, len);
    }
}

/// [`varint_word`] of a `v` from 2^7 to below 2^21 (two or three bytes):
/// its groups shifted into their bytes directly, one branch on the length
/// in place of [`varint_word`]'s loop of a group a turn (a queue's `put`
/// and `get` of a three-byte `u64`: 25 instructions fewer an item,
/// `valgrind --tool=callgrind target/release/examples/queue_op_cost ring`).
#[inline(always)]
fn varint_word_of_two_or_three(v: u64) -> (u64, usize) {
    debug_assert!((0x80..1 << 21).contains(&v));
    let two = (v & 0x7f) | 0x80 | ((v << 1) & 0x7f00);
    if v < 1 << 14 {
        (two, 2)
    } else {
        (two | 0x8000 | ((v << 2) & 0x7f_0000), 3)
    }
}

/// Appends `v` as a varint of more than eight bytes (or any `u128`):
/// eight-byte words of continued groups while more than 56 bits are left.
#[cold]
fn varint_long<S: Sink>(sink: &mut S, mut v: u128) {
    while v >= 1 << WORD_BITS {
        let (low, _) = varint_word((v as u64) & ((1 << WORD_BITS) - 1));
        // Every group of this word is followed by another: all eight
        // continuation bits set (`varint_word` set those of the groups it
        // saw followed, and the zero groups at the top still need them).
        sink.append_le(low | 0x8080_8080_8080_8080, 8);
        v >>= WORD_BITS;
    }
    varint_short(sink, v as u64);
}

/// Zigzag: small magnitudes of either sign become small unsigned numbers.
macro_rules! zigzag {
    ($v:expr, $u:ty, $bits:expr) => {
        (($v << 1) ^ ($v >> ($bits - 1))) as $u
    };
}

/// Counts the bytes a `Display` writes (`collect_str`'s first pass).
struct Count(usize);

impl fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Writes what a `Display` writes into the sink (`collect_str`'s second
/// pass), at most the `left` bytes the first pass counted.
struct Written<'s, S> {
    sink: &'s mut S,
    left: usize,
}

impl<S: Sink> fmt::Write for Written<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // A `Display` that writes more the second time would leave bytes
        // the length does not count: an error instead.
        self.left = self.left.checked_sub(s.len()).ok_or(fmt::Error)?;
        self.sink.append(s.as_bytes());
        Ok(())
    }
}

impl<S: Sink> ser::Serializer for &mut Serializer<'_, S> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    #[inline]
    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> postcard::Result<()> {
        self.sink.push(u8::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> postcard::Result<()> {
        self.sink.push(v as u8);
        Ok(())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(zigzag!(v, u16, 16)));
        Ok(())
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(zigzag!(v, u32, 32)));
        Ok(())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> postcard::Result<()> {
        varint_u64(self.sink, zigzag!(v, u64, 64));
        Ok(())
    }

    #[inline]
    fn serialize_i128(self, v: i128) -> postcard::Result<()> {
        self.serialize_u128(zigzag!(v, u128, 128))
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> postcard::Result<()> {
        self.sink.push(v);
        Ok(())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> postcard::Result<()> {
        varint_u64(self.sink, v);
        Ok(())
    }

    #[inline]
    fn serialize_u128(self, v: u128) -> postcard::Result<()> {
        match u64::try_from(v) {
            Ok(v) => varint_u64(self.sink, v),
            Err(_) => varint_long(self.sink, v),
        }
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> postcard::Result<()> {
        self.sink.append_le(u64::from(v.to_bits()), 4);
        Ok(())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> postcard::Result<()> {
        self.sink.append_le(v.to_bits(), 8);
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> postcard::Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> postcard::Result<()> {
        self.serialize_bytes(v.as_bytes())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> postcard::Result<()> {
        varint_u64(self.sink, v.len() as u64);
        self.sink.append(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> postcard::Result<()> {
        self.sink.push(0);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> postcard::Result<()> {
        self.sink.push(1);
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> postcard::Result<()> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> postcard::Result<()> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
    ) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(variant_index));
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> postcard::Result<()> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        value: &T,
    ) -> postcard::Result<()> {
        varint_u64(self.sink, u64::from(variant_index));
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> postcard::Result<Self> {
        let len = len.ok_or(Error::SerializeSeqLengthUnknown)?;
        varint_u64(self.sink, len as u64);
        Ok(self)
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> postcard::Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> postcard::Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> postcard::Result<Self> {
        varint_u64(self.sink, u64::from(variant_index));
        Ok(self)
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> postcard::Result<Self> {
        self.serialize_seq(len)
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> postcard::Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> postcard::Result<Self> {
        self.serialize_tuple_variant(name, variant_index, variant, len)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> postcard::Result<()> {
        let mut count = Count(0);
        write!(count, "{value}").map_err(|_| Error::CollectStrError)?;
        varint_u64(self.sink, count.0 as u64);
        let mut out = Written {
            sink: &mut *self.sink,
            left: count.0,
        };
        write!(out, "{value}").map_err(|_| Error::CollectStrError)?;
        if out.left != 0 {
            // Fewer bytes the second time: the length would be wrong.
            return Err(Error::CollectStrError);
        }
        Ok(())
    }
}

/// The compound types' elements and fields: each in order, nothing around
/// them (their counts and variant indices are written when they open).
macro_rules! compound {
    ($($trait:ident :: $method:ident ($($key:ident : $kty:ty),*)),* $(,)?) => {$(
        impl<S: Sink> ser::$trait for &mut Serializer<'_, S> {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: $kty,)*
                value: &T,
            ) -> postcard::Result<()> {
                $(let _ = $key;)*
                value.serialize(&mut **self)
            }

            #[inline]
            fn end(self) -> postcard::Result<()> {
                Ok(())
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element(),
    SerializeTuple::serialize_element(),
    SerializeTupleStruct::serialize_field(),
    SerializeTupleVariant::serialize_field(),
    SerializeStruct::serialize_field(key: &'static str),
    SerializeStructVariant::serialize_field(key: &'static str),
);

impl<S: Sink> ser::SerializeMap for &mut Serializer<'_, S> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> postcard::Result<()> {
        key.serialize(&mut **self)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> postcard::Result<()> {
        value.serialize(&mut **self)
    }

    #[inline]
    fn end(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
