//! `imap_buffered` / `imap_unordered_buffered` (Python 3.15's `buffersize=`):
//! the input is read lazily, never more than `buffersize` chunks ahead of the
//! results taken, and the iterator behaves like `imap` otherwise.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::deadline;
use mp_pool::{Pool, PoolError, TaskError};

fn double(x: u64) -> u64 {
    x * 2
}

fn fails_on_3(x: u64) -> u64 {
    if x == 3 {
        panic!("bad item {x}");
    }
    x
}

fn slow(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    x
}

/// An endless input that counts how many items were read.
fn counted(read: Arc<AtomicUsize>) -> impl Iterator<Item = u64> + Send + 'static {
    (0u64..).inspect(move |_| {
        read.fetch_add(1, Ordering::SeqCst);
    })
}

#[test]
fn input_is_read_only_as_results_are_taken() {
    deadline(60, "lazy input", || {
        let pool = Pool::with_processes(2).unwrap();
        let read = Arc::new(AtomicUsize::new(0));
        let mut it = pool
            .imap_buffered(double, counted(read.clone()), 1, 3)
            .unwrap();
        // Three tasks are submitted at once, no more.
        assert_eq!(read.load(Ordering::SeqCst), 3);
        for taken in 1..=20usize {
            assert_eq!(it.next().unwrap().unwrap(), 2 * (taken as u64 - 1));
            let r = read.load(Ordering::SeqCst);
            assert!(r <= taken + 3, "read {r} after taking {taken}");
        }
        // Chunks of 4, two chunks ahead: at most 8 items beyond those taken.
        let read = Arc::new(AtomicUsize::new(0));
        let mut it = pool
            .imap_unordered_buffered(double, counted(read.clone()), 4, 2)
            .unwrap();
        assert_eq!(read.load(Ordering::SeqCst), 8);
        let mut got: Vec<u64> = (0..16).map(|_| it.next().unwrap().unwrap()).collect();
        let read = read.load(Ordering::SeqCst) as u64;
        assert!(read <= 16 + 8, "read {read}");
        // Completion order: 16 distinct results, all of inputs read so far.
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 16);
        assert!(got.iter().all(|&v| v % 2 == 0 && v / 2 < read), "{got:?}");
    });
}

#[test]
fn finite_inputs_give_every_result() {
    deadline(60, "finite", || {
        let pool = Pool::with_processes(2).unwrap();
        let ordered: Vec<u64> = pool
            .imap_buffered(double, 0..100u64, 7, 2)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ordered, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        let mut unordered: Vec<u64> = pool
            .imap_unordered_buffered(slow, 0..10u64, 1, 4)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        unordered.sort();
        assert_eq!(unordered, (0..10).collect::<Vec<_>>());
        // Exactly a multiple of the chunk size, and empty.
        assert_eq!(
            pool.imap_buffered(double, 0..8u64, 4, 1).unwrap().count(),
            8
        );
        assert_eq!(
            pool.imap_buffered(double, Vec::<u64>::new(), 1, 1)
                .unwrap()
                .count(),
            0
        );
    });
}

#[test]
fn errors_and_bad_arguments() {
    deadline(60, "errors", || {
        let pool = Pool::with_processes(2).unwrap();
        let got: Vec<Result<u64, PoolError>> = pool
            .imap_buffered(fails_on_3, 0..6u64, 1, 2)
            .unwrap()
            .collect();
        assert_eq!(got.len(), 6);
        assert!(matches!(
            &got[3],
            Err(PoolError::Task(TaskError::Panic { message, .. })) if message == "bad item 3"
        ));
        assert_eq!(got[5].as_ref().unwrap(), &5);
        assert!(matches!(
            pool.imap_buffered(double, 0..3u64, 1, 0),
            Err(PoolError::InvalidArgument(m)) if m == "buffersize must be None or > 0"
        ));
        assert!(matches!(
            pool.imap_buffered(double, 0..3u64, 0, 1),
            Err(PoolError::InvalidArgument(_))
        ));
    });
}

#[test]
fn a_dropped_iterator_does_not_keep_join_waiting() {
    deadline(60, "drop then join", || {
        let pool = Pool::with_processes(2).unwrap();
        let mut it = pool.imap_buffered(slow, 0u64.., 1, 4).unwrap();
        assert_eq!(it.next().unwrap().unwrap(), 0);
        drop(it);
        pool.close();
        assert!(pool.join_timeout(Duration::from_secs(20)).unwrap());
    });
}

#[test]
fn terminate_ends_a_buffered_iterator() {
    deadline(60, "terminate", || {
        let pool = Pool::with_processes(2).unwrap();
        let mut it = pool.imap_buffered(slow, 0u64.., 1, 2).unwrap();
        assert_eq!(it.next().unwrap().unwrap(), 0);
        pool.terminate();
        let rest: Vec<_> = it.by_ref().take(10).collect();
        assert!(
            rest.iter().any(|r| matches!(r, Err(PoolError::Terminated))),
            "{rest:?}"
        );
        assert!(it.next().is_none());
    });
}
