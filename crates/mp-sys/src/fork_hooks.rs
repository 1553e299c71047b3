//! Hooks run around every fork this library makes ([`fork_unchecked`],
//! and so [`fork`]): the `pthread_atfork` pattern for process-local state
//! of the crates above.
//!
//! A process-local lock that another thread holds at the moment of a fork
//! stays locked for ever in the child, whose copy has no thread to release
//! it. A crate that keeps such a lock (mp-shm's mapping cache and slot
//! arena) registers a [`ForkHook`]: `prepare` takes its locks just before
//! the fork, in the forking thread, so no other thread holds them at that
//! instant; `parent` and `child` release them on each side (and `child` may
//! also reset state that must not be shared with the parent). Hooks run in
//! reverse order of registration before the fork and in order after it.
//! This crate's own exit finalizer list is held the same way.
//!
//! # Lazy initialisation and `fork`
//! `std::sync::Once`, `OnceLock` and `LazyLock` are locks too: a fork while
//! another thread runs an initialiser copies the "running" state into the
//! child, whose first use then waits for ever for a thread it does not
//! have. Process-local state that a forked child may touch is therefore
//! initialised without blocking: `once_cell::race::OnceBox` (concurrent
//! initialisers race, one wins, the others' values are dropped), an atomic
//! flag, or [`register_once`] for hooks. The rule covers every crate of the
//! workspace.
//!
//! [`fork_unchecked`]: crate::process::fork_unchecked
//! [`fork`]: crate::process::fork

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Three functions run around a fork, in the forking thread.
///
/// They must not panic (a fork is not a place to unwind) and must not fork;
/// `prepare` must only take locks that no lock held by the forking thread
/// is ordered after.
#[derive(Debug, Clone, Copy)]
pub struct ForkHook {
    /// Runs just before the fork.
    pub prepare: fn(),
    /// Runs in the parent just after the fork.
    pub parent: fn(),
    /// Runs in the child just after the fork (its only thread).
    pub child: fn(),
}

static HOOKS: Mutex<Vec<ForkHook>> = Mutex::new(Vec::new());
/// Whether `HOOKS` holds any hook (set under its lock, never cleared).
static ANY_HOOK: AtomicBool = AtomicBool::new(false);

/// This process was made by a fork through this crate (or descends from
/// one that was): set in the child by
/// [`fork_unchecked`](crate::process::fork_unchecked), read without a
/// system call.
static FORKED: AtomicBool = AtomicBool::new(false);

/// Records that this process is the child of a fork (see [`forked`]).
#[inline]
pub(crate) fn mark_forked() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Whether this process was made by a fork through this crate, or
/// descends from one: then its parent's threads may have left locks of
/// std's held for ever here (see `thread_spawn`), and its copy of
/// async-io's reactor may be the parent's (see `readiness_thread`).
pub fn forked() -> bool {
    FORKED.load(Ordering::Relaxed)
}

fn hooks() -> MutexGuard<'static, Vec<ForkHook>> {
    HOOKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers `hook` to run around every later fork made through this
/// crate, unless `done` says it already was, and sets `done`: a
/// once-per-process registration that never blocks on another thread's
/// unfinished one (as `Once::call_once` would, for ever in a child forked
/// meanwhile). The flag is tested and set under the registry's lock, so
/// two racing callers register the hook once; a forked child inherits
/// both the flag and the registration.
pub fn register_once(done: &'static AtomicBool, hook: ForkHook) {
    if done.load(Ordering::Acquire) {
        return;
    }
    let mut list = hooks();
    if !done.load(Ordering::Relaxed) {
        list.push(hook);
        ANY_HOOK.store(true, Ordering::Release);
        done.store(true, Ordering::Release);
    }
}

/// Runs `fork` between the hooks; `in_child` says which side a result is.
///
/// The registry itself is held across the fork, so a registration racing
/// with the fork can never leave it locked in the child. A caller that is
/// the process's only thread (`one_thread`) in a process that registered no
/// hook just forks: no other thread can hold a lock or be registering, and
/// releasing the registry and the exit finalizer list after the fork would
/// write their page, a copy-on-write fault on each side (the fork server's
/// case: one per start in the server and one in the child).
pub(crate) fn around<T>(
    fork: impl FnOnce() -> T,
    in_child: impl Fn(&T) -> bool,
    one_thread: bool,
) -> T {
    if one_thread && !ANY_HOOK.load(Ordering::Acquire) {
        return fork();
    }
    let list = hooks();
    // Taken after the registry (whose holders never take it) and before
    // every hook's locks (none of which is held while registering one).
    let finalizers = crate::exit::hold_for_fork();
    for h in list.iter().rev() {
        (h.prepare)();
    }
    let result = fork();
    let child = in_child(&result);
    for h in list.iter() {
        if child {
            (h.child)();
        } else {
            (h.parent)();
        }
    }
    drop(finalizers);
    drop(list);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    // Counted per thread: the hooks registered here stay registered, and
    // run around every fork the other tests of this binary make on their
    // own threads meanwhile (which a process-wide count would see).
    thread_local! {
        static LOG: Cell<u32> = const { Cell::new(0) };
        static ONCE_LOG: Cell<u32> = const { Cell::new(0) };
    }

    fn add(log: &'static std::thread::LocalKey<Cell<u32>>, n: u32) {
        log.with(|l| l.set(l.get() + n));
    }

    fn read(log: &'static std::thread::LocalKey<Cell<u32>>) -> u32 {
        log.with(Cell::get)
    }

    #[test]
    fn hooks_run_around_the_call_in_order() {
        static DONE: AtomicBool = AtomicBool::new(false);
        register_once(
            &DONE,
            ForkHook {
                prepare: || add(&LOG, 1),
                parent: || add(&LOG, 10),
                child: || add(&LOG, 100),
            },
        );
        let before = read(&LOG);
        let r = around(|| read(&LOG), |_| false, false);
        assert_eq!(r, before + 1, "prepare ran before the call");
        assert_eq!(read(&LOG), before + 11);
        around(|| (), |_| true, false);
        assert_eq!(read(&LOG), before + 11 + 101);
        // A process's only thread skips the hooks only where none was
        // registered: here one was, so they run.
        around(|| (), |_| false, true);
        assert_eq!(read(&LOG), before + 11 + 101 + 11);
    }

    #[test]
    fn register_once_registers_once_under_racing_callers() {
        static DONE: AtomicBool = AtomicBool::new(false);
        let hook = ForkHook {
            prepare: || add(&ONCE_LOG, 1),
            parent: || {},
            child: || {},
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| register_once(&DONE, hook));
            }
        });
        register_once(&DONE, hook);
        assert!(DONE.load(Ordering::SeqCst));
        around(|| (), |_| false, false);
        assert_eq!(read(&ONCE_LOG), 1, "one registration, one prepare");
    }
}
