//! [`SharedMemoryManager`]: Python's
//! `multiprocessing.managers.SharedMemoryManager`, without a server process.
//!
//! CPython's manager is a server that only *records* names: the blocks are
//! created by the calling process, and the server unlinks every recorded
//! name at shutdown. Here the record is a small shared region (an
//! anonymous sealed memfd) of name slots, so a manager handle sent to
//! another process (it is serde, like every handle) records the blocks that
//! process creates in the same place, and the process that made the manager
//! unlinks them all at [`shutdown`](SharedMemoryManager::shutdown), when its
//! handle is dropped, or when it exits.
//!
//! A managed block belongs to the manager, not to the handle or process
//! that created it: it outlives both until the shutdown. If the manager's
//! process is killed, its resource tracker unlinks the blocks it created
//! itself; blocks other processes created through it stay until
//! [`cleanup_stale`](crate::cleanup_stale) runs after their creator is gone
//! (CPython's server, killed, leaks them all).

use std::fmt;
use std::sync::atomic::Ordering;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::at_exit::ExitList;
use crate::error::ShmError;
use crate::region::Region;
use crate::resource_tracker;
use crate::shareable_list::{Item, ShareableList};
use crate::shared_memory::SharedMemory;

/// How many blocks one manager can record.
pub const MANAGER_CAPACITY: usize = 4096;
/// Bytes per name slot: a `u32` length word (0 until published) and the name.
const SLOT: usize = 260;
/// Header: the shut-down flag (`u32`), padding, the next free slot (`u64`).
const HEADER: usize = 16;
const SHUT: usize = 0;
const NEXT: usize = 8;

/// Registries made by this process, shut down by the exit hook.
pub(crate) static OWNED: ExitList<Region> = ExitList::new();

fn shutdown_owned_at_exit() {
    OWNED.for_each_mine_at_exit(|registry| {
        shut_down(registry, true);
    });
}

/// Sets the flag and unlinks every published name; returns them.
fn shut_down(registry: &Region, at_exit: bool) -> Vec<String> {
    let Ok(flag) = registry.atomic_u32(SHUT) else {
        return Vec::new();
    };
    if flag.swap(1, Ordering::SeqCst) != 0 {
        return Vec::new();
    }
    let names = published(registry);
    for name in &names {
        let _ = mp_sys::memfd::shm_unlink(name);
        resource_tracker::unregister(name, None, at_exit);
    }
    names
}

/// The names published in `registry`, in order.
fn published(registry: &Region) -> Vec<String> {
    let next = registry
        .atomic_u64(NEXT)
        .map_or(0, |n| n.load(Ordering::SeqCst));
    let mut names = Vec::new();
    for slot in 0..(next as usize).min(MANAGER_CAPACITY) {
        let at = HEADER + slot * SLOT;
        let Ok(len) = registry.atomic_u32(at) else {
            break;
        };
        // 0: reserved but not (yet) published; skip.
        let len = len.load(Ordering::SeqCst) as usize;
        if len == 0 || len > SLOT - 4 {
            continue;
        }
        let mut name = vec![0u8; len];
        if registry.read(at + 4, &mut name).is_ok() {
            if let Ok(name) = String::from_utf8(name) {
                names.push(name);
            }
        }
    }
    names
}

/// Python's `SharedMemoryManager`: creates named blocks and lists that live
/// until it shuts down, then unlinks them all.
///
/// ```
/// use mp_shm::SharedMemoryManager;
/// let smm = SharedMemoryManager::new()?;
/// let block = smm.shared_memory(128)?;
/// let list = smm.shareable_list([1, 2, 3])?;
/// drop(block); // the block stays: the manager owns it
/// assert_eq!(smm.segments().len(), 2);
/// smm.shutdown()?; // unlinks both
/// assert!(mp_shm::SharedMemory::attach(list.shm().name()).is_err());
/// # Ok::<(), mp_shm::ShmError>(())
/// ```
pub struct SharedMemoryManager {
    registry: Region,
    /// The pid of the process that made it if this handle is that one,
    /// else 0.
    owner: u32,
}

impl fmt::Debug for SharedMemoryManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemoryManager")
            .field("segments", &self.segments().len())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl SharedMemoryManager {
    /// Starts a manager (Python's `SharedMemoryManager()` + `start()`).
    ///
    /// # Errors
    /// The OS error of creating its registry.
    pub fn new() -> Result<Self, ShmError> {
        let registry = Region::create("mp-smm", HEADER + MANAGER_CAPACITY * SLOT)?;
        OWNED.push(registry.clone(), shutdown_owned_at_exit);
        Ok(SharedMemoryManager {
            registry,
            owner: std::process::id(),
        })
    }

    /// Whether [`shutdown`](Self::shutdown) has run (in any process).
    pub fn is_shut_down(&self) -> bool {
        self.registry
            .atomic_u32(SHUT)
            .map_or(true, |f| f.load(Ordering::SeqCst) != 0)
    }

    /// Records `shm`'s name, taking the block over from its handle.
    fn adopt(&self, shm: &mut SharedMemory) -> Result<(), ShmError> {
        let name = shm.name().to_owned();
        let refuse = |shm: &mut SharedMemory, e: ShmError| {
            let _ = shm.unlink();
            Err(e)
        };
        if self.is_shut_down() {
            return refuse(shm, ShmError::ManagerShutDown);
        }
        if name.len() > SLOT - 4 {
            return refuse(
                shm,
                ShmError::ManagerFull {
                    capacity: MANAGER_CAPACITY,
                },
            );
        }
        // The registry's size is checked on creation and receipt, so these
        // accesses are in bounds; an error would say otherwise.
        let oob = |offset: usize| ShmError::OutOfBounds {
            offset,
            len: SLOT,
            size: self.registry.len(),
        };
        let slot = self
            .registry
            .atomic_u64(NEXT)
            .map_err(|_| oob(NEXT))?
            .fetch_add(1, Ordering::SeqCst) as usize;
        if slot >= MANAGER_CAPACITY {
            return refuse(
                shm,
                ShmError::ManagerFull {
                    capacity: MANAGER_CAPACITY,
                },
            );
        }
        let at = HEADER + slot * SLOT;
        self.registry
            .write(at + 4, name.as_bytes())
            .map_err(|_| oob(at))?;
        self.registry
            .atomic_u32(at)
            .map_err(|_| oob(at))?
            .store(name.len() as u32, Ordering::SeqCst);
        // The handle no longer unlinks it; in the manager's own process the
        // resource tracker still covers a kill.
        shm.disown();
        if self.owner == std::process::id() {
            resource_tracker::register(&name);
        }
        // A shutdown that read the slots before we published: undo.
        if self.is_shut_down() {
            let _ = mp_sys::memfd::shm_unlink(&name);
            resource_tracker::unregister(&name, None, false);
            return Err(ShmError::ManagerShutDown);
        }
        Ok(())
    }

    /// Creates a block of `size` zero bytes that lives until the shutdown
    /// (Python's `smm.SharedMemory(size)`).
    ///
    /// # Errors
    /// [`ShmError::ManagerShutDown`], [`ShmError::ManagerFull`], or the
    /// errors of [`SharedMemory::create`].
    pub fn shared_memory(&self, size: usize) -> Result<SharedMemory, ShmError> {
        if self.is_shut_down() {
            return Err(ShmError::ManagerShutDown);
        }
        let mut shm = SharedMemory::create(size)?;
        self.adopt(&mut shm)?;
        Ok(shm)
    }

    /// Creates a [`ShareableList`] that lives until the shutdown (Python's
    /// `smm.ShareableList(sequence)`).
    ///
    /// # Errors
    /// As [`shared_memory`](Self::shared_memory), and those of
    /// [`ShareableList::new`].
    pub fn shareable_list<I: Into<Item>>(
        &self,
        items: impl IntoIterator<Item = I>,
    ) -> Result<ShareableList, ShmError> {
        if self.is_shut_down() {
            return Err(ShmError::ManagerShutDown);
        }
        let mut list = ShareableList::new(items)?;
        self.adopt(list.shm_mut())?;
        Ok(list)
    }

    /// The names of the blocks created through this manager (in any
    /// process), in creation order; empty after the shutdown.
    pub fn segments(&self) -> Vec<String> {
        if self.is_shut_down() {
            return Vec::new();
        }
        published(&self.registry)
    }

    /// Unlinks every block created through this manager and refuses new
    /// ones (Python's `shutdown`); mappings stay valid. Idempotent.
    ///
    /// # Errors
    /// [`ShmError::NotManagerOwner`] on a handle received from another
    /// process: as in CPython, only the process that started the manager
    /// stops it.
    pub fn shutdown(&self) -> Result<(), ShmError> {
        if self.owner != std::process::id() {
            return Err(ShmError::NotManagerOwner);
        }
        shut_down(&self.registry, false);
        Ok(())
    }
}

/// The handle that made the manager shuts it down (Python's `__exit__`).
impl Drop for SharedMemoryManager {
    fn drop(&mut self) {
        if self.owner == std::process::id() {
            shut_down(&self.registry, false);
            OWNED.remove_mine(|r| r.ptr_eq(&self.registry));
        }
    }
}

/// A handle crosses processes as its registry's fd; received handles do not
/// shut the manager down when dropped.
impl Serialize for SharedMemoryManager {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.registry.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemoryManager {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let registry = Region::deserialize(d)?;
        if registry.len() != HEADER + MANAGER_CAPACITY * SLOT {
            return Err(D::Error::custom("not a shared memory manager's registry"));
        }
        Ok(SharedMemoryManager { registry, owner: 0 })
    }
}
