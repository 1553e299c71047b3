//! [`RawValue`] and [`RawArray`]: Python's `sharedctypes.RawValue` /
//! `RawArray`, unlocked, for plain-old-data only.
//!
//! `T: bytemuck::Pod` is the soundness fence: a `Pod` type has no padding,
//! no pointers and no interior mutability, and every bit pattern is a valid
//! value. So a value written by another process (even a torn one from an
//! unsynchronised race) is always a valid `T`, and neither a `Cell` nor a
//! `&T` nor a `Box` can ever be put in shared memory. Values are copied in
//! and out; no reference into the shared bytes is ever handed out.
//!
//! Both types allocate from the small-object [arena](crate::alloc) and
//! serialize as their [`Slot`], so they can be a `Process` argument.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::atomic::Ordering;

use bytemuck::Pod;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::arena::{alloc, Slot};
use crate::error::ShmError;

// A 4- or 8-byte `T` at an offset aligned to its size (the slot's start is
// 8-aligned) moves as one relaxed atomic word: a single load or store, and
// no data race with another process even without a lock.

#[inline]
fn read_at<T: Pod>(slot: &Slot, offset: usize) -> T {
    const RANGE: &str = "range checked against the slot at construction";
    match size_of::<T>() {
        8 if offset.is_multiple_of(8) => {
            let w = slot
                .atomic_u64(offset)
                .expect(RANGE)
                .load(Ordering::Relaxed);
            bytemuck::pod_read_unaligned(&w.to_ne_bytes())
        }
        4 if offset.is_multiple_of(4) => {
            let w = slot
                .atomic_u32(offset)
                .expect(RANGE)
                .load(Ordering::Relaxed);
            bytemuck::pod_read_unaligned(&w.to_ne_bytes())
        }
        _ => {
            let mut v = T::zeroed();
            slot.read(offset, bytemuck::bytes_of_mut(&mut v))
                .expect(RANGE);
            v
        }
    }
}

#[inline]
fn write_at<T: Pod>(slot: &Slot, offset: usize, v: &T) {
    const RANGE: &str = "range checked against the slot at construction";
    let bytes = bytemuck::bytes_of(v);
    match size_of::<T>() {
        8 if offset.is_multiple_of(8) => {
            let w = u64::from_ne_bytes(bytes.try_into().expect("8 bytes"));
            slot.atomic_u64(offset)
                .expect(RANGE)
                .store(w, Ordering::Relaxed);
        }
        4 if offset.is_multiple_of(4) => {
            let w = u32::from_ne_bytes(bytes.try_into().expect("4 bytes"));
            slot.atomic_u32(offset)
                .expect(RANGE)
                .store(w, Ordering::Relaxed);
        }
        _ => slot.write(offset, bytes).expect(RANGE),
    }
}

fn alloc_for<T>(count: usize) -> Result<Slot, ShmError> {
    let bytes = size_of::<T>()
        .checked_mul(count)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "array too large"))?;
    Ok(alloc(bytes.max(1), std::mem::align_of::<T>())?)
}

/// One shared `T`, unsynchronised (Python's `RawValue`).
///
/// ```
/// let v = mp_shm::RawValue::new(1.5f64).unwrap();
/// let other = v.clone(); // same memory, e.g. after crossing a process
/// other.set(2.5);
/// assert_eq!(v.get(), 2.5);
/// ```
pub struct RawValue<T> {
    slot: Slot,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> RawValue<T> {
    /// Allocates a shared `T` holding `value`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new(value: T) -> Result<Self, ShmError> {
        let v = RawValue {
            slot: alloc_for::<T>(1)?,
            _t: PhantomData,
        };
        v.set(value);
        Ok(v)
    }

    /// Places a `T` at the start of an existing slot (for wrappers that
    /// lay out several things in one slot).
    ///
    /// # Errors
    /// [`ShmError::OutOfBounds`] if the slot is too small.
    pub fn from_slot(slot: Slot) -> Result<Self, ShmError> {
        if slot.len() < size_of::<T>() {
            return Err(ShmError::OutOfBounds {
                offset: 0,
                len: size_of::<T>(),
                size: slot.len(),
            });
        }
        Ok(RawValue {
            slot,
            _t: PhantomData,
        })
    }

    /// Copies the current value out.
    #[inline]
    pub fn get(&self) -> T {
        read_at(&self.slot, 0)
    }

    /// Stores `value`.
    #[inline]
    pub fn set(&self, value: T) {
        write_at(&self.slot, 0, &value);
    }

    /// The slot holding the value.
    pub fn slot(&self) -> &Slot {
        &self.slot
    }
}

impl<T> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            slot: self.slot.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

impl<T> Serialize for RawValue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawValue::from_slot(Slot::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// A shared fixed-length array of `T`, unsynchronised (Python's `RawArray`).
///
/// ```
/// let a = mp_shm::RawArray::from_slice(&[1u32, 2, 3]).unwrap();
/// a.set(1, 20).unwrap();
/// assert_eq!(a.to_vec(), [1, 20, 3]);
/// assert!(a.get(3).is_err());
/// ```
pub struct RawArray<T> {
    slot: Slot,
    len: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> RawArray<T> {
    /// Allocates `len` zeroed items.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new(len: usize) -> Result<Self, ShmError> {
        Ok(RawArray {
            slot: alloc_for::<T>(len)?,
            len,
            _t: PhantomData,
        })
    }

    /// Allocates a copy of `items`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn from_slice(items: &[T]) -> Result<Self, ShmError> {
        let a = Self::new(items.len())?;
        a.slot
            .write(0, bytemuck::cast_slice(items))
            .expect("slot sized for the items");
        Ok(a)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, index: usize) -> Result<usize, ShmError> {
        if index < self.len {
            Ok(index * size_of::<T>())
        } else {
            Err(ShmError::IndexOutOfRange {
                index,
                len: self.len,
            })
        }
    }

    /// Copies item `index` out.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        Ok(read_at(&self.slot, self.check(index)?))
    }

    /// Stores `value` at `index`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        write_at(&self.slot, self.check(index)?, &value);
        Ok(())
    }

    /// Copies items `start..start + out.len()` into `out`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`] if the range passes the end.
    pub fn read_into(&self, start: usize, out: &mut [T]) -> Result<(), ShmError> {
        if start.checked_add(out.len()).is_none_or(|e| e > self.len) {
            return Err(ShmError::IndexOutOfRange {
                index: start.saturating_add(out.len()),
                len: self.len,
            });
        }
        self.slot
            .read(start * size_of::<T>(), bytemuck::cast_slice_mut(out))
            .expect("range checked");
        Ok(())
    }

    /// Copies `items` to positions `start..start + items.len()`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`] if the range passes the end.
    pub fn write_from(&self, start: usize, items: &[T]) -> Result<(), ShmError> {
        if start.checked_add(items.len()).is_none_or(|e| e > self.len) {
            return Err(ShmError::IndexOutOfRange {
                index: start.saturating_add(items.len()),
                len: self.len,
            });
        }
        self.slot
            .write(start * size_of::<T>(), bytemuck::cast_slice(items))
            .expect("range checked");
        Ok(())
    }

    /// Replaces every item (Python's `a[:] = items`).
    ///
    /// # Errors
    /// [`ShmError::LengthMismatch`] unless `items.len() == self.len()`.
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        if items.len() != self.len {
            return Err(ShmError::LengthMismatch {
                expected: self.len,
                got: items.len(),
            });
        }
        self.write_from(0, items)
    }

    /// Copies all items out (Python's `a[:]`).
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = vec![T::zeroed(); self.len];
        self.read_into(0, &mut out).expect("whole range");
        out
    }

    /// The slot holding the items.
    pub fn slot(&self) -> &Slot {
        &self.slot
    }
}

impl<T> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            slot: self.slot.clone(),
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawArray").field(&self.to_vec()).finish()
    }
}

#[derive(Serialize)]
struct ArrayWireRef<'a> {
    slot: &'a Slot,
    len: usize,
}

#[derive(Deserialize)]
struct ArrayWire {
    slot: Slot,
    len: usize,
}

impl<T> Serialize for RawArray<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ArrayWireRef {
            slot: &self.slot,
            len: self.len,
        }
        .serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawArray<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ArrayWire::deserialize(d)?;
        let fits = w
            .len
            .checked_mul(size_of::<T>())
            .is_some_and(|b| b <= w.slot.len());
        if !fits {
            return Err(D::Error::custom(
                "array length does not fit its shared slot",
            ));
        }
        Ok(RawArray {
            slot: w.slot,
            len: w.len,
            _t: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::with_fresh_mappings;

    #[test]
    fn word_sized_and_odd_sized_values_round_trip() {
        let a = RawValue::new(-2.5f64).unwrap();
        assert_eq!(a.get(), -2.5);
        let b = RawArray::from_slice(&[1u32, u32::MAX, 3]).unwrap();
        b.set(2, 7).unwrap();
        assert_eq!(b.to_vec(), [1, u32::MAX, 7]);
        let c = RawArray::from_slice(&[[1u8, 2, 3], [4, 5, 6]]).unwrap();
        c.set(1, [9, 9, 9]).unwrap();
        assert_eq!(c.get(1).unwrap(), [9, 9, 9]);
        assert_eq!(c.get(0).unwrap(), [1, 2, 3]);
        let d = RawValue::new([7u16; 2]).unwrap();
        assert_eq!(d.get(), [7, 7]);
    }

    #[test]
    fn value_crosses_a_second_mapping() {
        let v = RawValue::new(7i64).unwrap();
        let msg = mp_wire::encode(&v).unwrap();
        let w: RawValue<i64> = with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
        assert!(!w.slot().region().ptr_eq(v.slot().region()));
        w.set(-3);
        assert_eq!(v.get(), -3);
    }

    #[test]
    fn array_semantics() {
        let a = RawArray::<u16>::new(4).unwrap();
        assert_eq!(a.to_vec(), [0, 0, 0, 0]);
        a.copy_from_slice(&[1, 2, 3, 4]).unwrap();
        assert!(matches!(
            a.copy_from_slice(&[1]),
            Err(ShmError::LengthMismatch {
                expected: 4,
                got: 1
            })
        ));
        assert!(matches!(
            a.set(4, 0),
            Err(ShmError::IndexOutOfRange { index: 4, len: 4 })
        ));
        let mut two = [0u16; 2];
        a.read_into(2, &mut two).unwrap();
        assert_eq!(two, [3, 4]);
        assert!(a.read_into(3, &mut two).is_err());
        let msg = mp_wire::encode(&a).unwrap();
        let b: RawArray<u16> = with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
        b.write_from(0, &[9, 9]).unwrap();
        assert_eq!(a.to_vec(), [9, 9, 3, 4]);
        let empty = RawArray::<u8>::new(0).unwrap();
        assert!(empty.is_empty() && empty.to_vec().is_empty());
    }

    #[test]
    fn wrong_item_type_is_rejected_on_decode() {
        let a = RawArray::<u8>::new(3).unwrap();
        let msg = mp_wire::encode(&a).unwrap();
        // 3 bytes cannot hold 3 u64s.
        assert!(mp_wire::decode::<RawArray<u64>>(msg).is_err());
    }
}
