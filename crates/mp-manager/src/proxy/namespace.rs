//! [`NamespaceProxy`]: a managed `Namespace` of named values of any types.

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

/// A proxy to a `Namespace` in a manager server: named values, each of its
/// own type (Python's attributes `ns.value = ...`).
///
/// Reading a missing name is an `Attribute` remote error whose `Display` is
/// Python's text, `'Namespace' object has no attribute 'value'`.
///
/// **A mutated copy is lost.** [`get`](Self::get) returns a copy: pushing
/// onto a `Vec` fetched from the namespace changes only the copy, exactly as
/// `ns.my_list.append(x)` does nothing to the shared value in Python. Store
/// it back with [`set`](Self::set) to publish the change.
pub struct NamespaceProxy {
    base: BaseProxy,
    _types: PhantomData<()>,
}

typed_proxy!(NamespaceProxy, "Namespace");

impl NamespaceProxy {
    /// The value named `name`, decoded as `T` (a copy).
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let v: ByteBuf = self.base.call("__getattribute__", &name)?;
        self.base.decode_value(v)
    }

    /// Sets `name` to `value` (Python's `ns.name = value`).
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        self.base.call("__setattr__", &(name, to_bytes(value)?))
    }

    /// Removes `name`; an `Attribute` error if it is missing (Python's `del ns.name`).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.base.call("__delattr__", &name)
    }

    /// Whether `name` is set (Python's `hasattr(ns, name)`).
    pub fn contains(&self, name: &str) -> Result<bool> {
        self.base.call("__contains__", &name)
    }

    /// The names set, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        self.base.call("names", &())
    }
}

impl fmt::Debug for NamespaceProxy {
    /// Python's repr: `<NamespaceProxy object, typeid 'Namespace' at ...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<NamespaceProxy object, typeid 'Namespace' at {:x}>",
            self.base.id()
        )
    }
}

impl<R: Registry> Manager<R> {
    /// A new empty shared namespace (Python's `manager.Namespace()`).
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.create_raw(&Vec::<(String, ByteBuf)>::new())
    }
}
