//! M1's raw limits: `fork()` + `waitid`, fork+exec of the same binary, and a
//! minimal fork server.

use std::process::Command;
use std::time::Instant;

use mp_sys::fd::{read, write_all};
use mp_sys::process::{exit_now, fork_unchecked, wait_pidfd, ExitStatus, Fork};

use super::child;
use crate::scenarios::{iters, Measurement};

/// Set in the environment of the fork+exec child: it exits at once.
pub const EXEC_CHILD_ENV: &str = "MP_BENCH_RAW_CHILD";

/// Exits with 0 if this process is the fork+exec child of
/// the raw fork+exec scenario (`raw:M1-spawn`); call it first thing in `main`.
pub fn exit_if_exec_child() {
    if std::env::var_os(EXEC_CHILD_ENV).is_some() {
        std::process::exit(0);
    }
}

fn per_start(n: u64, t: Instant) -> Measurement {
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e6 / n as f64,
        unit: "us",
    }
}

pub(super) fn fork_waitid(quick: bool) -> Measurement {
    let n = iters(quick, 200);
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    child::reap(&unsafe { child::start(|| ()) });
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
        // checked; none starts a thread).
        child::reap(&unsafe { child::start(|| ()) });
    }
    per_start(n, t)
}

pub(super) fn fork_exec_self(quick: bool) -> Measurement {
    let n = iters(quick, 200);
    let exe = std::env::current_exe().expect("current_exe");
    let once = || {
        let st = Command::new(&exe)
            .env(EXEC_CHILD_ENV, "1")
            .status()
            .expect("spawn");
        assert!(st.success());
    };
    once();
    let t = Instant::now();
    for _ in 0..n {
        once();
    }
    per_start(n, t)
}

/// The server: for each request byte 1, fork a child that exits at once,
/// send its pid, reap it, send its exit code. Ends at any other byte (or
/// end of stream).
fn serve(sock: &std::os::fd::OwnedFd) {
    let mut req = [0u8; 1];
    while read(sock, &mut req).expect("request") == 1 && req[0] == 1 {
        // SAFETY: the server is a fork of a single-threaded raw scenario
        // (`Raw::run` checked) and starts no thread: it has one thread.
        match unsafe { fork_unchecked() }.expect("fork") {
            Fork::Child => exit_now(0),
            Fork::Parent { pid, pidfd } => {
                write_all(sock, &pid.to_le_bytes()).expect("pid");
                let code = match wait_pidfd(&pidfd, true).expect("waitid") {
                    Some(ExitStatus::Exited(c)) => c,
                    _ => -1,
                };
                write_all(sock, &code.to_le_bytes()).expect("exit");
            }
        }
    }
}

fn read_u32(sock: &std::os::fd::OwnedFd) -> u32 {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = read(sock, &mut b[got..]).expect("read");
        assert!(n > 0, "fork server hung up");
        got += n;
    }
    u32::from_le_bytes(b)
}

pub(super) fn fork_server(quick: bool) -> Measurement {
    let n = iters(quick, 200);
    let (ours, theirs) = mp_sys::socket::socketpair().expect("socketpair");
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let server = unsafe { child::start(|| serve(&theirs)) };
    drop(theirs);
    let once = || {
        write_all(&ours, &[1]).expect("request");
        assert!(read_u32(&ours) > 0);
        assert_eq!(read_u32(&ours), 0);
    };
    once();
    let t = Instant::now();
    for _ in 0..n {
        once();
    }
    let m = per_start(n, t);
    write_all(&ours, &[0]).expect("stop");
    child::reap(&server);
    m
}
