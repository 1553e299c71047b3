//! [`CharArray`]: Python's `SynchronizedString` — the `.value`/`.raw`
//! byte-string view of a `c_char` array — for every shared `u8` array
//! ([`RawArray<u8>`], [`Array<u8>`] and a held [`ArrayGuard<u8>`]).
//!
//! ctypes semantics, checked against CPython 3.11:
//!
//! | operation | effect |
//! |---|---|
//! | `value()` | the bytes before the first NUL (all of them if there is none) |
//! | `raw()` | every byte |
//! | `set_value(b)` | writes `b`, then one NUL if `b` is shorter than the array; the bytes after that NUL are left as they were (`b"hello"` then `b"hi"` → raw `b"hi\0lo"`) |
//! | `set_raw(b)` | writes `b` at the start; the rest is left as it was, no NUL added |
//! | longer than the array | [`StringTooLong`] (`ValueError: byte string too long`); nothing is written |
//!
//! On an [`Array<u8>`] each call takes the array's lock once, as CPython's
//! `SynchronizedString` properties do (and proceeds silently if the lock
//! came from a dead holder, like `Array::get`); hold
//! [`Array::lock`] and use the guard's methods to combine several.

use mp_shm::RawArray;

use crate::error::OwnerDied;
use crate::value::{Array, ArrayGuard};

/// A byte string longer than the shared array it is written to (Python's
/// `ValueError: byte string too long`).
///
/// ```
/// use mp_sync::{Array, CharArray, StringTooLong};
///
/// let a = Array::from_slice(b"abc")?;
/// assert_eq!(a.set_value(b"abcd"), Err(StringTooLong { len: 4, capacity: 3 }));
/// assert_eq!(a.value(), b"abc"); // unchanged
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte string too long ({len} bytes for an array of {capacity})")]
pub struct StringTooLong {
    /// Length of the byte string given.
    pub len: usize,
    /// Length of the array.
    pub capacity: usize,
}

/// The `.value`/`.raw` view of a shared byte array (Python's
/// `SynchronizedString`, and ctypes' `c_char` array for the raw kind).
///
/// Python's `Array('c', ...)` is an [`Array<u8>`]; `RawArray('c', ...)` is
/// a [`RawArray<u8>`]. Both get these methods once this trait is in scope.
///
/// ```
/// use mp_sync::{Array, CharArray};
///
/// let a = Array::from_slice(b"hello")?; // Python: Array('c', b'hello')
/// assert_eq!(a.value(), b"hello");
/// a.set_value(b"hi")?;
/// assert_eq!(a.value(), b"hi");
/// assert_eq!(a.raw(), b"hi\0lo"); // one NUL, the tail left as it was
/// a.set_raw(b"HEL")?;
/// assert_eq!(a.raw(), b"HELlo"); // the NUL was overwritten
/// assert_eq!(a.value(), b"HELlo");
/// assert!(a.set_value(b"too long").is_err());
///
/// let g = a.lock().unwrap(); // several steps under one lock
/// let v = g.value();
/// g.set_value(&v[..1])?;
/// # drop(g);
/// assert_eq!(a.value(), b"H");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CharArray {
    /// The bytes before the first NUL, or all of them if there is none
    /// (Python's `.value`).
    fn value(&self) -> Vec<u8>;

    /// Writes `value` at the start, followed by one NUL if it is shorter
    /// than the array (Python's `.value = ...`).
    ///
    /// # Errors
    /// [`StringTooLong`] if `value` is longer than the array; nothing is
    /// written then.
    fn set_value(&self, value: &[u8]) -> Result<(), StringTooLong>;

    /// Every byte of the array (Python's `.raw`).
    fn raw(&self) -> Vec<u8>;

    /// Writes `raw` at the start, leaving the rest as it was (Python's
    /// `.raw = ...`).
    ///
    /// # Errors
    /// [`StringTooLong`] if `raw` is longer than the array; nothing is
    /// written then.
    fn set_raw(&self, raw: &[u8]) -> Result<(), StringTooLong>;
}

fn fits(bytes: &[u8], capacity: usize) -> Result<(), StringTooLong> {
    if bytes.len() > capacity {
        Err(StringTooLong {
            len: bytes.len(),
            capacity,
        })
    } else {
        Ok(())
    }
}

impl CharArray for RawArray<u8> {
    fn value(&self) -> Vec<u8> {
        let mut v = self.to_vec();
        if let Some(nul) = v.iter().position(|&b| b == 0) {
            v.truncate(nul);
        }
        v
    }

    fn set_value(&self, value: &[u8]) -> Result<(), StringTooLong> {
        fits(value, self.len())?;
        self.write_from(0, value)
            .expect("length checked against the array");
        if value.len() < self.len() {
            self.set(value.len(), 0)
                .expect("index checked against the array");
        }
        Ok(())
    }

    fn raw(&self) -> Vec<u8> {
        self.to_vec()
    }

    fn set_raw(&self, raw: &[u8]) -> Result<(), StringTooLong> {
        fits(raw, self.len())?;
        self.write_from(0, raw)
            .expect("length checked against the array");
        Ok(())
    }
}

impl CharArray for ArrayGuard<'_, u8> {
    fn value(&self) -> Vec<u8> {
        self.obj().value()
    }

    fn set_value(&self, value: &[u8]) -> Result<(), StringTooLong> {
        self.obj().set_value(value)
    }

    fn raw(&self) -> Vec<u8> {
        self.obj().raw()
    }

    fn set_raw(&self, raw: &[u8]) -> Result<(), StringTooLong> {
        self.obj().set_raw(raw)
    }
}

impl Array<u8> {
    /// Takes the lock, proceeding if it came from a dead holder (as
    /// `Array::get` does).
    fn string_guard(&self) -> ArrayGuard<'_, u8> {
        self.lock().unwrap_or_else(OwnerDied::into_inner)
    }
}

impl CharArray for Array<u8> {
    fn value(&self) -> Vec<u8> {
        self.string_guard().value()
    }

    fn set_value(&self, value: &[u8]) -> Result<(), StringTooLong> {
        self.string_guard().set_value(value)
    }

    fn raw(&self) -> Vec<u8> {
        self.string_guard().raw()
    }

    fn set_raw(&self, raw: &[u8]) -> Result<(), StringTooLong> {
        self.string_guard().set_raw(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_raw_follow_ctypes() {
        let a = Array::from_slice(b"hello").unwrap();
        assert_eq!((a.value(), a.raw()), (b"hello".to_vec(), b"hello".to_vec()));
        a.set_value(b"hi").unwrap();
        assert_eq!(a.raw(), b"hi\0lo");
        assert_eq!(a.value(), b"hi");
        a.set_value(b"hello").unwrap(); // exactly full: no NUL
        assert_eq!(a.raw(), b"hello");
        a.set_raw(b"ab").unwrap(); // no NUL, tail kept
        assert_eq!(a.raw(), b"abllo");
        a.set_raw(b"a\0c").unwrap();
        assert_eq!((a.value(), a.raw()), (b"a".to_vec(), b"a\0clo".to_vec()));
        a.set_value(b"x\0y").unwrap(); // embedded NUL written as is
        assert_eq!((a.value(), a.raw()), (b"x".to_vec(), b"x\0y\0o".to_vec()));
        a.set_value(b"").unwrap();
        assert_eq!(a.raw(), b"\0\0y\0o");
    }

    #[test]
    fn too_long_is_an_error_and_writes_nothing() {
        let a = Array::from_slice(b"hello").unwrap();
        let e = a.set_value(b"hello!").unwrap_err();
        assert_eq!(
            e,
            StringTooLong {
                len: 6,
                capacity: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "byte string too long (6 bytes for an array of 5)"
        );
        assert!(a.set_raw(b"hello!").is_err());
        assert_eq!(a.raw(), b"hello");
    }

    #[test]
    fn zeroed_and_empty_arrays() {
        let z = RawArray::<u8>::new(10).unwrap();
        assert_eq!(z.value(), b"");
        z.set_value(b"hi").unwrap();
        assert_eq!(z.raw(), b"hi\0\0\0\0\0\0\0\0");
        let e = RawArray::<u8>::new(0).unwrap();
        assert_eq!((e.value(), e.raw()), (vec![], vec![]));
        e.set_value(b"").unwrap();
        assert!(e.set_value(b"a").is_err());
    }

    #[test]
    fn guard_and_raw_handle_share_the_bytes() {
        let a = Array::from_slice(b"abc").unwrap();
        {
            let g = a.lock().unwrap();
            assert!(a.get_lock().is_mine());
            g.set_value(b"z").unwrap();
            assert_eq!(g.value(), b"z");
        }
        assert!(!a.get_lock().is_mine());
        assert_eq!(a.get_obj().raw(), b"z\0c");
    }
}
