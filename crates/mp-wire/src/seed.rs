//! [`AppendTo`]: decoding a sequence into a vector the caller keeps, so
//! that a process decoding one large sequence after another (a pool
//! worker's chunks of tasks) reuses one allocation instead of asking the
//! allocator for fresh pages each time.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// Bytes of room [`AppendTo`] reserves ahead on the sender's word (the
/// length a sequence announces): past it, the vector grows as items
/// actually arrive, so a lying length costs no more memory than the items
/// sent.
const TRUSTED_ROOM: usize = 1 << 20;

/// A serde seed that appends the items of an encoded sequence to the
/// vector it borrows ([`decode_seed`](crate::decode_seed)); its value is
/// `()`. On an error, the items decoded before it stay appended.
///
/// ```
/// let mut kept = vec![0u32];
/// let msg = mp_wire::encode(&vec![7u32, 8])?;
/// mp_wire::decode_seed(&msg.bytes, Vec::new(), mp_wire::AppendTo(&mut kept))?;
/// assert_eq!(kept, [0, 7, 8]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AppendTo<'v, T>(pub &'v mut Vec<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for AppendTo<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(Append {
            out: self.0,
            item: PhantomData,
        })
    }
}

/// The visitor of [`AppendTo`].
struct Append<'v, T> {
    out: &'v mut Vec<T>,
    item: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Append<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let trusted = TRUSTED_ROOM / std::mem::size_of::<T>().max(1);
        self.out.reserve(seq.size_hint().unwrap_or(0).min(trusted));
        while let Some(item) = seq.next_element()? {
            self.out.push(item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_seed, encode, DecodeError};

    #[test]
    fn appends_and_keeps_the_allocation() {
        let mut kept: Vec<u64> = Vec::with_capacity(100);
        let at = kept.as_ptr();
        let msg = encode(&(0..100u64).collect::<Vec<_>>()).unwrap();
        decode_seed(&msg.bytes, Vec::new(), AppendTo(&mut kept)).unwrap();
        assert_eq!(kept, (0..100).collect::<Vec<_>>());
        assert_eq!(kept.as_ptr(), at, "decoded into the room it had");
    }

    #[test]
    fn a_lying_length_reserves_at_most_the_trusted_room() {
        // A sequence announcing u64::MAX / 2 items, followed by one item.
        let mut bytes = Vec::new();
        let mut n = u64::MAX / 2;
        while n >= 0x80 {
            bytes.push((n as u8) | 0x80);
            n >>= 7;
        }
        bytes.push(n as u8);
        bytes.push(5);
        let mut kept: Vec<u64> = Vec::new();
        let err = decode_seed(&bytes, Vec::new(), AppendTo(&mut kept)).unwrap_err();
        assert!(matches!(err, DecodeError::Deserialize(_)), "{err:?}");
        assert_eq!(kept, [5], "the items sent stay");
        assert!(kept.capacity() <= TRUSTED_ROOM / 8, "{}", kept.capacity());
    }

    #[test]
    fn fds_travel_with_the_items() {
        use std::io::{Read, Write};

        use crate::SharedFd;

        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        let items = vec![SharedFd::from(std::os::fd::OwnedFd::from(w))];
        let msg = encode(&items).unwrap();
        assert_eq!(msg.fds.len(), 1);
        let mut kept: Vec<SharedFd> = Vec::new();
        decode_seed(&msg.bytes, msg.fds, AppendTo(&mut kept)).unwrap();
        drop(items);
        // The decoded fd is a working end of the pair.
        let mut w = std::os::unix::net::UnixStream::from(kept.pop().unwrap().into_inner());
        w.write_all(b"x").unwrap();
        let mut got = [0u8];
        (&r).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
        // An index past the fds sent is an error, not a misread.
        let bytes = encode(&items_of_one_index()).unwrap().bytes;
        let mut none: Vec<SharedFd> = Vec::new();
        assert!(decode_seed(&bytes, Vec::new(), AppendTo(&mut none)).is_err());
        assert!(none.is_empty());
    }

    /// The encoding of a one-`SharedFd` sequence, without its fd.
    fn items_of_one_index() -> Vec<crate::SharedFd> {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        vec![crate::SharedFd::from(std::os::fd::OwnedFd::from(a))]
    }

    #[test]
    fn not_a_sequence_is_an_error() {
        let msg = encode(&"text").unwrap();
        let mut kept: Vec<String> = Vec::new();
        // postcard reads "text"'s length as the count, then fails.
        assert!(decode_seed(&msg.bytes, Vec::new(), AppendTo(&mut kept)).is_err());
        let msg = encode(&[1u8, 2][..]).unwrap();
        let mut trailing: Vec<u8> = Vec::new();
        let mut bytes = msg.bytes.clone();
        bytes.push(9);
        let err = decode_seed(&bytes, Vec::new(), AppendTo(&mut trailing)).unwrap_err();
        assert!(
            matches!(err, DecodeError::TrailingBytes { count: 1 }),
            "{err:?}"
        );
    }
}
