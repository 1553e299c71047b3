//! Live iteration of managed lists and dicts, one round trip per item, as
//! CPython iterates their proxies: [`ListIter`] fetches item `i` until the
//! list says `IndexError`; [`DictIter`] walks the dict's entries in order
//! and fails, as Python's dict iterator does, when the dict changed size
//! (or keys) since the iteration began.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::{DictProxy, ListProxy};
use crate::error::{RemoteErrorKind, Result};

/// An iterator over a managed list, live: each step reads the item at the
/// next index from the server, so items appended meanwhile are seen, and
/// the iteration ends at the first index past the end (CPython's
/// `iter(list_proxy)`, which calls `__getitem__` until `IndexError`).
///
/// Each item is a `Result`; after an error (the server gone, say) the
/// iterator ends.
#[derive(Debug)]
pub struct ListIter<'a, T> {
    list: &'a ListProxy<T>,
    next: isize,
    done: bool,
}

impl<T: Serialize + DeserializeOwned> Iterator for ListIter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        match self.list.get(self.next) {
            Ok(item) => {
                self.next += 1;
                Some(Ok(item))
            }
            Err(e) => {
                self.done = true;
                match e.remote_kind() {
                    Some(RemoteErrorKind::Index) => None,
                    _ => Some(Err(e)),
                }
            }
        }
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Iterates the list live, one round trip per item (see [`ListIter`]);
    /// [`to_vec`](Self::to_vec) is the one-round-trip snapshot.
    pub fn iter(&self) -> ListIter<'_, T> {
        ListIter {
            list: self,
            next: 0,
            done: false,
        }
    }
}

impl<'a, T: Serialize + DeserializeOwned> IntoIterator for &'a ListProxy<T> {
    type Item = Result<T>;
    type IntoIter = ListIter<'a, T>;

    fn into_iter(self) -> ListIter<'a, T> {
        self.iter()
    }
}

/// What the server answers for one step of a dict iteration: the position
/// after the entry, the entry, and the dict's size and key version.
type Step = Option<(u64, ByteBuf, ByteBuf, u64, u64)>;

/// An iterator over a managed dict's `(key, value)` pairs in insertion
/// order, live: one round trip per entry. As Python's dict iterator, it
/// fails with a `Runtime` remote error, `dictionary changed size during
/// iteration` (or `dictionary keys changed during iteration`), if keys
/// were added or removed since it began; changing values is allowed.
///
/// Each item is a `Result`; after an error the iterator ends.
#[derive(Debug)]
pub struct DictIter<'a, K, V> {
    dict: &'a DictProxy<K, V>,
    cursor: u64,
    /// The size and key version seen at the first step.
    seen: Option<(u64, u64)>,
    done: bool,
}

impl<K, V> DictIter<'_, K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    fn step(&mut self) -> Result<Option<(K, V)>> {
        let step: Step = self
            .dict
            .base
            .call("__next_item__", &(self.cursor, self.seen))?;
        let Some((cursor, k, v, len, version)) = step else {
            return Ok(None);
        };
        self.cursor = cursor;
        self.seen = Some((len, version));
        Ok(Some((
            self.dict.base.decode_value(k)?,
            self.dict.base.decode_value(v)?,
        )))
    }
}

impl<K, V> Iterator for DictIter<'_, K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Result<(K, V)>> {
        if self.done {
            return None;
        }
        let step = self.step();
        if !matches!(step, Ok(Some(_))) {
            self.done = true;
        }
        step.transpose()
    }
}

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// Iterates the `(key, value)` pairs live, one round trip per entry;
    /// fails if keys are added or removed meanwhile (see [`DictIter`]).
    /// [`items`](Self::items) is the one-round-trip snapshot.
    pub fn iter(&self) -> DictIter<'_, K, V> {
        DictIter {
            dict: self,
            cursor: 0,
            seen: None,
            done: false,
        }
    }
}

impl<'a, K, V> IntoIterator for &'a DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    type Item = Result<(K, V)>;
    type IntoIter = DictIter<'a, K, V>;

    fn into_iter(self) -> DictIter<'a, K, V> {
        self.iter()
    }
}
