//! The managed Pool's async forms, `imap`/`imap_unordered` and the
//! initializer (Python's `apply_async`, `map_async`, `starmap_async`,
//! `imap`, `imap_unordered` and `Pool(initializer=...)` on a managed pool),
//! from the parent and from a child, under the start method chosen by the
//! environment.

mod common;

use std::time::Duration;

use common::run;
use mp_manager::{Manager, ManagerBuilder, ManagerError, PoolProxy, RemoteErrorKind};
use mp_pool::{PoolError, TaskError};
use mp_process::Process;

const LONG: Duration = Duration::from_secs(30);

fn square(x: u64) -> u64 {
    x * x
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn fails_on_3(x: u64) -> u64 {
    assert!(x != 3, "three is bad");
    x
}

/// Sleeps `ms` milliseconds, returns it.
fn sleepy(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Never registered.
fn must_not_run(_: u64) -> u64 {
    panic!("the server ran a function that was not registered")
}

fn registered() -> ManagerBuilder {
    Manager::builder()
        .pool_function(square)
        .pool_function(add)
        .pool_function(fails_on_3)
        .pool_function(sleepy)
}

fn async_from_child(pool: PoolProxy) -> Result<(), ManagerError> {
    let a = pool.apply_async(add, (40, 2))?;
    let m = pool.map_async(square, 0..4u64)?;
    if a.get(Some(LONG))? != 42 || m.get(Some(LONG))? != [0, 1, 4, 9] {
        return Err(ManagerError::State("wrong async results".into()));
    }
    Ok(())
}

#[test]
fn async_forms_return_handles() {
    let manager = registered().start().unwrap();
    let pool = manager.pool(Some(2)).unwrap();
    let a = pool.apply_async(add, (6, 7)).unwrap();
    let m = pool.map_async(square, 0..10u64).unwrap();
    let s = pool.starmap_async(add, vec![(1, 2), (3, 4)]).unwrap();
    assert_eq!(a.get(Some(LONG)).unwrap(), 13);
    assert_eq!(
        m.get(None).unwrap(),
        (0..10).map(|x| x * x).collect::<Vec<_>>()
    );
    assert_eq!(s.get(Some(LONG)).unwrap(), vec![3, 7]);
    assert!(a.ready());
    assert!(a.successful().unwrap());
    assert!(matches!(
        a.get(None),
        Err(ManagerError::Pool(PoolError::Taken))
    ));

    // Not ready in time: Timeout, and the handle still gives the result.
    let slow = pool.apply_async(sleepy, (500,)).unwrap();
    assert!(matches!(
        slow.get(Some(Duration::from_millis(1))),
        Err(ManagerError::Pool(PoolError::Timeout))
    ));
    assert!(matches!(
        slow.successful(),
        Err(ManagerError::Pool(PoolError::NotReady)) | Ok(true)
    ));
    assert!(slow.wait(Some(LONG)));
    assert_eq!(slow.get(Some(LONG)).unwrap(), 500);

    // A task's panic is the handle's error.
    let bad = pool.map_async(fails_on_3, 0..6u64).unwrap();
    match bad.get(Some(LONG)) {
        Err(ManagerError::Pool(PoolError::Task(TaskError::Panic { message, .. }))) => {
            assert_eq!(message, "three is bad")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!bad.successful().unwrap());
    // An unregistered function runs nothing: the submission fails.
    assert!(matches!(
        pool.apply_async(must_not_run, (1,)),
        Err(ManagerError::NotRegistered { .. })
    ));
    run(Process::new(async_from_child, (pool.clone(),)));
}

/// The initializer: remembers its argument in the worker.
static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn set_seed(seed: u64) {
    SEED.store(seed, std::sync::atomic::Ordering::SeqCst);
}

/// What the worker's initializer set, plus `x`.
fn seeded(x: u64) -> u64 {
    SEED.load(std::sync::atomic::Ordering::SeqCst) + x
}

fn imap_from_child(pool: PoolProxy) -> Result<(), ManagerError> {
    let got: Vec<u64> = pool.imap(square, 0..5u64, 1)?.collect::<Result<_, _>>()?;
    if got != [0, 1, 4, 9, 16] {
        return Err(ManagerError::State(format!("child imap gave {got:?}")));
    }
    Ok(())
}

#[test]
fn imap_and_imap_unordered_stream_results() {
    let manager = registered().start().unwrap();
    let pool = manager.pool(Some(2)).unwrap();
    let ordered: Vec<u64> = pool
        .imap(square, 0..20u64, 1)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ordered, (0..20).map(|x| x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .imap_unordered(square, 0..20u64, 3)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    unordered.sort_unstable();
    assert_eq!(unordered, ordered);

    // Results come as they are ready: a slow first item is not there yet.
    let mut it = pool.imap(sleepy, [500u64, 0], 1).unwrap();
    assert!(matches!(
        it.next_timeout(Some(Duration::from_millis(1))),
        Some(Err(ManagerError::Pool(PoolError::Timeout)))
    ));
    assert_eq!(it.next().unwrap().unwrap(), 500);
    assert_eq!(it.next().unwrap().unwrap(), 0);
    assert!(it.next().is_none());

    // A task's panic is that item's error; the others still come.
    let items: Vec<Result<u64, ManagerError>> =
        pool.imap(fails_on_3, 0..5u64, 1).unwrap().collect();
    assert_eq!(items.len(), 5);
    assert!(matches!(
        &items[3],
        Err(ManagerError::Pool(PoolError::Task(TaskError::Panic { .. })))
    ));
    assert_eq!(*items[4].as_ref().unwrap(), 4);

    // Dropped early, and unregistered functions.
    drop(pool.imap(square, 0..100u64, 1).unwrap());
    assert!(matches!(
        pool.imap(must_not_run, 0..3u64, 1),
        Err(ManagerError::NotRegistered { .. })
    ));
    assert!(matches!(
        pool.imap(square, 0..3u64, 0),
        Err(ManagerError::Pool(PoolError::InvalidArgument(_)))
    ));
    run(Process::new(imap_from_child, (pool.clone(),)));
}

#[test]
fn the_initializer_runs_in_every_worker() {
    let manager = registered()
        .pool_function(set_seed)
        .pool_function(seeded)
        .start()
        .unwrap();
    let pool = manager
        .pool_with_initializer(Some(2), None, set_seed, (1000u64,))
        .unwrap();
    assert_eq!(
        pool.map_chunked(seeded, 0..8u64, 1).unwrap(),
        (1000..1008).collect::<Vec<_>>()
    );
    // The initializer must be registered: no pool is made otherwise.
    let before = manager.number_of_objects().unwrap();
    let e = manager
        .pool_with_initializer(Some(1), None, must_not_run, (1u64,))
        .unwrap_err();
    assert!(matches!(e, ManagerError::NotRegistered { .. }), "{e}");
    assert_eq!(manager.number_of_objects().unwrap(), before);
}

#[test]
fn join_timeout_waits_at_most_that_long_for_the_workers() {
    let manager = registered().start().unwrap();
    let pool = manager.pool(Some(1)).unwrap();
    // Before close: Python's `ValueError`, as `join` gives.
    let e = pool.join_timeout(Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(&e, ManagerError::Remote(r) if r.kind == RemoteErrorKind::Value),
        "{e:?}"
    );
    // A task that outlives the wait: submitted before the close (which
    // does not stop it), so the closed pool's workers are not done.
    let slow = pool.apply_async(sleepy, (60_000,)).unwrap();
    pool.close().unwrap();
    assert!(!pool.join_timeout(Duration::from_millis(50)).unwrap());
    assert!(!slow.ready());
    // Terminated, they finish within the wait.
    pool.terminate().unwrap();
    assert!(pool.join_timeout(LONG).unwrap());
    pool.join().unwrap();
}

/// Submits a slow task and dies at once (SIGKILL: no goodbye, its result
/// never taken).
fn submit_and_die(pool: PoolProxy) {
    let _pending = pool.apply_async(sleepy, (200,)).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_client_killed_after_submitting_wedges_nothing() {
    let manager = registered().start().unwrap();
    let pool = manager.pool(Some(1)).unwrap();
    let mut p = Process::new(submit_and_die, (pool.clone(),));
    p.start().unwrap();
    p.join_timeout(LONG).unwrap();
    assert_eq!(p.exitcode(), Some(-9));
    // The pool still serves, and closes and joins with the dead client's
    // task run to its end (its result, never taken, stays in the server
    // until the pool goes).
    assert_eq!(pool.apply(add, (1, 2)).unwrap(), 3);
    pool.close().unwrap();
    assert!(pool.join_timeout(LONG).unwrap());
}
