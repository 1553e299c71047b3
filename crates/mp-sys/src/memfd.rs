//! Shared-memory files: anonymous `memfd`s (sized and sealed), their named
//! cousins under `/dev/shm` (what `shm_open` does), file identity and size,
//! and an exit hook used to unlink names a process still owns.
//!
//! ```
//! let fd = mp_sys::memfd::create_sealed("doc", 4096).unwrap();
//! assert_eq!(mp_sys::memfd::size(&fd).unwrap(), 4096);
//! ```
//!
//! # Sealing
//! A mapping of a file faults with `SIGBUS` where the file no longer has
//! bytes, so a file that another process can shrink is not safe to map and
//! use. Anonymous regions are therefore sealed by their creator
//! ([`create_sealed`]) and a receiver checks [`size_sealed`] before mapping.
//! Named files under `/dev/shm` cannot be sealed: anyone who can open the
//! name can resize them.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{self, MemfdFlags, Mode, OFlags, SealFlags};

/// The directory in which Linux keeps POSIX shared-memory names.
pub const SHM_DIR: &str = "/dev/shm";

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)` + `ftruncate(size)`
/// + `F_ADD_SEALS(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)`.
///
/// The result is a zero-filled anonymous file of exactly `size` bytes whose
/// size nobody (not even a process it is sent to) can change afterwards, so
/// a mapping of it can never fault with `SIGBUS` because a peer truncated it.
///
/// # Errors
/// The OS error of any of the three calls.
///
/// # References
/// - [Linux `memfd_create(2)`](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
#[doc(alias = "memfd_create")]
pub fn create_sealed(name: &str, size: u64) -> io::Result<OwnedFd> {
    let fd = fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    fs::ftruncate(&fd, size)?;
    fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    Ok(fd)
}

/// `fcntl(fd, F_GET_SEALS)` includes `F_SEAL_SHRINK` and `F_SEAL_GROW`: the
/// file's size can never change again, so a mapping of it up to that size
/// cannot fault.
///
/// False for a memfd without those seals, a `/dev/shm` file (tmpfs reports
/// only `F_SEAL_SEAL`), and a file that does not support seals at all.
///
/// ```
/// let fd = mp_sys::memfd::create_sealed("doc", 64).unwrap();
/// assert!(mp_sys::memfd::size_sealed(&fd).unwrap());
/// ```
///
/// # Errors
/// The OS error of `fcntl`, other than `EINVAL` (no seal support).
pub fn size_sealed(fd: impl AsFd) -> io::Result<bool> {
    match fs::fcntl_get_seals(fd) {
        Ok(seals) => Ok(seals.contains(SealFlags::SHRINK | SealFlags::GROW)),
        Err(rustix::io::Errno::INVAL) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `fstat(fd).st_size`—the size of a file in bytes.
///
/// # Errors
/// The OS error of `fstat`.
pub fn size(fd: impl AsFd) -> io::Result<u64> {
    let st = fs::fstat(fd)?;
    u64::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// `fstat(fd)`'s `(st_dev, st_ino)`—an identity of the open file that is the
/// same in every process holding an fd of it (while the file lives).
///
/// # Errors
/// The OS error of `fstat`.
pub fn file_id(fd: impl AsFd) -> io::Result<(u64, u64)> {
    let st = fs::fstat(fd)?;
    #[allow(clippy::useless_conversion)] // the field types differ between architectures
    Ok((u64::from(st.st_dev), u64::from(st.st_ino)))
}

/// `ftruncate(fd, size)`—sets the size of a (named) shared-memory file.
///
/// # Errors
/// The OS error of `ftruncate`.
pub fn set_size(fd: impl AsFd, size: u64) -> io::Result<()> {
    Ok(fs::ftruncate(fd, size)?)
}

fn shm_path(name: &str) -> io::Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.len() > 255 || bare.contains('/') || bare == "." || bare == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "shared memory name must be a single non-empty path component",
        ));
    }
    Ok(format!("{SHM_DIR}/{bare}"))
}

/// `shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)`—creates a new
/// named shared-memory file (an empty file under `/dev/shm`).
///
/// A leading `/` in `name` is ignored, as `shm_open` does.
///
/// # Errors
/// `AlreadyExists` if the name is taken, `InvalidInput` for a name that is
/// not a single path component, or another OS error.
///
/// # References
/// - [Linux `shm_open(3)`](https://man7.org/linux/man-pages/man3/shm_open.3.html)
#[doc(alias = "shm_open")]
pub fn shm_create(name: &str) -> io::Result<OwnedFd> {
    let path = shm_path(name)?;
    Ok(fs::open(
        path.as_str(),
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::RUSR | Mode::WUSR,
    )?)
}

/// `shm_open(name, O_RDWR | O_CLOEXEC)`—opens an existing named shared-memory file.
///
/// # Errors
/// `NotFound` if there is no such name, or another OS error.
#[doc(alias = "shm_open")]
pub fn shm_attach(name: &str) -> io::Result<OwnedFd> {
    let path = shm_path(name)?;
    Ok(fs::open(
        path.as_str(),
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?)
}

/// `shm_unlink(name)`—removes a shared-memory name. Existing fds and
/// mappings stay valid.
///
/// # Errors
/// `NotFound` if there is no such name, or another OS error.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let path = shm_path(name)?;
    Ok(fs::unlink(path.as_str())?)
}

/// The names currently present under `/dev/shm` (for leftover clean-up).
///
/// # Errors
/// The OS error of reading the directory.
pub fn shm_list() -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(SHM_DIR)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_memfd_cannot_be_resized() {
        let fd = create_sealed("t", 8192).unwrap();
        assert_eq!(size(&fd).unwrap(), 8192);
        assert!(fs::ftruncate(&fd, 4096).is_err());
    }

    #[test]
    fn named_create_attach_unlink() {
        let name = format!("mp-sys-test-{}", std::process::id());
        let a = shm_create(&name).unwrap();
        set_size(&a, 100).unwrap();
        assert_eq!(
            shm_create(&name).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let b = shm_attach(&format!("/{name}")).unwrap();
        assert_eq!(file_id(&a).unwrap(), file_id(&b).unwrap());
        assert_eq!(size(&b).unwrap(), 100);
        assert!(shm_list().unwrap().contains(&name));
        shm_unlink(&name).unwrap();
        assert_eq!(
            shm_unlink(&name).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            shm_attach("a/b").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
