//! The hasher of the server's object table: object ids are 128 random bits
//! that only the server draws (`CREATE`), so their low 64 bits are already
//! a uniform hash, and SipHash on every call would only add work. A client
//! can look ids up but never choose the ids stored, so it cannot make them
//! collide.

use std::hash::{BuildHasherDefault, Hasher};

/// A map from object id, hashed by the id's own bits.
pub(crate) type IdMap<V> = std::collections::HashMap<u128, V, BuildHasherDefault<IdHasher>>;

/// Folds an id into 64 bits; other input (none is expected) is mixed in
/// byte by byte, FNV-1a style, so the hasher stays correct for any key.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u128(&mut self, id: u128) {
        self.0 ^= (id as u64) ^ ((id >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_random_ids_spread_and_lookups_work() {
        let mut map = IdMap::default();
        for i in 0..1000u128 {
            map.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835), i);
        }
        for i in 0..1000u128 {
            let id = i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
            assert_eq!(map.get(&id), Some(&i));
        }
        let mut a = IdHasher::default();
        a.write_u128(1 << 64);
        let mut b = IdHasher::default();
        b.write_u128(2 << 64);
        assert_ne!(a.finish(), b.finish(), "the high half counts");
    }
}
