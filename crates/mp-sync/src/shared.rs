//! Allocation and validation of the shared slots behind every primitive.

use std::io;

use mp_shm::Slot;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;

/// A zeroed slot of `len` bytes (every primitive's initial state is zero),
/// aligned so that a slot of up to 64 bytes never straddles two cache lines.
pub(crate) fn alloc(len: usize) -> io::Result<Slot> {
    mp_shm::alloc(len, len.next_power_of_two().clamp(8, 64))
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

/// Bytes of an eventcount in a slot: `seq: u32`, `waiters: u32`.
pub(crate) const EVENTCOUNT: usize = 8;
/// Bytes of a mutex in a slot: `state: u64`, then its eventcount.
pub(crate) const MUTEX: usize = 8 + EVENTCOUNT;

/// The eventcount at byte `off` of `slot` (whose size was checked).
#[inline]
pub(crate) fn eventcount_at(slot: &Slot, off: usize) -> RawEventCount<'_> {
    // The last word first: its bounds check implies the other's, which the
    // compiler then drops (these run on every lock and unlock).
    let waiters = word!(slot, u32, off + 4);
    RawEventCount {
        seq: word!(slot, u32, off),
        waiters,
    }
}

/// The mutex at byte `off` of `slot` (whose size was checked).
#[inline]
pub(crate) fn mutex_at(slot: &Slot, off: usize) -> RawMutex<'_> {
    let wake = eventcount_at(slot, off + 8); // the last words first, as above
    RawMutex {
        state: word!(slot, u64, off),
        wake,
    }
}
