//! mp-shm's process-local locks across a fork (see `mp_sys::fork_hooks`).
//!
//! Two locks guard process-local state that a forked child uses at once
//! (decoding a handle maps its region; creating a primitive carves a slot):
//! the slot arena and the mapping cache. Another thread of the parent may
//! hold either at the moment of a fork, which would leave it locked for
//! ever in the child. So both are taken just before each fork, in the
//! order the code nests them (arena, then cache: carving a new chunk maps
//! it), and released on both sides afterwards. In the child the arena also
//! forgets its current chunk: the chunk is shared memory, so a child that
//! went on carving it would hand out the same offsets as its parent.

use std::cell::RefCell;
use std::sync::{MutexGuard, Once};

use crate::arena::{self, Bump};
use crate::region::{self, CacheMap};

thread_local! {
    /// The guards taken by `prepare`, in the forking thread.
    static HELD: RefCell<Option<(MutexGuard<'static, Bump>, MutexGuard<'static, CacheMap>)>> =
        const { RefCell::new(None) };
}

fn prepare() {
    let bump = arena::lock();
    let cache = region::lock_cache();
    HELD.with(|h| *h.borrow_mut() = Some((bump, cache)));
}

fn parent() {
    HELD.with(|h| drop(h.borrow_mut().take()));
}

fn child() {
    HELD.with(|h| {
        if let Some((mut bump, cache)) = h.borrow_mut().take() {
            bump.forget_chunk();
            drop(cache);
            drop(bump);
        }
    });
}

/// Registers the hooks, once per process (forked children inherit them).
pub(crate) fn ensure_registered() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        mp_sys::fork_hooks::register(mp_sys::fork_hooks::ForkHook {
            prepare,
            parent,
            child,
        })
    });
}
