//! Naming a function so that another process running the same binary can
//! call it: an offset from an anchor function, validated by the binary's
//! identity and the function's signature.
//!
//! This is how a `Process` target crosses `exec`: Rust cannot serialize a
//! function, but within one executable every function sits at a fixed offset
//! from every other, whatever address-space randomisation does to the base.
//!
//! # Safety
//! Turning an offset back into a function pointer, and producing the
//! zero-sized callable in the child, need `unsafe`; the argument is spelled
//! out at each block and in the crate's `docs/function-identity.md`.
#![allow(unsafe_code)]

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::exe::{binary_id, BinaryId};

/// The anchor all offsets are measured from.
#[inline(never)]
fn anchor() {
    std::hint::black_box(());
}

/// The function pointer type behind an [`EntryPoint<I, O>`].
pub type EntryFn<I, O> = fn(I) -> O;

/// A callable `fn(I) -> O`, named portably across processes running the same
/// executable.
///
/// Built from a *zero-sized* `Copy + Send + 'static` callable (a `fn` item or
/// a closure that captures nothing zero-sized), so the callable carries no
/// data that would have to cross: only its code does.
pub struct EntryPoint<I, O> {
    offset: i64,
    signature: u64,
    binary: BinaryId,
    _marker: PhantomData<fn(I) -> O>,
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
            .field("signature", &format_args!("{:016x}", self.signature))
            .field("binary", &self.binary.to_hex())
            .finish()
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
    /// The entry point has a different signature than the one expected.
    SignatureMismatch {
        /// The signature that was expected, as a type name.
        expected: &'static str,
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
            EntryError::SignatureMismatch { expected } => {
                write!(f, "the function does not have the expected signature {expected}")
            }
        }
    }
}

impl std::error::Error for EntryError {}

/// A stable hash (FNV-1a) of the signature's type name: equal in every
/// process running the same binary.
fn signature_hash<I, O>() -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in type_name::<fn(I) -> O>().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Calls the zero-sized callable `F` without an instance at hand.
fn call_zst<F, I, O>(input: I) -> O
where
    F: Fn(I) -> O + Copy + Send + 'static,
{
    const { assert!(std::mem::size_of::<F>() == 0) };
    // Why this is sound: [1] `F` is zero-sized (asserted at compile time above), so a
    // value of it has no bytes and reading one through a dangling but aligned
    // pointer reads nothing. [2] `F: Copy + Send + 'static`, and this function
    // is reachable only through `EntryPoint::of`, which took an instance of
    // `F` as a witness: making another value of a `Copy` type whose instance
    // exists is what `Copy` permits, `Send` lets it be used in another thread
    // or process, and `'static` means it borrows nothing that could be gone.
    // This is the "copy a witnessed ZST" case, not conjuring an arbitrary
    // type from nothing (see rust-lang/rust#83995).
    // SAFETY: a copy of a witnessed zero-sized `Copy` value, by [1] and [2].
    let f: F = unsafe { NonNull::<F>::dangling().as_ptr().read() };
    f(input)
}

impl<I: 'static, O: 'static> EntryPoint<I, O> {
    /// Names `f` for other processes running this binary.
    ///
    /// `f` must be zero-sized: a `fn` item, or a closure that captures only
    /// zero-sized values. A capturing closure is a compile-time error.
    pub fn of<F>(f: F) -> Self
    where
        F: Fn(I) -> O + Copy + Send + 'static,
    {
        const { assert!(std::mem::size_of::<F>() == 0) };
        let _witness = f;
        let target = call_zst::<F, I, O> as EntryFn<I, O> as usize;
        let base = anchor as fn() as usize;
        EntryPoint {
            offset: (target as i64).wrapping_sub(base as i64),
            signature: signature_hash::<I, O>(),
            binary: binary_id(),
            _marker: PhantomData,
        }
    }

    /// The parts to serialize: offset, signature hash, binary identity.
    pub fn to_parts(&self) -> (i64, u64, [u8; 20]) {
        (self.offset, self.signature, self.binary.0)
    }

    /// Rebuilds an entry point from [`to_parts`](Self::to_parts); nothing is
    /// trusted until [`resolve`](Self::resolve) checks it.
    pub fn from_parts(offset: i64, signature: u64, binary: [u8; 20]) -> Self {
        EntryPoint {
            offset,
            signature,
            binary: BinaryId(binary),
            _marker: PhantomData,
        }
    }

    /// Turns the entry point into a callable function pointer, after checking
    /// that it was made by this same executable with this same signature.
    ///
    /// Trust model: entry points arrive over a process's private bootstrap
    /// channel (an inherited socket or memory copied by `fork`) or over a
    /// connection authenticated with the authkey; the checks catch another
    /// program or signature, not a forged offset (see
    /// docs/function-identity.md).
    pub fn resolve(&self) -> Result<EntryFn<I, O>, EntryError> {
        let ours = binary_id();
        if self.binary != ours {
            return Err(EntryError::ForeignBinary {
                theirs: self.binary.to_hex(),
                ours: ours.to_hex(),
            });
        }
        if self.signature != signature_hash::<I, O>() {
            return Err(EntryError::SignatureMismatch {
                expected: type_name::<fn(I) -> O>(),
            });
        }
        let base = anchor as fn() as usize;
        let addr = (base as i64).wrapping_add(self.offset) as usize;
        // Why this is sound: the executable is the one that computed `offset` (its
        // identity matched above), and a single executable is mapped with one
        // load bias, so `anchor + offset` is the address of the same
        // `call_zst::<F, I, O>` instantiation that `of` measured; its type is
        // `fn(I) -> O` (the signature hash matched, and `of` is the only
        // constructor with that hash besides `from_parts`).
        // SAFETY: same executable and signature, as argued just above.
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
        let f = EntryPoint::<u32, u32>::from_parts(o, s, b)
            .resolve()
            .unwrap();
        assert_eq!(f(21), 42);
        let e = EntryPoint::of(|s: String| s.len());
        assert_eq!(e.resolve().unwrap()("abc".to_string()), 3);
    }

    #[test]
    fn rejects_foreign_binary_and_signature() {
        let (o, s, mut b) = EntryPoint::of(double).to_parts();
        b[0] ^= 1;
        let err = EntryPoint::<u32, u32>::from_parts(o, s, b)
            .resolve()
            .unwrap_err();
        assert!(matches!(err, EntryError::ForeignBinary { .. }));
        assert!(err.to_string().contains("different executable"));
        let (o, s, b) = EntryPoint::of(double).to_parts();
        let err = EntryPoint::<u64, u32>::from_parts(o, s, b)
            .resolve()
            .unwrap_err();
        assert!(matches!(err, EntryError::SignatureMismatch { .. }));
    }
}
