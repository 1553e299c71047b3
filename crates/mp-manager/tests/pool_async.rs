//! The managed Pool's async forms, `imap`/`imap_unordered` and the
//! initializer (Python's `apply_async`, `map_async`, `starmap_async`,
//! `imap`, `imap_unordered` and `Pool(initializer=...)` on a managed pool),
//! from the parent and from a child, under the start method chosen by the
//! environment.

mod common;

use std::time::Duration;

use common::run;
use mp_manager::{Manager, ManagerBuilder, ManagerError, PoolProxy};
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
    // An unregistered function runs nothing.
    let refused = pool.apply_async(must_not_run, (1,)).unwrap();
    assert!(matches!(
        refused.get(Some(LONG)),
        Err(ManagerError::NotRegistered { .. })
    ));
    run(Process::new(async_from_child, (pool.clone(),)));
}
