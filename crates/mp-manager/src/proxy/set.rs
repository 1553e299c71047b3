//! [`SetProxy`]: a managed `set` of typed elements (Python 3.14's
//! `SyncManager.set()` / `SetProxy`).

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::{typed_proxy, BaseProxy};
use crate::error::{ManagerError, RemoteError, RemoteErrorKind, Result};
use crate::manager::Manager;
use crate::protocol::to_bytes;
use crate::shared::Registry;

/// A proxy to a `set` in a manager server (Python 3.14's `SetProxy`), with
/// elements `T`.
///
/// Every method is one round trip to the server. Elements are compared by
/// their encoding, as dict keys are: use element types whose equal values
/// encode equally (integers, strings, tuples of them; not floats with
/// `-0.0`/NaN). `T` needs neither `Hash` nor `Ord`.
///
/// **Order.** Python's set order is arbitrary; this set keeps insertion
/// order: [`to_vec`](Self::to_vec), `Display` and the snapshots of
/// [`union`](Self::union) and friends list the elements in the order they
/// were first added, and [`pop`](Self::pop) takes the oldest element.
///
/// **Snapshots.** Python's `s | t`, `s & t`, `s - t`, `s ^ t` make a new
/// plain set; here [`union`](Self::union), [`intersection`](Self::intersection),
/// [`difference`](Self::difference) and
/// [`symmetric_difference`](Self::symmetric_difference) collect the result
/// into any `C: FromIterator<T>` — a `Vec<T>` (insertion order, no
/// duplicates), a `HashSet<T>`, a `BTreeSet<T>`. The in-place forms (`|=`,
/// `&=`, `-=`, `^=`) are the `*_update` methods. The "other" argument of all
/// of these is any collection of `T` or `&T`.
///
/// `Display` prints the referent in Python's set form: `{1, 2}`, and
/// `set()` when empty.
pub struct SetProxy<T> {
    base: BaseProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(SetProxy<T>, "set");

/// Encodes every element of `items`.
fn encode<T, Q>(items: impl IntoIterator<Item = Q>) -> Result<Vec<ByteBuf>>
where
    T: Serialize,
    Q: Borrow<T>,
{
    items.into_iter().map(|x| to_bytes(x.borrow())).collect()
}

impl<T: Serialize + DeserializeOwned> SetProxy<T> {
    fn call_with<R: DeserializeOwned>(
        &self,
        method: &str,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<R> {
        self.base.call(method, &encode::<T, _>(other)?)
    }

    fn snapshot<C: FromIterator<T>>(
        &self,
        method: &str,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<C> {
        let items: Vec<ByteBuf> = self.call_with(method, other)?;
        items
            .into_iter()
            .map(|x| self.base.decode_value(x))
            .collect()
    }

    /// Adds `item`; whether it was not there yet (Python's `add`, with
    /// `HashSet::insert`'s answer).
    #[doc(alias = "insert")]
    pub fn add(&self, item: T) -> Result<bool> {
        self.base.call("add", &to_bytes(&item)?)
    }

    /// Removes `item` if present; whether it was (Python's `discard`, with
    /// `HashSet::remove`'s answer).
    pub fn discard(&self, item: &T) -> Result<bool> {
        self.base.call("discard", &to_bytes(item)?)
    }

    /// Removes `item`, or a `Key` error whose message is the element's
    /// `Debug` form (Python's `remove`: `KeyError: 1`; a string shows as
    /// `"a"` where Python shows `'a'`).
    pub fn remove(&self, item: &T) -> Result<()>
    where
        T: fmt::Debug,
    {
        self.base
            .call("remove", &to_bytes(item)?)
            .map_err(|e| match e {
                ManagerError::Remote(RemoteError {
                    kind: RemoteErrorKind::Key,
                    ..
                }) => RemoteError::new(RemoteErrorKind::Key, format!("{item:?}")).into(),
                other => other,
            })
    }

    /// Removes and returns the oldest element, or a `Key` error
    /// `'pop from an empty set'` (Python's `pop`, whose choice is
    /// arbitrary).
    pub fn pop(&self) -> Result<T> {
        let x: ByteBuf = self.base.call("pop", &())?;
        self.base.decode_value(x)
    }

    /// Removes every element.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }

    /// Whether `item` is an element (Python's `item in s`).
    #[doc(alias = "__contains__")]
    pub fn contains(&self, item: &T) -> Result<bool> {
        self.base.call("__contains__", &to_bytes(item)?)
    }

    /// The number of elements (Python's `len(s)`).
    pub fn len(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("__len__", &())? as usize)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A snapshot of the elements in insertion order (Python's `set(s)` /
    /// `s.copy()`), in one round trip.
    #[doc(alias = "copy")]
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let items: Vec<ByteBuf> = self.base.call("copy", &())?;
        items
            .into_iter()
            .map(|x| self.base.decode_value(x))
            .collect()
    }

    /// Adds every element of `other`, in one round trip (Python's `update`,
    /// `s |= t`).
    #[doc(alias = "extend")]
    pub fn update(&self, other: impl IntoIterator<Item = impl Borrow<T>>) -> Result<()> {
        self.call_with("update", other)
    }

    /// Removes every element of `other` (Python's `difference_update`,
    /// `s -= t`).
    pub fn difference_update(&self, other: impl IntoIterator<Item = impl Borrow<T>>) -> Result<()> {
        self.call_with("difference_update", other)
    }

    /// Keeps only the elements also in `other` (Python's
    /// `intersection_update`, `s &= t`).
    #[doc(alias = "retain")]
    pub fn intersection_update(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<()> {
        self.call_with("intersection_update", other)
    }

    /// Removes the elements also in `other` and adds those only in `other`
    /// (Python's `symmetric_difference_update`, `s ^= t`).
    pub fn symmetric_difference_update(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<()> {
        self.call_with("symmetric_difference_update", other)
    }

    /// A snapshot of the elements of the set or `other`: the set's in
    /// insertion order, then `other`'s new ones in its order (Python's
    /// `s | t`, `s.union(t)`). The set is not changed.
    pub fn union<C: FromIterator<T>>(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<C> {
        self.snapshot("union", other)
    }

    /// A snapshot of the elements also in `other`, in the set's order
    /// (Python's `s & t`).
    pub fn intersection<C: FromIterator<T>>(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<C> {
        self.snapshot("intersection", other)
    }

    /// A snapshot of the elements not in `other`, in the set's order
    /// (Python's `s - t`).
    pub fn difference<C: FromIterator<T>>(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<C> {
        self.snapshot("difference", other)
    }

    /// A snapshot of the elements in exactly one of the set and `other`:
    /// the set's first, then `other`'s (Python's `s ^ t`).
    pub fn symmetric_difference<C: FromIterator<T>>(
        &self,
        other: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<C> {
        self.snapshot("symmetric_difference", other)
    }

    /// Whether no element is in `other` (Python's `isdisjoint`).
    #[doc(alias = "isdisjoint")]
    pub fn is_disjoint(&self, other: impl IntoIterator<Item = impl Borrow<T>>) -> Result<bool> {
        self.call_with("isdisjoint", other)
    }

    /// Whether every element is in `other` (Python's `issubset`, `s <= t`).
    #[doc(alias = "issubset")]
    pub fn is_subset(&self, other: impl IntoIterator<Item = impl Borrow<T>>) -> Result<bool> {
        self.call_with("issubset", other)
    }

    /// Whether every element of `other` is in the set (Python's
    /// `issuperset`, `s >= t`).
    #[doc(alias = "issuperset")]
    pub fn is_superset(&self, other: impl IntoIterator<Item = impl Borrow<T>>) -> Result<bool> {
        self.call_with("issuperset", other)
    }
}

impl<T> fmt::Debug for SetProxy<T> {
    /// Python's repr: `<SetProxy object, typeid 'set' at ...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<SetProxy object, typeid 'set' at {:x}>", self.base.id())
    }
}

impl<T: Serialize + DeserializeOwned + fmt::Debug> fmt::Display for SetProxy<T> {
    /// The referent in Python's set form: `{1, 2}`, or `set()` when empty.
    /// If the server cannot be reached, `<SetProxy: error>` with the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_vec() {
            Ok(items) if items.is_empty() => f.write_str("set()"),
            Ok(items) => {
                f.write_str("{")?;
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x:?}")?;
                }
                f.write_str("}")
            }
            Err(e) => write!(f, "<SetProxy: {e}>"),
        }
    }
}

impl<R: Registry> Manager<R> {
    /// A new empty shared set (Python 3.14's `manager.set()`).
    pub fn set<T>(&self) -> Result<SetProxy<T>> {
        self.create_raw(&Vec::<ByteBuf>::new())
    }

    /// A new shared set holding the distinct elements of `items`, in their
    /// first-seen order (Python's `manager.set(iterable)`).
    pub fn set_from<T: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<SetProxy<T>> {
        self.create_raw(&Self::encode_all(items)?)
    }
}
