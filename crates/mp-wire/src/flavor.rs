//! The buffer postcard encodes into: a `Vec<u8>` whose small appends (every
//! varint is one) are a few byte pushes instead of a call to `memcpy`, which
//! is what dominated encoding long sequences of integers with postcard's own
//! `Vec` flavor (measured: about a quarter of a pool worker's time on
//! `Pool::map` over 200k `u64`). It borrows the caller's `Vec`, so encoding
//! moves no buffer in or out (a queue's `put` of a small item paid for those
//! moves in store-forwarding stalls).

use postcard::ser_flavors::Flavor;

/// Appends above this size go through `extend_from_slice` (one `memcpy`).
const SMALL: usize = 16;

/// A growable output buffer for postcard: appends to the borrowed `Vec`.
#[derive(Debug)]
pub(crate) struct ByteVec<'a>(pub(crate) &'a mut Vec<u8>);

impl Flavor for ByteVec<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() <= SMALL {
            self.0.reserve(data.len());
            for &b in data {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(data);
        }
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
        postcard::serialize_with_flavor(&value, ByteVec(&mut ours)).unwrap();
        assert_eq!(ours[0], 9, "appends to what is there");
        assert_eq!(ours[1..], postcard::to_stdvec(&value).unwrap());
    }
}
