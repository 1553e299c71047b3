//! Exit-time finalizers shared by every crate of the workspace, and `atexit`.
//!
//! A crate that must clean up when the process ends (unlinking the shared
//! memory names it owns, for instance) registers a finalizer here. They run
//! once per process, in registration order, either from the `atexit` hook
//! installed by the start-up constructor (so it runs after every later
//! `atexit` handler) or earlier, explicitly, from [`run_finalizers`] — which
//! `mp-process` calls at the end of every child (children end with `_exit`)
//! and after the main process has joined its children.
//!
//! # Safety
//! `atexit(3)` is called through `libc`; the block says why it holds.
#![allow(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

static FINALIZERS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());
/// The pid of the process that last ran the finalizers (once per process; a
/// forked child has another pid and runs its own).
static DONE_IN: AtomicU32 = AtomicU32::new(0);

/// `atexit(f)`—Runs `f` when the process calls `exit` (or `main` returns).
pub fn at_exit(f: extern "C" fn()) -> io::Result<()> {
    // SAFETY: `f` is a plain function pointer with the C ABI and no arguments,
    // valid for the whole life of the program (function items are never
    // unloaded).
    let r = unsafe { libc::atexit(f) };
    if r != 0 {
        Err(io::Error::other("atexit: too many handlers"))
    } else {
        Ok(())
    }
}

/// Registers `f` to run once when this process ends.
pub fn register_finalizer(f: fn()) {
    let mut list = FINALIZERS.lock().unwrap_or_else(|e| e.into_inner());
    if !list.contains(&f) {
        list.push(f);
    }
}

/// The finalizer list, held by a forking thread across the fork (see
/// `fork_hooks`), so a child never finds it locked by a thread it lacks.
pub(crate) fn hold_for_fork() -> MutexGuard<'static, Vec<fn()>> {
    FINALIZERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the registered finalizers now, once per process.
pub fn run_finalizers() {
    let pid = crate::process::getpid();
    if DONE_IN.swap(pid, Ordering::SeqCst) == pid {
        return;
    }
    // Copy the list so a finalizer may register another without deadlock.
    let list: Vec<fn()> = match FINALIZERS.try_lock() {
        Ok(g) => g.clone(),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
        // Held by a thread that is gone or busy at exit: skip rather than hang.
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for f in list {
        let _ = std::panic::catch_unwind(f);
    }
}

extern "C" fn finalizers_at_exit() {
    run_finalizers();
}

/// Installed by the start-up constructor, before any other `atexit` handler
/// of the program, so it runs after all of them.
pub(crate) fn install_hook() {
    let _ = at_exit(finalizers_at_exit);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        RUNS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn finalizers_run_once_per_process() {
        super::register_finalizer(count);
        super::register_finalizer(count);
        super::run_finalizers();
        super::run_finalizers();
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    }
}
