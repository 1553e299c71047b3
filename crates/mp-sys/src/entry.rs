//! Naming a function so that another process of the same process tree,
//! running the same binary, can call it: an offset from an anchor function,
//! authenticated with a key that only this process tree knows.
//!
//! This is how a `Process` target crosses `exec`: Rust cannot serialize a
//! function, but within one executable every function sits at a fixed offset
//! from every other, whatever address-space randomisation does to the base.
//!
//! # Trust
//! [`EntryPoint::to_parts`] gives `(offset, tag, build-id)`, where the tag is
//! a MAC (SipHash-2-4, 128-bit key) over the offset, the signature's
//! [`TypeId`] and the build-id, under a per-process-tree secret key private to
//! `mp-sys` (created from the OS CSPRNG by the root process, inherited by
//! forked children, handed to spawned children over their private bootstrap
//! channel). Parts that arrive from elsewhere are an [`EntryParts`], which
//! names nothing until [`EntryParts::verify`] has checked the tag; an
//! [`EntryPoint`] exists only when made by [`EntryPoint::of`] in this
//! process or verified that way, so safe code can only call functions that
//! some process of this tree named with `of`. Parts from another program,
//! another process tree or a forger fail with a typed [`EntryError`].
//!
//! # Safety
//! Turning an offset back into a function pointer, and producing the
//! zero-sized callable in the child, need `unsafe`; the argument is spelled
//! out at each block and in the crate's `docs/function-identity.md`.
#![allow(unsafe_code)]

use std::any::{type_name, TypeId};
use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::exe::{binary_id, BinaryId};
use crate::tree_key;

/// The anchor all offsets are measured from.
#[inline(never)]
fn anchor() {
    std::hint::black_box(());
}

/// The function pointer type behind an [`EntryPoint<I, O>`].
pub type EntryFn<I, O> = fn(I) -> O;

/// A callable `fn(I) -> O`, named portably across the processes of one
/// process tree running the same executable.
///
/// Built from a *zero-sized* `Copy + Send + 'static` callable (a `fn` item or
/// a closure that captures nothing, or only zero-sized values), so the
/// callable carries no data that would have to cross: only its code does.
///
/// # Rule for closure targets
/// Another process conjures its own copy of the zero-sized callable. So a
/// closure must capture no value that carries a process-local invariant: a
/// zero-sized "proof token" (say, a witness that some `init()` ran in this
/// process) would be conjured in a process where the proof is false.
///
/// # Invariant
/// Its only constructors are [`EntryPoint::of`] (which measures the offset
/// in this process) and [`EntryParts::verify`] (which checks the tag), so
/// every value names a `fn(I) -> O` of this executable.
pub struct EntryPoint<I, O> {
    offset: i64,
    /// The MAC of the parts; `None` if this process has no tree key.
    tag: Option<u64>,
    binary: BinaryId,
    _marker: PhantomData<fn(I) -> O>,
}

/// An entry point's parts as another process sent them (see
/// [`EntryPoint::to_parts`]): offset, tag, build-id. It names nothing until
/// [`verify`](Self::verify) has checked that this process tree made it for
/// this signature in this executable.
pub struct EntryParts<I, O> {
    offset: i64,
    tag: u64,
    binary: [u8; 20],
    _marker: PhantomData<fn(I) -> O>,
}

impl<I, O> Clone for EntryParts<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, O> Copy for EntryParts<I, O> {}

impl<I, O> fmt::Debug for EntryParts<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryParts")
            .field("offset", &self.offset)
            .field("binary", &BinaryId(self.binary).to_hex())
            .finish_non_exhaustive()
    }
}

impl<I: 'static, O: 'static> EntryParts<I, O> {
    /// Parts received from another process, unchecked.
    pub fn new(offset: i64, tag: u64, binary: [u8; 20]) -> Self {
        EntryParts {
            offset,
            tag,
            binary,
            _marker: PhantomData,
        }
    }

    /// The raw parts: offset, tag, build-id.
    pub fn get(&self) -> (i64, u64, [u8; 20]) {
        (self.offset, self.tag, self.binary)
    }

    /// Checks that these parts were made by [`EntryPoint::of`] in a process
    /// of this tree running this executable, for the signature
    /// `fn(I) -> O`, and returns the entry point they name.
    ///
    /// # Errors
    /// [`EntryError::ForeignBinary`] for another executable's parts,
    /// [`EntryError::NoKey`] if this process has no tree key, and
    /// [`EntryError::Unauthenticated`] when the tag does not verify
    /// (another signature, another process tree, or forged).
    pub fn verify(&self) -> Result<EntryPoint<I, O>, EntryError> {
        let ours = binary_id();
        let binary = BinaryId(self.binary);
        if binary != ours {
            return Err(EntryError::ForeignBinary {
                theirs: binary.to_hex(),
                ours: ours.to_hex(),
            });
        }
        let key = tree_key::get().map_err(|e| EntryError::NoKey {
            reason: e.to_string(),
        })?;
        if tag::<I, O>(key, self.offset, &binary) != self.tag {
            return Err(EntryError::Unauthenticated {
                expected: type_name::<fn(I) -> O>(),
            });
        }
        Ok(EntryPoint {
            offset: self.offset,
            tag: Some(self.tag),
            binary,
            _marker: PhantomData,
        })
    }

    /// [`verify`](Self::verify), then [`EntryPoint::resolve`].
    ///
    /// # Errors
    /// As `verify`.
    pub fn resolve(&self) -> Result<EntryFn<I, O>, EntryError> {
        self.verify()?.resolve()
    }
}

impl<I, O> Clone for EntryPoint<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, O> Copy for EntryPoint<I, O> {}

impl<I, O> fmt::Debug for EntryPoint<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryPoint")
            .field("offset", &self.offset)
            .field("binary", &self.binary.to_hex())
            .finish_non_exhaustive()
    }
}

/// Why an [`EntryPoint`] could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// The entry point was made by a process running a different executable.
    ForeignBinary {
        /// The identity the entry point carries.
        theirs: String,
        /// This process's identity.
        ours: String,
    },
    /// The tag does not verify: the parts were not produced by
    /// [`EntryPoint::to_parts`] in this process tree for this signature
    /// (another signature, another process tree, or forged).
    Unauthenticated {
        /// The signature that was expected, as a type name.
        expected: &'static str,
    },
    /// This process has no process-tree key, because the OS could not
    /// provide entropy when it was created; no entry point can be resolved.
    NoKey {
        /// The OS error met when creating the key.
        reason: String,
    },
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::ForeignBinary { theirs, ours } => write!(
                f,
                "the function was named by a different executable (build {theirs}, this is {ours}); \
                 parent and child must run the same binary"
            ),
            EntryError::Unauthenticated { expected } => write!(
                f,
                "the function reference does not authenticate as a {expected} named by this \
                 process tree (wrong signature, another process tree, or forged)"
            ),
            EntryError::NoKey { reason } => write!(
                f,
                "no process-tree key (the OS gave no entropy: {reason}); functions cannot be \
                 named across processes"
            ),
        }
    }
}

impl std::error::Error for EntryError {}

/// The tag of `(offset, signature, binary)` under the process-tree key.
fn tag<I: 'static, O: 'static>(key: &tree_key::TreeKey, offset: i64, binary: &BinaryId) -> u64 {
    key.mac(|h| {
        h.write(&offset.to_le_bytes());
        // `TypeId` is unique per type (unlike `type_name`) and identical in
        // every process running one build.
        TypeId::of::<fn(I) -> O>().hash(h);
        h.write(&binary.0);
    })
}

thread_local! {
    /// The last tag this thread computed, by offset and signature: a pool
    /// names the same function for every task it submits, and the MAC
    /// would otherwise be computed again each time.
    static LAST_TAG: Cell<Option<(i64, TypeId, u64)>> = const { Cell::new(None) };
}

/// [`tag`], remembering the last one per thread. The key is written once
/// per process (a `OnceLock`) and the build-id is this executable's, so
/// offset and signature decide the tag.
fn cached_tag<I: 'static, O: 'static>(
    key: &tree_key::TreeKey,
    offset: i64,
    binary: &BinaryId,
) -> u64 {
    let signature = TypeId::of::<fn(I) -> O>();
    if let Some((o, t, tag)) = LAST_TAG.with(Cell::get) {
        if o == offset && t == signature {
            return tag;
        }
    }
    let tag = tag::<I, O>(key, offset, binary);
    LAST_TAG.with(|c| c.set(Some((offset, signature, tag))));
    tag
}

/// Calls the zero-sized callable `F` without an instance at hand.
fn call_zst<F, I, O>(input: I) -> O
where
    F: Fn(I) -> O + Copy + Send + 'static,
{
    const { assert!(std::mem::size_of::<F>() == 0) };
    // Why this is sound: [1] `F` is zero-sized (asserted at compile time
    // above), so a value of it has no bytes and reading one through a
    // dangling but aligned pointer reads nothing. [2] This function is
    // reachable only through `EntryPoint::of`, which took an instance of `F`
    // as a witness, so `F` is inhabited; on stable Rust only the compiler
    // implements `Fn`, so `F` is a `fn` item or a closure type, whose only
    // invariants are those of its captures. [3] Those captures are
    // zero-sized `Copy + 'static` values, and the rule documented on
    // `EntryPoint` is that none of them carries a process-local invariant
    // (a proof token of this process's state): making another copy of a
    // witnessed `Copy` value, in this process or another running the same
    // code, then breaks nothing. (`Send` does not argue anything about other
    // processes; it is required so that the target may run on another
    // thread.) This is the "copy a witnessed ZST" case, not conjuring an
    // arbitrary type from nothing (see rust-lang/rust#83995).
    // SAFETY: a copy of a witnessed zero-sized `Copy` value, by [1]–[3].
    let f: F = unsafe { NonNull::<F>::dangling().as_ptr().read() };
    f(input)
}

impl<I: 'static, O: 'static> EntryPoint<I, O> {
    /// Names `f` for other processes of this process tree running this
    /// binary.
    ///
    /// `f` must be zero-sized: a `fn` item, or a closure that captures only
    /// zero-sized values (none carrying a process-local invariant; see the
    /// type's docs). A capturing closure is a compile-time error.
    ///
    /// If this process has no process-tree key (the OS gave no entropy), the
    /// entry point is still made, and [`resolve`](Self::resolve) reports
    /// [`EntryError::NoKey`].
    pub fn of<F>(f: F) -> Self
    where
        F: Fn(I) -> O + Copy + Send + 'static,
    {
        // The backstop of `mp_process::CodeOnly`: a closure whose captures
        // are all `Copy + Send + 'static` passes type checking; this rejects
        // it when the program is built.
        const {
            assert!(
                std::mem::size_of::<F>() == 0,
                "a process target or pool task must be a `fn` item or a closure that captures \
                 nothing (only its code crosses into the child; this closure captures data): \
                 pass the data as arguments, or under the fork start method use \
                 `Process::from_closure`"
            )
        };
        let _witness = f;
        let target = call_zst::<F, I, O> as EntryFn<I, O> as usize;
        let base = anchor as fn() as usize;
        let offset = (target as i64).wrapping_sub(base as i64);
        let binary = binary_id();
        let tag = tree_key::get()
            .ok()
            .map(|key| cached_tag::<I, O>(key, offset, &binary));
        EntryPoint {
            offset,
            tag,
            binary,
            _marker: PhantomData,
        }
    }

    /// The parts to send to another process of this tree: offset, tag
    /// (a MAC under the process-tree key; 0, which never verifies, if this
    /// process has none), binary identity. The receiver rebuilds them with
    /// [`EntryParts::new`] and checks them with [`EntryParts::verify`].
    pub fn to_parts(&self) -> (i64, u64, [u8; 20]) {
        (self.offset, self.tag.unwrap_or(0), self.binary.0)
    }

    /// Turns the entry point into a callable function pointer.
    ///
    /// # Errors
    /// [`EntryError::NoKey`] if it was made by [`of`](Self::of) in a process
    /// without a tree key (the OS gave no entropy): such an entry point
    /// cannot have been checked by anyone, so it is not used either.
    pub fn resolve(&self) -> Result<EntryFn<I, O>, EntryError> {
        if self.tag.is_none() {
            return Err(EntryError::NoKey {
                reason: tree_key::get()
                    .err()
                    .map_or_else(|| "none when it was made".into(), |e| e.to_string()),
            });
        }
        let base = anchor as fn() as usize;
        let addr = (base as i64).wrapping_add(self.offset) as usize;
        // Why this is sound: [1] `self` is an `EntryPoint`, whose fields are
        // private and whose only constructors are `of` and
        // `EntryParts::verify` (the type's invariant). `of::<F>` measured
        // `offset` from `anchor` to `call_zst::<F, I, O>` for a zero-sized
        // `F: Fn(I) -> O`, in this executable (`binary` is ours). `verify`
        // checked the tag under the process-tree key, which never leaves
        // mp-sys except into the bootstrap record of a spawned child of this
        // tree, and the only code that computes a tag is `of`: so some
        // process of this tree ran `of::<F>` and measured that offset (a
        // forgery succeeds with probability 2^-64 per attempt, the strength
        // of a 64-bit MAC). [2] The tag covers the signature's `TypeId`, so
        // that instantiation has type `fn(I) -> O`. [3] The tag covers the
        // build-id, which `verify` matched against ours, and a single
        // executable is mapped with one load bias, so `anchor + offset` is
        // that function's address in this process too.
        // SAFETY: `addr` is a `fn(I) -> O` of this executable, by [1]–[3].
        Ok(unsafe { std::mem::transmute::<usize, EntryFn<I, O>>(addr) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u32) -> u32 {
        x * 2
    }

    #[test]
    fn round_trip_fn_item_and_closure() {
        let e = EntryPoint::of(double);
        let (o, s, b) = e.to_parts();
        let f = EntryParts::<u32, u32>::new(o, s, b).resolve().unwrap();
        assert_eq!(f(21), 42);
        let e = EntryPoint::of(|s: String| s.len());
        assert_eq!(e.resolve().unwrap()("abc".to_string()), 3);
    }

    #[test]
    fn rejects_foreign_binary_and_signature() {
        let (o, s, mut b) = EntryPoint::of(double).to_parts();
        b[0] ^= 1;
        let err = EntryParts::<u32, u32>::new(o, s, b).resolve().unwrap_err();
        assert!(matches!(err, EntryError::ForeignBinary { .. }));
        assert!(err.to_string().contains("different executable"));
        let (o, s, b) = EntryPoint::of(double).to_parts();
        let err = EntryParts::<u64, u32>::new(o, s, b).resolve().unwrap_err();
        assert!(matches!(err, EntryError::Unauthenticated { .. }));
    }

    fn triple(x: u32) -> u32 {
        x * 3
    }

    #[test]
    fn rejects_a_chosen_offset_and_a_guessed_tag() {
        // The offset of another function of the same signature, with the
        // tag of `double`: the tag binds the offset.
        let (_, tag, b) = EntryPoint::of(double).to_parts();
        let (other, _, _) = EntryPoint::of(triple).to_parts();
        let err = EntryParts::<u32, u32>::new(other, tag, b)
            .resolve()
            .unwrap_err();
        assert!(matches!(err, EntryError::Unauthenticated { .. }));
        assert!(err.to_string().contains("forged"));
        // Any tag bit flipped.
        let (o, tag, b) = EntryPoint::of(double).to_parts();
        for bit in 0..64 {
            let e = EntryParts::<u32, u32>::new(o, tag ^ (1 << bit), b);
            assert!(e.resolve().is_err(), "bit {bit}");
        }
    }

    #[test]
    fn debug_shows_no_tag() {
        let (_, tag, _) = EntryPoint::of(double).to_parts();
        let text = format!("{:?}", EntryPoint::of(double));
        assert!(!text.contains(&tag.to_string()) && !text.contains(&format!("{tag:x}")));
    }
}
