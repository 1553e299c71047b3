//! [`Value`] and [`Array`]: Python's synchronized `Value`/`Array` — a
//! [`RawValue`]/[`RawArray`] of plain-old-data plus a [`SyncLock`]
//! (an `RLock` by default, as in Python).

use std::fmt;
use std::io;

use bytemuck::Pod;
use mp_shm::{RawArray, RawValue, ShmError};
use serde::{Deserialize, Serialize};

use crate::error::LockResult;
use crate::rlock::RLock;
use crate::sync_lock::{SyncLock, SyncLockGuard};

fn shm_io(e: ShmError) -> io::Error {
    match e {
        ShmError::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// A shared `T` guarded by a lock.
///
/// `value()`/`set_value()` each take the lock once, so `v.set_value(v.value() + 1)`
/// is two locked steps, not one atomic increment (as in Python); use
/// [`lock`](Self::lock) for a read-modify-write. `value()`/`set_value()`
/// proceed silently if the lock came from a dead holder; `lock()` reports it.
///
/// ```
/// let v = mp_sync::Value::new(0i32)?;
/// {
///     let g = v.lock().unwrap();
///     g.set(g.get() + 1);
/// }
/// v.set_value(v.value() * 10);
/// assert_eq!(v.value(), 10);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct Value<T> {
    obj: RawValue<T>,
    lock: SyncLock,
}

/// Holds a [`Value`]'s lock; reads and writes the value under it.
#[must_use = "the lock is released when the guard is dropped"]
pub struct ValueGuard<'a, T> {
    obj: &'a RawValue<T>,
    _lock: SyncLockGuard<'a>,
}

impl<T: Pod> Value<T> {
    /// A shared `value` with a new `RLock`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new(value: T) -> io::Result<Self> {
        Self::with_lock(value, RLock::new()?)
    }

    /// A shared `value` guarded by an existing lock (Python's `lock=`).
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn with_lock(value: T, lock: impl Into<SyncLock>) -> io::Result<Self> {
        Ok(Value {
            obj: RawValue::new(value).map_err(shm_io)?,
            lock: lock.into(),
        })
    }

    /// Wraps an existing shared value with `lock`, without copying
    /// (for `sharedctypes::synchronized`).
    pub(crate) fn from_parts(obj: RawValue<T>, lock: SyncLock) -> Self {
        Value { obj, lock }
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &SyncLock {
        &self.lock
    }

    /// The unlocked value (Python's `get_obj()`).
    pub fn get_obj(&self) -> &RawValue<T> {
        &self.obj
    }

    /// Reads under the lock.
    #[inline]
    pub fn value(&self) -> T {
        let _g = self.lock.lock().unwrap_or_else(|d| d.into_inner());
        self.obj.get()
    }

    /// Writes under the lock.
    #[inline]
    pub fn set_value(&self, value: T) {
        let _g = self.lock.lock().unwrap_or_else(|d| d.into_inner());
        self.obj.set(value);
    }

    /// Takes the lock for a read-modify-write.
    ///
    /// # Errors
    /// `OwnerDied` (holding the guard) if the lock came from a dead holder.
    #[inline]
    pub fn lock(&self) -> LockResult<ValueGuard<'_, T>> {
        match self.lock.lock() {
            Ok(g) => Ok(ValueGuard {
                obj: &self.obj,
                _lock: g,
            }),
            Err(d) => Err(d.map(|g| ValueGuard {
                obj: &self.obj,
                _lock: g,
            })),
        }
    }
}

impl<T: Pod> ValueGuard<'_, T> {
    /// The value.
    #[inline]
    pub fn get(&self) -> T {
        self.obj.get()
    }

    /// Stores `value`.
    #[inline]
    pub fn set(&self, value: T) {
        self.obj.set(value);
    }

    /// Replaces the value with `f(value)` and returns the new one.
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let v = f(self.obj.get());
        self.obj.set(v);
        v
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Synchronized wrapper for {:?}>", self.obj.get())
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&self.obj.get()).finish()
    }
}

/// A shared fixed-length array of `T` guarded by a lock.
///
/// ```
/// let a = mp_sync::Array::from_slice(&[1u8, 2, 3])?;
/// a.set(0, 9).unwrap();
/// assert_eq!(a.to_vec(), [9, 2, 3]);
/// let g = a.lock().unwrap();
/// g.set(1, g.get(1).unwrap() + 1).unwrap();
/// # drop(g);
/// assert_eq!(a.get(1).unwrap(), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct Array<T> {
    obj: RawArray<T>,
    lock: SyncLock,
}

/// Holds an [`Array`]'s lock.
#[must_use = "the lock is released when the guard is dropped"]
pub struct ArrayGuard<'a, T> {
    obj: &'a RawArray<T>,
    _lock: SyncLockGuard<'a>,
}

impl<T: Pod> Array<T> {
    /// `len` zeroed items with a new `RLock`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new(len: usize) -> io::Result<Self> {
        Ok(Array {
            obj: RawArray::new(len).map_err(shm_io)?,
            lock: RLock::new()?.into(),
        })
    }

    /// A copy of `items` with a new `RLock`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn from_slice(items: &[T]) -> io::Result<Self> {
        Self::from_slice_with_lock(items, RLock::new()?)
    }

    /// A copy of `items` guarded by an existing lock.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn from_slice_with_lock(items: &[T], lock: impl Into<SyncLock>) -> io::Result<Self> {
        Ok(Array {
            obj: RawArray::from_slice(items).map_err(shm_io)?,
            lock: lock.into(),
        })
    }

    /// Wraps an existing shared array with `lock`, without copying
    /// (for `sharedctypes::synchronized`).
    pub(crate) fn from_parts(obj: RawArray<T>, lock: SyncLock) -> Self {
        Array { obj, lock }
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &SyncLock {
        &self.lock
    }

    /// The unlocked array (Python's `get_obj()`).
    pub fn get_obj(&self) -> &RawArray<T> {
        &self.obj
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.obj.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.obj.is_empty()
    }

    fn locked<R>(&self, f: impl FnOnce(&RawArray<T>) -> R) -> R {
        let _g = self.lock.lock().unwrap_or_else(|d| d.into_inner());
        f(&self.obj)
    }

    /// Reads item `index` under the lock.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        self.locked(|a| a.get(index))
    }

    /// Writes item `index` under the lock.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        self.locked(|a| a.set(index, value))
    }

    /// Copies all items out under the lock (Python's `a[:]`).
    pub fn to_vec(&self) -> Vec<T> {
        self.locked(RawArray::to_vec)
    }

    /// Replaces all items under the lock (Python's `a[:] = items`).
    ///
    /// # Errors
    /// [`ShmError::LengthMismatch`].
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        self.locked(|a| a.copy_from_slice(items))
    }

    /// Takes the lock for several operations.
    ///
    /// # Errors
    /// `OwnerDied` (holding the guard) if the lock came from a dead holder.
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        match self.lock.lock() {
            Ok(g) => Ok(ArrayGuard {
                obj: &self.obj,
                _lock: g,
            }),
            Err(d) => Err(d.map(|g| ArrayGuard {
                obj: &self.obj,
                _lock: g,
            })),
        }
    }
}

impl<'a, T: Pod> ArrayGuard<'a, T> {
    /// The array the guard's lock protects (for the byte-string view).
    pub(crate) fn obj(&self) -> &'a RawArray<T> {
        self.obj
    }

    /// Item `index`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        self.obj.get(index)
    }

    /// Stores item `index`.
    ///
    /// # Errors
    /// [`ShmError::IndexOutOfRange`].
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        self.obj.set(index, value)
    }

    /// All items.
    pub fn to_vec(&self) -> Vec<T> {
        self.obj.to_vec()
    }

    /// Replaces all items.
    ///
    /// # Errors
    /// [`ShmError::LengthMismatch`].
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        self.obj.copy_from_slice(items)
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<SynchronizedArray wrapper for {:?}>", self.obj.to_vec())
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ArrayGuard")
            .field(&self.obj.to_vec())
            .finish()
    }
}
