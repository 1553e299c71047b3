//! [`ListProxy`]: a managed `list` of typed items.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::{typed_proxy, BaseProxy};
use crate::error::Result;
use crate::manager::Manager;
use crate::protocol::to_bytes;
use crate::shared::Registry;

/// A proxy to a `list` in a manager server (Python's `ListProxy`).
///
/// Indices are `isize` with Python's meaning (`-1` is the last item); out of
/// range is an `Index` remote error with Python's message. Items come back
/// as copies (mutating one does not change the shared list; `set` it back),
/// except proxies stored as items, which stay live. Items are compared by
/// their encoding (`remove`, `index`, `contains`).
///
/// `Display` prints the referent as a list, `["0", "1"]`.
pub struct ListProxy<T> {
    pub(super) base: BaseProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ListProxy<T>, "list");

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Appends `item` (Python's `append`).
    pub fn append(&self, item: T) -> Result<()> {
        self.base.call("append", &to_bytes(&item)?)
    }

    /// Appends every item, in one round trip (Python's `extend`).
    pub fn extend(&self, items: impl IntoIterator<Item = T>) -> Result<()> {
        let items = Manager::<()>::encode_all(items)?;
        self.base.call("extend", &items)
    }

    /// The item at `index` (Python's `l[index]`).
    pub fn get(&self, index: isize) -> Result<T> {
        let v: ByteBuf = self.base.call("__getitem__", &(index as i64))?;
        self.base.decode_value(v)
    }

    /// Replaces the item at `index` (Python's `l[index] = item`).
    pub fn set(&self, index: isize, item: T) -> Result<()> {
        self.base
            .call("__setitem__", &(index as i64, to_bytes(&item)?))
    }

    /// The number of items (Python's `len(l)`).
    pub fn len(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("__len__", &())? as usize)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes and returns the last item; an `Index` error when empty
    /// (Python's `pop()`).
    pub fn pop(&self) -> Result<T> {
        let v: ByteBuf = self.base.call("pop", &None::<i64>)?;
        self.base.decode_value(v)
    }

    /// Removes and returns the item at `index` (Python's `pop(index)`).
    pub fn pop_at(&self, index: isize) -> Result<T> {
        let v: ByteBuf = self.base.call("pop", &Some(index as i64))?;
        self.base.decode_value(v)
    }

    /// Removes the first item equal to `item`; a `Value` error if none is
    /// (Python's `remove`).
    pub fn remove(&self, item: &T) -> Result<()> {
        self.base.call("remove", &to_bytes(item)?)
    }

    /// Inserts `item` before `index` (clamped to the list, as Python does).
    pub fn insert(&self, index: isize, item: T) -> Result<()> {
        self.base.call("insert", &(index as i64, to_bytes(&item)?))
    }

    /// The position of the first item equal to `item`; a `Value` error if
    /// none is (Python's `index`).
    pub fn index(&self, item: &T) -> Result<usize> {
        Ok(self.base.call::<_, u64>("index", &to_bytes(item)?)? as usize)
    }

    /// How many items equal `item`.
    pub fn count(&self, item: &T) -> Result<usize> {
        Ok(self.base.call::<_, u64>("count", &to_bytes(item)?)? as usize)
    }

    /// Whether an item equals `item` (Python's `item in l`).
    pub fn contains(&self, item: &T) -> Result<bool> {
        self.base.call("__contains__", &to_bytes(item)?)
    }

    /// Reverses the list in place.
    pub fn reverse(&self) -> Result<()> {
        self.base.call("reverse", &())
    }

    /// Removes every item.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }

    /// A snapshot of the items (Python's `l[:]` / `list(l)`), in one round trip.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let items: Vec<ByteBuf> = self.base.call("copy", &())?;
        items
            .into_iter()
            .map(|v| self.base.decode_value(v))
            .collect()
    }
}

impl<T> fmt::Debug for ListProxy<T> {
    /// Python's repr: `<ListProxy object, typeid 'list' at ...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ListProxy object, typeid 'list' at {:x}>",
            self.base.id()
        )
    }
}

impl<T: Serialize + DeserializeOwned + fmt::Debug> fmt::Display for ListProxy<T> {
    /// The referent as a list: `[1, 2]`, `["0", "1"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_vec() {
            Ok(items) => write!(f, "{items:?}"),
            Err(e) => write!(f, "<ListProxy: {e}>"),
        }
    }
}

impl<R: Registry> Manager<R> {
    /// A new empty shared list (Python's `manager.list()`).
    pub fn list<T>(&self) -> Result<ListProxy<T>> {
        self.create_raw(&Vec::<ByteBuf>::new())
    }

    /// A new shared list holding `items` (Python's `manager.list(sequence)`).
    pub fn list_from<T: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<ListProxy<T>> {
        self.create_raw(&Self::encode_all(items)?)
    }
}
