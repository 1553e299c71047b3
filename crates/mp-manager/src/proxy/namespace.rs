//! [`NamespaceProxy`]: a managed `Namespace` of named values of any types.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::{typed_proxy, BaseProxy};
use crate::error::{ManagerError, Result};
use crate::manager::Manager;
use crate::protocol::to_bytes;
use crate::repr::repr;
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
///
/// `Display` prints Python's `Namespace(a=1, x=42)`: each value as `{:?}`
/// prints it (from its `Serialize`, when it was set: `x="s"`, `p=Point { x: 1 }`),
/// sorted, names starting with `_` left out.
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
        self.base
            .call("__setattr__", &(name, to_bytes(value)?, repr(value)))
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

impl fmt::Display for NamespaceProxy {
    /// Python's `str(ns)`: `Namespace(a=1, x=42)`. If the server cannot be
    /// reached, `<NamespaceProxy: error>` with the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.base.call::<_, String>("__repr__", &()) {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "<NamespaceProxy: {e}>"),
        }
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

/// The initial values of a namespace (Python's `manager.Namespace(a=1,
/// b='x')`), each of its own type, for [`Manager::namespace_from`].
///
/// ```
/// use mp_manager::{Manager, NamespaceInit};
///
/// let manager = Manager::new()?;
/// let ns = manager.namespace_from(NamespaceInit::new().set("a", &1).set("b", "x"))?;
/// assert_eq!(ns.get::<i32>("a")?, 1);
/// assert_eq!(ns.get::<String>("b")?, "x");
/// # Ok::<(), mp_manager::ManagerError>(())
/// ```
///
/// A name given twice keeps its last value. A value that cannot be encoded
/// (one holding file descriptors) makes `namespace_from` fail with that
/// [`ManagerError::HoldsFds`] error.
#[derive(Default)]
pub struct NamespaceInit {
    items: Vec<(String, ByteBuf, String)>,
    error: Option<ManagerError>,
}

impl NamespaceInit {
    /// No values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name = value`.
    pub fn set<T: Serialize + ?Sized>(mut self, name: &str, value: &T) -> Self {
        if self.error.is_none() {
            match to_bytes(value) {
                Ok(v) => self.items.push((name.to_string(), v, repr(value))),
                Err(e) => self.error = Some(e),
            }
        }
        self
    }
}

impl fmt::Debug for NamespaceInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceInit")
            .field(
                "names",
                &self.items.iter().map(|(n, _, _)| n).collect::<Vec<_>>(),
            )
            .field("error", &self.error)
            .finish()
    }
}

impl<R: Registry> Manager<R> {
    /// A new empty shared namespace (Python's `manager.Namespace()`).
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.create_raw(&Vec::<(String, ByteBuf, String)>::new())
    }

    /// A new shared namespace holding `init`'s values (Python's
    /// `manager.Namespace(**kwds)`), in one round trip.
    pub fn namespace_from(&self, init: NamespaceInit) -> Result<NamespaceProxy> {
        if let Some(e) = init.error {
            return Err(e);
        }
        self.create_raw(&init.items)
    }
}
