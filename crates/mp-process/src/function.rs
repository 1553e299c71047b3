//! A function as data: [`Function<Args, R>`] names a `fn` item or a
//! non-capturing closure so that it can go through a queue or a pipe to
//! another process of this process tree and be called there (Python puts
//! `(function, args)` pairs through queues; `mp_workers.py`).
//!
//! The handle is the same [`EntryPoint`] a process target travels as: an
//! offset in the executable, its build-id and a tag under the process-tree
//! key. Deserializing accepts any bytes; [`Function::call`] calls nothing
//! unless the tag verifies for this signature, so input from outside the
//! process tree can never choose a code address (`docs/function-identity.md`).

use std::fmt;
use std::marker::PhantomData;

use mp_sys::entry::{EntryError, EntryParts, EntryPoint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::target::{CodeOnly, TupleFn};

/// A serializable handle to a function called with the argument tuple
/// `Args` and returning `R`: Python's picklable module-level function.
///
/// Built with [`Function::new`] from a `fn` item or a closure that captures
/// nothing (the [`CodeOnly`] rule of process targets). It serializes to its
/// name in the executable, authenticated with the process-tree key, and can
/// be called in any process of this tree running the same binary. A handle
/// that was not made by this process tree for this exact signature — from
/// another program, edited on the way, or deserialized as another
/// `Function<Args2, R2>` — fails with a [`FunctionError`] and calls nothing.
///
/// ```
/// use mp_process::Function;
///
/// fn mul(a: i64, b: i64) -> i64 {
///     a * b
/// }
///
/// let f = Function::new(mul);
/// let bytes = mp_wire::encode(&f).unwrap();
/// let g: Function<(i64, i64), i64> = mp_wire::decode(bytes).unwrap();
/// assert_eq!(g.call((6, 7)).unwrap(), 42);
/// ```
pub struct Function<Args, R> {
    /// The parts of the entry point, checked at each resolve (a handle
    /// may come from another process).
    entry: EntryParts<Args, R>,
    _marker: PhantomData<fn(Args) -> R>,
}

/// Why a [`Function`] could not be called: its name did not resolve to a
/// function of this program, so nothing was called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The handle was made by a different executable.
    #[error("function handle from another executable (build {theirs}, this is {ours})")]
    ForeignBinary {
        /// The build the handle names.
        theirs: String,
        /// This process's build.
        ours: String,
    },
    /// The handle's tag does not verify: it was not made in this process
    /// tree for this signature (another signature, another process tree, or
    /// forged or edited bytes).
    #[error(
        "function handle does not authenticate as a `{expected}` of this process tree \
         (wrong signature, another process tree, or forged)"
    )]
    Unauthenticated {
        /// The signature that was expected, as a type name.
        expected: &'static str,
    },
    /// This process has no process-tree key (the OS gave no entropy), so no
    /// handle can be resolved.
    #[error("no process-tree key, function handles cannot be resolved: {reason}")]
    NoKey {
        /// The OS error met when creating the key.
        reason: String,
    },
}

impl From<EntryError> for FunctionError {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::ForeignBinary { theirs, ours } => {
                FunctionError::ForeignBinary { theirs, ours }
            }
            EntryError::Unauthenticated { expected } => FunctionError::Unauthenticated { expected },
            EntryError::NoKey { reason } => FunctionError::NoKey { reason },
        }
    }
}

impl<Args: 'static, R: 'static> Function<Args, R> {
    /// Names `f`, a `fn` item or a closure that captures nothing, taking the
    /// arguments `Args` as a tuple (`(x,)` for one, `()` for none).
    ///
    /// A capturing closure is rejected at compile time, as for a process
    /// target (see [`CodeOnly`]).
    pub fn new<F>(f: F) -> Self
    where
        F: TupleFn<Args, Output = R> + CodeOnly,
    {
        // `f` is zero-sized (asserted by `EntryPoint::of` on this closure,
        // which captures only `f`), so only its code is named.
        Function {
            entry: {
                let (offset, tag, binary) =
                    EntryPoint::of(move |args: Args| f.call(args)).to_parts();
                EntryParts::new(offset, tag, binary)
            },
            _marker: PhantomData,
        }
    }

    /// Calls the function with the unpacked arguments (Python's
    /// `func(*args)`), after checking that the handle names a function of
    /// this program with this signature.
    pub fn call(&self, args: Args) -> Result<R, FunctionError> {
        let f = self.resolve()?;
        Ok(f(args))
    }

    /// Checks the handle and returns the function pointer that
    /// [`call`](Self::call) would call (the check made once, for calling many
    /// times).
    pub fn resolve(&self) -> Result<fn(Args) -> R, FunctionError> {
        Ok(self.entry.resolve()?)
    }
}

impl<Args, R> Clone for Function<Args, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Args, R> Copy for Function<Args, R> {}

impl<Args, R> fmt::Debug for Function<Args, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("signature", &std::any::type_name::<fn(Args) -> R>())
            .field("entry", &self.entry)
            .finish()
    }
}

/// The wire form: the entry point's parts (offset, tag, build-id).
#[derive(Serialize, Deserialize)]
struct Parts(i64, u64, [u8; 20]);

impl<Args: 'static, R: 'static> Serialize for Function<Args, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (offset, tag, binary) = self.entry.get();
        Parts(offset, tag, binary).serialize(serializer)
    }
}

impl<'de, Args: 'static, R: 'static> Deserialize<'de> for Function<Args, R> {
    /// Accepts any parts: nothing is trusted until [`Function::call`]
    /// verifies them.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Parts(offset, tag, binary) = Parts::deserialize(deserializer)?;
        Ok(Function {
            entry: EntryParts::new(offset, tag, binary),
            _marker: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: u32, b: u32) -> u32 {
        a + b
    }

    fn sub(a: u32, b: u32) -> u32 {
        a - b
    }

    fn round_trip<A: 'static, R: 'static, B: 'static, S: 'static>(
        f: &Function<A, R>,
    ) -> Function<B, S> {
        mp_wire::decode(mp_wire::encode(f).unwrap()).unwrap()
    }

    #[test]
    fn calls_after_a_round_trip() {
        let f = Function::new(add);
        assert_eq!(f.call((2, 3)), Ok(5));
        let g: Function<(u32, u32), u32> = round_trip(&f);
        assert_eq!(g.call((40, 2)), Ok(42));
        let h = Function::new(|| "hi");
        assert_eq!(h.call(()), Ok("hi"));
        let one = Function::new(|s: String| s.len());
        assert_eq!(
            round_trip::<_, _, (String,), usize>(&one).call(("abc".into(),)),
            Ok(3)
        );
    }

    #[test]
    fn another_signature_is_refused() {
        let f = Function::new(add);
        let g: Function<(u64, u64), u64> = round_trip(&f);
        assert!(matches!(
            g.call((1, 2)),
            Err(FunctionError::Unauthenticated { .. })
        ));
    }

    #[test]
    fn edited_parts_are_refused() {
        let f = Function::new(add);
        let (offset, tag, binary) = f.entry.get();
        // Point it at another function of the same signature, keeping the tag.
        let other = Function::new(sub).entry.get().0;
        assert_ne!(offset, other);
        let forged = Function::<(u32, u32), u32> {
            entry: EntryParts::new(other, tag, binary),
            _marker: PhantomData,
        };
        assert!(matches!(
            forged.call((5, 1)),
            Err(FunctionError::Unauthenticated { .. })
        ));
        let mut foreign = binary;
        foreign[0] ^= 1;
        let forged = Function::<(u32, u32), u32> {
            entry: EntryParts::new(offset, tag, foreign),
            _marker: PhantomData,
        };
        assert!(matches!(
            forged.call((5, 1)),
            Err(FunctionError::ForeignBinary { .. })
        ));
    }
}
