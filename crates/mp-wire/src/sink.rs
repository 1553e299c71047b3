//! [`Sink`]: where the [serializer](crate::serializer) writes a value's
//! bytes, usually a `Vec<u8>`; mp-channel's queues have their own (the
//! stack for a small item, the shared ring for a large one).
//!
//! A varint, the most common thing written, arrives as one word
//! ([`Sink::append_le`]): a sink with room stores it at once and counts
//! only its bytes. Copying it from a byte array instead — a `memcpy` of a
//! few bytes, or loads wider than the byte stores that had just filled it
//! (store-forwarding stalls) — was most of a small item's encoding.

/// A destination of encoded bytes chosen by the caller
/// ([`encode_to_sink`](crate::encode_to_sink)): every append is taken
/// (a sink that runs out of room of its own keeps the rest elsewhere).
pub trait Sink {
    /// Appends `bytes`.
    fn append(&mut self, bytes: &[u8]);

    /// Appends one byte (every varint of one byte is one).
    #[inline]
    fn push(&mut self, byte: u8) {
        self.append(&[byte]);
    }

    /// Appends the low `len` bytes of `word`, least significant first
    /// (`len` is 1 to 8): a varint or a fixed-width number. A sink with
    /// room may store all eight bytes and count `len` of them, as long as
    /// the bytes past `len` count as unwritten (the next append overwrites
    /// them).
    #[inline]
    fn append_le(&mut self, word: u64, len: usize) {
        self.append(&word.to_le_bytes()[..len.min(8)]);
    }
}

/// Appends above this size go through `extend_from_slice` (one `memcpy`).
/// The byte loop costs about 8 instructions a byte, so from 9 bytes on (an
/// object id's 16, a method name) the call is cheaper: a manager dict's
/// `set` + `get` took about 380 instructions fewer in the client at 8 than
/// at 16.
const SMALL: usize = 8;

/// A `Vec` takes appends at its end.
impl Sink for Vec<u8> {
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        if bytes.len() <= SMALL {
            self.reserve(bytes.len());
            for &b in bytes {
                Vec::push(self, b);
            }
        } else {
            self.extend_from_slice(bytes);
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }

    /// One 8-byte store, then the length cut back to `len` of them.
    #[inline]
    fn append_le(&mut self, word: u64, len: usize) {
        let end = self.len() + len.min(8);
        self.extend_from_slice(&word.to_le_bytes());
        self.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vec_takes_words_byte_exact() {
        let mut v = vec![9u8];
        v.append_le(0x0807_0605_0403_0201, 3);
        assert_eq!(v, [9, 1, 2, 3]);
        v.append_le(u64::MAX, 8);
        assert_eq!(v[4..], [0xff; 8]);
        v.append_le(0x55, 1);
        assert_eq!(v.len(), 13);
        assert_eq!(v[12], 0x55);
    }

    /// A sink with only `append` gets the same bytes through the default
    /// `append_le` and `push`.
    #[test]
    fn the_default_word_append_is_the_bytes() {
        struct Plain(Vec<u8>);
        impl Sink for Plain {
            fn append(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        let mut p = Plain(Vec::new());
        p.append_le(0xaabb_ccdd, 2);
        p.push(7);
        p.append_le(0x0102_0304_0506_0708, 8);
        assert_eq!(p.0, [0xdd, 0xcc, 7, 8, 7, 6, 5, 4, 3, 2, 1]);
    }
}
