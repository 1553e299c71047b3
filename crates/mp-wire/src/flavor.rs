//! Where postcard encodes into: a [`Sink`] of the caller's, usually a
//! `Vec<u8>` whose small appends (every varint is one) are a few byte pushes
//! instead of a call to `memcpy`, which is what dominated encoding long
//! sequences of integers with postcard's own `Vec` flavor (measured: about a
//! quarter of a pool worker's time on `Pool::map` over 200k `u64`). The
//! flavor borrows the caller's sink, so encoding moves no buffer in or out
//! (a queue's `put` of a small item paid for those moves in
//! store-forwarding stalls).

use postcard::ser_flavors::Flavor;

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
}

/// postcard's output on a [`Sink`].
pub(crate) struct SinkFlavor<'a, S>(pub(crate) &'a mut S);

impl<S: Sink> Flavor for SinkFlavor<'_, S> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.append(data);
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends above this size go through `extend_from_slice` (one `memcpy`).
/// A varint is at most 10 bytes and almost always a few; the byte loop
/// costs about 8 instructions a byte, so from 9 bytes on (an object id's
/// 16, a method name) the call is cheaper: a manager dict's `set` + `get`
/// took about 380 instructions fewer in the client at 8 than at 16.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_postcards_own_vec() {
        let value = (
            vec![0u64, 127, 128, 1 << 40, u64::MAX],
            "text".repeat(10),
            -5i32,
        );
        let mut ours = vec![9];
        postcard::serialize_with_flavor(&value, SinkFlavor(&mut ours)).unwrap();
        assert_eq!(ours[0], 9, "appends to what is there");
        assert_eq!(ours[1..], postcard::to_stdvec(&value).unwrap());
    }
}
