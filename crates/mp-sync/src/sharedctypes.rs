//! Python's `multiprocessing.sharedctypes.copy` and `synchronized`: a new
//! unsynchronized duplicate of a shared object, and a lock put around an
//! existing raw one.
//!
//! Both are generic over sealed traits implemented for this crate's shared
//! types, so a call that CPython rejects at run time is a compile error here:
//! `synchronized` accepts only a [`RawValue`] or [`RawArray`] (CPython's
//! `AssertionError: object already synchronized` cannot arise).
//!
//! ```
//! use mp_sync::sharedctypes::{copy, synchronized};
//! use mp_sync::RawArray;
//!
//! let raw = RawArray::from_slice(&[1i32, 2, 3])?;
//! let locked = synchronized(raw.clone(), None)?; // same memory, new RLock
//! locked.set(0, 10)?;
//! assert_eq!(raw.get(0)?, 10);
//!
//! let snapshot = copy(&locked)?; // new memory, read under the lock
//! raw.set(0, 99)?;
//! assert_eq!(snapshot.to_vec(), [10, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;

use bytemuck::Pod;
use mp_shm::{RawArray, RawValue, ShmError};

use crate::rlock::RLock;
use crate::sync_lock::SyncLock;
use crate::value::{Array, Value};

mod sealed {
    /// Restricts the traits to this crate's shared types.
    pub trait Sealed {}
}

impl<T: Pod> sealed::Sealed for RawValue<T> {}
impl<T: Pod> sealed::Sealed for RawArray<T> {}
impl<T: Pod> sealed::Sealed for Value<T> {}
impl<T: Pod> sealed::Sealed for Array<T> {}

/// A shared object that [`copy`] can duplicate: [`RawValue`], [`RawArray`],
/// [`Value`], [`Array`]. Sealed.
///
/// ```
/// use mp_sync::sharedctypes::SharedCopy;
///
/// let v = mp_sync::Value::new(7u8)?;
/// let raw: mp_sync::RawValue<u8> = v.shared_copy()?;
/// assert_eq!(raw.get(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SharedCopy: sealed::Sealed {
    /// The unsynchronized type of the copy.
    type Raw;

    /// Allocates new shared memory holding the same contents (read under
    /// the lock for a synchronized object).
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    fn shared_copy(&self) -> Result<Self::Raw, ShmError>;
}

impl<T: Pod> SharedCopy for RawValue<T> {
    type Raw = RawValue<T>;

    fn shared_copy(&self) -> Result<RawValue<T>, ShmError> {
        RawValue::new(self.get())
    }
}

impl<T: Pod> SharedCopy for RawArray<T> {
    type Raw = RawArray<T>;

    fn shared_copy(&self) -> Result<RawArray<T>, ShmError> {
        RawArray::from_slice(&self.to_vec())
    }
}

impl<T: Pod> SharedCopy for Value<T> {
    type Raw = RawValue<T>;

    fn shared_copy(&self) -> Result<RawValue<T>, ShmError> {
        RawValue::new(self.value())
    }
}

impl<T: Pod> SharedCopy for Array<T> {
    type Raw = RawArray<T>;

    fn shared_copy(&self) -> Result<RawArray<T>, ShmError> {
        RawArray::from_slice(&self.to_vec())
    }
}

/// Python's `sharedctypes.copy(obj)`: a new unsynchronized shared object
/// with the same contents as `obj`; later writes to either are not seen by
/// the other.
///
/// Differs from CPython in one way: a synchronized [`Value`]/[`Array`] is
/// accepted (CPython raises `TypeError: this type has no size`; its
/// workaround is `copy(v.get_obj())`). The contents are then read under the
/// object's lock and the copy is raw.
///
/// ```
/// use mp_sync::sharedctypes::copy;
///
/// let original = mp_sync::RawValue::new(1.5f64)?;
/// let dup = copy(&original)?;
/// dup.set(2.0);
/// assert_eq!((original.get(), dup.get()), (1.5, 2.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The OS error if shared memory cannot be allocated.
pub fn copy<S: SharedCopy>(obj: &S) -> Result<S::Raw, ShmError> {
    obj.shared_copy()
}

/// A raw shared object that [`synchronized`] can wrap: [`RawValue`] (into a
/// [`Value`]) and [`RawArray`] (into an [`Array`]). Sealed.
///
/// ```
/// use mp_sync::sharedctypes::Synchronize;
///
/// let raw = mp_sync::RawValue::new(1u32)?;
/// let v = raw.clone().synchronize(mp_sync::Lock::new()?.into());
/// v.set_value(2);
/// assert_eq!(raw.get(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Synchronize: sealed::Sealed {
    /// The synchronized wrapper type.
    type Synchronized;

    /// Wraps `self` with `lock`; the shared memory is not copied.
    fn synchronize(self, lock: SyncLock) -> Self::Synchronized;
}

impl<T: Pod> Synchronize for RawValue<T> {
    type Synchronized = Value<T>;

    fn synchronize(self, lock: SyncLock) -> Value<T> {
        Value::from_parts(self, lock)
    }
}

impl<T: Pod> Synchronize for RawArray<T> {
    type Synchronized = Array<T>;

    fn synchronize(self, lock: SyncLock) -> Array<T> {
        Array::from_parts(self, lock)
    }
}

/// Python's `sharedctypes.synchronized(obj, lock=None)`: wraps an existing
/// [`RawValue`]/[`RawArray`] with `lock` (a new `RLock` when `None`) into a
/// [`Value`]/[`Array`] over the same shared memory, so writes through the
/// wrapper are seen by every holder of the raw object, in any process.
///
/// The raw handle is taken by value; clone it first to keep one (a clone
/// is another handle to the same memory). A `RawArray<u8>` becomes an
/// `Array<u8>`, whose [`CharArray`](crate::CharArray) methods are Python's
/// `SynchronizedString`. CPython's per-field locked properties of a
/// `Structure` have no counterpart: a `#[repr(C)]` struct is read and
/// written whole.
///
/// ```
/// use mp_sync::sharedctypes::synchronized;
/// use mp_sync::{Lock, RawValue};
///
/// let raw = RawValue::new(0u64)?;
/// let lock = Lock::new()?;
/// let v = synchronized(raw.clone(), Some(lock.clone().into()))?;
/// {
///     let g = v.lock().unwrap();
///     assert!(lock.locked()); // the lock given, not a copy of it
///     g.set(g.get() + 1);
/// }
/// assert_eq!(raw.get(), 1); // the memory given, not a copy of it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The OS error if `lock` is `None` and a new `RLock` cannot be allocated.
pub fn synchronized<R: Synchronize>(obj: R, lock: Option<SyncLock>) -> io::Result<R::Synchronized> {
    let lock = match lock {
        Some(lock) => lock,
        None => RLock::new()?.into(),
    };
    Ok(obj.synchronize(lock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Lock;
    use crate::string::CharArray;

    #[test]
    fn copies_are_independent_and_raw() {
        let a = Array::from_slice(&[1u16, 2, 3]).unwrap();
        let c: RawArray<u16> = copy(&a).unwrap();
        c.set(0, 9).unwrap();
        assert_eq!((a.to_vec(), c.to_vec()), (vec![1, 2, 3], vec![9, 2, 3]));
        let r = copy(&c).unwrap();
        assert_eq!(r.to_vec(), [9, 2, 3]);
        let v = Value::new(-4i64).unwrap();
        let rv = copy(&v).unwrap();
        v.set_value(5);
        assert_eq!(rv.get(), -4);
        let empty = copy(&RawArray::<u8>::new(0).unwrap()).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn synchronized_shares_memory_and_lock() {
        let raw = RawArray::<u8>::new(4).unwrap();
        let s = synchronized(raw.clone(), None).unwrap();
        assert!(matches!(s.get_lock(), SyncLock::RLock(_)));
        s.set_value(b"ok").unwrap();
        assert_eq!(raw.raw(), b"ok\0\0");
        raw.set(3, b'!').unwrap();
        assert_eq!(s.raw(), b"ok\0!");

        let lock = Lock::new().unwrap();
        let v = synchronized(RawValue::new(1u8).unwrap(), Some(lock.clone().into())).unwrap();
        let g = lock.lock().unwrap();
        assert!(matches!(v.get_lock(), SyncLock::Lock(l) if l.locked()));
        drop(g);
        assert!(v.lock().is_ok());
    }
}
