//! What every process does when it ends, as Python's `util._exit_function`:
//! log "process shutting down", terminate daemonic children, join the rest,
//! then run the exit finalizers that subsystems registered with
//! `mp_sys::exit` (the fork server's shutdown among them).
//! Registered with `atexit` in the main process; called directly at the end
//! of a child.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::children;
use crate::log::TARGET;

/// Whether the exit hook is registered: a flag, not a `Once`, which a fork
/// from another thread during the registration would leave "running" for
/// ever in the child (see `mp_sys::fork_hooks`).
static ARMED: AtomicBool = AtomicBool::new(false);
/// The pid of the process that already ran its clean-up (once per process).
static DONE_IN: AtomicU32 = AtomicU32::new(0);

/// Registers the exit hook once (inherited by forked children).
pub(crate) fn arm() {
    // Looked at before it is written: in a child that inherited it armed,
    // a write would cost a copy-on-write fault.
    if !ARMED.load(Ordering::Acquire) && !ARMED.swap(true, Ordering::AcqRel) {
        let _ = mp_sys::exit::at_exit(on_exit);
    }
}

extern "C" fn on_exit() {
    // Never unwind into the C runtime.
    let _ = std::panic::catch_unwind(run_exit_cleanup);
}

/// Terminates daemonic children and joins every other live child; runs at
/// most once per process.
pub(crate) fn run_exit_cleanup() {
    let pid = mp_sys::process::getpid();
    if DONE_IN.swap(pid, Ordering::SeqCst) == pid {
        return;
    }
    log::info!(target: TARGET, "process shutting down");
    let live = children::live_children();
    let daemons = live.iter().filter(|c| c.daemon).count();
    log::debug!(
        target: TARGET,
        "running exit-time clean-up: {daemons} daemonic children to terminate, {} children to join",
        live.len()
    );
    for c in live.iter().filter(|c| c.daemon) {
        log::info!(target: TARGET, "calling terminate() for daemon {}", c.name);
        let _ = c.signal(mp_sys::signal::SIGTERM);
    }
    for c in &live {
        log::info!(target: TARGET, "calling join() for process {}", c.name);
        let _ = c.wait(None);
        children::forget(c);
    }
    // Then what subsystems registered (the fork server's shutdown, shared
    // memory names to unlink, ...).
    mp_sys::exit::run_finalizers();
}
