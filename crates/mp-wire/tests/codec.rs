//! Codec tests: encode/decode round trips, SharedFd side lists, bad input.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mp_wire::{decode, encode, serde_bytes, DecodeError, EncodeError, Message, SharedFd};
use serde::{Deserialize, Serialize, Serializer};

/// A connected pair of streams: what is written to one is read from the other.
fn stream_pair() -> (UnixStream, UnixStream) {
    let (a, b) = mp_sys::socket::socketpair().unwrap();
    let (a, b) = (UnixStream::from(a), UnixStream::from(b));
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    (a, b)
}

/// Writes through `fd` and checks that `peer` reads it: the fd is live.
fn assert_live(fd: OwnedFd, peer: &mut UnixStream, text: &[u8]) {
    UnixStream::from(fd).write_all(text).unwrap();
    let mut got = vec![0u8; text.len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, text);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Plain {
    name: String,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    values: Vec<i64>,
    nested: Option<Box<Plain>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Handles {
    first: SharedFd,
    label: String,
    more: Vec<SharedFd>,
    inner: Inner,
}

#[derive(Debug, Serialize, Deserialize)]
struct Inner {
    maybe: Option<SharedFd>,
}

#[test]
fn plain_values_roundtrip_without_fds() {
    let value = Plain {
        name: "outer".into(),
        data: vec![0, 255, 7],
        values: vec![-1, i64::MAX],
        nested: Some(Box::new(Plain {
            name: "inner".into(),
            data: vec![],
            values: vec![],
            nested: None,
        })),
    };
    let msg = encode(&value).unwrap();
    assert!(msg.fds.is_empty());
    assert_eq!(decode::<Plain>(msg).unwrap(), value);
}

#[test]
fn serde_bytes_is_length_then_raw_block() {
    let data = vec![200u8; 300];
    let bytes = encode(serde_bytes::Bytes::new(&data)).unwrap().bytes;
    // varint(300) = [0xac, 0x02], then the raw bytes.
    assert_eq!(&bytes[..2], &[0xac, 0x02]);
    assert_eq!(&bytes[2..], &data[..]);
    let back: serde_bytes::ByteBuf = decode(Message::from_bytes(bytes)).unwrap();
    assert_eq!(back.into_vec(), data);
}

#[test]
fn several_shared_fds_arrive_live_and_in_order() {
    let mut pairs: Vec<_> = (0..4).map(|_| stream_pair()).collect();
    let mut ends: Vec<OwnedFd> = Vec::new();
    let mut peers = Vec::new();
    for (a, b) in pairs.drain(..) {
        ends.push(OwnedFd::from(a));
        peers.push(b);
    }
    let mut ends = ends.into_iter();
    let value = Handles {
        first: SharedFd::from(ends.next().unwrap()),
        label: "l".into(),
        more: vec![
            SharedFd::from(ends.next().unwrap()),
            SharedFd::from(ends.next().unwrap()),
        ],
        inner: Inner {
            maybe: Some(SharedFd::from(ends.next().unwrap())),
        },
    };
    let msg = encode(&value).unwrap();
    assert_eq!(msg.fds.len(), 4);
    drop(value); // the message holds duplicates; the originals may go
    let got: Handles = decode(msg).unwrap();
    assert_eq!(got.label, "l");
    let mut fds = vec![got.first];
    fds.extend(got.more);
    fds.extend(got.inner.maybe);
    for (i, (fd, peer)) in fds.into_iter().zip(peers.iter_mut()).enumerate() {
        assert_live(fd.into_inner(), peer, format!("fd {i}").as_bytes());
    }
}

#[test]
fn encode_leaves_the_original_fd_usable() {
    let (a, mut b) = stream_pair();
    let shared = SharedFd::from(OwnedFd::from(a));
    let msg = encode(&shared).unwrap();
    drop(msg);
    assert_live(shared.into_inner(), &mut b, b"still here");
}

#[test]
fn unused_fds_are_closed_by_decode() {
    let (a, mut b) = stream_pair();
    let msg = Message {
        bytes: encode(&7u8).unwrap().bytes,
        fds: vec![OwnedFd::from(a)],
    };
    assert_eq!(decode::<u8>(msg).unwrap(), 7);
    // The only write end went into the message and was closed by decode.
    let mut buf = [0u8; 1];
    assert_eq!(b.read(&mut buf).unwrap(), 0);
}

#[test]
fn wrong_type_is_a_decode_error() {
    let msg = encode(&u64::MAX).unwrap();
    assert!(matches!(
        decode::<String>(msg),
        Err(DecodeError::Deserialize(_))
    ));
    let msg = encode(&"text").unwrap();
    assert!(matches!(
        decode::<u32>(msg),
        Err(DecodeError::TrailingBytes { count: 4 })
    ));
    let msg = encode(&7u8).unwrap();
    assert!(matches!(
        decode::<bool>(msg),
        Err(DecodeError::Deserialize(_))
    ));
    let msg = encode(&(1u8, 2u8)).unwrap();
    assert!(matches!(
        decode::<Plain>(msg),
        Err(DecodeError::Deserialize(_))
    ));
    let msg = Message::from_bytes(vec![0xff; 20]);
    assert!(decode::<String>(msg).is_err());
}

#[test]
fn trailing_bytes_are_refused() {
    let msg = encode(&(5u32, 6u32)).unwrap();
    match decode::<u32>(msg) {
        Err(DecodeError::TrailingBytes { count: 1 }) => {}
        other => panic!("expected TrailingBytes, got {other:?}"),
    }
}

#[test]
fn fd_index_out_of_range_is_typed() {
    let msg = Message::from_bytes(vec![3]);
    match decode::<SharedFd>(msg) {
        Err(DecodeError::FdOutOfRange { index: 3, count: 0 }) => {}
        other => panic!("expected FdOutOfRange, got {other:?}"),
    }
}

#[test]
fn fd_index_used_twice_is_typed() {
    let (a, _b) = stream_pair();
    let msg = Message {
        bytes: vec![0, 0],
        fds: vec![OwnedFd::from(a)],
    };
    let err = decode::<(SharedFd, SharedFd)>(msg).unwrap_err();
    assert!(matches!(err, DecodeError::FdReused { index: 0 }), "{err:?}");
    assert_eq!(err.to_string(), "shared fd index 0 used twice");
}

#[test]
fn shared_fd_outside_the_codec_is_an_error() {
    use serde::de::IntoDeserializer;
    let (a, _b) = stream_pair();
    let shared = SharedFd::from(OwnedFd::from(a));
    // postcard alone has no side list to put the fd in.
    assert!(postcard::to_stdvec(&shared).is_err());
    let de: serde::de::value::U32Deserializer<serde::de::value::Error> = 0u32.into_deserializer();
    let err = SharedFd::deserialize(de).unwrap_err();
    assert!(err.to_string().contains("mp_wire::decode"), "{err}");
}

/// Serializes itself by encoding a SharedFd in a nested `encode` call.
struct NestedEncode(SharedFd);

impl Serialize for NestedEncode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inner = encode(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_u64(inner.fds.len() as u64)
    }
}

#[test]
fn nested_encode_has_its_own_fd_list() {
    let (a, _b) = stream_pair();
    let (c, _d) = stream_pair();
    let value = (
        SharedFd::from(OwnedFd::from(a)),
        NestedEncode(SharedFd::from(OwnedFd::from(c))),
    );
    let msg = encode(&value).unwrap();
    // The outer message got only the outer fd; the inner call saw its own.
    assert_eq!(msg.fds.len(), 1);
    let (_fd, inner_count): (SharedFd, u64) = decode(msg).unwrap();
    assert_eq!(inner_count, 1);
}

/// Deserializes itself by decoding, in a nested `decode` call, a message
/// without fds whose bytes name fd 0; yields whether that failed.
struct NestedDecode(bool);

impl<'de> Deserialize<'de> for NestedDecode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = <Vec<u8>>::deserialize(deserializer)?;
        let inner = decode::<SharedFd>(Message::from_bytes(bytes));
        Ok(NestedDecode(matches!(
            inner,
            Err(DecodeError::FdOutOfRange { index: 0, count: 0 })
        )))
    }
}

#[test]
fn nested_decode_without_fds_does_not_take_the_outer_ones() {
    let (a, _b) = stream_pair();
    let index_zero = vec![0u8]; // a SharedFd's index 0, as postcard writes it
    let msg = encode(&(index_zero, SharedFd::from(OwnedFd::from(a)))).unwrap();
    assert_eq!(msg.fds.len(), 1);
    let (nested, _fd): (NestedDecode, SharedFd) = decode(msg).unwrap();
    assert!(nested.0, "the inner decode saw no fd 0");
}

#[test]
fn serialize_error_is_an_encode_error() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }
    let err = encode(&Fails).unwrap_err();
    assert!(
        matches!(&err, EncodeError::Custom(text) if text == "no"),
        "{err:?}"
    );
}

#[test]
fn serialize_error_keeps_the_message_of_a_nested_value() {
    #[derive(Serialize)]
    struct Outer {
        id: u32,
        items: Vec<Option<Inner>>,
    }
    struct Inner(u8);
    impl Serialize for Inner {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if self.0 == 3 {
                return Err(serde::ser::Error::custom(format!(
                    "item {} is poisoned",
                    self.0
                )));
            }
            s.serialize_u8(self.0)
        }
    }
    let value = Outer {
        id: 7,
        items: vec![Some(Inner(1)), None, Some(Inner(3))],
    };
    let err = encode(&value).unwrap_err();
    assert_eq!(err.to_string(), "cannot encode value: item 3 is poisoned");
    // A value that encodes still encodes to postcard's bytes.
    let fine = Outer {
        id: 7,
        items: vec![Some(Inner(1)), None],
    };
    assert_eq!(encode(&fine).unwrap().bytes, [7, 2, 1, 1, 0]);
}

#[test]
fn serialize_error_wrapping_an_inner_error_sees_its_text() {
    struct Poisoned;
    impl Serialize for Poisoned {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("poisoned"))
        }
    }
    struct Wraps(Poisoned);
    impl Serialize for Wraps {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeTuple;
            let mut t = s.serialize_tuple(1)?;
            t.serialize_element(&self.0)
                .map_err(|e| serde::ser::Error::custom(format!("field 0: {e}")))?;
            t.end()
        }
    }
    let err = encode(&Wraps(Poisoned)).unwrap_err();
    assert_eq!(err.to_string(), "cannot encode value: field 0: poisoned");
}

#[test]
fn postcard_refusal_is_still_a_serialize_error() {
    struct UnknownLength;
    impl Serialize for UnknownLength {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_seq(None)?;
            unreachable!("postcard refuses sequences of unknown length")
        }
    }
    assert!(matches!(
        encode(&UnknownLength),
        Err(EncodeError::Serialize(_))
    ));
}

#[test]
fn message_try_clone_duplicates_fds() {
    let (a, mut b) = stream_pair();
    let msg = encode(&SharedFd::from(OwnedFd::from(a))).unwrap();
    let copy = msg.try_clone().unwrap();
    assert_eq!(copy.bytes, msg.bytes);
    drop(msg);
    let fd: SharedFd = decode(copy).unwrap();
    assert_live(fd.into_inner(), &mut b, b"copy");
}

/// Panics while being serialized, after a nested `encode` started.
struct Panics;

impl Serialize for Panics {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize panicked on purpose");
    }
}

#[test]
fn a_panic_inside_encode_restores_the_outer_state() {
    let result = std::panic::catch_unwind(|| encode(&(1u8, Panics)));
    assert!(result.is_err());
    // No side list was left installed: SharedFd outside encode still fails.
    let (a, _b) = stream_pair();
    assert!(postcard::to_stdvec(&SharedFd::from(OwnedFd::from(a))).is_err());
    // And encode still works.
    assert_eq!(decode::<u8>(encode(&3u8).unwrap()).unwrap(), 3);
}

/// A recursive type for the nesting-limit tests.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

/// `Node` nested `levels - 1` times around a `Leaf`: `levels` enum levels.
fn nest(levels: usize) -> Nest {
    (1..levels).fold(Nest::Leaf, |inner, _| Nest::Node(Box::new(inner)))
}

#[test]
fn nesting_up_to_the_limit_decodes_and_one_more_level_is_too_deep() {
    let limit = mp_wire::Limits::DEFAULT_MAX_DEPTH;
    let ok: Nest = decode(encode(&nest(limit)).unwrap()).unwrap();
    assert_eq!(ok, nest(limit));
    let err = decode::<Nest>(encode(&nest(limit + 1)).unwrap()).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooDeep { limit: l } if l == limit),
        "{err}"
    );
    let shallow = mp_wire::Limits {
        max_depth: 3,
        ..mp_wire::Limits::default()
    };
    // Each compound is a level: struct > seq > seq is 3, one more is 4.
    let three = encode(&(vec![vec![1u8]],)).unwrap();
    assert!(mp_wire::decode_with_limits::<(Vec<Vec<u8>>,)>(three, &shallow).is_ok());
    let four = encode(&(vec![vec![Some(1u8)]],)).unwrap();
    assert!(matches!(
        mp_wire::decode_with_limits::<(Vec<Vec<Option<u8>>>,)>(four, &shallow),
        Err(DecodeError::TooDeep { limit: 3 })
    ));
}

#[test]
fn depth_counting_keeps_borrowed_and_custom_decoding_intact() {
    // Strings, bytes, maps, struct variants, shared fds all go through the wrapper.
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    enum E {
        S {
            name: String,
            #[serde(with = "mp_wire::serde_bytes")]
            data: Vec<u8>,
        },
        T(u8, i128),
        U,
    }
    let value = (
        std::collections::BTreeMap::from([(1u32, E::U), (2, E::T(3, -4))]),
        E::S {
            name: "x".into(),
            data: vec![1, 2],
        },
        Some(()),
        'c',
        1.5f64,
    );
    let back: (std::collections::BTreeMap<u32, E>, E, Option<()>, char, f64) =
        decode(encode(&value).unwrap()).unwrap();
    assert_eq!(back, value);
}

/// A `SharedFd` is an index, not a level of nesting: a tuple holding one
/// decodes within a depth of 1 (it is read as a newtype so that the top of
/// a decode knows it takes an fd; the depth limit does not count that).
#[test]
fn a_shared_fd_is_not_a_level_of_nesting() {
    let (a, _b) = stream_pair();
    let msg = encode(&(SharedFd::from(OwnedFd::from(a)),)).unwrap();
    let shallow = mp_wire::Limits {
        max_depth: 1,
        ..mp_wire::Limits::default()
    };
    let (fd,): (SharedFd,) = mp_wire::decode_with_limits(msg, &shallow).unwrap();
    drop(fd);
    // A newtype of the user's still is a level.
    #[derive(Debug, Serialize, Deserialize)]
    struct Wrapped(u32);
    let msg = encode(&(Wrapped(7),)).unwrap();
    let err = mp_wire::decode_with_limits::<(Wrapped,)>(msg, &shallow).unwrap_err();
    assert!(matches!(err, DecodeError::TooDeep { limit: 1 }), "{err:?}");
}
