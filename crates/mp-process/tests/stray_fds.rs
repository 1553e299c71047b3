//! Descriptors a child inherits, as in CPython: a `spawn` child and a
//! `forkserver` child get standard input (`/dev/null`), output and error and
//! what they are sent, nothing else the parent had open without
//! close-on-exec (CPython's `close_fds`); a `fork` child is a copy and has
//! them all. Alone in its test binary: the fork server must start after the
//! stray descriptor exists, or the check of its children would prove
//! nothing.

use std::os::fd::{AsRawFd, OwnedFd};

use mp_process::get_context;

/// Exits 0 if descriptor `fd` is closed in this child, 3 if it is open.
fn check_closed(fd: i32) {
    let open = std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok();
    mp_process::exit(if open { 3 } else { 0 });
}

/// The exit code of a child started with `method` that checks `fd`.
fn child_sees(method: &str, fd: i32) -> Option<i32> {
    let ctx = get_context(Some(method)).unwrap();
    let mut p = ctx.process(check_closed, (fd,));
    p.start().unwrap();
    p.join().unwrap();
    p.exitcode()
}

#[test]
fn spawn_and_forkserver_children_inherit_no_stray_descriptor() {
    // A pipe end without close-on-exec, as one inherited from a shell or
    // opened by a C library would be.
    let (read, write) = mp_sys::fd::pipe().unwrap();
    mp_sys::fd::set_cloexec(&write, false).unwrap();
    let stray: OwnedFd = write;
    let fd = stray.as_raw_fd();
    assert!(mp_sys::fd::inheritable_fds().unwrap().contains(&fd));
    assert!(!mp_sys::fd::inheritable_fds()
        .unwrap()
        .contains(&read.as_raw_fd()));

    assert_eq!(child_sees("spawn", fd), Some(0), "spawn");
    // The fork server starts now, after the stray descriptor exists.
    assert_eq!(child_sees("forkserver", fd), Some(0), "forkserver");
    // A forked child is a copy: it has every descriptor (CPython too).
    assert_eq!(child_sees("fork", fd), Some(3), "fork");
    drop(stray);
}
