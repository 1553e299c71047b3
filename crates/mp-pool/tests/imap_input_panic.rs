//! An `imap` input iterator that panics, as CPython does when the iterable
//! raises: the results of the items read before it are yielded, then the
//! panic as [`TaskError::InputPanic`], then the iterator ends. For every
//! form: `imap`, `imap_chunked`, `imap_unordered`, the buffered forms and
//! `ThreadPool::imap`.

mod common;

use common::deadline;
use mp_pool::{IMapIterator, Pool, PoolError, TaskError, ThreadPool};

fn square(x: u64) -> u64 {
    x * x
}

/// `0..5`, then a panic.
fn breaking_input() -> impl Iterator<Item = u64> + Send + 'static {
    (0..5u64).chain(std::iter::from_fn(|| panic!("input broke")))
}

/// Splits what `it` yields into its results and its errors, checking that it
/// stays ended.
fn drain(mut it: IMapIterator<u64>) -> (Vec<u64>, Vec<PoolError>) {
    let (mut oks, mut errs) = (Vec::new(), Vec::new());
    for r in it.by_ref() {
        match r {
            Ok(v) => oks.push(v),
            Err(e) => errs.push(e),
        }
    }
    assert!(it.next().is_none(), "the iterator ends after the failure");
    (oks, errs)
}

/// The one error is the input's panic, with its message and location.
fn assert_input_panic(errs: &[PoolError]) {
    match errs {
        [PoolError::Task(TaskError::InputPanic { message, location })] => {
            assert_eq!(message, "input broke");
            assert!(location.contains("imap_input_panic.rs"), "{location}");
        }
        other => panic!("expected one input panic, got {other:?}"),
    }
}

/// In order: every earlier result, then the error last.
fn assert_ordered(it: IMapIterator<u64>) {
    let items: Vec<Result<u64, PoolError>> = it.collect();
    assert_eq!(items.len(), 6, "{items:?}");
    let oks: Vec<u64> = items[..5].iter().map(|r| *r.as_ref().unwrap()).collect();
    assert_eq!(oks, vec![0, 1, 4, 9, 16]);
    assert_input_panic(std::slice::from_ref(
        items[5].as_ref().map(|_| ()).unwrap_err(),
    ));
}

/// In completion order: the same results and the one error, in any order.
fn assert_unordered(it: IMapIterator<u64>) {
    let (mut oks, errs) = drain(it);
    oks.sort_unstable();
    assert_eq!(oks, vec![0, 1, 4, 9, 16]);
    assert_input_panic(&errs);
}

#[test]
fn process_pool_yields_the_results_before_the_failure() {
    deadline(60, "process imap", || {
        let pool = Pool::with_processes(2).unwrap();
        assert_ordered(pool.imap(square, breaking_input()).unwrap());
        // A partial chunk read before the panic still runs.
        assert_ordered(pool.imap_chunked(square, breaking_input(), 2).unwrap());
        assert_unordered(pool.imap_unordered(square, breaking_input()).unwrap());
        // The pool is still usable.
        assert_eq!(pool.map(square, vec![3]).unwrap(), vec![9]);
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn buffered_forms_lose_no_result() {
    deadline(60, "buffered imap", || {
        let pool = Pool::with_processes(2).unwrap();
        for (chunksize, buffersize) in [(1, 1), (1, 4), (2, 2), (3, 1)] {
            let it = pool
                .imap_buffered(square, breaking_input(), chunksize, buffersize)
                .unwrap();
            assert_ordered(it);
            let it = pool
                .imap_unordered_buffered(square, breaking_input(), chunksize, buffersize)
                .unwrap();
            assert_unordered(it);
        }
        // The jobs ended: join does not wait for them.
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn thread_pool_yields_the_results_before_the_failure() {
    deadline(60, "thread imap", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        assert_ordered(pool.imap(square, breaking_input()).unwrap());
        assert_unordered(pool.imap_unordered(square, breaking_input()).unwrap());
        pool.close();
        pool.join().unwrap();
    });
}
