//! [`ValueProxy`] and [`ArrayProxy`]: a managed single value and a managed
//! fixed-length array.

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

/// A proxy to one value in a manager server (Python's `ValueProxy`).
///
/// `get` and `set` are each one round trip; `v.set(v.get()? + 1)` is not
/// atomic (neither is Python's `v.value += 1`): guard it with a manager
/// lock when several processes update it.
///
/// `Display` is Python's `str(v)` with the type in place of the typecode:
/// `Value(i32, 5)` for Python's `Value('i', 5)`; `Debug` is the proxy's
/// repr.
pub struct ValueProxy<T> {
    base: BaseProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ValueProxy<T>, "Value");

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// The value (a copy).
    pub fn get(&self) -> Result<T> {
        let v: ByteBuf = self.base.call("get", &())?;
        self.base.decode_value(v)
    }

    /// Replaces the value.
    pub fn set(&self, value: T) -> Result<()> {
        self.base.call("set", &to_bytes(&value)?)
    }
}

impl<T> fmt::Debug for ValueProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ValueProxy object, typeid 'Value' at {:x}>",
            self.base.id()
        )
    }
}

impl<T: Serialize + DeserializeOwned + fmt::Debug> fmt::Display for ValueProxy<T> {
    /// `Value(i32, 5)`, `Value(String, "x")`: the type without its module
    /// path, and the value's `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Ok(v) => write!(f, "Value({}, {v:?})", short_type_name::<T>()),
            Err(e) => write!(f, "<ValueProxy: {e}>"),
        }
    }
}

/// `T`'s name without module paths: `Vec<String>` for
/// `alloc::vec::Vec<alloc::string::String>`.
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            word.clear();
        } else {
            out.push_str(&word);
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&word);
    out
}

/// A proxy to a fixed-length array in a manager server (Python's
/// `ArrayProxy`): `len`, indexing (Python's negative indices), a snapshot.
pub struct ArrayProxy<T> {
    base: BaseProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ArrayProxy<T>, "Array");

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// The length.
    pub fn len(&self) -> Result<usize> {
        Ok(self.base.call::<_, u64>("__len__", &())? as usize)
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The item at `index` (an `Index` error when out of range).
    pub fn get(&self, index: isize) -> Result<T> {
        let v: ByteBuf = self.base.call("__getitem__", &(index as i64))?;
        self.base.decode_value(v)
    }

    /// Replaces the item at `index`.
    pub fn set(&self, index: isize, value: T) -> Result<()> {
        self.base
            .call("__setitem__", &(index as i64, to_bytes(&value)?))
    }

    /// A snapshot of the items (Python's `a[:]`).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let items: Vec<ByteBuf> = self.base.call("copy", &())?;
        items
            .into_iter()
            .map(|v| self.base.decode_value(v))
            .collect()
    }
}

impl<T> fmt::Debug for ArrayProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ArrayProxy object, typeid 'Array' at {:x}>",
            self.base.id()
        )
    }
}

impl<R: Registry> Manager<R> {
    /// A new shared value (Python's `manager.Value(typecode, value)`; the
    /// type parameter replaces the typecode).
    pub fn value<T: Serialize>(&self, value: T) -> Result<ValueProxy<T>> {
        self.create_raw(&to_bytes(&value)?)
    }

    /// A new shared array of `items` (Python's `manager.Array(typecode, sequence)`).
    pub fn array<T: Serialize>(&self, items: impl IntoIterator<Item = T>) -> Result<ArrayProxy<T>> {
        self.create_raw(&Self::encode_all(items)?)
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name::<i32>(), "i32");
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(
            short_type_name::<Vec<(String, Option<u8>)>>(),
            "Vec<(String, Option<u8>)>"
        );
        assert_eq!(short_type_name::<&[u8; 2]>(), "&[u8; 2]");
    }
}
