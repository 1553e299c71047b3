//! A fork-server child holds none of the server's descriptors: not the
//! control socket to the client, not a running sibling's pidfd or status
//! pipe, not the server's own status pipe ends for it, not the server's
//! task directory. (The server closes them in the child right after the
//! fork, in place rather than by drops.) Uses a fork-server context whatever
//! `MULTIPROCESS_START_METHOD` says.

mod common;

use std::os::fd::AsRawFd;

use mp_process::get_context;
use mp_wire::SharedFd;

/// Reports, in one line, each descriptor from 3 up but `report` itself, as
/// `FD LINK` entries joined by `;`.
fn list_fds(report: SharedFd) {
    let own = report.as_raw_fd();
    let mut lines = Vec::new();
    let dir = std::fs::read_dir("/proc/self/fd").unwrap();
    for entry in dir {
        let entry = entry.unwrap();
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // The directory being read is open too; its link names it.
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let link = link.display().to_string();
        if fd >= 3 && fd != own && !link.ends_with("/fd") {
            lines.push(format!("{fd} {link}"));
        }
    }
    common::report(&report, &format!("fds:{}", lines.join(";")));
}

#[test]
fn a_fork_server_child_holds_none_of_the_servers_descriptors() {
    let ctx = get_context(Some("forkserver")).unwrap();
    // A sibling that runs meanwhile: the server holds its pidfd and the
    // write end of its status pipe when it forks the next child.
    let (mut sibling, go_w) = common::start_waiting(&ctx);

    let (reports, w) = common::reports();
    let mut lister = ctx.process(list_fds, (w,));
    lister.start().unwrap();
    let report = reports.take(1).concat();
    lister.join().unwrap();
    assert_eq!(lister.exitcode(), Some(0));
    let lines: Vec<&str> = report
        .strip_prefix("fds:")
        .expect("the child's report")
        .split(';')
        .filter(|l| !l.is_empty())
        .collect();
    let links: Vec<&str> = lines.iter().map(|l| l.split_once(' ').unwrap().1).collect();
    for kind in ["socket:", "pipe:"] {
        assert!(
            !links.iter().any(|l| l.starts_with(kind)),
            "a fork-server child holds a {kind} descriptor: {lines:?}"
        );
    }
    assert!(
        !links.iter().any(|l| l.ends_with("/task")),
        "a fork-server child holds the server's task directory: {lines:?}"
    );
    // Its parent's pidfd, and no sibling's.
    assert!(
        links.iter().filter(|l| l.contains("pidfd")).count() <= 1,
        "a fork-server child holds a sibling's pidfd: {lines:?}"
    );

    drop(go_w);
    sibling.join().unwrap();
    assert_eq!(sibling.exitcode(), Some(0));
}
