//! `decode_copied` against `decode_from` on the same bytes: the same values
//! and the same errors, a top-level byte string or text copied once into
//! its own buffer (the scratch buffer untouched), and `release` run once,
//! before the value's own code, whatever the bytes.

use std::cell::Cell;

use mp_wire::serde_bytes::ByteBuf;
use mp_wire::{decode_copied, decode_from, encode, CopySource, DecodeError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Bytes reachable by copies only; counts the bytes copied out.
struct Copies {
    bytes: Vec<u8>,
    copied: Cell<usize>,
}

impl CopySource for Copies {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn copy_to(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.bytes[offset..offset + buf.len()]);
        self.copied.set(self.copied.get() + buf.len());
    }
}

/// Decodes `bytes` both ways; returns `decode_copied`'s result, the bytes
/// it copied, and whether it left `scratch` empty; checks `release` ran
/// once.
fn both<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
) -> (Result<T, DecodeError>, usize, bool) {
    let source = Copies {
        bytes: bytes.to_vec(),
        copied: Cell::new(0),
    };
    let mut scratch = Vec::new();
    let released = Cell::new(0);
    let copied = decode_copied::<T, _>(&source, &mut scratch, || released.set(released.get() + 1));
    assert_eq!(released.get(), 1, "release runs exactly once");
    let direct = decode_from::<T>(bytes, Vec::new());
    assert_eq!(
        format!("{copied:?}"),
        format!("{direct:?}"),
        "the same outcome as decode_from"
    );
    (copied, source.copied.get(), scratch.is_empty())
}

#[test]
fn a_top_level_byte_string_or_text_is_copied_once_into_its_own_buffer() {
    let big = ByteBuf::from(vec![5u8; 100_000]);
    let (got, copied, scratch_empty) = both::<ByteBuf>(&encode(&big).unwrap().bytes);
    assert_eq!(got.unwrap(), big);
    assert!(scratch_empty);
    assert_eq!(
        copied,
        100_000 + 10,
        "the payload once, the prefix window once"
    );
    let text = "ü".repeat(30_000);
    let (got, _, scratch_empty) = both::<String>(&encode(&text).unwrap().bytes);
    assert_eq!(got.unwrap(), text);
    assert!(scratch_empty);
}

#[test]
fn other_values_are_decoded_from_the_scratch_buffer() {
    let value = (
        7u32,
        ByteBuf::from(vec![1u8; 50_000]),
        vec!["a".to_owned(); 3],
    );
    let (got, copied, scratch_empty) =
        both::<(u32, ByteBuf, Vec<String>)>(&encode(&value).unwrap().bytes);
    assert_eq!(got.unwrap(), value);
    assert!(!scratch_empty);
    assert_eq!(copied, encode(&value).unwrap().bytes.len());
    let (got, _, _) = both::<Option<u8>>(&encode(&Some(3u8)).unwrap().bytes);
    assert_eq!(got.unwrap(), Some(3));
}

#[test]
fn bad_bytes_are_the_errors_decode_gives() {
    let block = encode(&ByteBuf::from(vec![9u8; 300])).unwrap().bytes;
    // Trailing bytes.
    let mut longer = block.clone();
    longer.push(0);
    let (got, _, _) = both::<ByteBuf>(&longer);
    assert!(matches!(got, Err(DecodeError::TrailingBytes { count: 1 })));
    // Cut short, an empty message, a length prefix that never ends.
    assert!(both::<ByteBuf>(&block[..200]).0.is_err());
    assert!(both::<ByteBuf>(&[]).0.is_err());
    assert!(both::<ByteBuf>(&[0xff; 12]).0.is_err());
    // Not UTF-8.
    let (got, _, _) = both::<String>(&encode(&ByteBuf::from(vec![0xffu8; 4])).unwrap().bytes);
    assert!(got.is_err());
    // Trailing bytes after another kind of value.
    let (got, _, _) = both::<u8>(&[1, 2]);
    assert!(matches!(got, Err(DecodeError::TrailingBytes { count: 1 })));
}

#[test]
fn nesting_too_deep_is_refused_as_by_decode() {
    #[derive(Debug, PartialEq, Deserialize)]
    enum Nest {
        Leaf,
        More(Box<Nest>),
    }
    let bytes = vec![1u8; 100_000]; // `More` nested 100,000 times
    let (got, _, _) = both::<Nest>(&bytes);
    assert!(matches!(got, Err(DecodeError::TooDeep { .. })));
}

/// A value whose `Deserialize` looks at whether the bytes were released.
#[derive(Debug, PartialEq)]
struct SeesRelease(bool);

thread_local! {
    static RELEASED: Cell<bool> = const { Cell::new(false) };
}

impl<'de> Deserialize<'de> for SeesRelease {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Look;
        impl serde::de::Visitor<'_> for Look {
            type Value = SeesRelease;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_byte_buf<E>(self, _: Vec<u8>) -> Result<SeesRelease, E> {
                Ok(SeesRelease(RELEASED.with(Cell::get)))
            }
        }
        d.deserialize_byte_buf(Look)
    }
}

#[test]
fn release_comes_before_the_values_own_code() {
    let source = Copies {
        bytes: encode(&ByteBuf::from(vec![1u8; 20])).unwrap().bytes,
        copied: Cell::new(0),
    };
    let got: SeesRelease = decode_copied(&source, &mut Vec::new(), || {
        RELEASED.with(|r| r.set(true));
    })
    .unwrap();
    assert_eq!(got, SeesRelease(true));
}
