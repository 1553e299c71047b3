//! A fork-server child whose start fails after the fork (here: the server
//! runs out of file descriptors for the child's pidfd) is killed and
//! reaped by the server, never left running or unreaped, and the server
//! lives on. Uses a fork-server context whatever `MULTIPROCESS_START_METHOD`
//! says; alone in its test binary because it counts the server's children.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use mp_process::{get_context, ProcessError};

fn noop() {}

/// Every process (live or zombie) whose parent is `parent`.
fn children_of(parent: u32) -> BTreeSet<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| common::stat_field(pid, 4).is_some_and(|pp| pp == parent.to_string()))
        .collect()
}

/// The descriptors open in `pid`.
fn open_fds(pid: u32) -> BTreeSet<u32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Waits until `pid` sleeps in `poll`: the fork server, idle between
/// requests, having closed what it sent with its last reply.
fn wait_idle(pid: u32) {
    for _ in 0..10_000 {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("poll") && common::stat_field(pid, 3).as_deref() == Some("S") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the fork server never went idle");
}

/// The number the `k`-th descriptor allocated after `open` gets (lowest free
/// first, nothing closed in between).
fn nth_free(open: &BTreeSet<u32>, k: usize) -> u32 {
    (0..).filter(|fd| !open.contains(fd)).nth(k).unwrap()
}

fn set_soft_nofile(pid: u32, soft: &str) {
    let out = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:"))
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(out.status.success(), "prlimit: {out:?}");
}

#[test]
fn child_is_reaped_when_its_start_fails_after_the_fork() {
    let ctx = get_context(Some("forkserver")).unwrap();
    let (mut running, go_w) = common::start_waiting(&ctx);
    let running_pid = running.pid().unwrap();
    let server = common::parent_pid(running_pid);
    assert_eq!(children_of(server), BTreeSet::from([running_pid]));

    // A request takes, in order: the status pipe (two descriptors), then
    // the fork and, right after it, the child's pidfd; the reply sends the
    // pidfd and the pipe's read end themselves (no copies). Lowering the
    // server's limit to each descriptor number in turn makes each step fail
    // once: the pipe before the fork, the pidfd after it (the child then
    // exists and must be killed and reaped).
    let mut failed_after_fork = Vec::new();
    for k in 1..=4 {
        wait_idle(server);
        let limit = nth_free(&open_fds(server), k);
        let old_soft = soft_nofile(server);
        set_soft_nofile(server, &limit.to_string());
        let mut p = ctx.process(noop, ());
        let started = p.start();
        set_soft_nofile(server, &old_soft);
        match started {
            Ok(()) => p.join().unwrap(),
            Err(ProcessError::ForkServer(why)) => {
                // `clone` takes no descriptor: out of them at "fork" is the
                // pidfd, after the fork.
                if why.starts_with("fork") && why.contains("os error 24") {
                    failed_after_fork.push(why);
                }
            }
            Err(other) => panic!("limit {limit}: unexpected error {other:?}"),
        }
        assert_eq!(
            children_of(server),
            BTreeSet::from([running_pid]),
            "limit {limit}: no child is left behind in the server"
        );
    }
    assert!(
        !failed_after_fork.is_empty(),
        "some limit made a step after the fork fail"
    );

    // The server (the same one) still works, and still reports the running
    // child.
    assert_eq!(common::stat_field(running_pid, 4), Some(server.to_string()));
    let mut next = ctx.process(noop, ());
    next.start().unwrap();
    next.join().unwrap();
    assert_eq!(next.exitcode(), Some(0));
    drop(go_w);
    running.join().unwrap();
    assert_eq!(running.exitcode(), Some(0));
}

/// The soft `RLIMIT_NOFILE` of `pid`, from `/proc/PID/limits`.
fn soft_nofile(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().to_string()
}
