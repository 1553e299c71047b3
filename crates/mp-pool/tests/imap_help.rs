//! An `imap` iterator with nothing to take reads its job's workers itself
//! (and keeps them leased for a while after): results another thread reads
//! still wake it, a worker it sleeps on may die, and when the caller stops
//! taking results the pool's own thread reads the workers again.

mod common;

use std::time::{Duration, Instant};

use common::{deadline, gated, report_pipe, Gate};
use mp_pool::{Pool, PoolError, TaskError};

#[test]
fn a_result_read_by_the_pool_thread_wakes_an_iterator_sleeping_on_another_worker() {
    deadline(120, "iterator woken by another thread's push", || {
        let pool = Pool::with_processes(2).unwrap();
        let (_read, out) = report_pipe();
        let (busy, slow) = (Gate::new("help-busy"), Gate::new("help-slow"));
        let open = Gate::new("help-open");
        open.open();
        // One worker runs another call's task; the other the first task of
        // the iterator's call, whose second task waits in the queue.
        let other = pool
            .apply_async(gated, (100, busy.0.clone(), out.try_clone().unwrap()))
            .unwrap();
        let mut it = pool
            .imap_unordered(
                |(x, gate, out)| gated(x, gate, out),
                vec![
                    (1, slow.0.clone(), out.try_clone().unwrap()),
                    (2, open.0.clone(), out),
                ],
            )
            .unwrap();
        // While this thread sleeps on the second worker, the first frees,
        // takes the queued task, and the pool's thread reads its result.
        let opener = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            busy.open();
            busy
        });
        let t = Instant::now();
        let first = it.next_timeout(Duration::from_secs(60));
        assert!(matches!(first, Some(Ok(2))), "{first:?}");
        // Not only once the sleep ended by itself (the first task waits for
        // its gate for 30 s).
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert_eq!(other.get().unwrap(), 100);
        assert!(matches!(
            it.next_timeout(Duration::from_millis(50)),
            Some(Err(PoolError::Timeout))
        ));
        slow.open();
        let rest: Vec<u64> = it.map(Result::unwrap).collect();
        assert_eq!(rest, vec![1]);
        drop(opener.join().unwrap());
    });
}

fn sleepy(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    x
}

#[test]
fn results_keep_coming_while_the_caller_does_not_take_them() {
    deadline(120, "results while the caller is away", || {
        let pool = Pool::with_processes(2).unwrap();
        let mut it = pool.imap_unordered(sleepy, 0..40u64).unwrap();
        let mut got = vec![it.next().unwrap().unwrap()];
        // About 0.1 s of work is left; the workers it was leased to hold
        // only a few tasks each, so the rest is done only if the pool's
        // thread reads and feeds them meanwhile.
        std::thread::sleep(Duration::from_millis(1500));
        loop {
            match it.next_timeout(Duration::ZERO) {
                Some(Ok(x)) => got.push(x),
                None => break,
                other => panic!("after {} results: {other:?}", got.len()),
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..40).collect::<Vec<_>>());
    });
}

fn dies_at_0(x: u64) -> u64 {
    if x == 0 {
        std::thread::sleep(Duration::from_millis(300));
        mp_sys::process::kill(std::process::id(), 9).unwrap();
        std::thread::sleep(Duration::from_secs(10));
    }
    x * 2
}

#[test]
fn a_worker_dying_while_the_iterator_sleeps_on_it_fails_only_its_task() {
    deadline(120, "death while the iterator sleeps", || {
        let pool = Pool::with_processes(2).unwrap();
        let got: Vec<Result<u64, PoolError>> =
            pool.imap_unordered(dies_at_0, 0..6u64).unwrap().collect();
        let mut values = Vec::new();
        let mut deaths = 0;
        for r in got {
            match r {
                Ok(v) => values.push(v),
                Err(PoolError::Task(TaskError::WorkerDied { exitcode: -9, .. })) => deaths += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        values.sort_unstable();
        assert_eq!((deaths, values), (1, vec![2, 4, 6, 8, 10]));
        pool.close();
        pool.join().unwrap();
    });
}
