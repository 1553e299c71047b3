//! Property tests: garbage on the wire and in messages never panics, and
//! arbitrary values (fds included) survive a round trip.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mp_sys::socket::{send_with_fds, socketpair};
const MAGIC: [u8; 4] = *b"MPW\x01";
use mp_wire::{
    decode, recv, recv_value, send_value, serde_bytes, Limits, Message, SharedFd, WireError,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

/// Writes `bytes` (with `fds` on the first byte) into a socket, closes it, and
/// reads frames from the other end until an error. Returns the messages read.
fn feed(bytes: &[u8], fds: usize) -> Vec<Message> {
    let (a, b) = socketpair().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let attach = vec![null.as_fd(); fds];
    let mut written = 0;
    while written < bytes.len() {
        let these = if written == 0 { &attach[..] } else { &[] };
        written += send_with_fds(&a, &bytes[written..], these).unwrap();
    }
    if bytes.is_empty() && fds > 0 {
        // fds need at least one byte to ride on.
        send_with_fds(&a, &[0], &attach).unwrap();
    }
    drop(a);
    let limits = Limits {
        max_frame: 1 << 20,
        max_fds: 8,
        ..Limits::default()
    };
    let mut messages = Vec::new();
    loop {
        match recv(b.as_fd(), &limits, WAIT) {
            Ok(msg) => messages.push(msg),
            Err(WireError::Timeout) => panic!("timed out on a closed stream"),
            Err(_) => break,
        }
        assert!(messages.len() <= bytes.len() + 1, "more frames than bytes");
    }
    messages
}

/// Decodes a message as several unrelated types; none may panic.
fn decode_as_everything(msg: &Message) {
    let _ = decode::<String>(msg.try_clone().unwrap());
    let _ = decode::<(u64, Vec<i32>, Option<bool>)>(msg.try_clone().unwrap());
    let _ = decode::<Record>(msg.try_clone().unwrap());
    let _ = decode::<BTreeMap<String, f64>>(msg.try_clone().unwrap());
    let _ = decode::<Vec<SharedFd>>(msg.try_clone().unwrap());
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    name: String,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    numbers: Vec<i32>,
    note: Option<String>,
    ends: Vec<SharedFd>,
    children: Vec<Child>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Child {
    key: char,
    value: (u16, f32),
}

/// Garbage, optionally starting with the magic so the header path is reached.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(magic, tail)| {
        let mut bytes = if magic { MAGIC.to_vec() } else { Vec::new() };
        bytes.extend(tail);
        bytes
    })
}

/// A well-formed-looking header with arbitrary fields, then some body bytes.
fn plausible_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![0u64..64, any::<u64>()],
        prop_oneof![0u32..4, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(len, fds, body)| {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&fds.to_le_bytes());
            bytes.extend(body);
            bytes
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn garbage_on_the_wire_gives_typed_errors(bytes in garbage(), fds in 0usize..4) {
        for msg in feed(&bytes, fds) {
            decode_as_everything(&msg);
        }
    }

    #[test]
    fn lying_headers_give_typed_errors(bytes in plausible_frame(), fds in 0usize..12) {
        for msg in feed(&bytes, fds) {
            decode_as_everything(&msg);
        }
    }

    #[test]
    fn garbage_messages_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..200), fds in 0usize..3) {
        let fds = (0..fds).map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap())).collect();
        decode_as_everything(&Message { bytes, fds });
    }

    #[test]
    fn values_with_fds_roundtrip(
        name in ".{0,40}",
        blob in prop::collection::vec(any::<u8>(), 0..2000),
        numbers in prop::collection::vec(any::<i32>(), 0..50),
        note in prop::option::of(".{0,20}"),
        n_fds in 0usize..5,
        children in prop::collection::vec((any::<char>(), any::<u16>(), -1e6f32..1e6), 0..5),
    ) {
        let (a, b) = socketpair().unwrap();
        let mut peers = Vec::new();
        let mut ends = Vec::new();
        for _ in 0..n_fds {
            let (x, y) = socketpair().unwrap();
            ends.push(SharedFd::from(x));
            peers.push(UnixStream::from(y));
        }
        let children: Vec<Child> = children
            .into_iter()
            .map(|(key, v, f)| Child { key, value: (v, f) })
            .collect();
        let record = Record {
            name: name.clone(),
            blob: blob.clone(),
            numbers: numbers.clone(),
            note: note.clone(),
            ends,
            children,
        };
        send_value(a.as_fd(), &record).unwrap();
        let got: Record = recv_value(b.as_fd(), &Limits::default(), WAIT).unwrap();
        prop_assert_eq!(&got.name, &name);
        prop_assert_eq!(&got.blob, &blob);
        prop_assert_eq!(&got.numbers, &numbers);
        prop_assert_eq!(&got.note, &note);
        prop_assert_eq!(&got.children, &record.children);
        prop_assert_eq!(got.ends.len(), n_fds);
        drop(record); // only the received duplicates remain open
        for (i, (end, peer)) in got.ends.into_iter().zip(peers.iter_mut()).enumerate() {
            let text = format!("end {i}");
            UnixStream::from(end.into_inner()).write_all(text.as_bytes()).unwrap();
            peer.set_read_timeout(WAIT).unwrap();
            let mut buf = Vec::new();
            // The received end was the last handle on it: read to end of stream.
            peer.read_to_end(&mut buf).unwrap();
            prop_assert_eq!(buf, text.into_bytes());
        }
    }
}

/// What postcard alone makes of `bytes` as a `T`, as `mp_wire` reports it:
/// the value if it uses every byte, else trailing bytes or postcard's error.
fn postcard_alone<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!("{} trailing", rest.len())),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// What `mp_wire::decode_from` makes of `bytes`, in the same terms.
fn ours<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match mp_wire::decode_from::<T>(bytes, Vec::new()) {
        Ok(v) => Ok(v),
        Err(mp_wire::DecodeError::TrailingBytes { count }) => Err(format!("{count} trailing")),
        Err(mp_wire::DecodeError::Deserialize(e)) => Err(format!("{e:?}")),
        Err(e) => Err(format!("unexpected: {e:?}")),
    }
}

/// A unit struct, which `top` decodes as a unit.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Unit;

/// A scalar or a unit at the top of a message is decoded without postcard's
/// deserializer (`top`): every value and every error must be postcard's.
fn same_as_postcard(bytes: &[u8]) {
    fn check<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
        assert_eq!(
            ours::<T>(bytes),
            postcard_alone::<T>(bytes),
            "{} from {bytes:?}",
            std::any::type_name::<T>()
        );
    }
    check::<bool>(bytes);
    check::<u8>(bytes);
    check::<i8>(bytes);
    check::<u16>(bytes);
    check::<i16>(bytes);
    check::<u32>(bytes);
    check::<i32>(bytes);
    check::<u64>(bytes);
    check::<i64>(bytes);
    check::<usize>(bytes);
    check::<isize>(bytes);
    check::<char>(bytes);
    check::<()>(bytes);
    check::<Unit>(bytes);
    // Floats by their bits (NaN is not equal to itself).
    assert_eq!(
        (
            ours::<f32>(bytes).map(f32::to_bits),
            ours::<f64>(bytes).map(f64::to_bits)
        ),
        (
            postcard_alone::<f32>(bytes).map(f32::to_bits),
            postcard_alone::<f64>(bytes).map(f64::to_bits)
        ),
        "floats from {bytes:?}"
    );
}

#[test]
fn scalars_at_the_top_decode_as_postcard_does_at_every_edge() {
    // Every varint length, with and without the continuation bit on its
    // last byte, the largest last bytes each width allows and one more.
    for len in 0..=11 {
        for last in [0x00u8, 0x01, 0x02, 0x03, 0x04, 0x0F, 0x10, 0x7F, 0x80, 0xFF] {
            for fill in [0x80u8, 0xFF] {
                let mut bytes = vec![fill; len];
                bytes.push(last);
                same_as_postcard(&bytes);
                bytes.push(0);
                same_as_postcard(&bytes);
            }
        }
    }
    same_as_postcard(&[]);
    for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX.into(), u64::MAX] {
        same_as_postcard(&postcard::to_stdvec(&v).unwrap());
    }
    for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
        same_as_postcard(&postcard::to_stdvec(&v).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn scalars_at_the_top_decode_as_postcard_does(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        same_as_postcard(&bytes);
    }
}
