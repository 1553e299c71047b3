//! The top level of an encode: where a message's value begins.
//!
//! A `SharedFd` pushes its fd onto the innermost encode scope, thread-local
//! state that the encode must open before the value and close after it.
//! A value that cannot hold one (a scalar, a string, bytes, a unit, a
//! `None`, a unit variant) is written here at once, without the scope: in
//! a queue's `put` and `get` of a `u64` the scope took 18 of 485
//! instructions an item (`valgrind --tool=callgrind
//! target/release/examples/queue_op_cost ring`) and about 1 ns of 27 (the
//! same loop in `mp-scenarios`). A value with parts (`Some`, a newtype, a variant with
//! contents, a sequence, a tuple, a map, a struct) opens the scope as it
//! begins, before any part is serialized; the caller
//! ([`serialize_message`](super::serialize_message)) closes it after the
//! value, so the parts are written as before and what their `SharedFd`s
//! pushed is the message's fds. The bytes are [`Serializer`]'s in every
//! case: each method hands over to it. (A `SharedFd` is itself a newtype,
//! so one at the top opens the scope too.) The mirror of the decode's
//! `top`.

use std::fmt::Display;

use postcard::Error;
use serde::ser::{self, Serialize};

use super::Serializer;
use crate::shared_fd::LazyEncodeScope;
use crate::sink::Sink;

/// The serializer a message's value starts with (see the module docs).
pub(crate) struct Top<'b, 'a, S> {
    inner: &'b mut Serializer<'a, S>,
    scope: &'b mut LazyEncodeScope,
}

impl<'b, 'a, S> Top<'b, 'a, S> {
    /// The top of an encode with `inner`, opening `scope` if the value has
    /// parts.
    #[inline]
    pub(crate) fn new(inner: &'b mut Serializer<'a, S>, scope: &'b mut LazyEncodeScope) -> Self {
        Top { inner, scope }
    }

    /// The serializer for a value with parts, the scope open.
    #[inline]
    fn opened(self) -> &'b mut Serializer<'a, S> {
        self.scope.open();
        self.inner
    }
}

/// Methods of values that cannot hold a `SharedFd`: handed over as they
/// are.
macro_rules! at_once {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        #[inline]
        fn $method(self, $($arg: $ty),*) -> postcard::Result<()> {
            self.inner.$method($($arg),*)
        }
    )*};
}

/// Methods of values with parts: handed over once the scope is open.
macro_rules! opened {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty),* $(,)?) => {$(
        #[inline]
        fn $method(self, $($arg: $ty),*) -> postcard::Result<$out> {
            self.opened().$method($($arg),*)
        }
    )*};
}

impl<'b, 'a, S: Sink> ser::Serializer for Top<'b, 'a, S> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = &'b mut Serializer<'a, S>;
    type SerializeTuple = &'b mut Serializer<'a, S>;
    type SerializeTupleStruct = &'b mut Serializer<'a, S>;
    type SerializeTupleVariant = &'b mut Serializer<'a, S>;
    type SerializeMap = &'b mut Serializer<'a, S>;
    type SerializeStruct = &'b mut Serializer<'a, S>;
    type SerializeStructVariant = &'b mut Serializer<'a, S>;

    fn is_human_readable(&self) -> bool {
        false
    }

    at_once!(
        serialize_bool(v: bool),
        serialize_i8(v: i8),
        serialize_i16(v: i16),
        serialize_i32(v: i32),
        serialize_i64(v: i64),
        serialize_i128(v: i128),
        serialize_u8(v: u8),
        serialize_u16(v: u16),
        serialize_u32(v: u32),
        serialize_u64(v: u64),
        serialize_u128(v: u128),
        serialize_f32(v: f32),
        serialize_f64(v: f64),
        serialize_char(v: char),
        serialize_str(v: &str),
        serialize_bytes(v: &[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(name: &'static str),
        serialize_unit_variant(name: &'static str, variant_index: u32, variant: &'static str),
    );

    opened!(
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq,
        serialize_tuple(len: usize) -> Self::SerializeTuple,
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(
            name: &'static str,
            variant_index: u32,
            variant: &'static str,
            len: usize
        ) -> Self::SerializeTupleVariant,
        serialize_map(len: Option<usize>) -> Self::SerializeMap,
        serialize_struct(name: &'static str, len: usize) -> Self::SerializeStruct,
        serialize_struct_variant(
            name: &'static str,
            variant_index: u32,
            variant: &'static str,
            len: usize
        ) -> Self::SerializeStructVariant,
    );

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> postcard::Result<()> {
        self.opened().serialize_some(value)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> postcard::Result<()> {
        self.opened().serialize_newtype_struct(name, value)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> postcard::Result<()> {
        self.opened()
            .serialize_newtype_variant(name, variant_index, variant, value)
    }

    /// Text formatted by a `Display`: no `SharedFd` can be in it.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> postcard::Result<()> {
        self.inner.collect_str(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    use serde::{Deserialize, Serialize};

    use crate::shared_fd::SCOPES_OPENED;
    use crate::{decode, encode, SharedFd};

    #[derive(Serialize, Deserialize)]
    struct Newtype(SharedFd);

    #[derive(Serialize, Deserialize)]
    struct Tuple(u8, SharedFd);

    #[derive(Serialize, Deserialize)]
    struct Fields {
        n: u8,
        fd: SharedFd,
    }

    #[derive(Serialize, Deserialize)]
    enum Variant {
        Unit,
        Newtype(SharedFd),
        Tuple(u8, SharedFd),
        Struct { fd: SharedFd },
    }

    fn fd() -> SharedFd {
        SharedFd::from(OwnedFd::from(UnixStream::pair().unwrap().0))
    }

    /// Scopes the top opened while `value` was encoded.
    fn opened<T: Serialize>(value: &T) -> u64 {
        let before = SCOPES_OPENED.with(std::cell::Cell::get);
        encode(value).unwrap();
        SCOPES_OPENED.with(std::cell::Cell::get) - before
    }

    /// Encoded from the top with its one fd, and decoded back.
    fn carries_its_fd<T: Serialize + for<'de> Deserialize<'de>>(what: &str, value: T) {
        let msg = encode(&value).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(msg.fds.len(), 1, "{what}");
        decode::<T>(msg).unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    /// Every kind of value with parts opens the scope before its parts, at
    /// the top of the message: a `SharedFd` in any of them is one of the
    /// message's fds (one left out of the list of kinds that open it fails
    /// here with "SharedFd can only be serialized by mp_wire::encode").
    #[test]
    fn a_shared_fd_in_any_kind_of_value_at_the_top_is_sent() {
        carries_its_fd("bare", fd());
        carries_its_fd("some", Some(fd()));
        carries_its_fd("newtype struct", Newtype(fd()));
        carries_its_fd("newtype variant", Variant::Newtype(fd()));
        carries_its_fd("tuple struct", Tuple(1, fd()));
        carries_its_fd("tuple variant", Variant::Tuple(1, fd()));
        carries_its_fd("struct", Fields { n: 1, fd: fd() });
        carries_its_fd("struct variant", Variant::Struct { fd: fd() });
        carries_its_fd("tuple", (fd(),));
        carries_its_fd("sequence", vec![fd()]);
        carries_its_fd("map", BTreeMap::from([(1u8, fd())]));
    }

    /// A value that cannot hold a `SharedFd` is written without the scope;
    /// one with parts opens it once, however deep its parts go.
    #[test]
    fn only_a_value_with_parts_opens_the_scope() {
        assert_eq!(opened(&7u64), 0);
        assert_eq!(opened(&-7i32), 0);
        assert_eq!(opened(&1.5f64), 0);
        assert_eq!(opened(&true), 0);
        assert_eq!(opened(&'x'), 0);
        assert_eq!(opened(&"text"), 0);
        assert_eq!(opened(&serde_bytes::Bytes::new(b"bytes")), 0);
        assert_eq!(opened(&None::<u8>), 0);
        assert_eq!(opened(&()), 0);
        assert_eq!(opened(&Variant::Unit), 0);
        assert_eq!(opened(&Some(7u8)), 1);
        assert_eq!(opened(&(1u8, vec![(2u16, Some(3u32))])), 1);
        assert_eq!(opened(&fd()), 1);
    }
}
