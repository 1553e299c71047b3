//! What a process cleans up when it exits: an [`ExitList`] of items, each
//! tagged with the pid that added it (a forked child inherits the list but
//! not the duty), and the finalizer that goes through them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

/// Locks `m` if it is free (or poisoned); `None` if another thread holds it,
/// and the caller gives up rather than risk a deadlock at exit.
pub(crate) fn try_lock_at_exit<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// An [`ExitList`] locked across a fork.
pub(crate) type HeldList<T> = MutexGuard<'static, Vec<(T, u32)>>;

/// Items this process must clean up at exit, unless removed before.
pub(crate) struct ExitList<T> {
    items: Mutex<Vec<(T, u32)>>,
    /// Whether the finalizer is registered: a flag, not a `Once`, which a
    /// fork during the registration would leave running for ever in the
    /// child (registering twice is harmless: the finalizer list dedups).
    hook: AtomicBool,
}

impl<T> ExitList<T> {
    pub(crate) const fn new() -> Self {
        ExitList {
            items: Mutex::new(Vec::new()),
            hook: AtomicBool::new(false),
        }
    }

    /// Adds `item` for this process; the first call registers `finalizer`
    /// (which calls [`for_each_mine_at_exit`](Self::for_each_mine_at_exit))
    /// with `mp_sys::exit`.
    pub(crate) fn push(&self, item: T, finalizer: fn()) {
        crate::fork_safety::ensure_registered();
        if !self.hook.load(Ordering::Acquire) {
            mp_sys::exit::register_finalizer(finalizer);
            self.hook.store(true, Ordering::Release);
        }
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((item, std::process::id()));
    }

    /// The list, locked by a forking thread across the fork (see
    /// `fork_safety`).
    pub(crate) fn hold_for_fork(&'static self) -> HeldList<T> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes this process's items for which `drop_it` is true and
    /// returns them.
    pub(crate) fn remove_mine(&self, mut drop_it: impl FnMut(&T) -> bool) -> Vec<T> {
        let me = std::process::id();
        crate::fork_safety::ensure_registered();
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mut removed = Vec::new();
        let mut i = 0;
        while i < items.len() {
            if items[i].1 == me && drop_it(&items[i].0) {
                removed.push(items.remove(i).0);
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Calls `f` on each of this process's items; gives up if another
    /// thread holds the list while the process exits.
    pub(crate) fn for_each_mine_at_exit(&self, mut f: impl FnMut(&T)) {
        let me = std::process::id();
        let Some(items) = try_lock_at_exit(&self.items) else {
            return;
        };
        for (item, pid) in items.iter() {
            if *pid == me {
                f(item);
            }
        }
    }
}
