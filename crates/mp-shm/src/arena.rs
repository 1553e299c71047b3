//! A small-object arena: [`Slot`]s carved out of shared regions, so that
//! thousands of locks and values cost a handful of memfds, not thousands.
//!
//! Allocation is process-local bump allocation in 64 KiB chunks (a
//! [`Region`] each); objects larger than 16 KiB get a region of their own.
//! Memory is never reused while any process holds a slot of a chunk: a
//! chunk's memfd is freed by the kernel when the last mapping and fd of it,
//! in every process, is gone. So every slot starts zero-filled, which is the
//! initial state of every primitive in `mp-sync`.
//!
//! A slot serializes as `(region, offset, len)`; the receiving side checks
//! the range against the region it mapped (a typed error, never a panic).

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Mutex;

use mp_sys::mmap::{Mapping, OutOfBounds, Span};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::region::Region;

/// Size of one arena chunk.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Objects above this size get a dedicated region.
pub const LARGE_OBJECT: usize = 16 * 1024;
/// The largest alignment [`alloc`] honours (a page).
pub const MAX_ALIGN: usize = 4096;

/// A zero-initialised range of a shared [`Region`].
///
/// It keeps its range as a [`Span`], so reaching a word costs one load and
/// a length compare.
#[derive(Debug, Clone)]
pub struct Slot {
    region: Region,
    span: Span,
}

#[derive(Serialize)]
struct SlotWireRef<'a> {
    region: &'a Region,
    offset: usize,
    len: usize,
}

impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SlotWireRef {
            region: &self.region,
            offset: self.span.offset(),
            len: self.span.len(),
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
struct SlotWire {
    region: Region,
    offset: usize,
    len: usize,
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = SlotWire::deserialize(deserializer)?;
        Slot::new(w.region, w.offset, w.len).map_err(|e| {
            D::Error::custom(format!(
                "slot {}+{} does not fit a region of {} bytes",
                e.offset, e.len, e.mapping_len
            ))
        })
    }
}

impl Slot {
    /// `len` bytes of `region` at `offset` (a multiple of 8).
    fn new(region: Region, offset: usize, len: usize) -> Result<Slot, OutOfBounds> {
        let span = region.span(offset, len)?;
        Ok(Slot { region, span })
    }

    /// A slot covering the whole of `region`.
    pub fn whole(region: Region) -> Slot {
        let len = region.len();
        Slot::new(region, 0, len).expect("a region's whole range fits it")
    }

    /// The slot's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.span.len()
    }

    /// Whether the slot is empty.
    pub fn is_empty(&self) -> bool {
        self.span.is_empty()
    }

    /// The region the slot lives in.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The slot's offset inside its region.
    pub fn offset(&self) -> usize {
        self.span.offset()
    }

    /// The mapping behind the slot (offsets there are region offsets).
    pub fn mapping(&self) -> &Mapping {
        self.region.mapping()
    }

    /// An atomic view of the 4-aligned word at `offset` within the slot.
    ///
    /// # Errors
    /// [`OutOfBounds`] if outside the slot or misaligned.
    #[inline]
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, OutOfBounds> {
        self.span.atomic_u32(offset)
    }

    /// An atomic view of the 8-aligned word at `offset` within the slot.
    ///
    /// # Errors
    /// [`OutOfBounds`] if outside the slot or misaligned.
    #[inline]
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, OutOfBounds> {
        self.span.atomic_u64(offset)
    }

    /// Copies bytes at `offset` within the slot into `buf`.
    ///
    /// # Errors
    /// [`OutOfBounds`] if the range leaves the slot.
    #[inline]
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.span.read(offset, buf)
    }

    /// Copies `buf` into the slot at `offset`.
    ///
    /// # Errors
    /// [`OutOfBounds`] if the range leaves the slot.
    #[inline]
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<(), OutOfBounds> {
        self.span.write(offset, buf)
    }
}

/// The arena's state: the chunk slots are carved from, and the next offset.
pub(crate) struct Bump {
    chunk: Option<Region>,
    next: usize,
}

impl Bump {
    /// Starts the next slot in a fresh chunk (a forked child must not carve
    /// the chunk it shares with its parent).
    pub(crate) fn forget_chunk(&mut self) {
        self.chunk = None;
        self.next = 0;
    }
}

/// Locks the arena (ignoring poisoning: the state is two plain fields).
pub(crate) fn lock() -> std::sync::MutexGuard<'static, Bump> {
    crate::fork_safety::ensure_registered();
    ARENA.lock().unwrap_or_else(|e| e.into_inner())
}

static ARENA: Mutex<Bump> = Mutex::new(Bump {
    chunk: None,
    next: 0,
});

/// Allocates a zero-filled shared slot of `len` bytes aligned to `align`
/// (a power of two up to [`MAX_ALIGN`]; at least 8 is used).
///
/// # Errors
/// `InvalidInput` for a bad alignment or `len == 0`; the OS error if a new
/// chunk cannot be created.
///
/// ```
/// use std::sync::atomic::Ordering;
/// let a = mp_shm::alloc(8, 8).unwrap();
/// let b = mp_shm::alloc(8, 8).unwrap();
/// assert!(a.region().ptr_eq(b.region())); // one fd for both
/// a.atomic_u64(0).unwrap().store(1, Ordering::Relaxed);
/// assert_eq!(b.atomic_u64(0).unwrap().load(Ordering::Relaxed), 0);
/// ```
pub fn alloc(len: usize, align: usize) -> io::Result<Slot> {
    if len == 0 || !align.is_power_of_two() || align > MAX_ALIGN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad slot size or alignment",
        ));
    }
    let align = align.max(8);
    if len > LARGE_OBJECT {
        return Ok(Slot::whole(Region::create("mp-block", len)?));
    }
    let mut bump = lock();
    let start = bump.next.next_multiple_of(align);
    let region = match &bump.chunk {
        Some(chunk) if start + len <= chunk.len() => chunk.clone(),
        _ => {
            let chunk = Region::create("mp-arena", CHUNK_SIZE)?;
            bump.chunk = Some(chunk.clone());
            bump.next = 0;
            chunk
        }
    };
    let offset = bump.next.next_multiple_of(align);
    bump.next = offset + len;
    Ok(Slot::new(region, offset, len).expect("a chunk holds the slots carved from it"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn many_small_slots_share_few_regions() {
        let slots: Vec<Slot> = (0..2000).map(|_| alloc(24, 8).unwrap()).collect();
        let mut regions: Vec<&Region> = Vec::new();
        for s in &slots {
            if !regions.iter().any(|r| r.ptr_eq(s.region())) {
                regions.push(s.region());
            }
        }
        assert!(regions.len() <= 3, "{} regions", regions.len());
        // Slots do not overlap.
        for (i, s) in slots.iter().enumerate() {
            s.atomic_u64(16).unwrap().store(i as u64, Ordering::Relaxed);
        }
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(s.atomic_u64(16).unwrap().load(Ordering::Relaxed), i as u64);
            assert!(s.atomic_u64(24).is_err());
        }
    }

    #[test]
    fn alignment_and_large_objects() {
        let _ = alloc(3, 1).unwrap();
        let s = alloc(64, 64).unwrap();
        assert_eq!(s.offset() % 64, 0);
        let big = alloc(LARGE_OBJECT + 1, 8).unwrap();
        assert_eq!(big.offset(), 0);
        assert!(alloc(0, 8).is_err());
        assert!(alloc(8, 3).is_err());
    }

    #[test]
    fn forged_slot_is_rejected_on_decode() {
        let s = alloc(16, 8).unwrap();
        let forged = SlotWireRef {
            region: s.region(),
            offset: CHUNK_SIZE - 8,
            len: 64,
        };
        let msg = mp_wire::encode(&forged).unwrap();
        assert!(mp_wire::decode::<Slot>(msg).is_err());
        let ok: Slot = mp_wire::decode(mp_wire::encode(&s).unwrap()).unwrap();
        assert_eq!((ok.offset(), ok.len()), (s.offset(), s.len()));
    }
}
