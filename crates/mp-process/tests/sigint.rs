//! `SIGINT` (Ctrl-C in a terminal reaches the whole foreground process
//! group): the fork server ignores it, as CPython's does, and keeps reporting
//! its children's real exit status; a child has the default disposition, so
//! one interrupted while running a Rust target reports `-2` (CPython's
//! `KeyboardInterrupt` in a Python target gives `1`; a Rust target has no
//! such exception). Runs under the start method of
//! `MULTIPROCESS_START_METHOD`; the fork-server test uses a fork-server
//! context whatever it is.

mod common;

use std::io::Read;

use mp_process::{get_context, Process};
use mp_sys::signal::SIGINT;
use mp_wire::SharedFd;

/// Waits until the test writes a byte (or closes the pipe), then exits with 7.
fn wait_then_exit(go: SharedFd) {
    let mut byte = [0u8; 1];
    let _ = std::fs::File::from(go.into_inner()).read(&mut byte);
    mp_process::exit(7);
}

/// Says it is running (its `SIGINT` disposition is set by then), then sleeps.
fn sleep_forever(ready: SharedFd) {
    common::report(&ready, "ready");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[test]
fn fork_server_survives_sigint_and_reports_real_status() {
    let ctx = get_context(Some("forkserver")).unwrap();
    let (go_r, go_w) = mp_sys::fd::pipe().unwrap();
    let mut waiting = ctx.process(wait_then_exit, (SharedFd::from(go_r),));
    waiting.start().unwrap();
    let server = common::parent_pid(waiting.pid().unwrap());
    assert_ne!(
        server,
        std::process::id(),
        "a fork-server child's parent is the server"
    );

    mp_sys::process::kill(server, SIGINT).unwrap();

    // A round trip through the server: it has handled the signal by now.
    let (next_r, next_w) = mp_sys::fd::pipe().unwrap();
    let mut after = ctx.process(wait_then_exit, (SharedFd::from(next_r),));
    after.start().unwrap();
    assert_eq!(
        common::parent_pid(after.pid().unwrap()),
        server,
        "the same fork server started the next child"
    );
    drop(next_w);
    after.join().unwrap();
    assert_eq!(after.exitcode(), Some(7));

    mp_sys::fd::write_all(&go_w, b"x").unwrap();
    waiting.join().unwrap();
    assert_eq!(
        waiting.exitcode(),
        Some(7),
        "the child's own status, not 255"
    );
}

#[test]
fn interrupted_child_reports_minus_sigint() {
    let (ready, ready_w) = common::reports();
    let mut p = Process::new(sleep_forever, (ready_w,));
    p.start().unwrap();
    assert_eq!(ready.take(1), ["ready"]);
    p.interrupt().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(-2));
    assert!(p.to_string().contains("exitcode=-SIGINT"), "{p}");
}
