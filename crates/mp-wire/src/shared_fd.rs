//! [`SharedFd`]: an fd that can be a field of any serde type, and the
//! thread-local side lists through which it travels out of band.
//!
//! [`encode`](crate::encode) opens a scope for the duration of the call;
//! serializing a `SharedFd` pushes a duplicate of its fd onto the innermost
//! scope's side list and writes only the index (a `u32`) into the bytes.
//! [`decode`](crate::decode) opens a scope holding the message's fds;
//! deserializing a `SharedFd` reads the index and takes that fd out of the
//! innermost scope's list (each index at most once). Scopes nest: an
//! `encode` called from inside a `Serialize` impl gets its own list, and the
//! outer one is the innermost again afterwards, even if the inner call
//! panics.
//!
//! Most values carry no fd: a scope gets a list only when it has fds
//! (decode) or a `SharedFd` is serialized in it (encode), so opening and
//! closing one is two reads and two writes of a thread-local `Cell`.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

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

// As a newtype (named `SHARED_FD`) around its index, which postcard writes
// as the bare index: the fd is pushed onto the encode scope's list inside
// the newtype, so that the top of an encode (`serializer::top`) has opened
// the scope for it first.
impl Serialize for SharedFd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(SHARED_FD, &FdIndex(&self.0))
    }
}

/// A [`SharedFd`]'s index in the innermost encode scope, its fd pushed
/// there as the index is serialized.
struct FdIndex<'a>(&'a OwnedFd);

impl Serialize for FdIndex<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = EncodeScope::with_innermost(|scope| {
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
        });
        serializer.serialize_u32(index.unwrap_or_else(|| Err(S::Error::custom(OUTSIDE_ENCODE)))?)
    }
}

/// The name a [`SharedFd`] is written and read under: a newtype around its
/// index, which postcard writes and reads as the bare index. The
/// name tells the decoders that it takes an fd from the decode scope: the
/// top of a decode (`top`) sends it down the path that opens one, and the
/// depth limit (`depth`) does not count it as a level. (A derived type's
/// name has no `::`; only a hand-written `Deserialize` could ask for it.)
pub(crate) const SHARED_FD: &str = "mp_wire::SharedFd";

/// Reads a [`SharedFd`]: its index, then the fd of that index in the
/// innermost decode scope, while the decoder that opened the scope is
/// still reading (the top of a decode opens one only for the value it
/// reads through the full path, so the fd must be taken in there).
struct FdVisitor;

impl FdVisitor {
    /// The fd of `index` in the innermost decode scope.
    fn take<E: serde::de::Error>(index: u32) -> Result<SharedFd, E> {
        let fd = DecodeScope::with_innermost(|scope| {
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
            Err(E::custom(text))
        });
        fd.unwrap_or_else(|| Err(E::custom(OUTSIDE_DECODE)))
    }
}

impl<'de> serde::de::Visitor<'de> for FdVisitor {
    type Value = SharedFd;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the index of an fd")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<SharedFd, D::Error> {
        Self::take(u32::deserialize(d)?)
    }

    // A self-describing format may hand the index over bare.
    fn visit_u32<E: serde::de::Error>(self, index: u32) -> Result<SharedFd, E> {
        Self::take(index)
    }

    fn visit_u64<E: serde::de::Error>(self, index: u64) -> Result<SharedFd, E> {
        let index = u32::try_from(index).map_err(|_| E::custom("an fd index past u32"))?;
        Self::take(index)
    }
}

impl<'de> Deserialize<'de> for SharedFd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(SHARED_FD, FdVisitor)
    }
}

/// The side list of an encode scope in which a `SharedFd` was serialized.
#[derive(Default)]
struct EncodeScope {
    fds: Vec<OwnedFd>,
    /// The first `SharedFd` failure, kept because postcard drops the text of
    /// custom errors.
    error: Option<EncodeError>,
}

/// The side list of a decode scope: the message's fds, or an empty list
/// made when a `SharedFd` was deserialized in a scope without fds.
#[derive(Default)]
struct DecodeScope {
    fds: Vec<Option<OwnedFd>>,
    /// The first `SharedFd` failure (see [`EncodeScope::error`]).
    error: Option<DecodeError>,
}

/// How many scopes of one kind are open on this thread, and which of them
/// has the innermost side list.
#[derive(Debug, Clone, Copy)]
struct Open {
    /// Scopes open: the innermost one's depth (0: none).
    depth: u32,
    /// Depth of the innermost scope that has a side list (0: none).
    listed: u32,
}

thread_local! {
    static ENCODE_OPEN: Cell<Open> = const { Cell::new(Open { depth: 0, listed: 0 }) };
    static ENCODE_LISTS: RefCell<Vec<(u32, EncodeScope)>> = const { RefCell::new(Vec::new()) };
    static DECODE_OPEN: Cell<Open> = const { Cell::new(Open { depth: 0, listed: 0 }) };
    static DECODE_LISTS: RefCell<Vec<(u32, DecodeScope)>> = const { RefCell::new(Vec::new()) };
}

/// A kind of scope (encode or decode) and where its thread-local state
/// is: a count in a `Cell` (reached directly: no destructor to register)
/// and the side lists, innermost last, each with its scope's depth.
trait SideList: Default + Sized + 'static {
    /// Runs `f` on this thread's count of open scopes.
    fn open_count<R>(f: impl FnOnce(&Cell<Open>) -> R) -> R;
    /// Runs `f` on this thread's side lists.
    fn lists<R>(f: impl FnOnce(&mut Vec<(u32, Self)>) -> R) -> R;

    /// Opens a scope, with `list` as its side list if given.
    #[inline]
    fn open(list: Option<Self>) -> Opened<Self> {
        let mut open = Self::open_count(Cell::get);
        open.depth += 1;
        if let Some(list) = list {
            Self::lists(|l| l.push((open.depth, list)));
            open.listed = open.depth;
        }
        Self::open_count(|c| c.set(open));
        Opened {
            depth: open.depth,
            closed: false,
            kind: PhantomData,
        }
    }

    /// Closes the innermost scope, at `depth`; returns its side list.
    #[inline]
    fn close(depth: u32) -> Option<Self> {
        let mut open = Self::open_count(Cell::get);
        debug_assert_eq!(open.depth, depth, "scopes close innermost first");
        open.depth = depth - 1;
        let list = if open.listed == depth {
            Self::lists(|l| {
                let list = l.pop().map(|(_, list)| list);
                open.listed = l.last().map_or(0, |&(d, _)| d);
                list
            })
        } else {
            None
        };
        Self::open_count(|c| c.set(open));
        list
    }

    /// Runs `f` on the innermost scope's side list (an empty one is made
    /// if it has none); `None` outside every scope.
    fn with_innermost<R>(f: impl FnOnce(&mut Self) -> R) -> Option<R> {
        let mut open = Self::open_count(Cell::get);
        if open.depth == 0 {
            return None;
        }
        Self::lists(|l| {
            if open.listed != open.depth {
                l.push((open.depth, Self::default()));
                open.listed = open.depth;
                Self::open_count(|c| c.set(open));
            }
            l.last_mut().map(|(_, list)| f(list))
        })
    }
}

impl SideList for EncodeScope {
    #[inline]
    fn open_count<R>(f: impl FnOnce(&Cell<Open>) -> R) -> R {
        ENCODE_OPEN.with(f)
    }
    fn lists<R>(f: impl FnOnce(&mut Vec<(u32, Self)>) -> R) -> R {
        ENCODE_LISTS.with_borrow_mut(f)
    }
}

impl SideList for DecodeScope {
    #[inline]
    fn open_count<R>(f: impl FnOnce(&Cell<Open>) -> R) -> R {
        DECODE_OPEN.with(f)
    }
    fn lists<R>(f: impl FnOnce(&mut Vec<(u32, Self)>) -> R) -> R {
        DECODE_LISTS.with_borrow_mut(f)
    }
}

/// An open scope; closes it when dropped (unwinding out of the scope's
/// body drops its side list, closing its fds).
struct Opened<T: SideList> {
    depth: u32,
    closed: bool,
    kind: PhantomData<T>,
}

impl<T: SideList> Opened<T> {
    /// Closes the scope; returns its side list, if it got one.
    #[inline]
    fn finish(mut self) -> Option<T> {
        self.closed = true;
        T::close(self.depth)
    }
}

impl<T: SideList> Drop for Opened<T> {
    #[inline]
    fn drop(&mut self) {
        if !self.closed {
            drop(T::close(self.depth));
        }
    }
}

/// An encode scope opened when the value turns out to have parts (see
/// `serializer::top`), or never; closed by [`finish`](Self::finish), or
/// by its drop if the encode unwinds.
pub(crate) struct LazyEncodeScope(Option<Opened<EncodeScope>>);

impl LazyEncodeScope {
    /// No scope yet.
    #[inline]
    pub(crate) fn new() -> Self {
        LazyEncodeScope(None)
    }

    /// Opens the scope if it is not open yet.
    #[inline]
    pub(crate) fn open(&mut self) {
        if self.0.is_none() {
            #[cfg(test)]
            SCOPES_OPENED.with(|n| n.set(n.get() + 1));
            self.0 = Some(EncodeScope::open(None));
        }
    }

    /// Closes the scope, if it was opened: the fds that `SharedFd`s pushed
    /// and the first `SharedFd` failure, if any.
    #[inline]
    pub(crate) fn finish(self) -> (Vec<OwnedFd>, Option<EncodeError>) {
        match self.0 {
            None => (Vec::new(), None),
            Some(scope) => {
                let list = scope.finish().unwrap_or_default();
                (list.fds, list.error)
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: how many scopes [`LazyEncodeScope::open`] opened on this
    /// thread.
    pub(crate) static SCOPES_OPENED: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` in a fresh encode scope; returns its result, the fds that
/// `SharedFd`s pushed, and the first `SharedFd` failure if any.
///
/// Inlined: the tuple returned through memory cost every small encode a
/// store-forwarding stall (the caller reloads it with other widths).
#[inline]
pub(crate) fn with_encode_scope<R>(
    f: impl FnOnce() -> R,
) -> (R, Vec<OwnedFd>, Option<EncodeError>) {
    let mut scope = LazyEncodeScope::new();
    scope.open();
    let result = f();
    let (fds, error) = scope.finish();
    (result, fds, error)
}

/// Runs `f` in a decode scope whose side list is `fds`; returns its result
/// and the first `SharedFd` failure if any. Fds no `SharedFd` took are
/// closed. Inlined as [`with_encode_scope`].
#[inline]
pub(crate) fn with_decode_scope<R>(
    fds: Vec<OwnedFd>,
    f: impl FnOnce() -> R,
) -> (R, Option<DecodeError>) {
    let list = (!fds.is_empty()).then(|| DecodeScope {
        fds: fds.into_iter().map(Some).collect(),
        error: None,
    });
    let scope = DecodeScope::open(list);
    let result = f();
    let error = scope.finish().and_then(|list| list.error);
    (result, error)
}
