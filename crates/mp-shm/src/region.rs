//! [`Region`]: one shared memfd mapped into this process, serializable so it
//! arrives mapped (the same memory) in another process.
//!
//! A region serializes as its fd (carried out of band by
//! [`mp_wire::SharedFd`]). Deserializing maps the fd again, unless this
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
use mp_wire::SharedFd;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A mapped shared memfd. Cloning is cheap (reference counted); the
/// mapping and fd are released when the last clone in this process drops.
#[derive(Clone)]
pub struct Region {
    inner: Arc<Inner>,
}

struct Inner {
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

type Cache = Mutex<HashMap<(u64, u64), Weak<Inner>>>;

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
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
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
        Self::from_fd(fd)
    }

    /// Maps the whole of `fd` (a memfd or `/dev/shm` file), reusing an
    /// existing mapping of the same file in this process if there is one.
    ///
    /// # Errors
    /// The OS error of `fstat` or `mmap`; `InvalidData` if the file is empty
    /// or larger than the address space.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Region> {
        let id = mp_sys::memfd::file_id(&fd)?;
        let size = mp_sys::memfd::size(&fd)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "shared file is empty or too large",
                )
            })?;
        if BYPASS_CACHE.with(std::cell::Cell::get) {
            let map = Arc::new(Mapping::map_shared(&fd, len)?);
            return Ok(Region {
                inner: Arc::new(Inner {
                    map,
                    fd: SharedFd::from(fd),
                }),
            });
        }
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
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

    #[test]
    fn zero_size_is_rejected() {
        assert_eq!(
            Region::create("t", 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
