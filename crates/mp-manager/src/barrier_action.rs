//! Barrier actions (Python's `manager.Barrier(parties, action)`): plain
//! functions registered on the [`ManagerBuilder`](crate::ManagerBuilder)
//! (see [`registered`](crate::registered)), named by a key when a barrier is
//! created.

use mp_process::CodeOnly;
use mp_sys::entry::{EntryFn, EntryPoint};

use crate::registered::{key_of, Registered, Table};

/// One registered action on its way to the server.
pub(crate) type BarrierAction = Registered<(), ()>;

/// A resolved action, callable in the server.
pub(crate) type ActionFn = EntryFn<(), ()>;

/// The registered actions of a server, by key.
pub(crate) type Actions = Table<(), ()>;

/// Names `f`, a zero-sized function (a `fn` item or a non-capturing
/// closure; anything else is a compile-time error).
pub(crate) fn of<F>(f: F) -> BarrierAction
where
    F: Fn() + CodeOnly,
{
    Registered::new(
        key_of::<F>(),
        std::any::type_name::<F>(),
        EntryPoint::of(move |()| f()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registered::resolve_all;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn bump() {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    fn other() {}

    #[test]
    fn registered_actions_resolve_and_run() {
        let a = of(bump);
        assert_eq!(a.key(), of(bump).key());
        assert_ne!(key_of::<u8>(), key_of::<u16>());
        let b = of(other);
        assert_ne!(a.key(), b.key());
        let all = resolve_all(&[a.clone(), b]).unwrap();
        (all[&a.key()])(());
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    }
}
