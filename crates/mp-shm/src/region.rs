//! [`Region`]: one shared memfd mapped into this process, serializable so it
//! arrives mapped (the same memory) in another process.
//!
//! A region serializes as its fd (carried out of band by
//! [`mp_wire::SharedFd`]). Deserializing checks that the fd is a memfd
//! sealed against shrinking and growing (a peer could otherwise truncate it
//! under our mapping and kill us with `SIGBUS`), then maps it, unless this
//! process already maps the same file: a process-wide cache keyed by the
//! file's `(st_dev, st_ino)` hands out the existing mapping and closes the
//! extra fd, so receiving a thousand handles that live in one region costs
//! one mapping and one fd.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use mp_sys::mmap::{Mapping, OutOfBounds, Span};

use crate::error::ShmError;
use mp_wire::SharedFd;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A mapped shared memfd. Cloning is cheap (reference counted); the
/// mapping and fd are released when the last clone in this process drops.
#[derive(Clone)]
pub struct Region {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    map: Arc<Mapping>,
    fd: SharedFd,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("len", &self.inner.map.len())
            .finish_non_exhaustive()
    }
}

/// Mappings by (device, inode), so one memfd received twice is mapped once.
pub(crate) type CacheMap = HashMap<(u64, u64), Weak<Inner>>;
type Cache = Mutex<CacheMap>;

thread_local! {
    static BYPASS_CACHE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the mapping cache bypassed on this thread: every region
/// deserialized (or [`Region::from_fd`]) inside `f` gets a mapping of its
/// own, exactly as it would in another process. Meant for tests that check
/// cross-process sharing without starting a process.
///
/// ```
/// let r = mp_shm::Region::create("doc", 64).unwrap();
/// let msg = mp_wire::encode(&r).unwrap();
/// let second: mp_shm::Region = mp_shm::with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
/// assert!(!second.ptr_eq(&r));
/// ```
pub fn with_fresh_mappings<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BYPASS_CACHE.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BYPASS_CACHE.with(|b| b.replace(true)));
    f()
}

fn cache() -> &'static Cache {
    // A racing cell, not a `OnceLock`: a fork while another thread makes
    // the map must not leave the child waiting for that thread.
    static CACHE: once_cell::race::OnceBox<Cache> = once_cell::race::OnceBox::new();
    CACHE.get_or_init(|| Box::new(Mutex::new(HashMap::new())))
}

/// Locks the mapping cache (ignoring poisoning: entries are weak pointers).
pub(crate) fn lock_cache() -> std::sync::MutexGuard<'static, CacheMap> {
    crate::fork_safety::ensure_registered();
    cache().lock().unwrap_or_else(|e| e.into_inner())
}

impl Region {
    /// Creates a new sealed, zero-filled memfd of `len` bytes and maps it.
    ///
    /// # Errors
    /// The OS error of `memfd_create`, `ftruncate`, sealing or `mmap`;
    /// `InvalidInput` for `len == 0`.
    pub fn create(name: &str, len: usize) -> io::Result<Region> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "region size must be > 0",
            ));
        }
        let fd = mp_sys::memfd::create_sealed(name, len as u64)?;
        Self::map_whole(fd).map_err(|e| match e {
            ShmError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        })
    }

    /// Maps the whole of `fd`, a memfd received from another process (or
    /// made by [`create`](Self::create)), reusing an existing mapping of the
    /// same file in this process if there is one.
    ///
    /// The file must be sealed against shrinking and growing
    /// (`F_SEAL_SHRINK | F_SEAL_GROW`, checked with `F_GET_SEALS`), so its
    /// size (`fstat`) is fixed and no access to the mapping can fault.
    ///
    /// # Errors
    /// [`ShmError::NotSealed`] for an unsealed file (an unsealed memfd, a
    /// `/dev/shm` file, anything else), [`ShmError::BadSize`] for an empty
    /// file or one larger than the address space, or the OS error of
    /// `fcntl`, `fstat` or `mmap`.
    pub fn from_fd(fd: OwnedFd) -> Result<Region, ShmError> {
        if !mp_sys::memfd::size_sealed(&fd)? {
            return Err(ShmError::NotSealed);
        }
        Self::map_whole(fd)
    }

    /// Maps the whole of a named `/dev/shm` file, which cannot be sealed:
    /// see [`SharedMemory`](crate::SharedMemory)'s "Sealing" section.
    pub(crate) fn from_named_fd(fd: OwnedFd) -> Result<Region, ShmError> {
        Self::map_whole(fd)
    }

    fn map_whole(fd: OwnedFd) -> Result<Region, ShmError> {
        let id = mp_sys::memfd::file_id(&fd)?;
        let size = mp_sys::memfd::size(&fd)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|&l| l > 0)
            .ok_or(ShmError::BadSize { size })?;
        if BYPASS_CACHE.with(std::cell::Cell::get) {
            let map = Arc::new(Mapping::map_shared(&fd, len)?);
            return Ok(Region {
                inner: Arc::new(Inner {
                    map,
                    fd: SharedFd::from(fd),
                }),
            });
        }
        let mut cache = lock_cache();
        if let Some(inner) = cache.get(&id).and_then(Weak::upgrade) {
            // A file's size cannot change under a sealed memfd; a named file
            // may have been resized, in which case a fresh mapping is needed.
            if inner.map.len() == len {
                return Ok(Region { inner });
            }
        }
        let map = Arc::new(Mapping::map_shared(&fd, len)?);
        let inner = Arc::new(Inner {
            map,
            fd: SharedFd::from(fd),
        });
        cache.retain(|_, w| w.strong_count() > 0);
        cache.insert(id, Arc::downgrade(&inner));
        Ok(Region { inner })
    }

    /// The mapping (length, atomic views, copies).
    #[inline]
    pub fn mapping(&self) -> &Mapping {
        &self.inner.map
    }

    /// The `len` bytes at `offset` (a multiple of 8) as a [`Span`], which
    /// keeps the mapping alive and reaches its bytes without going through
    /// the region.
    ///
    /// # Errors
    /// [`OutOfBounds`] if the range leaves the region or `offset` is
    /// misaligned.
    pub fn span(&self, offset: usize, len: usize) -> Result<Span, OutOfBounds> {
        Span::new(Arc::clone(&self.inner.map), offset, len)
    }

    /// Whether two handles refer to the same mapping in this process.
    pub fn ptr_eq(&self, other: &Region) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Deref for Region {
    type Target = Mapping;
    #[inline]
    fn deref(&self) -> &Mapping {
        &self.inner.map
    }
}

impl AsFd for Region {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.fd.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fd = SharedFd::deserialize(deserializer)?;
        Region::from_fd(fd.into_inner())
            .map_err(|e| D::Error::custom(format!("cannot map shared region: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn round_trip_reuses_the_mapping() {
        let r = Region::create("t", 4096).unwrap();
        r.atomic_u32(0).unwrap().store(42, Ordering::SeqCst);
        let back: Region = mp_wire::decode(mp_wire::encode(&r).unwrap()).unwrap();
        assert!(back.ptr_eq(&r));
        assert_eq!(back.atomic_u32(0).unwrap().load(Ordering::SeqCst), 42);
    }

    #[test]
    fn a_second_mapping_shares_memory() {
        let r = Region::create("t", 4096).unwrap();
        let msg = mp_wire::encode(&r).unwrap();
        let second: Region = with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
        assert!(!second.ptr_eq(&r));
        second.write(10, b"xyz").unwrap();
        let mut buf = [0; 3];
        r.read(10, &mut buf).unwrap();
        assert_eq!(&buf, b"xyz");
    }

    /// What a peer sends: the fd of a region, as [`Region`] serializes.
    fn as_sent(fd: OwnedFd) -> mp_wire::Message {
        mp_wire::encode(&SharedFd::from(fd)).unwrap()
    }

    #[test]
    fn an_unsealed_memfd_from_a_peer_is_refused() {
        use rustix::fs::{memfd_create, MemfdFlags, SealFlags};
        // Unsealed, and also sealed against growing only.
        for seals in [SealFlags::empty(), SealFlags::GROW | SealFlags::SEAL] {
            let fd = memfd_create("t", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
            rustix::fs::ftruncate(&fd, 4096).unwrap();
            if !seals.is_empty() {
                rustix::fs::fcntl_add_seals(&fd, seals).unwrap();
            }
            let dup = mp_sys::fd::dup_cloexec(&fd).unwrap();
            assert!(matches!(Region::from_fd(dup), Err(ShmError::NotSealed)));
            // Decoding fails with a decode error (postcard keeps no message).
            assert!(mp_wire::decode::<Region>(as_sent(fd)).is_err());
        }
        // A file that has no seals at all (a regular file).
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        assert!(matches!(
            Region::from_fd(OwnedFd::from(file)),
            Err(ShmError::NotSealed)
        ));
    }

    #[test]
    fn a_region_shorter_than_claimed_is_refused_not_faulted() {
        // A sealed memfd of 8 bytes sent where a 64-byte slot (a lock, a
        // value) is expected: the slot does not fit, a typed error.
        #[derive(serde::Serialize)]
        struct SlotWire {
            region: SharedFd,
            offset: usize,
            len: usize,
        }
        let slot_of = |len| {
            let fd = mp_sys::memfd::create_sealed("t", 8).unwrap();
            let msg = mp_wire::encode(&SlotWire {
                region: SharedFd::from(fd),
                offset: 0,
                len,
            })
            .unwrap();
            mp_wire::decode::<crate::Slot>(msg)
        };
        assert!(slot_of(8).is_ok());
        assert!(slot_of(64).is_err());
        // An empty sealed memfd: nothing to map.
        let fd = mp_sys::memfd::create_sealed("t", 0).unwrap();
        assert!(matches!(
            Region::from_fd(fd),
            Err(ShmError::BadSize { size: 0 })
        ));
        // Mapping more than the file has is refused before `mmap`.
        let fd = mp_sys::memfd::create_sealed("t", 8).unwrap();
        let err = Mapping::map_shared(&fd, 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn zero_size_is_rejected() {
        assert_eq!(
            Region::create("t", 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
