//! The worker's watch on its parent: a thread that sleeps on the parent's
//! sentinel and, when the parent dies while the worker waits for a request,
//! ends the worker as the worker itself would (exit code 0, the child's
//! usual shutdown). So the worker's own thread can wait for a request in a
//! plain blocking `read` of its link instead of a `poll` of the link and the
//! sentinel before every request; end of stream cannot stand in for the
//! watch, since under fork every process the parent forks later inherits
//! the link's write end.
//!
//! The two threads agree through one state word: the worker marks each
//! wait; the watch ends the process only during one. A parent that dies
//! while a task runs is noticed before the next wait, as it was with the
//! `poll`: the task finishes and its reply is written first.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use mp_process::ParentProcess;

/// The worker runs (a task, or anything but a wait for a request).
const RUNNING: u8 = 0;
/// The worker waits for a request: the watch may end the process.
const WAITING: u8 = 1;
/// The parent died.
const ORPHANED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(RUNNING);

/// The watch thread's stack: what the shutdown needs (logging, exit
/// finalizers); untouched pages cost no memory.
const STACK: usize = 256 * 1024;

/// How long the watch waits before polling again after a failed poll.
const RETRY: Duration = Duration::from_millis(100);

/// Starts watching `parent` (its sentinel); `false` if it cannot be watched
/// (no sentinel, or no thread), and the worker must watch it itself.
pub(crate) fn start(parent: ParentProcess) -> bool {
    if parent.sentinel().is_none() {
        return false;
    }
    let spawned = mp_sys::thread_spawn::Builder::new("mp-pool-parent-watch")
        .stack_size(STACK)
        .spawn(move || watch(&parent));
    match spawned {
        Ok(_) => true,
        Err(e) => {
            log::debug!(target: "multiprocess", "cannot start the parent watch: {e}");
            false
        }
    }
}

/// The watch thread: waits for the parent's death, then ends the process if
/// the worker is waiting for a request (else the worker sees it before its
/// next wait).
fn watch(parent: &ParentProcess) {
    let Some(sentinel) = parent.sentinel() else {
        return;
    };
    // Nothing here allocates until the parent dies: under fork, a first
    // allocation in a new thread would make it a malloc arena.
    loop {
        match mp_sys::socket::poll_readable(sentinel, None) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                // Not expected on a valid fd but for want of memory: try
                // again shortly rather than leave the worker unwatched.
                log::debug!(target: "multiprocess", "cannot watch the parent: {e}");
                std::thread::sleep(RETRY);
            }
        }
    }
    if STATE.swap(ORPHANED, Ordering::SeqCst) == WAITING {
        mp_process::exit_process(0);
    }
}

/// Runs `wait` (a blocking wait for the next request) as a wait the watch
/// may end: `None` if the parent died before it began (the worker ends as
/// at end of stream). If the parent dies during it, the watch ends the
/// process and this never returns.
pub(crate) fn waiting<T>(wait: impl FnOnce() -> T) -> Option<T> {
    if STATE
        .compare_exchange(RUNNING, WAITING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return None;
    }
    let out = wait();
    if STATE
        .compare_exchange(WAITING, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // The watch is ending the process (it saw this wait).
        loop {
            std::thread::park();
        }
    }
    Some(out)
}
