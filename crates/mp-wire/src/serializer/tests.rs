//! The serializer against postcard's own: the same bytes for every kind of
//! value serde has, and the same errors.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use proptest::prelude::*;
use serde::ser::{Error as _, SerializeSeq};
use serde::Serialize;

use super::{serialize, serialize_message};

/// Ours (appended after a byte already there) against postcard's bytes,
/// through the serializer and through the top of a message's encode.
fn same<T: Serialize + ?Sized + fmt::Debug>(value: &T) {
    let mut ours = vec![0xee];
    serialize(value, &mut ours).expect("ours encodes");
    assert_eq!(ours[0], 0xee, "appends after what is there");
    let theirs = postcard::to_stdvec(value).expect("postcard encodes");
    assert_eq!(ours[1..], theirs[..], "{value:?}");
    let mut top = Vec::new();
    let (result, fds, error) = serialize_message(value, &mut top);
    result.expect("the top encodes");
    assert!(fds.is_empty() && error.is_none());
    assert_eq!(top, theirs, "{value:?} from the top");
}

/// Numbers around every varint length's edges, and the extremes.
fn edges() -> Vec<u128> {
    let mut v = vec![0, 1, 2];
    for bits in (7..=126)
        .step_by(7)
        .chain([8, 16, 32, 56, 63, 64, 127, 128])
    {
        let p = 1u128.checked_shl(bits).unwrap_or(0);
        v.extend([p.wrapping_sub(1), p, p.wrapping_add(1)]);
    }
    v.push(u128::MAX);
    v
}

/// Every bit length a varint word holds (up to 56 bits, eight bytes), with
/// every group's bits set, with one bit set, and with alternate bits set:
/// each group lands in its byte, and the continuation bits stop at the
/// last byte the number needs.
#[test]
fn varints_of_every_bit_length() {
    for bits in 0..=57u32 {
        let top = 1u64 << bits.min(63);
        let all = top.wrapping_sub(1);
        for v in [
            all,
            top,
            all & 0x5555_5555_5555_5555,
            all & 0xAAAA_AAAA_AAAA_AAAA,
        ] {
            same(&v);
        }
    }
}

#[test]
fn integers_at_every_varint_edge() {
    for e in edges() {
        same(&(e as u8));
        same(&(e as u16));
        same(&(e as u32));
        same(&(e as u64));
        same(&(e as usize));
        same(&e);
        same(&(e as i8));
        same(&(e as i16));
        same(&(e as i32));
        same(&(e as i64));
        same(&(e as i128));
        same(&(e as i64).wrapping_neg());
        same(&(e as i128).wrapping_neg());
    }
    for m in [i64::MIN, i64::MAX] {
        same(&m);
    }
    for m in [i128::MIN, i128::MAX] {
        same(&m);
    }
    same(&i8::MIN);
    same(&i16::MIN);
    same(&i32::MIN);
}

#[test]
fn floats_bools_chars_text_and_bytes() {
    for f in [
        0.0f64,
        -0.0,
        1.5,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NAN,
    ] {
        // NaN != NaN: compare the bytes only.
        let mut ours = Vec::new();
        serialize(&f, &mut ours).unwrap();
        assert_eq!(ours, postcard::to_stdvec(&f).unwrap());
        let mut ours = Vec::new();
        serialize(&(f as f32), &mut ours).unwrap();
        assert_eq!(ours, postcard::to_stdvec(&(f as f32)).unwrap());
    }
    same(&(true, false));
    for c in ['a', 'é', '€', '𝄞', '\0'] {
        same(&c);
    }
    same("");
    same("text");
    same(&"x".repeat(200));
    same(&serde_bytes::Bytes::new(&[1, 2, 3]));
    same(&serde_bytes::ByteBuf::from(vec![7u8; 300]));
    same(&[1u8, 2, 3][..]);
}

#[derive(Serialize, Debug)]
struct Unit;

#[derive(Serialize, Debug)]
struct Newtype(u32);

#[derive(Serialize, Debug)]
struct Tuple(i8, String);

#[derive(Serialize, Debug)]
struct Fields {
    a: u64,
    b: Option<String>,
    c: Vec<(u16, bool)>,
}

#[derive(Serialize, Debug)]
enum Kinds {
    A,
    B(i64),
    C(u8, u8),
    D { x: f32, y: Option<()> },
}

#[test]
fn structs_enums_options_and_collections() {
    same(&());
    same(&Unit);
    same(&Newtype(300));
    same(&Tuple(-3, "t".into()));
    same(&Fields {
        a: 1 << 40,
        b: Some("b".into()),
        c: vec![(128, true), (0, false)],
    });
    same(&Fields {
        a: 0,
        b: None,
        c: vec![],
    });
    for k in [
        Kinds::A,
        Kinds::B(-129),
        Kinds::C(1, 2),
        Kinds::D {
            x: 2.5,
            y: Some(()),
        },
    ] {
        same(&k);
    }
    // A variant index past one byte's varint.
    #[derive(Serialize, Debug)]
    #[rustfmt::skip]
    #[allow(dead_code)] // only the variants at the edge are encoded
    enum Wide {
        V0, V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15,
        V16, V17, V18, V19, V20, V21, V22, V23, V24, V25, V26, V27, V28, V29,
        V30, V31, V32, V33, V34, V35, V36, V37, V38, V39, V40, V41, V42, V43,
        V44, V45, V46, V47, V48, V49, V50, V51, V52, V53, V54, V55, V56, V57,
        V58, V59, V60, V61, V62, V63, V64, V65, V66, V67, V68, V69, V70, V71,
        V72, V73, V74, V75, V76, V77, V78, V79, V80, V81, V82, V83, V84, V85,
        V86, V87, V88, V89, V90, V91, V92, V93, V94, V95, V96, V97, V98, V99,
        V100, V101, V102, V103, V104, V105, V106, V107, V108, V109, V110,
        V111, V112, V113, V114, V115, V116, V117, V118, V119, V120, V121,
        V122, V123, V124, V125, V126, V127, V128(u8),
    }
    same(&Wide::V127);
    same(&Wide::V128(9));
    same(&Wide::V0);
    let map: BTreeMap<String, Vec<u64>> = [("k".into(), vec![1, 1 << 60]), ("".into(), vec![])]
        .into_iter()
        .collect();
    same(&map);
    let map: HashMap<u8, i8> = [(1, -1)].into_iter().collect();
    same(&map);
    same(&vec![Some(1u32), None]);
    same(&(1u8, 2u16, 3u32, 4u64, 5u128, "six", [7i8; 3]));
}

/// A value whose `Display` goes through `collect_str`.
struct Shown(&'static str, u32);

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}-{}", self.0, self.1))
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[test]
fn collect_str_writes_a_length_and_the_text() {
    same(&Shown("abc", 12345));
    same(&Shown("", 0));
    same(&Shown(&*"long ".repeat(40).leak(), 7));
}

/// A sequence that does not tell its length, and a value that fails.
struct Unsized;

impl Serialize for Unsized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&1u8)?;
        seq.end()
    }
}

struct Fails;

impl Serialize for Fails {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("no"))
    }
}

#[test]
fn the_same_errors_as_postcard() {
    let mut out = Vec::new();
    assert_eq!(
        serialize(&Unsized, &mut out),
        Err(postcard::Error::SerializeSeqLengthUnknown)
    );
    assert_eq!(
        postcard::to_stdvec(&Unsized),
        Err(postcard::Error::SerializeSeqLengthUnknown)
    );
    assert_eq!(
        serialize(&Fails, &mut out),
        Err(postcard::Error::SerdeSerCustom)
    );
    assert_eq!(
        postcard::to_stdvec(&Fails),
        Err(postcard::Error::SerdeSerCustom)
    );
}

/// A `Display` that writes more the second time it is asked is refused,
/// not encoded with a length that does not match its bytes.
#[test]
fn a_display_that_changes_between_its_two_passes_is_refused() {
    struct Grows(std::cell::Cell<usize>);
    impl fmt::Display for Grows {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            f.write_str(&"g".repeat(self.0.get()))
        }
    }
    struct Via<'a>(&'a Grows);
    impl Serialize for Via<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self.0)
        }
    }
    let mut out = Vec::new();
    let grows = Grows(std::cell::Cell::new(0));
    assert_eq!(
        serialize(&Via(&grows), &mut out),
        Err(postcard::Error::CollectStrError)
    );
}

proptest! {
    #[test]
    fn numbers_as_postcard(a: u64, b: i64, c: u128, d: i128, e: u32, f: i32, g: u16, h: i16) {
        same(&(a, b, c, d, e, f, g, h));
    }

    #[test]
    fn nested_values_as_postcard(
        v in prop::collection::vec((any::<u64>(), ".{0,20}", any::<Option<i32>>()), 0..20),
        m in prop::collection::btree_map(any::<i16>(), any::<Vec<u8>>(), 0..8),
    ) {
        same(&(v, m));
    }
}
