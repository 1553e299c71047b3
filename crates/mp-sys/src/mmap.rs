//! Shared mappings (`mmap(MAP_SHARED)`) of memfds and `/dev/shm` files, and
//! a private wipe-on-fork page, with safe typed access.
//!
//! # Aliasing model
//! Memory in a [`Mapping`] may be written at any moment by another process
//! (or another mapping of the same file in this process), which Rust's
//! memory model cannot see. So this module never hands out `&[u8]` or
//! `&mut [u8]` over it. Access goes through:
//! - [`Mapping::atomic_u32`] / [`Mapping::atomic_u64`]: `&AtomicU32`/`&AtomicU64`
//!   views, which are designed for concurrent access (futex words, counters);
//! - [`Mapping::read`] / [`Mapping::write`] (and [`Mapping::read_append`],
//!   into a vector's spare capacity): copy-in/copy-out through raw
//!   pointers, never a reference. Unsynchronised concurrent copies may tear
//!   (see a mix of old and new bytes), as in C; callers that need whole
//!   values synchronise with a lock or use atomics;
//! - [`Mapping::as_ptr`]: a raw pointer escape hatch; dereferencing it is the
//!   caller's `unsafe` responsibility.
//!
//! A [`Span`] is a bounds-checked sub-range of a reference-counted mapping
//! with the same accessors, relative to its start. It keeps its start as a
//! pointer, so a hot path (a lock word) costs one load and a length compare
//! instead of a walk through the owner and the mapping.
//!
//! ```
//! use std::sync::atomic::Ordering;
//! let fd = mp_sys::memfd::create_sealed("doc", 4096).unwrap();
//! let a = mp_sys::mmap::Mapping::map_shared(&fd, 4096).unwrap();
//! let b = mp_sys::mmap::Mapping::map_shared(&fd, 4096).unwrap();
//! a.atomic_u32(8).unwrap().store(7, Ordering::SeqCst);
//! assert_eq!(b.atomic_u32(8).unwrap().load(Ordering::SeqCst), 7);
//! a.write(100, b"hello").unwrap();
//! let mut buf = [0u8; 5];
//! b.read(100, &mut buf).unwrap();
//! assert_eq!(&buf, b"hello");
//! ```
#![allow(unsafe_code)]
//! # Safety
//! A [`Mapping`] owns `len` bytes at `ptr` obtained from `mmap` and unmaps
//! them exactly once in `Drop`. Every accessor checks `offset + size <= len`
//! (and alignment for atomics) before forming a pointer, so all pointers stay
//! inside the live mapping while `&self` is borrowed. Shared bytes are only
//! reached through raw-pointer copies or atomic types, never through plain
//! references, so no `&`/`&mut` aliasing rule can be broken by a peer's write.
//! A [`Span`] holds an `Arc<Mapping>`, so the mapping outlives every pointer
//! it derives; its range was checked against the mapping when it was made.
//!
//! The file behind a mapping is checked to be at least as long as the
//! mapping when it is mapped. A file sealed against shrinking (every memfd
//! this workspace creates, and every one `mp-shm` accepts from a peer)
//! keeps that length; if an unsealed file (a named `/dev/shm` block) is
//! truncated later, an access past its new end raises `SIGBUS` and the
//! process dies: the pages are still mapped, they just have no file behind
//! them, and no access reads or writes memory that is not the file's.

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use rustix::mm::{self, Advice, MapFlags, ProtFlags};

/// An offset/length pair that does not fit inside a [`Mapping`], or a
/// misaligned offset for an atomic view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfBounds {
    /// The requested offset.
    pub offset: usize,
    /// The requested length.
    pub len: usize,
    /// The mapping's length.
    pub mapping_len: usize,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "range {}..{}+{} is outside a mapping of {} bytes or misaligned",
            self.offset, self.offset, self.len, self.mapping_len
        )
    }
}

impl std::error::Error for OutOfBounds {}

/// One `mmap`ed region, read-write, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is a plain address range; all access is through atomics
// or raw-pointer copies that are valid from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only allows atomic views and copies.
unsafe impl Sync for Mapping {}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

/// The bounds-checked accessors of [`Mapping`] and [`Span`], written once
/// over the [`access`] functions; `$what` names the receiver in the docs.
macro_rules! accessors {
    ($what:literal) => {
        #[doc = concat!("An atomic view of the 4 bytes at `offset` (which must be 4-aligned) of the ", $what, ".")]
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the word is outside the ", $what, " or misaligned.")]
        #[inline]
        pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, OutOfBounds> {
            access::atomic_u32(self, offset)
        }

        #[doc = concat!("An atomic view of the 8 bytes at `offset` (which must be 8-aligned) of the ", $what, ".")]
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the word is outside the ", $what, " or misaligned.")]
        #[inline]
        pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, OutOfBounds> {
            access::atomic_u64(self, offset)
        }

        /// Atomic views of the `N` consecutive 8-byte words at `offset` (which
        /// must be 8-aligned), checked once: for a structure that touches
        /// several words per operation (after an atomic store the compiler
        /// reloads the bounds, so a check per word costs a few instructions
        /// each time).
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the words are outside the ", $what, " or misaligned.")]
        #[inline]
        pub fn atomic_u64s<const N: usize>(
            &self,
            offset: usize,
        ) -> Result<&[AtomicU64; N], OutOfBounds> {
            access::atomic_u64s(self, offset)
        }

        /// As [`atomic_u64s`](Self::atomic_u64s), for `N` 4-byte words at a
        /// 4-aligned `offset`.
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the words are outside the ", $what, " or misaligned.")]
        #[inline]
        pub fn atomic_u32s<const N: usize>(
            &self,
            offset: usize,
        ) -> Result<&[AtomicU32; N], OutOfBounds> {
            access::atomic_u32s(self, offset)
        }

        #[doc = concat!("Copies `buf.len()` bytes starting at `offset` out of the ", $what, ".")]
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the range is outside the ", $what, ".")]
        #[inline]
        pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
            access::read(self, offset, buf)
        }

        #[doc = concat!("Copies `buf` into the ", $what, " starting at `offset`.")]
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the range is outside the ", $what, ".")]
        #[inline]
        pub fn write(&self, offset: usize, buf: &[u8]) -> Result<(), OutOfBounds> {
            access::write(self, offset, buf)
        }

        /// Appends a copy of the `len` bytes at `offset` to `buf`: [`read`](Self::read)
        /// into the vector's spare capacity, which need not be zeroed first (a
        /// pass over the memory less, for a large buffer copied out once).
        ///
        /// # Errors
        #[doc = concat!("[`OutOfBounds`] if the range is outside the ", $what, " (`buf` is left as it was).")]
        #[inline]
        pub fn read_append(
            &self,
            offset: usize,
            len: usize,
            buf: &mut Vec<u8>,
        ) -> Result<(), OutOfBounds> {
            access::read_append(self, offset, len, buf)
        }
    };
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`—maps the
    /// first `len` bytes of `fd`, shared with every other mapping of the file.
    ///
    /// Checks first (`fstat`) that the file has at least `len` bytes, so the
    /// mapping does not start with pages that fault. Whether it stays so is
    /// the file's business: a file sealed against shrinking
    /// ([`memfd::size_sealed`](crate::memfd::size_sealed)) keeps its size
    /// forever; a file that another process truncates later makes accesses
    /// past its new end fault with `SIGBUS`, which ends the process (no
    /// access through a `Mapping` reads or writes memory that is not there).
    ///
    /// # Errors
    /// `InvalidInput` for `len == 0`, `InvalidData` if the file is shorter
    /// than `len`, or the OS error of `fstat` or `mmap`.
    ///
    /// # References
    /// - [Linux `mmap(2)`](https://man7.org/linux/man-pages/man2/mmap.2.html)
    #[doc(alias = "mmap")]
    pub fn map_shared(fd: impl AsFd, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map 0 bytes",
            ));
        }
        let size = crate::memfd::size(&fd)?;
        if u128::from(size) < len as u128 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot map {len} bytes of a file of {size} bytes"),
            ));
        }
        // SAFETY: a fresh mapping at a kernel-chosen address (NULL hint, no
        // MAP_FIXED) cannot overlap any existing Rust object.
        let p = unsafe {
            mm::mmap(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    /// `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` + `madvise(MADV_WIPEONFORK)`—a
    /// zeroed private region that reads as zeroes again in a child created by
    /// `fork` (any flavour of it, since the kernel does the wiping). Used to
    /// cache per-process facts that a fork invalidates, such as the pid.
    ///
    /// # Errors
    /// `InvalidInput` for `len == 0`, or the OS error of `mmap`/`madvise`.
    #[doc(alias = "MADV_WIPEONFORK")]
    pub fn private_wipe_on_fork(len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map 0 bytes",
            ));
        }
        // SAFETY: as in `map_shared`: fresh, kernel-placed, overlaps nothing.
        let p = unsafe {
            mm::mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )?
        };
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))?;
        let mapping = Mapping { ptr, len };
        // SAFETY: the range is exactly the mapping just created and owned by
        // `mapping`; MADV_WIPEONFORK does not change its contents now.
        unsafe { mm::madvise(mapping.ptr.as_ptr().cast(), len, Advice::LinuxWipeOnFork)? };
        Ok(mapping)
    }

    /// The mapping's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The start address. Reading or writing through it is `unsafe` and
    /// subject to the aliasing model in the module docs.
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    #[inline]
    fn check(&self, offset: usize, len: usize, align: usize) -> Result<*mut u8, OutOfBounds> {
        let err = OutOfBounds {
            offset,
            len,
            mapping_len: self.len,
        };
        let end = offset.checked_add(len).ok_or(err)?;
        if end > self.len || !offset.is_multiple_of(align) {
            return Err(err);
        }
        // `self.ptr` is page-aligned, so `offset % align == 0` aligns the address.
        Ok(self.ptr.as_ptr().wrapping_add(offset))
    }

    accessors!("mapping");

    /// Sets `len` bytes starting at `offset` to `byte`.
    ///
    /// # Errors
    /// [`OutOfBounds`] if the range is outside the mapping.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), OutOfBounds> {
        let p = self.check(offset, len, 1)?;
        // SAFETY: the range is inside the live, writable mapping (checked).
        unsafe { ptr::write_bytes(p, byte, len) };
        Ok(())
    }
}

/// A checked sub-range of a shared [`Mapping`]: `len` bytes from an
/// 8-aligned offset. Accessors take offsets relative to the span's start
/// and check them against `len` only.
///
/// ```
/// use std::sync::{atomic::Ordering, Arc};
/// let fd = mp_sys::memfd::create_sealed("doc", 4096).unwrap();
/// let map = Arc::new(mp_sys::mmap::Mapping::map_shared(&fd, 4096).unwrap());
/// let span = mp_sys::mmap::Span::new(Arc::clone(&map), 64, 16).unwrap();
/// span.atomic_u64(8).unwrap().store(3, Ordering::Relaxed);
/// assert_eq!(map.atomic_u64(72).unwrap().load(Ordering::Relaxed), 3);
/// assert!(span.atomic_u64(16).is_err());
/// ```
#[derive(Clone)]
pub struct Span {
    start: NonNull<u8>,
    len: usize,
    offset: usize,
    map: Arc<Mapping>,
}

// SAFETY: a Span is an owned reference to a Mapping (Send + Sync) plus a
// pointer into it that is only used as a Mapping's own would be.
unsafe impl Send for Span {}
// SAFETY: as above.
unsafe impl Sync for Span {}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Span {
    /// The `len` bytes of `map` at `offset`, which must be a multiple of 8.
    ///
    /// # Errors
    /// [`OutOfBounds`] if the range leaves the mapping or `offset` is
    /// misaligned.
    pub fn new(map: Arc<Mapping>, offset: usize, len: usize) -> Result<Span, OutOfBounds> {
        let start = map.check(offset, len, 8)?;
        let start = NonNull::new(start).ok_or(OutOfBounds {
            offset,
            len,
            mapping_len: map.len,
        })?;
        Ok(Span {
            start,
            len,
            offset,
            map,
        })
    }

    /// The span's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the span is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The span's offset within its mapping.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The mapping the span lies in.
    #[inline]
    pub fn mapping(&self) -> &Arc<Mapping> {
        &self.map
    }

    #[inline]
    fn check(&self, offset: usize, len: usize, align: usize) -> Result<*mut u8, OutOfBounds> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len && offset.is_multiple_of(align) => {
                // The start is 8-aligned (checked in `new`), so for
                // `align <= 8` an aligned offset aligns the address.
                Ok(self.start.as_ptr().wrapping_add(offset))
            }
            _ => Err(OutOfBounds {
                offset,
                len,
                mapping_len: self.len,
            }),
        }
    }

    accessors!("span");
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped only
        // here; every reference derived from the mapping borrows `self`, so
        // none outlives this call.
        let _ = unsafe { mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The four accessors, written once for every type that can vouch for its
/// pointers ([`Mapping`] and [`Span`]).
mod access {
    use std::ptr;
    use std::sync::atomic::{AtomicU32, AtomicU64};

    use super::OutOfBounds;

    /// A bounds-checking view of mapped memory.
    ///
    /// # Safety
    /// `check(offset, len, align)` may return `Ok(p)` only if `p .. p + len`
    /// lies in memory that stays mapped, readable and writable for as long as
    /// the `&self` it was called on lives, and `p` is `align`-aligned.
    pub(super) unsafe trait Checked {
        fn check(&self, offset: usize, len: usize, align: usize) -> Result<*mut u8, OutOfBounds>;
    }

    #[inline]
    pub(super) fn atomic_u32<M: Checked>(m: &M, offset: usize) -> Result<&AtomicU32, OutOfBounds> {
        let p = m.check(offset, 4, 4)?;
        // SAFETY: by `Checked`'s contract `p` is 4-aligned and valid for reads
        // and writes while `m` is borrowed; AtomicU32 has u32's size and
        // alignment, tolerates concurrent access, and every bit pattern is valid.
        Ok(unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    #[inline]
    pub(super) fn atomic_u64<M: Checked>(m: &M, offset: usize) -> Result<&AtomicU64, OutOfBounds> {
        let p = m.check(offset, 8, 8)?;
        // SAFETY: as for `atomic_u32`, with 8-byte size and alignment.
        Ok(unsafe { AtomicU64::from_ptr(p.cast()) })
    }

    #[inline]
    pub(super) fn atomic_u64s<M: Checked, const N: usize>(
        m: &M,
        offset: usize,
    ) -> Result<&[AtomicU64; N], OutOfBounds> {
        let p = m.check(offset, std::mem::size_of::<[AtomicU64; N]>(), 8)?;
        // An array of AtomicU64 has the size and alignment of the same
        // array of u64; each element tolerates concurrent access, and every
        // bit pattern is valid.
        // SAFETY: `p` is 8-aligned and valid for reads and writes of the
        // whole array while `m` is borrowed (`Checked`'s contract).
        Ok(unsafe { &*p.cast::<[AtomicU64; N]>() })
    }

    #[inline]
    pub(super) fn atomic_u32s<M: Checked, const N: usize>(
        m: &M,
        offset: usize,
    ) -> Result<&[AtomicU32; N], OutOfBounds> {
        let p = m.check(offset, std::mem::size_of::<[AtomicU32; N]>(), 4)?;
        // SAFETY: as for `atomic_u64s`, with 4-byte elements and alignment.
        Ok(unsafe { &*p.cast::<[AtomicU32; N]>() })
    }

    #[inline]
    pub(super) fn read<M: Checked>(
        m: &M,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), OutOfBounds> {
        let p = m.check(offset, buf.len(), 1)?;
        // SAFETY: the source range is valid for reads (`Checked`), the
        // destination is a distinct local buffer, and u8 has no invalid values.
        unsafe { ptr::copy_nonoverlapping(p.cast_const(), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    #[inline]
    pub(super) fn read_append<M: Checked>(
        m: &M,
        offset: usize,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<(), OutOfBounds> {
        let p = m.check(offset, len, 1)?;
        buf.reserve(len);
        let spare = &mut buf.spare_capacity_mut()[..len];
        // SAFETY: the source range is valid for reads (`Checked`); the
        // destination is `len` bytes of the vector's own spare capacity
        // (reserved above), a distinct allocation; after the copy those
        // bytes are initialized, so the length may cover them.
        unsafe {
            ptr::copy_nonoverlapping(p.cast_const(), spare.as_mut_ptr().cast::<u8>(), len);
            buf.set_len(buf.len() + len);
        }
        Ok(())
    }

    #[inline]
    pub(super) fn write<M: Checked>(m: &M, offset: usize, buf: &[u8]) -> Result<(), OutOfBounds> {
        let p = m.check(offset, buf.len(), 1)?;
        // SAFETY: the destination range is valid for writes (`Checked`) and is
        // never borrowed as a Rust reference; the source is a distinct buffer.
        unsafe { ptr::copy_nonoverlapping(buf.as_ptr(), p, buf.len()) };
        Ok(())
    }
}

// SAFETY: `Mapping::check` returns pointers inside the mapping, which lives
// (mapped read-write) as long as the `Mapping`; the base is page-aligned, so
// an `align`-multiple offset gives an `align`-aligned address.
unsafe impl access::Checked for Mapping {
    #[inline]
    fn check(&self, offset: usize, len: usize, align: usize) -> Result<*mut u8, OutOfBounds> {
        Mapping::check(self, offset, len, align)
    }
}

// SAFETY: `Span::check` returns pointers inside the span, which lies inside a
// mapping that `self.map` keeps alive; the span's start is 8-aligned and
// `align` is at most 8 at every call site.
unsafe impl access::Checked for Span {
    #[inline]
    fn check(&self, offset: usize, len: usize, align: usize) -> Result<*mut u8, OutOfBounds> {
        Span::check(self, offset, len, align)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn read_append_copies_after_what_is_there() {
        let fd = crate::memfd::create_sealed("t", 64).unwrap();
        let m = Mapping::map_shared(&fd, 64).unwrap();
        m.write(10, b"hello").unwrap();
        let mut buf = b"say ".to_vec();
        m.read_append(10, 5, &mut buf).unwrap();
        assert_eq!(buf, b"say hello");
        assert!(m.read_append(60, 5, &mut buf).is_err());
        assert_eq!(buf, b"say hello", "left as it was");
    }

    #[test]
    fn bounds_and_alignment_are_checked() {
        let fd = crate::memfd::create_sealed("t", 64).unwrap();
        let m = Mapping::map_shared(&fd, 64).unwrap();
        assert!(m.atomic_u32(60).is_ok());
        assert!(m.atomic_u32(62).is_err());
        assert!(m.atomic_u32(64).is_err());
        assert!(m.atomic_u64(4).is_err());
        assert!(m.read(60, &mut [0u8; 5]).is_err());
        assert!(m.write(usize::MAX, &[1]).is_err());
        assert!(Mapping::map_shared(&fd, 0).is_err());
    }

    #[test]
    fn word_arrays_are_checked_once_as_a_whole() {
        let fd = crate::memfd::create_sealed("t", 64).unwrap();
        let m = Mapping::map_shared(&fd, 64).unwrap();
        let words = m.atomic_u64s::<8>(0).unwrap();
        words[7].store(0x0102_0304_0506_0708, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            m.atomic_u64(56)
                .unwrap()
                .load(std::sync::atomic::Ordering::Relaxed),
            0x0102_0304_0506_0708,
            "the array views the same bytes"
        );
        let halves = m.atomic_u32s::<16>(0).unwrap();
        assert_eq!(
            halves[14].load(std::sync::atomic::Ordering::Relaxed),
            0x0506_0708,
            "the low half of the last word (little-endian)"
        );
        assert!(m.atomic_u64s::<8>(8).is_err(), "one word past the end");
        assert!(m.atomic_u64s::<2>(4).is_err(), "misaligned");
        assert!(m.atomic_u32s::<16>(4).is_err(), "one word past the end");
        assert!(m.atomic_u32s::<1>(2).is_err(), "misaligned");
        assert!(m.atomic_u64s::<1>(usize::MAX - 3).is_err(), "overflowing");
    }

    #[test]
    fn span_checks_against_its_own_range() {
        let fd = crate::memfd::create_sealed("t", 64).unwrap();
        let m = Arc::new(Mapping::map_shared(&fd, 64).unwrap());
        assert!(Span::new(Arc::clone(&m), 4, 8).is_err());
        assert!(Span::new(Arc::clone(&m), 56, 16).is_err());
        let s = Span::new(Arc::clone(&m), 16, 16).unwrap();
        assert!(s.atomic_u32(12).is_ok() && s.atomic_u32(14).is_err());
        assert!(s.atomic_u64(8).is_ok() && s.atomic_u64(16).is_err());
        assert!(s.read(10, &mut [0u8; 7]).is_err());
        s.write(8, b"abc").unwrap();
        let mut buf = [0u8; 3];
        m.read(24, &mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        // Arrays of words, and appends, checked against the span too.
        assert!(s.atomic_u64s::<2>(0).is_ok() && s.atomic_u64s::<3>(0).is_err());
        assert!(s.atomic_u64s::<1>(4).is_err(), "misaligned");
        assert!(s.atomic_u32s::<4>(0).is_ok() && s.atomic_u32s::<2>(12).is_err());
        s.atomic_u64s::<2>(0).unwrap()[1].store(7, Ordering::Relaxed);
        assert_eq!(m.atomic_u64(24).unwrap().load(Ordering::Relaxed), 7);
        let mut v = vec![9u8];
        s.read_append(8, 8, &mut v).unwrap();
        assert_eq!(v, [9, 7, 0, 0, 0, 0, 0, 0, 0]);
        assert!(s.read_append(9, 8, &mut v).is_err());
        assert_eq!(v.len(), 9, "left as it was");
    }

    #[test]
    fn wipe_on_fork_page_starts_zeroed() {
        let m = Mapping::private_wipe_on_fork(4096).unwrap();
        let w = m.atomic_u64(0).unwrap();
        assert_eq!(w.load(Ordering::Relaxed), 0);
        w.store(5, Ordering::Relaxed);
        assert_eq!(w.load(Ordering::Relaxed), 5);
    }
}
