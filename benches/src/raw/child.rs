//! Forked children for the raw scenarios: start one running a closure,
//! reap it and check that it succeeded.

use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mp_sys::process::{exit_now, fork_unchecked, wait_pidfd, ExitStatus, Fork};

/// Forks a child that runs `body` and `_exit`s (1 if it panicked); returns
/// its pidfd. Panics if the fork fails.
///
/// A bare `fork()`: unlike [`mp_sys::process::fork`] it does not read
/// `/proc` to count threads first, a cost that is not part of a raw limit.
///
/// # Safety
/// The calling process must have a single thread (then the child is an
/// exact copy of it: `fork_unchecked`'s contract holds trivially). Every raw
/// scenario runs in such a process: [`super::Raw::run`] checks it before
/// the scenario starts, and no raw scenario starts a thread; a child forked
/// here is a copy of a single-threaded process, so single-threaded too.
pub(super) unsafe fn start(body: impl FnOnce()) -> OwnedFd {
    // SAFETY: the process has one thread (this function's contract).
    match unsafe { fork_unchecked() }.expect("fork") {
        Fork::Child => {
            let ok = catch_unwind(AssertUnwindSafe(body)).is_ok();
            exit_now(if ok { 0 } else { 1 })
        }
        Fork::Parent { pidfd, .. } => pidfd,
    }
}

/// Reaps the child behind `pidfd` and asserts that it exited with 0.
pub(super) fn reap(pidfd: &OwnedFd) {
    let st = wait_pidfd(pidfd, true).expect("waitid");
    assert_eq!(st, Some(ExitStatus::Exited(0)), "raw child failed");
}
