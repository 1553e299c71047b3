//! [`PodList`]: a `ShareableList` of one fixed-width item type.
//!
//! [`ShareableList`](crate::ShareableList) stores mixed `int`/`float`/`str`/...
//! with per-slot formats, as Python's does. Here every item has one `Pod`
//! type `T` (use a `#[repr(C)]` struct or fixed-size byte arrays for richer
//! rows): items are copied in and out whole, with no per-slot decoding. A
//! header records the item size, so attaching with the wrong type is an
//! error, not garbage.
//!
//! Layout of the block: `magic: u32 = "MPSL"`, `item_size: u32`, `len: u64`,
//! then `len` items starting at `max(16, align_of::<T>())`.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};

use bytemuck::Pod;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ShmError;
use crate::shared_memory::SharedMemory;

const MAGIC: u32 = u32::from_le_bytes(*b"MPSL");
const HEADER: usize = 16;

fn data_offset<T>() -> usize {
    HEADER.max(align_of::<T>())
}

/// A fixed-length list of `T` in one named [`SharedMemory`] block.
///
/// ```
/// use mp_shm::PodList;
/// let list = PodList::new(&[1.0f64, 2.0, 3.0])?;
/// let other = PodList::<f64>::attach(list.shm().name())?;
/// other.set(2, 30.0)?;
/// assert_eq!(list.to_vec(), [1.0, 2.0, 30.0]);
/// assert_eq!(list.index(&30.0)?, 2);
/// # Ok::<(), mp_shm::ShmError>(())
/// ```
pub struct PodList<T> {
    shm: SharedMemory,
    len: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> PodList<T> {
    /// Creates a new block (generated name) holding a copy of `items`.
    ///
    /// # Errors
    /// An OS error creating the block.
    pub fn new(items: &[T]) -> Result<Self, ShmError> {
        Self::create(None, items)
    }

    /// Creates a new block named `name` holding a copy of `items`.
    ///
    /// # Errors
    /// [`ShmError::AlreadyExists`] or an OS error.
    pub fn new_named(name: &str, items: &[T]) -> Result<Self, ShmError> {
        Self::create(Some(name), items)
    }

    fn create(name: Option<&str>, items: &[T]) -> Result<Self, ShmError> {
        let bytes = size_of::<T>()
            .checked_mul(items.len())
            .and_then(|b| b.checked_add(data_offset::<T>()))
            .ok_or(ShmError::LengthMismatch {
                expected: usize::MAX,
                got: items.len(),
            })?;
        let shm = match name {
            Some(n) => SharedMemory::create_named(n, bytes)?,
            None => SharedMemory::create(bytes)?,
        };
        let item_size = u32::try_from(size_of::<T>()).map_err(|_| ShmError::NotAList {
            name: shm.name().to_owned(),
            item_size: size_of::<T>(),
        })?;
        shm.write(data_offset::<T>(), bytemuck::cast_slice(items))?;
        shm.write(4, &item_size.to_le_bytes())?;
        shm.write(8, &(items.len() as u64).to_le_bytes())?;
        // The magic goes last, so a concurrent attacher sees a whole header or none.
        shm.write(0, &MAGIC.to_le_bytes())?;
        Ok(PodList {
            shm,
            len: items.len(),
            _t: PhantomData,
        })
    }

    /// Attaches to the list in block `name`.
    ///
    /// # Errors
    /// [`ShmError::NotFound`], or [`ShmError::NotAList`] if the block does
    /// not hold a list of `size_of::<T>()`-byte items that fits it.
    pub fn attach(name: &str) -> Result<Self, ShmError> {
        Self::from_shm(SharedMemory::attach(name)?)
    }

    fn from_shm(shm: SharedMemory) -> Result<Self, ShmError> {
        let not_a_list = || ShmError::NotAList {
            name: shm.name().to_owned(),
            item_size: size_of::<T>(),
        };
        let mut header = [0u8; HEADER];
        shm.read(0, &mut header).map_err(|_| not_a_list())?;
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let len = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let fits = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_mul(size_of::<T>()))
            .and_then(|b| b.checked_add(data_offset::<T>()))
            .is_some_and(|end| end <= shm.size());
        if word(0) != MAGIC || word(4) as usize != size_of::<T>() || !fits {
            return Err(not_a_list());
        }
        Ok(PodList {
            len: len as usize,
            shm,
            _t: PhantomData,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn offset(&self, index: usize) -> Result<usize, ShmError> {
        if index < self.len {
            Ok(data_offset::<T>() + index * size_of::<T>())
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
    /// [`ShmError::IndexOutOfRange`] or [`ShmError::Closed`].
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        let mut v = T::zeroed();
        self.shm
            .read(self.offset(index)?, bytemuck::bytes_of_mut(&mut v))?;
        Ok(v)
    }

    /// Stores `value` at `index`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`] or [`ShmError::Closed`].
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        self.shm
            .write(self.offset(index)?, bytemuck::bytes_of(&value))
    }

    /// Copies every item out; empty if the block was closed.
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = vec![T::zeroed(); self.len];
        if self
            .shm
            .read(data_offset::<T>(), bytemuck::cast_slice_mut(&mut out))
            .is_err()
        {
            out.clear();
        }
        out
    }

    /// The position of the first item equal to `value` (bytewise).
    ///
    /// # Errors
    /// [`ShmError::NotInContainer`] (Python's `ValueError`).
    pub fn index(&self, value: &T) -> Result<usize, ShmError> {
        let want = bytemuck::bytes_of(value);
        self.to_vec()
            .iter()
            .position(|v| bytemuck::bytes_of(v) == want)
            .ok_or(ShmError::NotInContainer)
    }

    /// How many items equal `value` (bytewise).
    pub fn count(&self, value: &T) -> usize {
        let want = bytemuck::bytes_of(value);
        self.to_vec()
            .iter()
            .filter(|v| bytemuck::bytes_of(*v) == want)
            .count()
    }

    /// The underlying block (its name, `close`, `unlink`).
    pub fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    /// The underlying block, mutably (for `close` or `disown`).
    pub fn shm_mut(&mut self) -> &mut SharedMemory {
        &mut self.shm
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for PodList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PodList({:?}, name={:?})",
            self.to_vec(),
            self.shm.name()
        )
    }
}

impl<T> Serialize for PodList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shm.serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for PodList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_shm(SharedMemory::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_semantics() {
        let l = PodList::new(&[3u32, 1, 3]).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l.count(&3), 2);
        assert!(matches!(l.index(&9), Err(ShmError::NotInContainer)));
        assert!(matches!(
            l.get(3),
            Err(ShmError::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(matches!(
            PodList::<u64>::attach(l.shm().name()),
            Err(ShmError::NotAList { .. })
        ));
        let msg = mp_wire::encode(&l).unwrap();
        let r: PodList<u32> = crate::with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
        r.set(0, 7).unwrap();
        assert_eq!(l.to_vec(), [7, 1, 3]);
        let empty = PodList::<u8>::new(&[]).unwrap();
        assert!(
            empty.is_empty()
                && PodList::<u8>::attach(empty.shm().name())
                    .unwrap()
                    .is_empty()
        );
    }

    #[test]
    fn a_block_of_another_kind_is_not_a_list() {
        let shm = SharedMemory::create(64).unwrap();
        assert!(matches!(
            PodList::<u8>::attach(shm.name()),
            Err(ShmError::NotAList { .. })
        ));
    }
}
