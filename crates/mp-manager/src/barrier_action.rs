//! Barrier actions (Python's `manager.Barrier(parties, action)`): plain
//! functions registered on the [`ManagerBuilder`](crate::ManagerBuilder),
//! sent to the server with its start-up configuration, and named afterwards
//! by a key when a barrier is created.
//!
//! The function itself crosses to the server only through the server's
//! private bootstrap channel, as `Process` targets and the initializer do:
//! a client (possibly a remote one) only picks one of the registered
//! functions by key, so no address that came from the network is ever
//! called.

use std::any::TypeId;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use mp_sys::entry::{EntryFn, EntryPoint};
use serde::{Deserialize, Serialize};

/// What a barrier action is to the server: no input, no output.
type ActionEntry = EntryPoint<(), ()>;

/// A resolved action, callable in the server.
pub(crate) type ActionFn = EntryFn<(), ()>;

/// The registered actions of a server, by key.
pub(crate) type Actions = HashMap<u64, ActionFn>;

/// One registered action on its way to the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BarrierAction {
    key: u64,
    entry: (i64, u64, [u8; 20]),
}

/// The key naming `F` in every process running this binary: a hash of its
/// `TypeId` (`DefaultHasher::new()` is the same in every process).
pub(crate) fn key_of<F: 'static>() -> u64 {
    let mut h = DefaultHasher::new();
    TypeId::of::<F>().hash(&mut h);
    h.finish()
}

impl BarrierAction {
    /// Names `f`, a zero-sized function (a `fn` item or a non-capturing
    /// closure; anything else is a compile-time error).
    pub(crate) fn of<F>(f: F) -> Self
    where
        F: Fn() + Copy + Send + 'static,
    {
        let entry = ActionEntry::of(move |()| f());
        BarrierAction {
            key: key_of::<F>(),
            entry: entry.to_parts(),
        }
    }
}

/// Resolves the registered actions (in the server process); `Err(why)` if
/// one was named by another executable.
pub(crate) fn resolve_all(actions: &[BarrierAction]) -> Result<Actions, String> {
    actions
        .iter()
        .map(|a| {
            let (offset, signature, binary) = a.entry;
            ActionEntry::from_parts(offset, signature, binary)
                .resolve()
                .map(|f| (a.key, f))
                .map_err(|e| format!("cannot find a barrier action: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn bump() {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    fn other() {}

    #[test]
    fn registered_actions_resolve_and_run() {
        let a = BarrierAction::of(bump);
        assert_eq!(a.key, BarrierAction::of(bump).key);
        assert_ne!(key_of::<u8>(), key_of::<u16>());
        let b = BarrierAction::of(other);
        assert_ne!(a.key, b.key);
        let all = resolve_all(&[a.clone(), b]).unwrap();
        (all[&a.key])(());
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    }
}
