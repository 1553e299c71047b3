//! `Process::join_async` (the `async` feature) under tokio (multi-thread
//! and current-thread) and smol, with the start method from
//! `MULTIPROCESS_START_METHOD`: the exit code of a child that exits 3, -9
//! for a SIGKILLed child, several joins of one child pending at once, and a
//! dropped join leaving the process as it was.
#![cfg(feature = "async")]

use std::pin::pin;
use std::time::Duration;

use mp_process::{ExitCode, Process};

mod async_support;
use async_support::{all, all_pending, on_every_runtime};

fn exit_three() -> ExitCode {
    ExitCode(3)
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn join_async_on_every_runtime() {
    on_every_runtime(|| async {
        // A child that exits 3.
        let mut p = Process::new(exit_three, ());
        p.start().unwrap();
        assert_eq!(p.join_async().await.unwrap(), 3);
        assert_eq!(p.exitcode(), Some(3));
        assert!(!p.is_alive());
        // Joining again returns the kept code.
        assert_eq!(p.join_async().await.unwrap(), 3);

        // A child killed by SIGKILL, with three joins pending at once; the
        // first is dropped after being polled, which changes nothing.
        let mut p = Process::new(sleep_long, ());
        p.start().unwrap();
        {
            let mut dropped = pin!(p.join_async());
            assert!(all_pending(&mut [dropped.as_mut()]).await);
        }
        assert!(p.is_alive());
        let joins = vec![Box::pin(p.join_async()), Box::pin(p.join_async())];
        p.kill().unwrap();
        let codes: Vec<i32> = all(joins).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(codes, [-9, -9]);
        assert_eq!(p.exitcode(), Some(-9));
    });
}

#[test]
fn join_async_errors_before_start() {
    let p = Process::new(exit_three, ());
    let err = smol::block_on(p.join_async()).unwrap_err();
    assert!(matches!(err, mp_process::ProcessError::NotStarted("join")));
}

/// A grandchild's exit code, awaited in a child with an executor that
/// drives no reactor: under fork the child's copy of async-io's reactor is
/// the parent's, with no thread turning it (the join has a thread of its own
/// there); under spawn and forkserver the child starts fresh.
fn join_a_grandchild() -> ExitCode {
    let mut g = Process::new(exit_three, ());
    if g.start().is_err() {
        return ExitCode(10);
    }
    match async_support::block_on_without_reactor(g.join_async()) {
        Ok(3) => ExitCode(0),
        _ => ExitCode(11),
    }
}

#[test]
fn a_child_awaits_a_join_after_its_parent_used_the_reactor() {
    // This process waits on an fd through async-io first.
    let mut p = Process::new(exit_three, ());
    p.start().unwrap();
    assert_eq!(smol::block_on(p.join_async()).unwrap(), 3);
    let mut c = Process::new(join_a_grandchild, ());
    c.start().unwrap();
    c.join_timeout(Duration::from_secs(30)).unwrap();
    if c.exitcode().is_none() {
        let _ = c.kill();
    }
    assert_eq!(
        c.exitcode(),
        Some(0),
        "the child's join_async did not complete"
    );
}
