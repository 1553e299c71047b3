//! Workers whose pool owner is killed: each ends by itself, through its
//! usual shutdown (its exit finalizers run), whether it was waiting for a
//! request or running a task, and although a process the owner started
//! after the pool (under fork, a copy holding the workers' links) outlives
//! the owner.

mod common;
use std::sync::OnceLock;
use std::time::Duration;

use common::{deadline, read_lines, report, report_pipe, wait_all_dead};
use mp_pool::Pool;
use mp_process::Process;
use mp_wire::SharedFd;
use rustix::process::{kill_process, Pid, Signal};

/// Where a worker reports that its exit finalizers ran.
static REPORT: OnceLock<SharedFd> = OnceLock::new();

fn report_end() {
    if let Some(out) = REPORT.get() {
        report(out, &format!("ended {}", mp_sys::process::getpid()));
    }
}

/// The workers' initializer: report this worker, and report its end from an
/// exit finalizer.
fn setup(out: SharedFd) {
    report(&out, &format!("worker {}", mp_sys::process::getpid()));
    let _ = REPORT.set(out);
    mp_sys::exit::register_finalizer(report_end);
}

/// A task still running when the owner is killed.
fn nap(out: SharedFd) -> u32 {
    report(&out, "napping");
    std::thread::sleep(Duration::from_millis(500));
    mp_sys::process::getpid()
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(120));
}

/// The pool's owner: two workers, one of them busy, and a child started
/// after them; then it waits to be killed.
fn owner(out: SharedFd) {
    let pool = Pool::builder()
        .processes(2)
        .initializer(setup, (out.try_clone().unwrap(),))
        .build()
        .unwrap();
    let _busy = pool.apply_async(nap, (out.try_clone().unwrap(),)).unwrap();
    let mut later = Process::new(sleep_long, ());
    later.start().unwrap();
    report(&out, &format!("later {}", later.pid().unwrap()));
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// The pid in a report line `"{what} {pid}"`.
fn pids(lines: &[String], what: &str) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(what)?.trim().parse().ok())
        .collect()
}

#[test]
fn workers_end_through_their_shutdown_when_the_owner_is_killed() {
    deadline(120, "orphaned workers", || {
        let (read, out) = report_pipe();
        let mut owner = Process::new(self::owner, (out,));
        owner.start().unwrap();
        // Two workers, the task begun, the later child started.
        let mut lines = read_lines(&read, 4, 60);
        let workers = pids(&lines, "worker ");
        let later = pids(&lines, "later ");
        assert_eq!(workers.len(), 2, "{lines:?}");
        assert_eq!(later.len(), 1, "{lines:?}");
        assert!(lines.iter().any(|l| l == "napping"), "{lines:?}");

        owner.kill().unwrap();
        owner.join().unwrap();
        let gone = wait_all_dead(&workers, 60);
        lines.extend(read_lines(&read, 2, 10));
        // No process of this test outlives it, whatever the outcome.
        for &pid in workers.iter().chain(&later) {
            let _ = kill_process(Pid::from_raw(pid as i32).unwrap(), Signal::KILL);
        }
        assert!(gone, "workers {workers:?} outlived their killed owner");
        let mut ended = pids(&lines, "ended ");
        ended.sort_unstable();
        let mut expected = workers.clone();
        expected.sort_unstable();
        assert_eq!(
            ended, expected,
            "each worker ends through its shutdown: {lines:?}"
        );
    });
}
