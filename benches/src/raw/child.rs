//! Forked children for the raw scenarios: start one running a closure,
//! reap it and check that it succeeded.

use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mp_sys::process::{exit_now, fork, wait_pidfd, ExitStatus, Fork};

/// Forks a child that runs `body` and `_exit`s (1 if it panicked); returns
/// its pidfd. Panics if the fork fails (the runner must be single-threaded).
pub(super) fn start(body: impl FnOnce()) -> OwnedFd {
    match fork().expect("fork (a raw scenario runs single-threaded)") {
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
