//! The managed Pool (Python's `manager.Pool(...)`): a process pool in the
//! server, used by the parent and by a child through the same proxy, under
//! the start method chosen by the environment; it runs only the functions
//! the program registered with the server.

mod common;

use common::run;
use mp_manager::{Manager, ManagerBuilder, ManagerError, PoolProxy, RemoteErrorKind};
use mp_pool::{PoolError, TaskError};
use mp_process::Process;

fn square(x: u64) -> u64 {
    x * x
}

fn pid_of_worker(_: u64) -> u32 {
    std::process::id()
}

fn fails_on_3(x: u64) -> u64 {
    assert!(x != 3, "three is bad");
    x
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn mul(a: u64, b: u64) -> u64 {
    a * b
}

/// Never registered: if a server ran it, the call would fail with its panic.
fn must_not_run(_: u64) -> u64 {
    panic!("the server ran a function that was not registered")
}

/// A builder with the functions these tests run.
fn registered() -> ManagerBuilder {
    Manager::builder()
        .pool_function(square)
        .pool_function(pid_of_worker)
        .pool_function(fails_on_3)
        .pool_function(add)
        .pool_function(mul)
}

fn use_from_child(pool: PoolProxy) -> Result<(), ManagerError> {
    let got: Vec<u64> = pool.map(square, 0..20u64)?;
    if got != (0..20).map(|x| x * x).collect::<Vec<_>>() {
        return Err(ManagerError::State(format!("child got {got:?}")));
    }
    let sum: u64 = pool.apply(add, (40, 2))?;
    if sum != 42 {
        return Err(ManagerError::State(format!("child apply gave {sum}")));
    }
    Ok(())
}

#[test]
fn parent_and_child_share_the_servers_pool() {
    let manager = registered().start().unwrap();
    let pool = manager.pool(Some(2)).unwrap();
    assert_eq!(pool.processes().unwrap(), 2);
    assert_eq!(
        pool.map(square, 0..100u64).unwrap(),
        (0..100).map(|x| x * x).collect::<Vec<_>>()
    );
    assert_eq!(
        pool.map_chunked(square, 0..10u64, 3).unwrap(),
        (0..10).map(|x| x * x).collect::<Vec<_>>()
    );
    assert_eq!(
        pool.starmap(mul, vec![(2, 3), (4, 5)]).unwrap(),
        vec![6, 20]
    );
    // The work runs in the server's workers: neither here nor in the server.
    let pids: Vec<u32> = pool.map_chunked(pid_of_worker, 0..8u64, 1).unwrap();
    let server = manager.pid().unwrap();
    assert!(pids.iter().all(|&p| p != std::process::id() && p != server));
    run(Process::new(use_from_child, (pool.clone(),)));

    // A task's panic is that call's error; the pool carries on.
    match pool.map(fails_on_3, 0..6u64) {
        Err(ManagerError::Pool(PoolError::Task(TaskError::Panic { message, .. }))) => {
            assert_eq!(message, "three is bad")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.apply(square, (9,)).unwrap(), 81);

    // close, then work is refused with CPython's ValueError; join returns.
    pool.close().unwrap();
    let e = pool.map(square, 0..3u64).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Value), "{e}");
    pool.join().unwrap();
}

#[test]
fn bad_arguments_are_errors() {
    let manager = registered().start().unwrap();
    let e = manager.pool(Some(0)).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Value), "{e}");
    let pool = manager.pool_with(Some(1), Some(2)).unwrap();
    assert!(matches!(
        pool.map_chunked(square, 0..3u64, 0),
        Err(ManagerError::Pool(PoolError::InvalidArgument(_)))
    ));
    // maxtasksperchild: workers are replaced, the work still completes.
    assert_eq!(pool.map_chunked(square, 0..10u64, 1).unwrap().len(), 10);
    pool.terminate().unwrap();
    pool.join().unwrap();
}

#[test]
fn unregistered_functions_are_refused_and_nothing_runs() {
    // Registered on this builder only.
    let manager = registered().start().unwrap();
    let other = Manager::builder().pool_function(add).start().unwrap();
    let pool = manager.pool(Some(1)).unwrap();
    let elsewhere = other.pool(Some(1)).unwrap();

    // A function no builder registered: refused before any task runs (had
    // it run, the error would be its panic).
    match pool.map(must_not_run, 0..3u64) {
        Err(ManagerError::NotRegistered { function }) => {
            assert!(function.ends_with("must_not_run"), "{function}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = pool.apply(must_not_run, (1,)).unwrap_err();
    assert!(e.to_string().contains("must_not_run"), "{e}");
    assert!(e.to_string().contains("not registered"), "{e}");
    // Registered with another manager's server, not with this one's.
    assert!(matches!(
        elsewhere.map(square, 0..3u64),
        Err(ManagerError::NotRegistered { .. })
    ));
    assert_eq!(elsewhere.apply(add, (1, 2)).unwrap(), 3);
    // A closure written at the call site is not the registered `add`.
    assert_eq!(pool.starmap(add, vec![(1u64, 2u64)]).unwrap(), vec![3]);
    assert!(matches!(
        pool.apply(|a: u64, b: u64| a + b, (1, 2)),
        Err(ManagerError::NotRegistered { .. })
    ));
    // Both pools still work.
    assert_eq!(pool.map(square, 0..3u64).unwrap(), vec![0, 1, 4]);
}
