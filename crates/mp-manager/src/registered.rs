//! Functions the program registers on the
//! [`ManagerBuilder`](crate::ManagerBuilder) for its server to run (barrier
//! actions, managed-pool functions), and the keys clients name them by.
//!
//! A registered function crosses to the server only through the server's
//! private bootstrap channel (its start-up configuration, sent as `Process`
//! arguments, as the initializer is), or stays in this process for
//! `serve_forever`. A client (possibly a remote one) only picks one of the
//! registered functions by key: a key the server does not know is refused,
//! so no address that came from a connection is ever called.

use std::any::TypeId;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;

use mp_sys::entry::{EntryFn, EntryParts, EntryPoint};
use serde::{Deserialize, Serialize};

/// The key naming `F` in every process running this binary: a hash of its
/// `TypeId` (`DefaultHasher::new()` is the same in every process).
pub(crate) fn key_of<F: 'static>() -> u64 {
    let mut h = DefaultHasher::new();
    TypeId::of::<F>().hash(&mut h);
    h.finish()
}

/// One registered function on its way to the server: its key, its name
/// (for messages) and the entry point that calls it as a `fn(I) -> O`.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub(crate) struct Registered<I, O> {
    key: u64,
    name: String,
    entry: (i64, u64, [u8; 20]),
    _signature: PhantomData<fn(I) -> O>,
}

impl<I, O> Clone for Registered<I, O> {
    fn clone(&self) -> Self {
        Registered {
            key: self.key,
            name: self.name.clone(),
            entry: self.entry,
            _signature: PhantomData,
        }
    }
}

impl<I, O> std::fmt::Debug for Registered<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("key", &format_args!("{:016x}", self.key))
            .field("name", &self.name)
            .finish()
    }
}

impl<I: 'static, O: 'static> Registered<I, O> {
    /// Registers `entry` under `key`; `name` says what it is in messages.
    pub(crate) fn new(key: u64, name: &str, entry: EntryPoint<I, O>) -> Self {
        Registered {
            key,
            name: name.to_string(),
            entry: entry.to_parts(),
            _signature: PhantomData,
        }
    }

    /// The key clients name it by.
    #[cfg(test)]
    pub(crate) fn key(&self) -> u64 {
        self.key
    }
}

/// The registered functions of one kind in the server, by key.
pub(crate) type Table<I, O> = HashMap<u64, EntryFn<I, O>>;

/// Resolves registered functions in the server process; `Err(why)` if one
/// was named by another executable.
pub(crate) fn resolve_all<I: 'static, O: 'static>(
    list: &[Registered<I, O>],
) -> Result<Table<I, O>, String> {
    list.iter()
        .map(|r| {
            let (offset, signature, binary) = r.entry;
            EntryParts::<I, O>::new(offset, signature, binary)
                .resolve()
                .map(|f| (r.key, f))
                .map_err(|e| format!("cannot find the registered function {}: {e}", r.name))
        })
        .collect()
}
