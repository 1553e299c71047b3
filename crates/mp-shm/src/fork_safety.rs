//! mp-shm's process-local locks across a fork (see `mp_sys::fork_hooks`).
//!
//! Five locks guard process-local state that a forked child may use at
//! once: the resource tracker's state (creating a named block registers
//! it), the two exit lists (names and registries this process must clean
//! up), the slot arena (creating a primitive carves a slot) and the mapping
//! cache (decoding a handle maps its region). Another thread of the parent
//! may hold any of them at the moment of a fork, which would leave it
//! locked for ever in the child. So all are taken just before each fork, in
//! the order the code nests them (the first three are never held while
//! another is taken; arena before cache: carving a new chunk maps it), and
//! released on both sides afterwards. In the child the arena also forgets
//! its current chunk: the chunk is shared memory, so a child that went on
//! carving it would hand out the same offsets as its parent.
//!
//! The hooks are registered by the first use of any of these locks, with
//! `register_once` rather than a `Once`, which a fork during the
//! registration would leave "running" for ever in the child.

use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::MutexGuard;

use crate::arena::{self, Bump};
use crate::at_exit::HeldList;
use crate::region::{self, CacheMap};

/// The guards `prepare` takes, in the forking thread; dropped in this
/// order's reverse (fields drop in declaration order, so they are listed
/// innermost first).
struct Held {
    _cache: MutexGuard<'static, CacheMap>,
    bump: MutexGuard<'static, Bump>,
    _registries: HeldList<region::Region>,
    _names: HeldList<(String, Option<u32>)>,
    _tracker: MutexGuard<'static, crate::resource_tracker::State>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

fn prepare() {
    let tracker = crate::resource_tracker::hold_for_fork();
    let names = crate::shared_memory::OWNED.hold_for_fork();
    let registries = crate::manager::OWNED.hold_for_fork();
    let bump = arena::lock();
    let cache = region::lock_cache();
    HELD.with(|h| {
        *h.borrow_mut() = Some(Held {
            _cache: cache,
            bump,
            _registries: registries,
            _names: names,
            _tracker: tracker,
        })
    });
}

fn parent() {
    HELD.with(|h| drop(h.borrow_mut().take()));
}

fn child() {
    HELD.with(|h| {
        if let Some(mut held) = h.borrow_mut().take() {
            held.bump.forget_chunk();
            drop(held);
        }
    });
}

/// Registers the hooks, once per process (forked children inherit them).
pub(crate) fn ensure_registered() {
    static DONE: AtomicBool = AtomicBool::new(false);
    mp_sys::fork_hooks::register_once(
        &DONE,
        mp_sys::fork_hooks::ForkHook {
            prepare,
            parent,
            child,
        },
    );
}
