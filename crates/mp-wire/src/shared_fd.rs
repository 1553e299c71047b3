//! [`SharedFd`]: an fd that can be a field of any serde type, and the
//! thread-local side lists through which it travels out of band.
//!
//! [`encode`](crate::encode) installs an empty side list for the duration of
//! the call; serializing a `SharedFd` pushes a duplicate of its fd there and
//! writes only the index (a `u32`) into the bytes. [`decode`](crate::decode)
//! installs the message's fds; deserializing a `SharedFd` reads the index and
//! takes that fd out of the list (each index at most once). Scopes nest: an
//! `encode` called from inside a `Serialize` impl gets its own list, and the
//! outer one is restored afterwards, even if the inner call panics.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DecodeError, EncodeError};

/// An fd that can be a field of any serde type; it travels out of band.
///
/// Encoded with [`encode`](crate::encode), the fd is duplicated into the
/// message's fd list (the original stays usable) and the bytes hold only its
/// index; [`send`](crate::send) passes the list with `SCM_RIGHTS`, and
/// [`decode`](crate::decode) on the other side hands each `SharedFd` a new fd
/// referring to the same open file description.
///
/// Serializing or deserializing a `SharedFd` with anything else than
/// `encode`/`decode` (say `serde_json`) fails with a serde error.
///
/// ```
/// use mp_wire::{decode, encode, SharedFd};
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let msg = encode(&SharedFd::from(std::os::fd::OwnedFd::from(file))).unwrap();
/// assert_eq!(msg.fds.len(), 1);
/// let fd: SharedFd = decode(msg).unwrap();
/// # drop(fd);
/// ```
#[derive(Debug)]
pub struct SharedFd(OwnedFd);

impl SharedFd {
    /// Unwraps the owned fd.
    pub fn into_inner(self) -> OwnedFd {
        self.0
    }

    /// Duplicates the fd (`F_DUPFD_CLOEXEC`); both refer to the same open file.
    pub fn try_clone(&self) -> std::io::Result<Self> {
        self.0.try_clone().map(Self)
    }
}

impl From<OwnedFd> for SharedFd {
    fn from(fd: OwnedFd) -> Self {
        Self(fd)
    }
}

impl From<SharedFd> for OwnedFd {
    fn from(fd: SharedFd) -> Self {
        fd.0
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl IntoRawFd for SharedFd {
    fn into_raw_fd(self) -> RawFd {
        self.0.into_raw_fd()
    }
}

/// Error message for a `SharedFd` serialized outside [`crate::encode`].
const OUTSIDE_ENCODE: &str = "SharedFd can only be serialized by mp_wire::encode";
/// Error message for a `SharedFd` deserialized outside [`crate::decode`].
const OUTSIDE_DECODE: &str = "SharedFd can only be deserialized by mp_wire::decode";

impl Serialize for SharedFd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = ENCODING.with(|cell| {
            let mut slot = cell.borrow_mut();
            let Some(scope) = slot.as_mut() else {
                return Err(S::Error::custom(OUTSIDE_ENCODE));
            };
            let fail = |scope: &mut EncodeScope, error: EncodeError| {
                let text = error.to_string();
                scope.error.get_or_insert(error);
                Err(S::Error::custom(text))
            };
            let Ok(index) = u32::try_from(scope.fds.len()) else {
                return fail(scope, EncodeError::TooManyFds);
            };
            match self.0.try_clone() {
                Ok(dup) => {
                    scope.fds.push(dup);
                    Ok(index)
                }
                Err(e) => fail(scope, EncodeError::DupFd(e)),
            }
        })?;
        serializer.serialize_u32(index)
    }
}

impl<'de> Deserialize<'de> for SharedFd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let index = u32::deserialize(deserializer)?;
        DECODING.with(|cell| {
            let mut slot = cell.borrow_mut();
            let Some(scope) = slot.as_mut() else {
                return Err(D::Error::custom(OUTSIDE_DECODE));
            };
            let count = scope.fds.len();
            let taken = usize::try_from(index)
                .ok()
                .and_then(|i| scope.fds.get_mut(i))
                .map(Option::take);
            let error = match taken {
                Some(Some(fd)) => return Ok(SharedFd(fd)),
                Some(None) => DecodeError::FdReused { index },
                None => DecodeError::FdOutOfRange { index, count },
            };
            let text = error.to_string();
            scope.error.get_or_insert(error);
            Err(D::Error::custom(text))
        })
    }
}

/// The side list installed by [`with_encode_scope`].
#[derive(Default)]
struct EncodeScope {
    fds: Vec<OwnedFd>,
    /// The first `SharedFd` failure, kept because postcard drops the text of
    /// custom errors.
    error: Option<EncodeError>,
}

/// The side list installed by [`with_decode_scope`].
struct DecodeScope {
    fds: Vec<Option<OwnedFd>>,
    /// The first `SharedFd` failure (see [`EncodeScope::error`]).
    error: Option<DecodeError>,
}

thread_local! {
    static ENCODING: RefCell<Option<EncodeScope>> = const { RefCell::new(None) };
    static DECODING: RefCell<Option<DecodeScope>> = const { RefCell::new(None) };
}

/// Restores the previous scope of a thread-local side list when dropped.
struct Restore<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    previous: Option<Option<T>>,
}

impl<T: 'static> Restore<T> {
    /// Installs `scope`, remembering what was there before.
    fn install(key: &'static std::thread::LocalKey<RefCell<Option<T>>>, scope: T) -> Self {
        let previous = key.with(|cell| cell.replace(Some(scope)));
        Self {
            key,
            previous: Some(previous),
        }
    }

    /// Takes the installed scope out and puts the previous one back.
    fn finish(mut self) -> Option<T> {
        let previous = self.previous.take().flatten();
        self.key.with(|cell| cell.replace(previous))
    }
}

impl<T: 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // Unwinding out of `f`: drop our scope (closing its fds), restore.
            let _ours = self.key.with(|cell| cell.replace(previous));
        }
    }
}

/// Runs `f` with a fresh encode side list; returns its result, the fds that
/// `SharedFd`s pushed, and the first `SharedFd` failure if any.
pub(crate) fn with_encode_scope<R>(
    f: impl FnOnce() -> R,
) -> (R, Vec<OwnedFd>, Option<EncodeError>) {
    let guard = Restore::install(&ENCODING, EncodeScope::default());
    let result = f();
    let scope = guard.finish().unwrap_or_default();
    (result, scope.fds, scope.error)
}

/// Runs `f` with `fds` as the decode side list; returns its result and the
/// first `SharedFd` failure if any. Fds no `SharedFd` took are closed.
pub(crate) fn with_decode_scope<R>(
    fds: Vec<OwnedFd>,
    f: impl FnOnce() -> R,
) -> (R, Option<DecodeError>) {
    let scope = DecodeScope {
        fds: fds.into_iter().map(Some).collect(),
        error: None,
    };
    let guard = Restore::install(&DECODING, scope);
    let result = f();
    let error = guard.finish().and_then(|scope| scope.error);
    (result, error)
}
