//! `mp-sys`: the only crate of `multiprocess` that talks to the kernel directly.
//!
//! **Internal.** This crate exists for the other `multiprocess` crates; its
//! API has no semver promise and may change in any release. Programs use
//! the `multiprocess` facade.
//!
//! Thin, typed wrappers over [`rustix`] (and `libc` where rustix lacks a call):
//! process creation and reaping, pidfds, signals, sockets with `SCM_RIGHTS`,
//! memfd, `mmap` and futex. Public signatures use [`OwnedFd`](std::os::fd::OwnedFd)
//! and [`BorrowedFd`](std::os::fd::BorrowedFd), never raw integers, except where
//! an fd number has to cross an `exec` boundary.
//!
//! ```
//! let (a, b) = mp_sys::socket::socketpair().unwrap();
//! mp_sys::socket::send_with_fds(&a, b"hi", &[]).unwrap();
//! let mut buf = [0u8; 2];
//! let (n, fds) = mp_sys::socket::recv_with_fds(&b, &mut buf, 0).unwrap();
//! assert_eq!((&buf[..n], fds.len()), (&b"hi"[..], 0));
//! ```
//!
//! # Modules
//! - [`bootstrap`]: the start-up constructor that takes over spawned
//!   children, and `spawn_self`.
//! - [`dropped_by_maker`]: a value only the process that made it drops (a
//!   forked child's copy may need locks its parent's threads hold).
//! - [`entry`]: naming a function for another process of the process tree
//!   (offset + MAC tag).
//! - [`exe`]: this program's executable (fd opened at start-up) and build-id.
//! - [`exit`]: `atexit` and the exit finalizers crates register.
//! - [`fd`]: small fd helpers (dup, pipe, read, write_all, poll).
//! - [`fork_hooks`]: locks the crates above hold across this crate's forks,
//!   and whether this process was made by one.
//! - [`fork_start_time`]: a forked child's own start time, known at the fork
//!   instead of read from `/proc`.
//! - [`futex`]: futex wait/wake on shared words.
//! - [`memfd`]: sealed memfds and named `/dev/shm` files.
//! - [`membarrier`]: asymmetric fences between processes (`membarrier`).
//! - `mpi_job` (feature `mpi`): the ranks of an MPI job as one process
//!   tree; worker ranks serve calls before `main`.
//! - [`mmap`]: shared mappings with bounds-checked typed access.
//! - [`process`]: fork (checked and unchecked), pidfds, waiting, signals to
//!   children, `_exit`.
//! - [`random`]: the OS CSPRNG, the one randomness source.
//! - [`signal`]: signal names and dispositions.
//! - [`socket`]: Unix socket pairs and `SCM_RIGHTS` send/receive.
//! - [`thread`]: thread and CPU counts.
//! - [`thread_spawn`]: starting a thread, as a bare POSIX thread in a forked
//!   child (where std's thread start may wait for ever on a lock of std's).
//! - [`time`]: the one `Deadline` type.
//! - [`wipe_on_fork`]: the process's `MADV_WIPEONFORK` page, made before
//!   each fork, for caches of per-process facts.
//!
//! # Platform
//! Linux only. This root is the one platform seam of the workspace: every
//! other crate is portable Rust over this API.
//!
//! # Unsafe
//! The crate root denies `unsafe_code`; only the modules that must call
//! foreign functions opt in, each with a `# Safety` section, and every
//! `unsafe` block carries a `// SAFETY:` comment.
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("multiprocess currently supports Linux only (pidfd, memfd, futex)");

pub mod bootstrap;
pub mod dropped_by_maker;
pub mod entry;
pub mod exe;
pub mod exit;
pub mod fd;
pub mod fork_hooks;
pub mod fork_start_time;
pub mod futex;
#[cfg(feature = "async")]
pub mod futex_watch;
pub mod membarrier;
pub mod memfd;
pub mod mmap;
#[cfg(feature = "mpi")]
pub mod mpi_job;
pub mod process;
pub mod random;
#[cfg(feature = "async")]
pub mod readiness;
#[cfg(feature = "async")]
mod readiness_thread;
#[cfg(feature = "tokio")]
mod readiness_tokio;
pub mod signal;
pub mod socket;
pub mod thread;
pub mod thread_spawn;
pub mod time;
mod tree_key;
pub mod wipe_on_fork;
