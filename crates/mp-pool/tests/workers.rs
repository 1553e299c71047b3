//! Workers: names per start method, the initializer once per worker,
//! maxtasksperchild replacing workers (distinct pids), and the lifecycle:
//! close + join, terminate, drop — no worker left behind.

mod common;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{deadline, read_lines, report, report_pipe, wait_all_dead, worker_prefix};
use mp_pool::{Pool, PoolError};
use mp_wire::SharedFd;

fn who(_: u64) -> (u32, String) {
    std::thread::sleep(Duration::from_millis(5));
    (
        std::process::id(),
        mp_process::current_process().name().to_string(),
    )
}

fn init(out: SharedFd, tag: String) {
    report(&out, &format!("{tag} {}", std::process::id()));
}

fn sleepy(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn workers_are_named_after_the_start_method() {
    deadline(60, "names", || {
        let pool = Pool::with_processes(2).unwrap();
        let prefix = worker_prefix();
        let got = pool.map_chunked(who, 0..20u64, 1).unwrap();
        for (_, name) in &got {
            assert!(name.starts_with(&prefix), "{name} vs {prefix}");
        }
        let ctx = mp_process::get_context(Some("spawn")).unwrap();
        let pool = Pool::builder().processes(1).context(ctx).build().unwrap();
        let (_, name) = pool.apply(who, (0,)).unwrap();
        assert!(name.starts_with("SpawnPoolWorker-"), "{name}");
    });
}

#[test]
fn the_initializer_runs_once_in_each_worker() {
    deadline(60, "initializer", || {
        let (read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(3)
            .initializer(init, (write, "init".to_string()))
            .build()
            .unwrap();
        let got = pool.map_chunked(who, 0..60u64, 1).unwrap();
        let task_pids: HashSet<u32> = got.iter().map(|(p, _)| *p).collect();
        pool.close();
        pool.join().unwrap();
        let lines = read_lines(&read, 3, 10);
        assert_eq!(lines.len(), 3, "{lines:?}");
        let init_pids: Vec<u32> = lines
            .iter()
            .map(|l| l.strip_prefix("init ").unwrap().parse().unwrap())
            .collect();
        let unique: HashSet<u32> = init_pids.iter().copied().collect();
        assert_eq!(unique.len(), 3, "each worker once: {init_pids:?}");
        assert!(task_pids.is_subset(&unique), "{task_pids:?} {unique:?}");
    });
}

#[test]
fn maxtasksperchild_replaces_workers() {
    deadline(60, "maxtasksperchild", || {
        let (read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(2)
            .maxtasksperchild(2)
            .initializer(init, (write, "w".to_string()))
            .build()
            .unwrap();
        let got = pool.map_chunked(who, 0..10u64, 1).unwrap();
        let pids: HashSet<u32> = got.iter().map(|(p, _)| *p).collect();
        let names: HashSet<&String> = got.iter().map(|(_, n)| n).collect();
        assert!(pids.len() >= 5, "10 tasks, 2 per worker: {pids:?}");
        assert_eq!(names.len(), pids.len(), "fresh names for fresh workers");
        // Each replacement ran the initializer too.
        let lines = read_lines(&read, pids.len(), 10);
        let init_pids: HashSet<u32> = lines.iter().map(|l| l[2..].parse().unwrap()).collect();
        assert!(pids.is_subset(&init_pids), "{pids:?} {init_pids:?}");
        pool.close();
        pool.join().unwrap();
        assert!(wait_all_dead(&pids.into_iter().collect::<Vec<_>>(), 10));
    });
}

#[test]
fn close_then_join_finishes_queued_work() {
    deadline(60, "close/join", || {
        let pool = Pool::with_processes(2).unwrap();
        let rs: Vec<_> = (0..6)
            .map(|_| pool.apply_async(sleepy, (50,)).unwrap())
            .collect();
        let pids: Vec<u32> = pool
            .map(who, 0..4u64)
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        pool.close();
        pool.join().unwrap();
        for r in rs {
            assert!(r.ready());
            assert_eq!(r.get().unwrap(), 50);
        }
        assert!(wait_all_dead(&pids, 10), "workers exited");
    });
}

#[test]
fn terminate_is_prompt_and_fails_pending_results() {
    deadline(60, "terminate", || {
        let pool = Pool::with_processes(2).unwrap();
        let pids: Vec<u32> = pool
            .map(who, 0..4u64)
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let rs: Vec<_> = (0..100)
            .map(|_| pool.apply_async(sleepy, (3_600_000,)).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        pool.terminate();
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "terminate took {:?}",
            t.elapsed()
        );
        for r in rs {
            assert!(matches!(
                r.get_timeout(Duration::from_secs(5)),
                Err(PoolError::Terminated)
            ));
        }
        assert!(wait_all_dead(&pids, 10), "workers gone");
        pool.join().unwrap();
        assert!(matches!(
            pool.apply_async(sleepy, (1,)),
            Err(PoolError::NotRunning)
        ));
    });
}

#[test]
fn dropping_the_pool_terminates_it() {
    deadline(60, "drop", || {
        let (pids, pending) = {
            let pool = Pool::with_processes(2).unwrap();
            let pids: Vec<u32> = pool
                .map(who, 0..4u64)
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            let pending = pool.apply_async(sleepy, (3_600_000,)).unwrap();
            (pids, pending)
        };
        assert!(matches!(pending.get(), Err(PoolError::Terminated)));
        assert!(wait_all_dead(&pids, 10), "no worker left behind");
    });
}
