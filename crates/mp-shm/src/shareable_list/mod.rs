//! [`ShareableList`]: Python's `multiprocessing.shared_memory.ShareableList`,
//! byte for byte: a Rust process and a Python process can attach to the
//! same list by name and read and write each other's items.
//!
//! # Layout (CPython's)
//! For `n` items, all integers native (little-endian) 64-bit:
//! - `n`;
//! - `n + 1` offsets of the slots from the start of the data area (the
//!   first is 0, the last is the data area's size);
//! - the data area: one slot per item, 8 bytes for `int`, `float`, `bool`
//!   and `None`, and for `str`/`bytes` the encoded length rounded up to the
//!   next multiple of 8;
//! - `n` formats of 8 bytes (`q`, `d`, `xxxxxxx?`, `xxxxxx?x`, `Ns`,
//!   NUL-padded);
//! - `n` one-byte back-transform codes (0 plain, 1 `str`, 2 `bytes`,
//!   3 `None`).
//!
//! A slot keeps its size for ever: any item of 8 bytes fits every slot, and
//! a `str`/`bytes` fits if it is no longer than the slot
//! ([`ShmError::ItemTooLarge`] otherwise, Python's `ValueError`).
//!
//! Another process may write a slot while this one reads it, and a block
//! may come from a process that wrote garbage: reads copy bytes out and
//! check them, so the worst case is a [`ShmError::BadList`] error (or a
//! value that was being replaced), never undefined behaviour.

mod item;

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ShmError;
use crate::shared_memory::SharedMemory;
pub use item::Item;
use item::{ALIGN, MAX_TEXT_SLOT};

/// A fixed-length list of mixed items ([`Item`]) in one named
/// [`SharedMemory`] block, in CPython's layout.
///
/// ```
/// use mp_shm::{Item, ShareableList};
/// let list = ShareableList::new([Item::from(1), 2.5.into(), "howdy".into(), Item::None])?;
/// let other = ShareableList::attach(list.shm().name())?; // e.g. in another process
/// other.set(2, "hi")?;
/// assert_eq!(list.get(2)?, Item::from("hi"));
/// assert_eq!(list.format(), "qd8sxxxxxx?x");
/// assert!(list.set(2, "more than eight").is_err()); // the slot holds 8 bytes
/// # Ok::<(), mp_shm::ShmError>(())
/// ```
pub struct ShareableList {
    shm: SharedMemory,
    /// The slot offsets (`len + 1` of them), read once: they never change.
    offsets: Vec<usize>,
}

/// The positions of the list's parts for `n` items and a data area of
/// `data` bytes: (data start, formats start, codes start, total size).
fn parts(n: usize, data: usize) -> Option<(usize, usize, usize, usize)> {
    let data_start = n.checked_add(2)?.checked_mul(8)?;
    let formats = data_start.checked_add(data)?;
    let codes = formats.checked_add(n.checked_mul(8)?)?;
    Some((data_start, formats, codes, codes.checked_add(n)?))
}

impl ShareableList {
    /// Creates a new block (generated name) holding `items`.
    ///
    /// # Errors
    /// [`ShmError::ItemTooLarge`] for a `str`/`bytes` over 9,999,991
    /// bytes (its format would not fit 8 characters), or an OS error.
    pub fn new<I: Into<Item>>(items: impl IntoIterator<Item = I>) -> Result<Self, ShmError> {
        Self::create(None, items.into_iter().map(Into::into).collect())
    }

    /// Creates a new block named `name` holding `items`.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`ShmError::AlreadyExists`].
    pub fn new_named<I: Into<Item>>(
        name: &str,
        items: impl IntoIterator<Item = I>,
    ) -> Result<Self, ShmError> {
        Self::create(Some(name), items.into_iter().map(Into::into).collect())
    }

    fn create(name: Option<&str>, items: Vec<Item>) -> Result<Self, ShmError> {
        let mut offsets = Vec::with_capacity(items.len() + 1);
        offsets.push(0usize);
        for (index, item) in items.iter().enumerate() {
            let slot = item.new_slot();
            if slot > MAX_TEXT_SLOT {
                return Err(ShmError::ItemTooLarge {
                    index,
                    len: item.text().map_or(0, <[u8]>::len),
                    capacity: MAX_TEXT_SLOT,
                });
            }
            let end = offsets[index].checked_add(slot);
            offsets.push(end.ok_or(ShmError::LengthMismatch {
                expected: usize::MAX,
                got: items.len(),
            })?);
        }
        let n = items.len();
        let (data_start, formats, codes, size) =
            parts(n, offsets[n]).ok_or(ShmError::LengthMismatch {
                expected: usize::MAX,
                got: n,
            })?;
        let shm = match name {
            Some(name) => SharedMemory::create_named(name, size)?,
            None => SharedMemory::create(size)?,
        };
        let mut bytes = vec![0u8; size];
        bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
        for (i, off) in offsets.iter().enumerate() {
            bytes[8 + 8 * i..16 + 8 * i].copy_from_slice(&(*off as u64).to_le_bytes());
        }
        for (i, item) in items.iter().enumerate() {
            let (format, data) = item.encode(offsets[i + 1] - offsets[i]);
            let at = data_start + offsets[i];
            bytes[at..at + data.len()].copy_from_slice(&data);
            bytes[formats + 8 * i..formats + 8 * i + format.len()]
                .copy_from_slice(format.as_bytes());
            bytes[codes + i] = item.code() as u8;
        }
        shm.write(0, &bytes)?;
        Ok(ShareableList { shm, offsets })
    }

    /// Attaches to the list in block `name` (created here or by Python).
    ///
    /// # Errors
    /// [`ShmError::NotFound`], or [`ShmError::BadList`] if the block's
    /// header and offsets do not describe a list that fits it.
    pub fn attach(name: &str) -> Result<Self, ShmError> {
        Self::from_shm(SharedMemory::attach(name)?)
    }

    fn from_shm(shm: SharedMemory) -> Result<Self, ShmError> {
        let bad = |why: &str| ShmError::BadList {
            name: shm.name().to_owned(),
            why: why.to_owned(),
        };
        let word = |at: usize| -> Result<u64, ShmError> {
            let mut b = [0u8; 8];
            shm.read(at, &mut b)
                .map_err(|_| bad("the block is too short for its header"))?;
            Ok(u64::from_le_bytes(b))
        };
        let n = usize::try_from(word(0)?).map_err(|_| bad("negative length"))?;
        // Each item takes at least 8 + 8 + 8 + 1 bytes: bound `n` before
        // allocating.
        if n > shm.size() / 25 {
            return Err(bad("the length does not fit the block"));
        }
        // The block's size is the sender's to choose (a sparse memfd costs
        // nothing): what it implies is allocated fallibly, an error rather
        // than the abort of a failed allocation.
        let mut raw = zeroed(8 * (n + 1)).ok_or_else(|| bad("the offsets do not fit in memory"))?;
        shm.read(8, &mut raw)
            .map_err(|_| bad("the block is too short for its offsets"))?;
        let mut offsets: Vec<usize> = Vec::new();
        offsets
            .try_reserve_exact(n + 1)
            .map_err(|_| bad("the offsets do not fit in memory"))?;
        for chunk in raw.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let off = usize::try_from(u64::from_le_bytes(b)).map_err(|_| bad("bad offset"))?;
            // (Checked: an offset near `usize::MAX` must not wrap the
            // next one's lower bound round to a small number.)
            let increasing = match offsets.last() {
                None => off == 0,
                Some(&prev) => prev.checked_add(ALIGN).is_some_and(|min| off >= min),
            };
            if !increasing {
                return Err(bad("the slot offsets are not increasing from 0"));
            }
            offsets.push(off);
        }
        let fits = parts(n, offsets[n]).is_some_and(|(.., size)| size <= shm.size());
        if !fits {
            return Err(bad("the list does not fit the block"));
        }
        Ok(ShareableList { shm, offsets })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn layout(&self) -> (usize, usize, usize, usize) {
        // Checked in `create`/`from_shm`.
        parts(self.len(), self.offsets[self.len()]).unwrap_or_default()
    }

    fn check(&self, index: usize) -> Result<(), ShmError> {
        if index < self.len() {
            Ok(())
        } else {
            Err(ShmError::IndexOutOfRange {
                index,
                len: self.len(),
            })
        }
    }

    /// Slot `index`'s format (Python's `_get_packing_format`).
    fn slot_format(&self, index: usize) -> Result<String, ShmError> {
        let (_, formats, _, _) = self.layout();
        let mut raw = [0u8; 8];
        self.shm.read(formats + 8 * index, &mut raw)?;
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        String::from_utf8(raw[..end].to_vec()).map_err(|_| ShmError::BadList {
            name: self.shm.name().to_owned(),
            why: format!("the format of item {index} is not text"),
        })
    }

    /// Copies item `index` out.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`], [`ShmError::Closed`], or
    /// [`ShmError::BadList`] if the slot holds no valid item.
    pub fn get(&self, index: usize) -> Result<Item, ShmError> {
        self.check(index)?;
        let (data_start, formats, codes, _) = self.layout();
        let format = self.slot_format(index)?;
        let mut code = [0u8; 1];
        self.shm.read(codes + index, &mut code)?;
        let start = data_start + self.offsets[index];
        let mut data = zeroed(formats - start).ok_or_else(|| ShmError::BadList {
            name: self.shm.name().to_owned(),
            why: format!("item {index}: its slot does not fit in memory"),
        })?;
        self.shm.read(start, &mut data)?;
        Item::decode(&format, code[0] as i8, &data).map_err(|why| ShmError::BadList {
            name: self.shm.name().to_owned(),
            why: format!("item {index}: {why}"),
        })
    }

    /// Stores `value` at `index` (Python's `sl[index] = value`).
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`], [`ShmError::Closed`],
    /// [`ShmError::ItemTooLarge`] for a `str`/`bytes` longer than the slot,
    /// or [`ShmError::BadList`] for a `str`/`bytes` into a slot of another
    /// process's block larger than a format can name (9,999,992 bytes).
    pub fn set(&self, index: usize, value: impl Into<Item>) -> Result<(), ShmError> {
        self.check(index)?;
        let value = value.into();
        let capacity = self.offsets[index + 1] - self.offsets[index];
        if let Some(text) = value.text() {
            // A slot this list did not make (another process's block) may
            // be larger than any `Ns` format of 8 characters can name.
            if capacity > MAX_TEXT_SLOT {
                return Err(ShmError::BadList {
                    name: self.shm.name().to_owned(),
                    why: format!(
                        "slot {index} holds {capacity} bytes, more than a text format \
                         can name ({MAX_TEXT_SLOT}): it takes no str or bytes"
                    ),
                });
            }
            if text.len() > capacity {
                return Err(ShmError::ItemTooLarge {
                    index,
                    len: text.len(),
                    capacity,
                });
            }
        }
        let (data_start, formats, codes, _) = self.layout();
        let (format, data) = value.encode(capacity);
        let mut format_bytes = [0u8; 8];
        format_bytes[..format.len()].copy_from_slice(format.as_bytes());
        // CPython's order: format and code, then the value.
        self.shm.write(formats + 8 * index, &format_bytes)?;
        self.shm.write(codes + index, &[value.code() as u8])?;
        self.shm.write(data_start + self.offsets[index], &data)
    }

    /// The formats of all slots, concatenated (Python's `format`).
    ///
    /// Slots whose format is not text are skipped.
    pub fn format(&self) -> String {
        (0..self.len())
            .filter_map(|i| self.slot_format(i).ok())
            .collect()
    }

    /// Copies every item out; `Err` as for [`get`](Self::get).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn to_vec(&self) -> Result<Vec<Item>, ShmError> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// The position of the first item equal to `value`.
    ///
    /// Equality is per variant: unlike Python, `1`, `1.0` and `True` differ.
    ///
    /// # Errors
    /// [`ShmError::NotInContainer`] (Python's `ValueError`).
    pub fn index(&self, value: impl Into<Item>) -> Result<usize, ShmError> {
        let value = value.into();
        (0..self.len())
            .find(|&i| self.get(i).is_ok_and(|v| v == value))
            .ok_or(ShmError::NotInContainer)
    }

    /// How many items equal `value` (per variant, as [`index`](Self::index)).
    pub fn count(&self, value: impl Into<Item>) -> usize {
        let value = value.into();
        (0..self.len())
            .filter(|&i| self.get(i).is_ok_and(|v| v == value))
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

/// Python's `repr`: `ShareableList([1, 'a', None], name='mp-...')`.
impl fmt::Debug for ShareableList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareableList([")?;
        for i in 0..self.len() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match self.get(i) {
                Ok(item) => write!(f, "{item}")?,
                Err(_) => f.write_str("<invalid>")?,
            }
        }
        write!(f, "], name='{}')", self.shm.name())
    }
}

impl Serialize for ShareableList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shm.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShareableList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_shm(SharedMemory::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests;

/// `len` zero bytes, or `None` if they cannot be allocated (sizes that
/// come from a block another process made).
fn zeroed(len: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, 0);
    Some(v)
}
