//! The buffer postcard encodes into: a `Vec<u8>` whose small appends (every
//! varint is one) are a few byte pushes instead of a call to `memcpy`, which
//! is what dominated encoding long sequences of integers with postcard's own
//! `Vec` flavor (measured: about a quarter of a pool worker's time on
//! `Pool::map` over 200k `u64`).

use postcard::ser_flavors::Flavor;

/// Appends above this size go through `extend_from_slice` (one `memcpy`).
const SMALL: usize = 16;

/// A growable output buffer for postcard.
#[derive(Debug, Default)]
pub(crate) struct ByteVec(pub(crate) Vec<u8>);

impl Flavor for ByteVec {
    type Output = Vec<u8>;

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

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
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
        let ours = postcard::serialize_with_flavor(&value, ByteVec::default()).unwrap();
        assert_eq!(ours, postcard::to_stdvec(&value).unwrap());
    }
}
