//! [`SharedMemory`]: Python's `multiprocessing.shared_memory.SharedMemory`,
//! named blocks under `/dev/shm` that any process can attach to by name.
//!
//! # Who removes the name
//! The handle returned by [`SharedMemory::create`] *owns* the name. The name
//! is unlinked when that handle is dropped (including while a panic
//! unwinds), when [`unlink`](SharedMemory::unlink) is called, or—for owned
//! handles that were leaked or are still alive—when the creating process
//! exits through `exit`/return from `main` (an `atexit` hook). A forked
//! child never unlinks its parent's names. [`disown`](SharedMemory::disown)
//! hands the name over to whoever unlinks it later.
//!
//! A process killed by `SIGKILL` (or any fatal signal, or `abort`, or
//! `_exit`) runs no hook. Its names are then unlinked by the
//! [`resource_tracker`](crate::resource_tracker), a small process started
//! by the first `create` that watches the creators, as CPython's does (with
//! CPython's warning about leaked objects). Should the tracker itself be
//! gone, every generated name has the form `mp-<pid>-<start time>-<random>`,
//! so [`cleanup_stale`] can find and remove the names whose creator is no
//! longer running (a reused pid is recognised by its different start
//! time); call it at start-up or after a crash.
//!
//! # Crossing processes
//! A `SharedMemory` serializes as its name, size and fd, so the receiver
//! maps the same memory even if the name was unlinked meanwhile (Python
//! re-attaches by name and fails then). Received handles never own the name.
//!
//! # Sealing
//! Unlike the anonymous regions behind locks, queues and values, a named
//! block cannot be sealed against resizing: `/dev/shm` files do not support
//! seals, and any process that can open the name may truncate the file. An
//! access to the part of a mapping that a truncation removed raises
//! `SIGBUS`, which ends the process. So a `SharedMemory` is only as safe as
//! the processes that can open its name (mode 0600: the same user) and the
//! peer that sent it; this is also true of Python's `SharedMemory`. Use
//! a [`Region`] (or the types built on it) for memory shared with a peer
//! you do not trust to keep its size.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

use mp_wire::SharedFd;
use serde::{Deserialize, Serialize};

use crate::error::ShmError;
use crate::ident::ProcessIdent;
use crate::region::Region;
use crate::resource_tracker;

/// Names created by this process and not yet unlinked or disowned, with the
/// pid that created them (a forked child inherits the list but not the
/// names).
static OWNED: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Unlinks the names this process still owns (an exit finalizer).
fn unlink_owned_at_exit() {
    let me = std::process::id();
    let owned = match OWNED.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        // Another thread holds the list while the process exits: leave the
        // names to `cleanup_stale` rather than risk a deadlock at exit.
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for (name, pid) in owned.iter() {
        if *pid == me {
            let _ = mp_sys::memfd::shm_unlink(name);
            resource_tracker::unregister(name, true);
        }
    }
}

fn register(name: &str) {
    HOOK.call_once(|| {
        mp_sys::exit::register_finalizer(unlink_owned_at_exit);
    });
    OWNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.to_owned(), std::process::id()));
    resource_tracker::register(name);
}

/// Forgets `name` here and in the resource tracker (after it was
/// unlinked or handed over).
fn unregister(name: &str) {
    let me = std::process::id();
    OWNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(n, pid)| !(n == name && *pid == me));
    resource_tracker::unregister(name, false);
}

/// 32 bits from the OS CSPRNG (`mp_sys::random`), or its error.
fn random_u32() -> std::io::Result<u32> {
    Ok(u32::from_le_bytes(mp_sys::random::bytes()?))
}

fn generated_name() -> std::io::Result<String> {
    let me = ProcessIdent::current();
    Ok(format!(
        "mp-{}-{:x}-{:08x}",
        me.pid(),
        me.start_time(),
        random_u32()?
    ))
}

/// Parses `mp-<pid>-<start hex>-<random>` back to the creator's identity.
fn creator_of(name: &str) -> Option<ProcessIdent> {
    let mut parts = name.strip_prefix("mp-")?.split('-');
    let pid: u32 = parts.next()?.parse().ok()?;
    let start = u64::from_str_radix(parts.next()?, 16).ok()?;
    let rand = parts.next()?;
    if parts.next().is_some() || rand.len() != 8 || !rand.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let ident = ProcessIdent::from_bits((start << 22) | u64::from(pid));
    (ident.pid() == pid && ident.start_time() == start).then_some(ident)
}

/// Removes the `/dev/shm` names generated by [`SharedMemory::create`] whose
/// creating process is no longer running, and returns them.
///
/// Names given explicitly to [`SharedMemory::create_named`] are never
/// touched. Processes that still map an unlinked block keep their mapping.
///
/// # Errors
/// The OS error of listing `/dev/shm`; failures to unlink single names
/// (say, another process removed it first) are skipped.
pub fn cleanup_stale() -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for name in mp_sys::memfd::shm_list()? {
        if let Some(creator) = creator_of(&name) {
            if !creator.is_alive() && mp_sys::memfd::shm_unlink(&name).is_ok() {
                removed.push(name);
            }
        }
    }
    Ok(removed)
}

fn map_io(name: &str, e: io::Error) -> ShmError {
    match e.kind() {
        io::ErrorKind::AlreadyExists => ShmError::AlreadyExists(name.to_owned()),
        io::ErrorKind::NotFound => ShmError::NotFound(name.to_owned()),
        _ => ShmError::Io(e),
    }
}

/// A named block of shared memory.
///
/// ```
/// use mp_shm::SharedMemory;
/// let shm = SharedMemory::create(100)?;
/// shm.write(0, b"hello")?;
/// let other = SharedMemory::attach(shm.name())?; // e.g. in another process
/// let mut buf = [0; 5];
/// other.read(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(other.size(), 100);
/// drop(other);
/// shm.unlink()?; // or just drop `shm`: the creator owns the name
/// # Ok::<(), mp_shm::ShmError>(())
/// ```
pub struct SharedMemory {
    name: String,
    size: usize,
    region: Option<Region>,
    /// The pid that owns the name if this handle is its owner, else 0.
    /// Atomic so that `unlink(&self)` can give the ownership up.
    owner: AtomicU32,
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedMemory({:?}, size={})", self.name, self.size)
    }
}

impl SharedMemory {
    /// Creates a block of `size` zero bytes under a fresh generated name.
    ///
    /// # Errors
    /// [`ShmError::ZeroSize`], or an OS error (also when the OS gives no
    /// random bytes for the name).
    pub fn create(size: usize) -> Result<SharedMemory, ShmError> {
        loop {
            match Self::create_named(&generated_name()?, size) {
                Err(ShmError::AlreadyExists(_)) => continue,
                other => return other,
            }
        }
    }

    /// Creates a block of `size` zero bytes named `name` (a leading `/`
    /// is ignored).
    ///
    /// # Errors
    /// [`ShmError::ZeroSize`], [`ShmError::AlreadyExists`], or an OS error.
    pub fn create_named(name: &str, size: usize) -> Result<SharedMemory, ShmError> {
        if size == 0 {
            return Err(ShmError::ZeroSize);
        }
        let bare = name.strip_prefix('/').unwrap_or(name).to_owned();
        resource_tracker::ensure_started();
        let fd = mp_sys::memfd::shm_create(&bare).map_err(|e| map_io(&bare, e))?;
        let mapped = mp_sys::memfd::set_size(&fd, size as u64)
            .map_err(ShmError::Io)
            .and_then(|()| Region::from_named_fd(fd));
        let region = match mapped {
            Ok(r) => r,
            Err(e) => {
                let _ = mp_sys::memfd::shm_unlink(&bare);
                return Err(e);
            }
        };
        register(&bare);
        Ok(SharedMemory {
            name: bare,
            size,
            region: Some(region),
            owner: AtomicU32::new(std::process::id()),
        })
    }

    /// Attaches to the existing block `name`; its size is read from the block.
    ///
    /// # Errors
    /// [`ShmError::NotFound`], or an OS error.
    pub fn attach(name: &str) -> Result<SharedMemory, ShmError> {
        let bare = name.strip_prefix('/').unwrap_or(name).to_owned();
        let fd = mp_sys::memfd::shm_attach(&bare).map_err(|e| map_io(&bare, e))?;
        let region = Region::from_named_fd(fd)?;
        Ok(SharedMemory {
            name: bare,
            size: region.len(),
            region: Some(region),
            owner: AtomicU32::new(0),
        })
    }

    /// The name, without a leading `/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The mapped region (atomic views, raw pointer).
    ///
    /// # Errors
    /// [`ShmError::Closed`] after [`close`](Self::close).
    pub fn region(&self) -> Result<&Region, ShmError> {
        self.region.as_ref().ok_or(ShmError::Closed)
    }

    /// Copies bytes at `offset` into `buf`.
    ///
    /// # Errors
    /// [`ShmError::Closed`] or [`ShmError::OutOfBounds`].
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), ShmError> {
        let len = buf.len();
        self.region()?
            .read(offset, buf)
            .map_err(|_| ShmError::OutOfBounds {
                offset,
                len,
                size: self.size,
            })
    }

    /// Copies `buf` into the block at `offset`.
    ///
    /// # Errors
    /// [`ShmError::Closed`] or [`ShmError::OutOfBounds`].
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<(), ShmError> {
        self.region()?
            .write(offset, buf)
            .map_err(|_| ShmError::OutOfBounds {
                offset,
                len: buf.len(),
                size: self.size,
            })
    }

    /// Copies the whole block out (Python's `bytes(shm.buf)`).
    ///
    /// # Errors
    /// [`ShmError::Closed`].
    pub fn to_vec(&self) -> Result<Vec<u8>, ShmError> {
        let mut v = vec![0; self.size];
        self.read(0, &mut v)?;
        Ok(v)
    }

    /// Unmaps the block in this process; the name stays. Idempotent.
    pub fn close(&mut self) {
        self.region = None;
    }

    /// Whether this handle owns the name (see the module docs).
    pub fn is_owner(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == std::process::id()
    }

    /// Gives up ownership: the name then outlives this handle and process
    /// until someone calls [`unlink`](Self::unlink) (or [`cleanup_stale`]
    /// after this process is gone).
    pub fn disown(&mut self) {
        if self.is_owner() {
            unregister(&self.name);
        }
        self.owner.store(0, Ordering::Relaxed);
    }

    /// Removes the name (Python's `unlink`); mappings stay valid.
    ///
    /// # Errors
    /// [`ShmError::NotFound`] if the name is already gone.
    pub fn unlink(&self) -> Result<(), ShmError> {
        // The name is gone after this: dropping the owner must not unlink
        // it again (a new block may have taken the name meanwhile).
        self.owner.store(0, Ordering::Relaxed);
        let unlinked = mp_sys::memfd::shm_unlink(&self.name).map_err(|e| map_io(&self.name, e));
        unregister(&self.name);
        unlinked
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        if self.is_owner() {
            let _ = mp_sys::memfd::shm_unlink(&self.name);
            unregister(&self.name);
        }
    }
}

#[derive(Serialize)]
struct WireRef<'a> {
    name: &'a str,
    region: &'a Region,
}

/// The receiving side of [`WireRef`]: the region arrives as its fd (the
/// same bytes on the wire), mapped without the seal check that a
/// [`Region`] gets, because a named block cannot be sealed.
#[derive(Deserialize)]
struct Wire {
    name: String,
    region: SharedFd,
}

impl Serialize for SharedMemory {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let region = self
            .region
            .as_ref()
            .ok_or_else(|| serde::ser::Error::custom("shared memory is closed"))?;
        WireRef {
            name: &self.name,
            region,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let region = Region::from_named_fd(w.region.into_inner())
            .map_err(|e| serde::de::Error::custom(format!("cannot map shared memory: {e}")))?;
        Ok(SharedMemory {
            size: region.len(),
            name: w.name,
            region: Some(region),
            owner: AtomicU32::new(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exists(name: &str) -> bool {
        std::path::Path::new(mp_sys::memfd::SHM_DIR)
            .join(name)
            .exists()
    }

    #[test]
    fn python_error_cases() {
        assert!(matches!(SharedMemory::create(0), Err(ShmError::ZeroSize)));
        let a = SharedMemory::create(10).unwrap();
        assert!(matches!(
            SharedMemory::create_named(a.name(), 10),
            Err(ShmError::AlreadyExists(_))
        ));
        assert!(matches!(
            SharedMemory::attach("mp-no-such-block"),
            Err(ShmError::NotFound(_))
        ));
        a.unlink().unwrap();
        assert!(!a.is_owner());
        assert!(matches!(a.unlink(), Err(ShmError::NotFound(_))));
        assert!(matches!(
            a.read(8, &mut [0; 3]),
            Err(ShmError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn owner_drop_unlinks_and_close_is_idempotent() {
        let a = SharedMemory::create(4096).unwrap();
        let name = a.name().to_owned();
        assert!(a.is_owner() && exists(&name));
        let mut b = SharedMemory::attach(&name).unwrap();
        assert!(!b.is_owner());
        b.close();
        b.close();
        assert!(matches!(b.read(0, &mut [0]), Err(ShmError::Closed)));
        drop(b);
        assert!(exists(&name));
        drop(a);
        assert!(!exists(&name));
    }

    #[test]
    fn disowned_name_persists_until_unlink() {
        let mut a = SharedMemory::create(16).unwrap();
        a.disown();
        let name = a.name().to_owned();
        drop(a);
        let b = SharedMemory::attach(&name).unwrap();
        b.unlink().unwrap();
        assert!(!exists(&name));
    }

    #[test]
    fn serialized_handle_maps_the_same_memory_after_unlink() {
        let a = SharedMemory::create(64).unwrap();
        let msg = mp_wire::encode(&a).unwrap();
        a.unlink().unwrap();
        let b: SharedMemory = crate::with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
        assert!(!b.is_owner());
        b.write(3, b"abc").unwrap();
        assert_eq!(&a.to_vec().unwrap()[3..6], b"abc");
    }

    #[test]
    fn stale_names_are_recognised() {
        assert!(creator_of("mp-12-ab-0123abcd").is_some());
        for bad in [
            "psm_1234",
            "mp-x-1-00000000",
            "mp-1-zz-00000000",
            "mp-1-1-123",
            "mp-1-1-0000000g-x",
        ] {
            assert!(creator_of(bad).is_none(), "{bad}");
        }
        // A block whose creator is a dead process is removed; ours is not.
        let ours = SharedMemory::create(8).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead =
            ProcessIdent::of(child.id()).unwrap_or(ProcessIdent::from_bits(u64::from(child.id())));
        child.wait().unwrap();
        let stale = format!(
            "mp-{}-{:x}-{:08x}",
            dead.pid(),
            dead.start_time(),
            random_u32().unwrap()
        );
        let mut s = SharedMemory::create_named(&stale, 8).unwrap();
        s.disown();
        let removed = cleanup_stale().unwrap();
        assert!(removed.contains(&stale));
        assert!(!removed.contains(&ours.name().to_owned()) && exists(ours.name()));
    }

    #[test]
    fn unlink_then_drop_does_not_remove_a_reused_name() {
        let name = format!("mp-test-reuse-{}", std::process::id());
        let a = SharedMemory::create_named(&name, 4096).unwrap();
        a.unlink().unwrap();
        let b = SharedMemory::create_named(&name, 4096).unwrap();
        drop(a);
        assert!(
            exists(&name),
            "dropping the unlinked creator removed the new block"
        );
        b.unlink().unwrap();
    }
}
