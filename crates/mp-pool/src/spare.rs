//! Vectors a worker keeps between chunks: a chunk's decoded inputs and its
//! outputs are as large as the chunk, and handing them back to the
//! allocator after each chunk costs fresh pages for the next one (glibc
//! serves an allocation of 128 KiB or more with its own `mmap` and unmaps it
//! on free, so every such chunk paid a page fault per 4 KiB twice over:
//! measured, 7.8 k page faults per run of M4a, `Pool(2).map`, against 2.4 k
//! with the buffers kept). Up to [`SLOTS`] vectors are kept per thread
//! (a chunk's inputs and outputs are often of one type), each of up to
//! [`KEEP_MAX`] bytes.

use std::any::Any;
use std::cell::{Cell, RefCell};

/// A vector whose allocation is larger is not kept (an idle worker holds at
/// most [`SLOTS`] times this much: a chunk of half a million `u64`s).
pub(crate) const KEEP_MAX: usize = 4 << 20;

/// Vectors kept at once (a chunk needs two: its inputs and its outputs);
/// a new one replaces the oldest.
const SLOTS: usize = 2;

thread_local! {
    /// The kept vectors, each a `Vec<T>` for some `T`, in boxes made once:
    /// a vector taken leaves its box behind holding an empty `Vec`, and the
    /// next one given back of that type moves into it (re-boxing each time
    /// cost a small chunk an allocation and a free per vector).
    static KEPT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// The largest byte buffer [`give_back_bytes`] keeps (and a worker keeps
/// to read its next request into): small calls are the ones whose
/// allocation shows, and a larger buffer kept would stay resident in an
/// idle process.
pub(crate) const BYTES_KEEP_MAX: usize = 64 << 10;

thread_local! {
    /// One byte buffer, apart from the vectors above (taking one of those
    /// looks through boxes by type): in the parent, the encoded inputs of
    /// an `apply` are read back into as its reply, whose buffer is kept
    /// here once decoded, for the next call's inputs (an allocation and a
    /// free fewer per call).
    static BYTES: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// An empty byte buffer with room for `room` bytes: the one
/// [`give_back_bytes`] kept, or a new one.
pub(crate) fn take_bytes(room: usize) -> Vec<u8> {
    let mut v = BYTES.try_with(Cell::take).unwrap_or_default();
    v.reserve(room);
    v
}

/// Empties `v` and keeps it for the next [`take_bytes`] on this thread
/// (in place of the one kept before), unless it is larger than 64 KiB.
pub(crate) fn give_back_bytes(mut v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > BYTES_KEEP_MAX {
        return;
    }
    v.clear();
    let _ = BYTES.try_with(|kept| kept.replace(v));
}

/// An empty vector of `T`: the one [`give_back`] kept, or a new one.
pub(crate) fn take<T: 'static>() -> Vec<T> {
    KEPT.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        kept.iter_mut()
            .filter_map(|b| b.downcast_mut::<Vec<T>>())
            .find(|v| v.capacity() > 0)
            .map(std::mem::take)
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// Empties `v` and keeps its allocation for the next [`take`] of a
/// `Vec<T>` (in an empty box of its type if there is one, else in a new box
/// in place of the oldest if [`SLOTS`] are kept), unless it is larger than
/// [`KEEP_MAX`].
pub(crate) fn give_back<T: 'static>(mut v: Vec<T>) {
    v.clear();
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes == 0 || bytes > KEEP_MAX {
        return;
    }
    let _ = KEPT.try_with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else {
            return;
        };
        let empty = kept
            .iter_mut()
            .filter_map(|b| b.downcast_mut::<Vec<T>>())
            .find(|kept| kept.capacity() == 0);
        if let Some(slot) = empty {
            *slot = v;
            return;
        }
        if kept.len() == SLOTS {
            kept.remove(0);
        }
        kept.push(Box::new(v));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_given_back_is_taken_again_empty() {
        let mut v: Vec<u64> = Vec::with_capacity(1000);
        v.extend(0..10);
        let at = v.as_ptr();
        give_back(v);
        let again: Vec<u64> = take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same allocation");
        assert!(take::<u64>().capacity() == 0, "taken once");
    }

    #[test]
    fn a_vector_moves_into_the_box_its_last_one_left() {
        give_back(Vec::<u128>::with_capacity(4));
        let first = take::<u128>();
        KEPT.with(|kept| assert_eq!(kept.borrow().len(), 1, "its box is kept"));
        give_back(first);
        KEPT.with(|kept| assert_eq!(kept.borrow().len(), 1, "back in that box"));
        assert!(take::<u128>().capacity() >= 4);
    }

    #[test]
    fn two_of_one_type_are_kept() {
        give_back(Vec::<i64>::with_capacity(10));
        give_back(Vec::<i64>::with_capacity(20));
        let (a, b) = (take::<i64>(), take::<i64>());
        assert_eq!(a.capacity().min(b.capacity()), 10);
        assert_eq!(a.capacity().max(b.capacity()), 20);
    }

    #[test]
    fn a_new_vector_replaces_the_oldest() {
        give_back(Vec::<u16>::with_capacity(1));
        give_back(Vec::<i16>::with_capacity(2));
        give_back(Vec::<char>::with_capacity(3));
        assert_eq!(take::<u16>().capacity(), 0, "replaced");
        assert!(take::<i16>().capacity() >= 2);
        assert!(take::<char>().capacity() >= 3);
    }

    #[test]
    fn a_byte_buffer_given_back_is_taken_again() {
        let mut v = Vec::with_capacity(100);
        v.extend_from_slice(b"old");
        let at = v.as_ptr();
        give_back_bytes(v);
        let again = take_bytes(10);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same allocation");
        assert_eq!(take_bytes(0).capacity(), 0, "taken once");
        give_back_bytes(Vec::with_capacity(BYTES_KEEP_MAX + 1));
        assert_eq!(take_bytes(0).capacity(), 0, "too large to keep");
    }

    #[test]
    fn types_are_kept_apart_and_large_vectors_dropped() {
        give_back(Vec::<u32>::with_capacity(10));
        assert_eq!(take::<u16>().capacity(), 0, "another type");
        assert!(take::<u32>().capacity() >= 10);
        give_back(Vec::<u8>::with_capacity(KEEP_MAX + 1));
        assert_eq!(take::<u8>().capacity(), 0, "larger than KEEP_MAX");
    }
}
