//! Chunks of plain numbers travel as their bytes. A chunk of `u64`s (or any
//! integer or float type, or a one-tuple of one: an `apply`'s arguments
//! `(x,)`) is the most common `map` there is, and postcard
//! writes it one varint at a time: encoding and decoding the inputs and the
//! outputs were four passes of about 2 ns per item, more than half of what a
//! `Pool(2).map` of `x * 2` cost (measured, `perf record` of M4a). Packed,
//! a chunk is its items' little-endian bytes, written and read in one
//! vectorizable loop.
//!
//! Both ends choose the form by the element type, which the parent and the
//! worker know alike (the worker's trampoline is instantiated for it), so
//! nothing on the wire says which form a chunk of inputs is in. Outputs
//! carry a tag, [`PACKED_DONE`], in the place of `ChunkOutput`'s variant
//! index, because a chunk whose tasks failed stays in postcard's form.

use std::any::{Any, TypeId};

/// The first byte of a worker's reply holding a packed
/// `ChunkOutput::Done`: a variant index postcard never writes for
/// `ChunkOutput` (it has three variants).
pub(crate) const PACKED_DONE: u8 = 3;

/// A number that travels packed: its little-endian bytes.
trait Number: Copy + 'static {
    /// Bytes per item.
    const SIZE: usize;
    /// Writes the item into `dst` (`SIZE` bytes).
    fn put(self, dst: &mut [u8]);
    /// Reads an item from `src` (`SIZE` bytes).
    fn get(src: &[u8]) -> Self;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn put(self, dst: &mut [u8]) {
                dst.copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn get(src: &[u8]) -> Self {
                let mut bytes = [0u8; std::mem::size_of::<$t>()];
                bytes.copy_from_slice(src);
                <$t>::from_le_bytes(bytes)
            }
        }
    )*};
}

numbers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// A one-tuple of a number (an `apply`'s usual arguments, `(x,)`) travels
/// as the number does: postcard writes `(x,)` as it writes `x`, so the
/// packed form is its bytes too.
macro_rules! one_tuples {
    ($($t:ty),*) => {$(
        impl Number for ($t,) {
            const SIZE: usize = <$t as Number>::SIZE;
            #[inline(always)]
            fn put(self, dst: &mut [u8]) {
                self.0.put(dst);
            }
            #[inline(always)]
            fn get(src: &[u8]) -> Self {
                (<$t as Number>::get(src),)
            }
        }
    )*};
}

one_tuples!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// Calls `$call::<T, N>($args)` for the packed type `N` that is `T`;
/// `None` if `T` is none of them (the type ids are compared at compile
/// time: each caller compiles to its one branch).
macro_rules! dispatch {
    ($t:ty, $call:ident $args:tt) => {
        dispatch!(@ $t, $call $args;
            u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64,
            (u8,), (u16,), (u32,), (u64,), (u128,), (usize,), (i8,), (i16,), (i32,),
            (i64,), (i128,), (isize,), (f32,), (f64,))
    };
    (@ $t:ty, $call:ident $args:tt; $($n:ty),*) => {{
        let id = TypeId::of::<$t>();
        'found: {
            $(
                if id == TypeId::of::<$n>() {
                    break 'found Some($call::<$t, $n> $args);
                }
            )*
            None
        }
    }};
}

/// Whether `T` travels packed (a chunk of it is its items' bytes).
pub(crate) fn travels_packed<T: 'static>() -> bool {
    dispatch!(T, packs_as()).is_some()
}

/// [`travels_packed`]'s probe: `T` is `N`.
fn packs_as<T: 'static, N: Number>() {}

/// Appends the packed form of `items` to `out`; `false` (nothing appended)
/// if `T` does not travel packed.
pub(crate) fn pack<T: 'static>(items: &[T], out: &mut Vec<u8>) -> bool {
    dispatch!(T, pack_as(items, out)).is_some()
}

/// Appends the items `bytes` holds packed to `out`; `None` if `T` does not
/// travel packed, an error (nothing appended) if `bytes` is not a whole
/// number of items.
pub(crate) fn unpack<T: 'static>(bytes: &[u8], out: &mut Vec<T>) -> Option<Result<(), String>> {
    dispatch!(T, unpack_as(bytes, out))
}

/// The one item `bytes` holds packed (an `apply`'s result, without a
/// vector to put it in); `None` if `T` does not travel packed or `bytes` is
/// not exactly one item (then [`unpack`] says what is wrong).
pub(crate) fn unpack_one<T: 'static>(bytes: &[u8]) -> Option<T> {
    dispatch!(T, unpack_one_as(bytes)).flatten()
}

/// [`unpack_one`] for `T`, which is `N`.
fn unpack_one_as<T: 'static, N: Number>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != N::SIZE {
        return None;
    }
    // `T` is `N` (the caller compared their type ids), so the cast always
    // succeeds; it compiles to nothing.
    let mut item = Some(N::get(bytes));
    (&mut item as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

/// [`pack`] for `T`, which is `N`.
fn pack_as<T: 'static, N: Number>(items: &[T], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + items.len() * N::SIZE, 0);
    for (dst, item) in out[start..].chunks_exact_mut(N::SIZE).zip(items) {
        // `T` is `N` (the caller compared their type ids), so the cast
        // always succeeds; it compiles to nothing.
        if let Some(n) = (item as &dyn Any).downcast_ref::<N>() {
            n.put(dst);
        }
    }
}

/// [`unpack`] for `T`, which is `N`.
#[allow(clippy::ptr_arg)] // `out` is downcast to the `Vec<N>` it is, to grow
fn unpack_as<T: 'static, N: Number>(bytes: &[u8], out: &mut Vec<T>) -> Result<(), String> {
    if !bytes.len().is_multiple_of(N::SIZE) {
        return Err(format!(
            "{} bytes are not a whole number of {}-byte items",
            bytes.len(),
            N::SIZE
        ));
    }
    // `T` is `N` (the caller compared their type ids).
    let Some(out) = (out as &mut dyn Any).downcast_mut::<Vec<N>>() else {
        return Err("a packed chunk's element type changed".to_string());
    };
    out.extend(bytes.chunks_exact(N::SIZE).map(N::get));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: 'static + Copy + PartialEq + std::fmt::Debug>(items: &[T]) {
        let mut bytes = vec![9];
        assert!(pack(items, &mut bytes));
        assert_eq!(bytes.len(), 1 + std::mem::size_of_val(items));
        let mut back = Vec::new();
        unpack::<T>(&bytes[1..], &mut back).unwrap().unwrap();
        assert_eq!(back, items);
    }

    #[test]
    fn numbers_round_trip() {
        round_trip(&[0u64, 1, 127, 128, u64::MAX]);
        round_trip(&[i32::MIN, -1, 0, i32::MAX]);
        round_trip(&[0.5f64, -0.0, f64::INFINITY, f64::MIN_POSITIVE]);
        round_trip(&[1.5f32]);
        round_trip(&[u128::MAX, 3]);
        round_trip(&[usize::MAX, 0]);
        round_trip::<u8>(&[]);
        round_trip(&[(7u64,), (u64::MAX,)]);
        round_trip(&[(-1.5f32,)]);
    }

    #[test]
    fn a_one_tuple_packs_as_its_number_and_postcard_agrees_on_the_value() {
        let (mut tuple, mut number) = (Vec::new(), Vec::new());
        assert!(pack(&[(300u32,)], &mut tuple));
        assert!(pack(&[300u32], &mut number));
        assert_eq!(tuple, number);
        assert_eq!(unpack_one::<(u32,)>(&tuple), Some((300,)));
        // Postcard, the other form, writes `(x,)` as `x` as well.
        assert_eq!(
            mp_wire::encode(&(300u32,)).unwrap().bytes,
            mp_wire::encode(&300u32).unwrap().bytes
        );
    }

    #[test]
    fn one_item_unpacks_without_a_vector() {
        let mut bytes = Vec::new();
        assert!(pack(&[-7i64], &mut bytes));
        assert_eq!(unpack_one::<i64>(&bytes), Some(-7));
        assert_eq!(unpack_one::<f32>(&1.5f32.to_le_bytes()), Some(1.5));
        // Not exactly one item, or not a packed type: the caller decodes
        // the general way (which reports what is wrong).
        assert_eq!(unpack_one::<i64>(&bytes[..7]), None);
        assert_eq!(unpack_one::<u32>(&[0; 8]), None);
        assert_eq!(unpack_one::<String>(&[0; 8]), None);
    }

    #[test]
    fn little_endian_bytes() {
        let mut bytes = Vec::new();
        assert!(pack(&[0x0102u16, 0x0304], &mut bytes));
        assert_eq!(bytes, [2, 1, 4, 3]);
    }

    #[test]
    fn other_types_are_not_packed() {
        let mut bytes = Vec::new();
        assert!(!pack(&["x".to_string()], &mut bytes));
        assert!(!pack(&[(1u64, 2u64)], &mut bytes));
        assert!(!pack(&[((1u64,),)], &mut bytes));
        assert!(!pack(&[true], &mut bytes));
        assert!(bytes.is_empty());
        assert!(unpack::<String>(&[1, 2], &mut Vec::new()).is_none());
    }

    #[test]
    fn a_ragged_length_is_an_error() {
        let mut out: Vec<u32> = vec![7];
        let e = unpack::<u32>(&[1, 2, 3, 4, 5], &mut out)
            .unwrap()
            .unwrap_err();
        assert_eq!(e, "5 bytes are not a whole number of 4-byte items");
        assert_eq!(out, [7], "nothing appended");
    }
}
