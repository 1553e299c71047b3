//! What a worker's death costs (issue 11, item 9): the real exit status is
//! reported (a worker that ends with `exit(n)` is not mistaken for one the
//! pool killed); a task that never started is re-sent; a death inside a
//! chunk fails only the tasks that may have run; a worker that cannot be
//! started leaves no process behind.

mod common;
use std::time::Duration;

use common::deadline;
use mp_pool::{Pool, PoolError, TaskError};
use rustix::process::{getrlimit, setrlimit, Resource};

/// Stays in the exit clean-up after its link to the parent closed.
fn linger() {
    std::thread::sleep(Duration::from_millis(300));
}

/// Item `k` ends its worker with `exit(3)`, which closes the worker's link
/// at once (unwinding) but ends the process only after `linger`.
fn exit_at(x: u64, k: u64) -> u64 {
    if x == k {
        mp_sys::exit::register_finalizer(linger);
        mp_process::exit(3);
    }
    x
}

#[test]
fn a_worker_ending_with_exit_reports_its_exit_code() {
    deadline(120, "exit(n)", || {
        let pool = Pool::with_processes(2).unwrap();
        for trial in 0..20u64 {
            let k = 40 + trial;
            let args: Vec<(u64, u64)> = (0..400).map(|x| (x, k)).collect();
            let err = pool
                .starmap_async(exit_at, args, Some(1))
                .unwrap()
                .get()
                .unwrap_err();
            let PoolError::Task(e) = &err else {
                panic!("trial {trial}: {err:?}");
            };
            assert!(
                matches!(e, TaskError::WorkerDied { exitcode: 3, .. }),
                "trial {trial}: {e}"
            );
        }
    });
}

fn double(x: u64) -> u64 {
    x * 2
}

/// This process's children (live or zombie), from every thread's list.
fn children() -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(text.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
    }
    out.sort_unstable();
    out
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// Whether process `pid` is a zombie (ended, not reaped).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        st.rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z'))
    })
}

/// In a child of the test (so the test runner keeps its limit): with the
/// fd limit at `open + extra` for every `extra` from 0 to 60, creates a
/// two-worker pool and runs a map; each attempt succeeds or fails with a
/// typed error, and afterwards no child (live copy or zombie) is left. The
/// one child allowed under forkserver is the fork server (which the client
/// stops and restarts when talking to it fails).
fn pools_short_of_fds() {
    let server =
        mp_process::get_start_method(false).unwrap() == mp_process::StartMethod::ForkServer;
    let limit = getrlimit(Resource::Nofile);
    let mut failures = 0;
    for extra in 0..60 {
        let mut low = limit;
        low.current = Some(open_fds() + extra);
        setrlimit(Resource::Nofile, low).unwrap();
        let outcome = Pool::with_processes(2).and_then(|pool| pool.map(double, 0..50u64));
        setrlimit(Resource::Nofile, limit).unwrap();
        match outcome {
            Ok(v) => assert_eq!(v, (0..50).map(|x| x * 2).collect::<Vec<_>>()),
            Err(
                PoolError::Start(_) | PoolError::Io(_) | PoolError::Task(TaskError::NoWorker(_)),
            ) => failures += 1,
            Err(e) => panic!("with {extra} spare fds: untyped failure {e:?}"),
        }
        let left = children();
        assert!(
            left.len() <= usize::from(server) && !left.iter().any(|&p| zombie(p)),
            "with {extra} spare fds: children left behind: {left:?}"
        );
    }
    assert!(failures > 0, "the limit never made a start fail");
}

#[test]
fn a_worker_that_cannot_start_leaves_no_process() {
    deadline(300, "EMFILE", || {
        let mut p = mp_process::Process::new(pools_short_of_fds, ());
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    });
}
