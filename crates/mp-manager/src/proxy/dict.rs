//! [`DictProxy`]: a managed `dict` with typed keys and values.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::{ByteBuf, Bytes};

use super::{typed_proxy, BaseProxy};
use crate::error::{RemoteError, RemoteErrorKind, Result};
use crate::manager::Manager;
use crate::protocol::{self, to_bytes};
use crate::shared::Registry;

/// A proxy to a `dict` in a manager server (Python's `DictProxy`), with
/// keys `K` and values `V`.
///
/// Every method is one round trip to the server. Values come back as
/// copies: `d.get(&k)?.unwrap().push(1)` changes the copy only (Python's
/// "a mutated copy is lost" rule) — store it back with
/// [`insert`](Self::insert), or store a proxy (a [`ListProxy`](crate::ListProxy)
/// value stays a live reference to the shared list). Keys are compared by
/// their encoding: use key types whose equal values encode equally
/// (integers, strings, tuples of them; not floats with `-0.0`/NaN).
///
/// `Display` prints the referent in Python's dict form, `{0: 0, 1: 2}`.
pub struct DictProxy<K, V> {
    pub(super) base: BaseProxy,
    _types: PhantomData<fn() -> (K, V)>,
}

typed_proxy!(DictProxy<K, V>, "dict");

fn key_error() -> crate::ManagerError {
    RemoteError::new(RemoteErrorKind::Key, "key not found").into()
}

/// How a call on one key (and a value) is made: the key and the value are
/// encoded, each as a byte string, into this thread's arguments buffer
/// (`protocol::with_args_buffer`, `protocol::append_as_bytes`), and a value
/// in the reply is decoded where it lies: no allocation per call but the
/// decoded value's own.
impl<K, V> DictProxy<K, V>
where
    V: DeserializeOwned,
{
    /// Calls `method` with the encoding of `key` as its argument.
    fn call_key<Q, R>(
        &self,
        method: &str,
        key: &Q,
        then: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R>
    where
        Q: Serialize + ?Sized,
    {
        protocol::with_args_buffer(|args| {
            protocol::append_as_bytes(key, args)?;
            self.base.call_encoded(method, args, then)
        })
    }

    /// Calls `method` with the encodings of `key` and `value`.
    fn call_pair<Q, W, R>(
        &self,
        method: &str,
        key: &Q,
        value: &W,
        then: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R>
    where
        Q: Serialize + ?Sized,
        W: Serialize + ?Sized,
    {
        protocol::with_args_buffer(|args| {
            protocol::append_as_bytes(key, args)?;
            protocol::append_as_bytes(value, args)?;
            self.base.call_encoded(method, args, then)
        })
    }

    /// A stored value, from a reply that is its encoding as bytes.
    fn value(&self, out: &[u8]) -> Result<V> {
        let v: &Bytes = protocol::from_bytes(out)?;
        self.base.decode(v)
    }

    /// An optional stored value, from a reply of `Option` of its bytes.
    fn maybe_value(&self, out: &[u8]) -> Result<Option<V>> {
        let v: Option<&Bytes> = protocol::from_bytes(out)?;
        v.map(|v| self.base.decode(v)).transpose()
    }
}

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// The value for `key`, if any (Python's `d.get(key)`).
    pub fn get<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.call_key("get", key, |out| self.maybe_value(out))
    }

    /// The value for `key`, or a `Key` error (Python's `d[key]`).
    pub fn get_item<Q>(&self, key: &Q) -> Result<V>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.call_key("__getitem__", key, |out| self.value(out))
    }

    /// Sets `key` to `value` (Python's `d[key] = value`).
    pub fn set(&self, key: K, value: V) -> Result<()> {
        // `()` holds no proxy: decoded without the proxy's decode context.
        self.call_pair("__setitem__", &key, &value, |out| {
            Ok(protocol::from_bytes::<()>(out)?)
        })
    }

    /// Sets `key` to `value`, returning the old value (`HashMap::insert`).
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>> {
        self.call_pair("insert", &key, &value, |out| self.maybe_value(out))
    }

    /// Removes `key`, returning its value if it was there (`HashMap::remove`).
    pub fn remove<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.call_key("pop", key, |out| self.maybe_value(out))
    }

    /// Removes `key` and returns its value, or a `Key` error (Python's
    /// `d.pop(key)`).
    pub fn pop<Q>(&self, key: &Q) -> Result<V>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.remove(key)?.ok_or_else(key_error)
    }

    /// Removes and returns the last inserted pair, or a `Key` error when
    /// empty (Python's `popitem()`).
    pub fn popitem(&self) -> Result<(K, V)> {
        let (k, v): (ByteBuf, Option<ByteBuf>) = self.base.call("popitem", &())?;
        let v = v.ok_or_else(key_error)?;
        Ok((self.base.decode_value(k)?, self.base.decode_value(v)?))
    }

    /// Whether `key` is present (Python's `key in d`).
    #[doc(alias = "contains")]
    #[doc(alias = "__contains__")]
    pub fn contains_key<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.call_key("__contains__", key, |out| self.base.decode(out))
    }

    /// The number of pairs (Python's `len(d)`).
    pub fn len(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("__len__", &())? as usize)
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The keys, in insertion order (a copy).
    pub fn keys(&self) -> Result<Vec<K>> {
        let ks: Vec<ByteBuf> = self.base.call("keys", &())?;
        ks.into_iter().map(|k| self.base.decode_value(k)).collect()
    }

    /// The keys, last inserted first (Python 3.13's `reversed(d)`; a copy).
    #[doc(alias = "reversed")]
    #[doc(alias = "__reversed__")]
    pub fn keys_reversed(&self) -> Result<Vec<K>> {
        let mut ks = self.keys()?;
        ks.reverse();
        Ok(ks)
    }

    /// The values, in insertion order (copies).
    pub fn values(&self) -> Result<Vec<V>> {
        let vs: Vec<ByteBuf> = self.base.call("values", &())?;
        vs.into_iter().map(|v| self.base.decode_value(v)).collect()
    }

    /// The pairs, in insertion order: a snapshot of the dict (Python's
    /// `d.items()`; see also [`copy`](Self::copy)).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        let items: Vec<(ByteBuf, ByteBuf)> = self.base.call("items", &())?;
        items
            .into_iter()
            .map(|(k, v)| Ok((self.base.decode_value(k)?, self.base.decode_value(v)?)))
            .collect()
    }

    /// A snapshot of the dict collected into any map or list of pairs
    /// (Python's `d.copy()`, which returns a plain dict): a `HashMap<K, V>`,
    /// a `BTreeMap<K, V>`, or a `Vec<(K, V)>` in insertion order.
    pub fn copy<C: FromIterator<(K, V)>>(&self) -> Result<C> {
        self.items().map(|items| items.into_iter().collect())
    }

    /// A snapshot of the dict updated with `pairs`, which leaves the dict
    /// unchanged (Python 3.9+'s `d | other`, exposed by `DictProxy` since
    /// 3.13), collected as [`copy`](Self::copy) is. In insertion order, the
    /// dict's keys come first, then the new keys of `pairs`; a key in both
    /// gets the value from `pairs`. Python's `d |= other` is
    /// [`update`](Self::update).
    #[doc(alias = "__or__")]
    #[doc(alias = "merge")]
    pub fn union<C: FromIterator<(K, V)>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<C> {
        let items = pairs
            .into_iter()
            .map(|(k, v)| Ok((to_bytes(&k)?, to_bytes(&v)?)))
            .collect::<Result<Vec<_>>>()?;
        let merged: Vec<(ByteBuf, ByteBuf)> = self.base.call("__or__", &items)?;
        merged
            .into_iter()
            .map(|(k, v)| Ok((self.base.decode_value(k)?, self.base.decode_value(v)?)))
            .collect()
    }

    /// Sets every pair of `pairs`, in one round trip (Python's `update`,
    /// and `d |= other`).
    #[doc(alias = "__ior__")]
    pub fn update(&self, pairs: impl IntoIterator<Item = (K, V)>) -> Result<()> {
        let items = pairs
            .into_iter()
            .map(|(k, v)| Ok((to_bytes(&k)?, to_bytes(&v)?)))
            .collect::<Result<Vec<_>>>()?;
        self.base.call("update", &items)
    }

    /// The value for `key`, inserting `default` first if it is missing
    /// (Python's `setdefault`).
    pub fn setdefault(&self, key: K, default: V) -> Result<V> {
        self.call_pair("setdefault", &key, &default, |out| self.value(out))
    }

    /// Removes every pair.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }
}

impl<K, V> fmt::Debug for DictProxy<K, V> {
    /// Python's repr: `<DictProxy object, typeid 'dict' at ...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<DictProxy object, typeid 'dict' at {:x}>",
            self.base.id()
        )
    }
}

impl<K, V> fmt::Display for DictProxy<K, V>
where
    K: Serialize + DeserializeOwned + fmt::Debug,
    V: Serialize + DeserializeOwned + fmt::Debug,
{
    /// The referent in Python's dict form: `{0: 0, 1: 2}`. If the server
    /// cannot be reached, `<DictProxy: error>` with the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.items() {
            Ok(items) => {
                f.write_str("{")?;
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v:?}")?;
                }
                f.write_str("}")
            }
            Err(e) => write!(f, "<DictProxy: {e}>"),
        }
    }
}

impl<R: Registry> Manager<R> {
    /// A new empty shared dict (Python's `manager.dict()`).
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>> {
        self.create_raw(&Vec::<(ByteBuf, ByteBuf)>::new())
    }

    /// A new shared dict holding `pairs` (Python's `manager.dict(mapping)`).
    pub fn dict_from<K: Serialize, V: Serialize>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<DictProxy<K, V>> {
        let items = pairs
            .into_iter()
            .map(|(k, v)| Ok((to_bytes(&k)?, to_bytes(&v)?)))
            .collect::<Result<Vec<_>>>()?;
        self.create_raw(&items)
    }

    /// A new shared dict mapping each of `keys` to `value` (Python's
    /// `dict.fromkeys(keys, value)`, exposed by `DictProxy` since 3.13;
    /// Python's default value `None` is `Option::None` here, given
    /// explicitly). A repeated key is kept once, at its first position.
    #[doc(alias = "fromkeys")]
    pub fn dict_fromkeys<K: Serialize, V: Serialize>(
        &self,
        keys: impl IntoIterator<Item = K>,
        value: V,
    ) -> Result<DictProxy<K, V>> {
        let value = to_bytes(&value)?;
        let items = keys
            .into_iter()
            .map(|k| Ok((to_bytes(&k)?, value.clone())))
            .collect::<Result<Vec<_>>>()?;
        self.create_raw(&items)
    }
}
