//! The one `unsafe` of this crate: the `fork` start method forks a process
//! that may have other threads, under the contract documented on
//! [`StartMethod::Fork`](crate::StartMethod::Fork).
//!
//! # Safety
//! One call to [`mp_sys::process::fork_unchecked`]; its block says why the
//! contract holds, or rather who keeps it.
#![allow(unsafe_code)]

use mp_sys::process::{fork_unchecked, Fork};

/// Forks for the `fork` start method. The caller (`start::start_fork`)
/// holds every lock of this crate that the child touches, and stdout and
/// stderr, across the call.
pub(crate) fn fork_for_start_method() -> std::io::Result<Fork> {
    // SAFETY: `fork_unchecked`'s contract (nothing the child runs depends on
    // state another thread was holding or changing at the fork) is kept in
    // two parts. This crate's own part: the caller holds the child registry,
    // the fork server's handle, the current-process state, the start-method
    // choice, stdout and stderr across the call, and the panic hook was
    // installed before any fork. The user's part is the contract written on
    // `StartMethod::Fork` (CPython's own caveat): choosing the fork start
    // method in a multi-threaded program is the user's promise that the
    // child's target does not touch state the other threads may hold.
    // SAFETY: both parts of the contract are kept, as argued just above.
    unsafe { fork_unchecked() }
}
