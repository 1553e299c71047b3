//! `Manager::condition_with` (a condition on a managed `Lock`/`RLock`
//! shared with other processes) and `Barrier`'s `action` and default
//! `timeout`; under the start method chosen by the environment.

mod common;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;
use std::time::Duration;

use common::{finish, run};
use mp_manager::{
    BarrierProxy, ConditionProxy, ListProxy, LockProxy, Manager, ManagerError, RLockProxy,
    RemoteErrorKind, ValueProxy,
};
use mp_process::Process;
use mp_wire::SharedFd;

type R = Result<(), ManagerError>;

const LONG: Duration = Duration::from_secs(20);

/// Takes the plain lock (not the condition), sets the flag, notifies
/// through the condition (allowed: the `Lock` is held), lets go.
fn notify_through_lock(lock: LockProxy, cond: ConditionProxy, flag: ValueProxy<bool>) -> R {
    if !lock.acquire_timeout(LONG)? {
        return Err(ManagerError::State("lock not acquired".into()));
    }
    flag.set(true)?;
    cond.notify_all()?;
    lock.release()
}

/// Reports whether the lock could be taken within 100 ms.
fn try_lock(lock: LockProxy, out: ListProxy<bool>) -> R {
    let got = lock.acquire_timeout(Duration::from_millis(100))?;
    if got {
        lock.release()?;
    }
    out.append(got)
}

#[test]
fn condition_on_a_shared_lock_between_processes() {
    let manager = Manager::new().unwrap();
    let lock = manager.lock().unwrap();
    let cond = manager.condition_with(&lock).unwrap();
    let flag = manager.value(false).unwrap();
    let seen = manager.list::<bool>().unwrap();

    // Holding the condition holds the lock: a child cannot take it.
    {
        let _g = cond.lock().unwrap();
        run(Process::new(try_lock, (lock.clone(), seen.clone())));
    }
    run(Process::new(try_lock, (lock.clone(), seen.clone())));
    assert_eq!(seen.to_vec().unwrap(), [false, true]);

    // wait() lets go of the lock, so the child can take it and notify.
    cond.acquire().unwrap();
    let mut child = Process::new(
        notify_through_lock,
        (lock.clone(), cond.clone(), flag.clone()),
    );
    child.start().unwrap();
    let ok = cond.wait_for(|| flag.get().unwrap(), Some(LONG)).unwrap();
    assert!(ok, "never notified");
    // The lock is ours again after wait.
    assert!(!lock.try_acquire().unwrap());
    cond.release().unwrap();
    finish(&mut child);
    assert!(lock.try_acquire().unwrap());
    lock.release().unwrap();
    // Not held: wait and notify are errors, as in Python.
    let e = cond.notify(1).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Runtime));
    assert_eq!(e.to_string(), "cannot notify on un-acquired lock");
}

/// Takes the rlock (the parent's `wait` must have let go of every level),
/// records it, and notifies.
fn notify_through_rlock(rlock: RLockProxy, cond: ConditionProxy, flag: ValueProxy<bool>) -> R {
    if !rlock.acquire_timeout(LONG)? {
        return Err(ManagerError::State("rlock not acquired".into()));
    }
    flag.set(true)?;
    cond.notify(1)?;
    rlock.release()
}

#[test]
fn condition_on_a_shared_rlock_restores_its_depth() {
    let manager = Manager::new().unwrap();
    let rlock = manager.rlock().unwrap();
    let cond = manager.condition_with(&rlock).unwrap();
    let flag = manager.value(false).unwrap();
    rlock.acquire().unwrap();
    cond.acquire().unwrap(); // depth 2, through either proxy
    let mut child = Process::new(
        notify_through_rlock,
        (rlock.clone(), cond.clone(), flag.clone()),
    );
    child.start().unwrap();
    assert!(cond.wait_for(|| flag.get().unwrap(), Some(LONG)).unwrap());
    finish(&mut child);
    // Both levels are back, and only two.
    rlock.release().unwrap();
    cond.release().unwrap();
    let e = rlock.release().unwrap_err();
    assert_eq!(e.to_string(), "cannot release un-acquired lock");

    // A lock from another manager is refused.
    let other = Manager::new().unwrap();
    let foreign = other.lock().unwrap();
    assert!(matches!(
        manager.condition_with(&foreign),
        Err(ManagerError::State(_))
    ));
}

/// Where the barrier action writes: set in the server by the initializer.
static ACTION_OUT: OnceLock<OwnedFd> = OnceLock::new();

fn keep_action_out(fd: SharedFd) {
    let _ = ACTION_OUT.set(OwnedFd::from(fd));
}

/// The barrier action: one line naming the process it runs in.
fn record_generation() {
    let fd = ACTION_OUT.get().expect("the initializer ran first");
    let line = format!("{}\n", std::process::id());
    mp_sys::fd::write_all(fd, line.as_bytes()).unwrap();
}

fn failing_action() {
    panic!("action failed on purpose");
}

fn never_registered() {}

fn two_generations(b: BarrierProxy) -> R {
    b.wait(Some(LONG))?;
    b.wait(Some(LONG))?;
    Ok(())
}

/// The lines the action has written so far (without waiting for more).
fn lines_now(r: &OwnedFd, text: &mut String) -> usize {
    while mp_sys::fd::poll_readable_any(&[r.as_fd()], Some(Duration::ZERO)).unwrap()[0] {
        let mut buf = [0u8; 256];
        let n = std::fs::File::from(r.try_clone().unwrap())
            .read(&mut buf)
            .unwrap();
        if n == 0 {
            break;
        }
        text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    text.lines().count()
}

#[test]
fn barrier_action_runs_once_per_generation_in_the_server() {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    let manager = Manager::builder()
        .initializer(keep_action_out, (SharedFd::from(w),))
        .barrier_action(record_generation)
        .barrier_action(failing_action)
        .start()
        .unwrap();
    let server_pid = manager.pid().unwrap();
    let b = manager
        .barrier_with_action(3, record_generation, None)
        .unwrap();
    let mut jobs: Vec<Process> = (0..2)
        .map(|_| Process::new(two_generations, (b.clone(),)))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    let mut text = String::new();
    b.wait(Some(LONG)).unwrap();
    // The action ran before anyone was let through.
    assert_eq!(lines_now(&r, &mut text), 1, "{text}");
    b.wait(Some(LONG)).unwrap();
    assert_eq!(lines_now(&r, &mut text), 2, "{text}");
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(lines_now(&r, &mut text), 2, "{text}");
    for line in text.lines() {
        assert_eq!(
            line,
            server_pid.to_string(),
            "the action runs in the server"
        );
    }

    // A panicking action breaks the barrier; its caller learns why.
    let f = manager
        .barrier_with_action(1, failing_action, None)
        .unwrap();
    let e = f.wait(Some(LONG)).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Runtime));
    assert!(e.to_string().contains("action failed on purpose"), "{e}");
    assert!(f.broken().unwrap());
    let e = f.wait(Some(LONG)).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));

    // Only registered functions can be named.
    let e = manager
        .barrier_with_action(2, never_registered, None)
        .unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Protocol));
    assert!(e.to_string().contains("not registered"), "{e}");
}

fn meet(b: BarrierProxy) -> R {
    b.wait(None).map(drop)
}

#[test]
fn barrier_default_timeout_applies_to_wait_none() {
    let manager = Manager::new().unwrap();
    let b = manager
        .barrier_with_timeout(2, Some(Duration::from_millis(100)))
        .unwrap();
    // Alone, wait(None) gives up after the default timeout and breaks it.
    let e = b.wait(None).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    assert!(b.broken().unwrap());
    b.reset().unwrap();

    // An explicit timeout overrides the default one.
    let patient = manager
        .barrier_with_timeout(2, Some(Duration::from_millis(1)))
        .unwrap();
    let mut child = Process::new(meet, (patient.clone(),));
    // The child's wait(None) gives up at once unless the parent is already
    // waiting; the parent waits long enough for the child to arrive.
    let waiter = std::thread::spawn({
        let patient = patient.clone();
        move || patient.wait(Some(LONG))
    });
    let deadline = std::time::Instant::now() + LONG;
    while patient.n_waiting().unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiter never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.start().unwrap();
    finish(&mut child);
    assert!(waiter.join().unwrap().is_ok());
    assert!(!patient.broken().unwrap());

    // The old creation form (parties only) still means "no timeout".
    let plain = manager.barrier(1).unwrap();
    assert_eq!(plain.wait(None).unwrap(), 0);
}

/// Rounds of [`parties_released_by_reset_wait_again`].
const RESET_ROUNDS: usize = 10;

/// Each round: waits, is released by `reset` (a `BrokenBarrier` error), and
/// waits again at once: the second wait must wait for the fresh generation
/// and pass.
fn wait_through_reset(b: BarrierProxy) -> R {
    for round in 0..RESET_ROUNDS {
        match b.wait(Some(LONG)) {
            Err(e) if e.remote_kind() == Some(RemoteErrorKind::BrokenBarrier) => {}
            other => {
                return Err(ManagerError::State(format!(
                    "round {round}: the first wait should be broken by reset, got {other:?}"
                )))
            }
        }
        b.wait(Some(LONG))?;
    }
    Ok(())
}

/// Polls until `n` parties wait at `b`.
fn until_waiting(b: &BarrierProxy, n: usize) {
    let deadline = std::time::Instant::now() + LONG;
    while b.n_waiting().unwrap() != n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} waiters never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn parties_released_by_reset_wait_again() {
    // threading.Barrier: reset() breaks the current waiters, and those that
    // wait again at once wait in the next generation (no BrokenBarrier).
    // Many parties and rounds: a released party's second wait must never
    // race the others' leaving.
    const CHILDREN: usize = 8;
    let manager = Manager::new().unwrap();
    let b = manager.barrier(CHILDREN + 1).unwrap();
    let mut jobs: Vec<Process> = (0..CHILDREN)
        .map(|_| Process::new(wait_through_reset, (b.clone(),)))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    for _ in 0..RESET_ROUNDS {
        until_waiting(&b, CHILDREN);
        b.reset().unwrap();
        until_waiting(&b, CHILDREN);
        assert!(!b.broken().unwrap());
        assert!(b.wait(Some(LONG)).unwrap() <= CHILDREN);
    }
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(b.n_waiting().unwrap(), 0);
    assert!(!b.broken().unwrap());
}
