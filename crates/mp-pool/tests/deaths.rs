//! What a worker's death costs (issue 11, item 9): the real exit status is
//! reported (a worker that ends with `exit(n)` is not mistaken for one the
//! pool killed); a task that never started is re-sent; a death inside a
//! chunk fails only the tasks that may have run; a worker that cannot be
//! started leaves no process behind.

mod common;
use std::time::Duration;

use common::{deadline, read_lines, report, report_pipe};
use mp_pool::{Pool, PoolError, TaskError};
use mp_wire::SharedFd;
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

fn pid(_: u64) -> u32 {
    std::process::id()
}

/// Reports that it ran, then returns its input.
fn noted(x: u64, out: SharedFd) -> u64 {
    report(&out, &x.to_string());
    x
}

#[test]
fn a_task_sent_to_a_worker_killed_while_idle_runs_elsewhere() {
    deadline(120, "idle kill", || {
        let pool = Pool::with_processes(1).unwrap();
        let (read, write) = report_pipe();
        for trial in 0..20u64 {
            // The worker is idle; kill it and hand it a task before the pool
            // has noticed: the task never started, so it must run on the
            // replacement (no retries set).
            let victim = pool.apply(pid, (0,)).unwrap();
            mp_sys::process::kill(victim, 9).unwrap();
            let r = pool.apply(noted, (trial, write.try_clone().unwrap()));
            assert_eq!(r.unwrap(), trial, "trial {trial}");
        }
        drop(write);
        pool.close();
        pool.join().unwrap();
        let mut lines = read_lines(&read, usize::MAX, 10);
        lines.sort_by_key(|l| l.parse::<u64>().unwrap());
        let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(lines, want, "each task ran exactly once");
    });
}

/// Reports that it started; task `k` then kills its worker (only the first
/// time, if `marker` is given: a file that records that it did).
fn kill_at(x: u64, k: u64, out: SharedFd, marker: Option<String>) -> u64 {
    report(&out, &x.to_string());
    if x == k
        && marker
            .as_ref()
            .is_none_or(|m| std::fs::metadata(m).is_err())
    {
        if let Some(m) = &marker {
            std::fs::write(m, b"1").unwrap();
        }
        mp_sys::process::kill(std::process::id(), 9).unwrap();
        std::thread::sleep(Duration::from_secs(10));
    }
    x * 2
}

/// How many times each of the `n` tasks reported that it started (reads
/// until every writer is gone).
fn runs(read: &std::os::fd::OwnedFd, n: usize) -> Vec<usize> {
    let mut count = vec![0; n];
    for line in read_lines(read, usize::MAX, 20) {
        count[line.parse::<usize>().unwrap()] += 1;
    }
    count
}

/// The arguments of 40 [`kill_at`] tasks (task 13 kills its worker) and
/// the read end of the pipe they report to.
#[allow(clippy::type_complexity)]
fn kill_args(
    marker: Option<String>,
) -> (
    std::os::fd::OwnedFd,
    Vec<(u64, u64, SharedFd, Option<String>)>,
) {
    let (read, write) = report_pipe();
    let args = (0..40)
        .map(|x| (x, 13, write.try_clone().unwrap(), marker.clone()))
        .collect();
    (read, args)
}

#[test]
fn a_death_in_a_map_chunk_fails_only_the_task_that_was_running() {
    deadline(120, "map death", || {
        // 40 tasks on 2 workers: Python's default chunks of 5; task 13 is the
        // fourth of the third chunk.
        let pool = Pool::with_processes(2).unwrap();
        let (read, args) = kill_args(None);
        let err = pool.starmap(kill_at, args).unwrap_err();
        let PoolError::Task(TaskError::WorkerDied { exitcode, task, .. }) = &err else {
            panic!("{err:?}");
        };
        assert_eq!((*exitcode, *task), (-9, Some(13)), "{err}");
        assert!(err.to_string().contains("while running task 13"), "{err}");
        pool.close();
        pool.join().unwrap();
        // Every task ran exactly once: the ones after 13 in its chunk were
        // sent to another worker, none was run twice.
        assert_eq!(runs(&read, 40), vec![1; 40]);
    });
}

/// A worker's state for the deaths of chunks of plain numbers (which
/// travel packed, so the task's other arguments live in the worker): where
/// tasks report, and the marker of [`kill_at`].
struct Reporter {
    out: SharedFd,
    marker: Option<String>,
}

fn make_reporter(out: SharedFd, marker: Option<String>) -> Reporter {
    Reporter { out, marker }
}

/// [`kill_at`] of task 13, on a chunk of `u64`s.
fn kill_at_13(r: &mut Reporter, x: u64) -> u64 {
    kill_at(x, 13, r.out.try_clone().unwrap(), r.marker.clone())
}

#[test]
fn a_death_in_a_chunk_of_numbers_fails_only_the_task_that_was_running() {
    // The same as `a_death_in_a_map_chunk_fails_only_the_task_that_was_running`,
    // the chunks packed (`u64` in and out): the rest of the chunk is re-sent
    // from task 14 on, and the worker that takes it skips the tasks before.
    deadline(120, "packed map death", || {
        let (read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(2)
            .worker_state(make_reporter, (write, None::<String>))
            .build()
            .unwrap();
        let err = pool.map_with_state(kill_at_13, 0..40u64).unwrap_err();
        let PoolError::Task(TaskError::WorkerDied { exitcode, task, .. }) = &err else {
            panic!("{err:?}");
        };
        assert_eq!((*exitcode, *task), (-9, Some(13)), "{err}");
        pool.close();
        pool.join().unwrap();
        drop(pool); // (it keeps the state's arguments, the pipe among them)
        assert_eq!(runs(&read, 40), vec![1; 40]);
    });
}

#[test]
fn with_retries_a_death_in_a_chunk_of_numbers_costs_nothing() {
    deadline(120, "packed map death, retries", || {
        let marker = std::env::temp_dir().join(format!("mp-pool-packed-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let (read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(2)
            .retries(1)
            .worker_state(
                make_reporter,
                (write, Some(marker.to_string_lossy().into_owned())),
            )
            .build()
            .unwrap();
        let got = pool.map_with_state(kill_at_13, 0..40u64).unwrap();
        assert_eq!(got, (0..40).map(|x| x * 2).collect::<Vec<_>>());
        pool.close();
        pool.join().unwrap();
        drop(pool);
        let want: Vec<usize> = (0..40)
            .map(|x| if (10..=13).contains(&x) { 2 } else { 1 })
            .collect();
        assert_eq!(runs(&read, 40), want);
        let _ = std::fs::remove_file(marker);
    });
}

#[test]
fn with_retries_a_death_in_a_map_chunk_costs_nothing() {
    deadline(120, "map death, retries", || {
        let marker = std::env::temp_dir().join(format!("mp-pool-death-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let path = marker.clone();
        let marker = Some(marker.to_string_lossy().into_owned());
        let pool = Pool::builder().processes(2).retries(1).build().unwrap();
        let (read, args) = kill_args(marker);
        let got = pool.starmap(kill_at, args).unwrap();
        assert_eq!(got, (0..40).map(|x| x * 2).collect::<Vec<_>>());
        pool.close();
        pool.join().unwrap();
        // Tasks 10-13 (the chunk up to the death) ran twice, the rest once.
        let want: Vec<usize> = (0..40)
            .map(|x| if (10..=13).contains(&x) { 2 } else { 1 })
            .collect();
        assert_eq!(runs(&read, 40), want);
        let _ = std::fs::remove_file(path);
    });
}

#[test]
fn a_death_in_an_imap_chunk_fails_only_the_tasks_that_may_have_run() {
    deadline(120, "imap death", || {
        let pool = Pool::with_processes(2).unwrap();
        let (read, args) = kill_args(None);
        let got: Vec<Result<u64, PoolError>> = pool
            .imap_chunked(
                |a: (u64, u64, SharedFd, Option<String>)| kill_at(a.0, a.1, a.2, a.3),
                args,
                5,
            )
            .unwrap()
            .collect();
        for (x, r) in got.iter().enumerate() {
            match r {
                // The death's chunk up to the task that was running: their
                // results died with the worker.
                Err(PoolError::Task(TaskError::WorkerDied { task: Some(13), .. }))
                    if (10..=13).contains(&x) => {}
                Ok(v) if !(10..=13).contains(&x) => assert_eq!(*v, x as u64 * 2),
                other => panic!("task {x}: {other:?}"),
            }
        }
        pool.close();
        pool.join().unwrap();
        assert_eq!(runs(&read, 40), vec![1; 40]);
    });
}

fn no_setup() {
    panic!("no setup");
}

#[test]
fn a_task_whose_workers_all_die_before_it_starts_fails() {
    deadline(120, "bad initializer", || {
        // Every worker dies in its initializer: the task never starts, is
        // sent again, and fails after a bounded number of deaths.
        let pool = Pool::builder()
            .processes(1)
            .initializer(no_setup, ())
            .build()
            .unwrap();
        let err = pool.apply(double, (1,)).unwrap_err();
        assert!(
            matches!(
                err,
                PoolError::Task(TaskError::WorkerDied {
                    exitcode: 1,
                    task: None,
                    ..
                })
            ),
            "{err:?}"
        );
    });
}

/// Starts a process that outlives the worker holding a write end of every
/// pipe the worker has (its link's reply pipe among them, as a child forked
/// by the worker would), then kills the worker.
fn die_leaving_a_child() -> u64 {
    let mut held = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        // Opening a pipe's `/proc` entry opens the same pipe; sockets and
        // the directory itself refuse, which is fine.
        let path = entry.unwrap().path();
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
            rustix::io::fcntl_setfd(&f, rustix::io::FdFlags::empty()).unwrap();
            held.push(f);
        }
    }
    assert!(!held.is_empty(), "the worker has pipes");
    // Never waited for: the worker is killed next, and the holder, handed
    // to init, ends by itself.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("sleep")
        .arg("20")
        .spawn()
        .unwrap();
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    unreachable!("the worker was killed")
}

/// A thread waiting in `get` reads its worker's link with a blocking read;
/// the worker's death must wake it although a child of the worker still
/// holds the link's write end (so the link never reads as ended by itself).
#[test]
fn a_waiter_wakes_when_its_worker_dies_leaving_a_child_with_its_link() {
    deadline(60, "get after a death with the link held", || {
        let pool = Pool::with_processes(1).unwrap();
        for trial in 0..3 {
            let err = pool
                .apply_async(die_leaving_a_child, ())
                .unwrap()
                .get()
                .unwrap_err();
            assert!(
                matches!(&err, PoolError::Task(TaskError::WorkerDied { .. })),
                "trial {trial}: {err:?}"
            );
            // The pool goes on with a new worker.
            assert_eq!(pool.apply(double, (21,)).unwrap(), 42);
        }
    });
}
