//! Allocation and validation of the shared slots behind every primitive.

use std::io;

use mp_shm::Slot;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A zeroed slot of `len` bytes (every primitive's initial state is zero).
pub(crate) fn alloc(len: usize) -> io::Result<Slot> {
    mp_shm::alloc(len, 8)
}

/// Deserializes a slot and checks it is large enough for `kind`.
pub(crate) fn slot_of<'de, D: Deserializer<'de>>(
    d: D,
    len: usize,
    kind: &str,
) -> Result<Slot, D::Error> {
    let slot = Slot::deserialize(d)?;
    if slot.len() < len {
        return Err(D::Error::custom(format!(
            "shared slot too small for a {kind}"
        )));
    }
    Ok(slot)
}

/// An atomic word of a slot whose size was checked at construction.
macro_rules! word {
    ($slot:expr, u32, $off:expr) => {
        $slot
            .atomic_u32($off)
            .expect("slot size checked at construction")
    };
    ($slot:expr, u64, $off:expr) => {
        $slot
            .atomic_u64($off)
            .expect("slot size checked at construction")
    };
}
pub(crate) use word;
