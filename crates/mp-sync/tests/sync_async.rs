//! The async forms of the primitives (the `async` feature) under tokio
//! (multi-thread and current-thread) and smol, with the start method from
//! `MULTIPROCESS_START_METHOD`: a wake-up from another process, the
//! timeout forms, a holder killed while others await (an error, never a
//! hang), cancellation (a dropped wait holds and loses nothing), and many
//! pending waits on a few threads.
//!
//! One test in its own binary, scenarios in sequence: the thread count
//! must see no other test's threads.
#![cfg(feature = "async")]

use std::pin::pin;
use std::time::Duration;

use mp_process::Process;
use mp_sync::{
    AcquireError, Barrier, BrokenBarrierError, Condition, Event, Lock, RLock, Semaphore, SyncLock,
};

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all, all_pending, block_on_without_reactor, on_every_runtime, threads};

const T: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(30);

fn hold_until(lock: Lock, held: Event, release: Event) {
    let _g = lock.lock().unwrap();
    held.set();
    assert!(release.wait(Some(T)));
}

fn hold_forever(lock: Lock, sem: Semaphore, held: Event) {
    let _g = lock.lock().unwrap();
    let _p = sem.permit().unwrap();
    held.set();
    std::thread::sleep(Duration::from_secs(600));
}

fn set_after(event: Event, delay_ms: u64) {
    std::thread::sleep(Duration::from_millis(delay_ms));
    event.set();
}

/// Awaits `go` in the child (after a fork, with the parent's watcher
/// threads gone), then sets `done`. Not under smol: a forked child must not
/// drive async-io's reactor, which it shares with the parent (see
/// `block_on_without_reactor`).
fn await_in_child(go: Event, done: Event) {
    assert!(block_on_without_reactor(go.wait_async(Some(T))));
    done.set();
}

/// A wait that times out in the child: its deadline needs no reactor
/// (async-io's driver thread, which a forked child does not have).
fn time_out_in_child(never: Event) -> mp_process::ExitCode {
    let timed_out = !block_on_without_reactor(never.wait_async(Some(SHORT)));
    mp_process::ExitCode(if timed_out { 0 } else { 3 })
}

async fn a_child_times_out_too() {
    // The parent's async-io reactor is running (this scenario runs after
    // others on smol and tokio), so a forked child inherits it started.
    smol::Timer::after(Duration::from_millis(1)).await;
    let never = Event::new().unwrap();
    let mut p = Process::new(time_out_in_child, (never.clone(),));
    p.start().unwrap();
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
    }
    assert_eq!(p.exitcode(), Some(0), "the child's wait did not time out");
}

async fn a_child_awaits_too() {
    let (go, done) = (Event::new().unwrap(), Event::new().unwrap());
    // A wait pending in the parent while the child starts (its registration
    // is copied into a forked child, and must not confuse it).
    let mut pending = pin!(done.wait_async(Some(T)));
    assert!(all_pending(&mut [pending.as_mut()]).await);
    let mut p = Process::new(await_in_child, (go.clone(), done.clone()));
    p.start().unwrap();
    go.set();
    assert!(pending.await);
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn lock_released_by_another_process() {
    let (lock, held, release) = (
        Lock::new().unwrap(),
        Event::new().unwrap(),
        Event::new().unwrap(),
    );
    let mut p = Process::new(hold_until, (lock.clone(), held.clone(), release.clone()));
    p.start().unwrap();
    assert!(held.wait_async(Some(T)).await);
    assert!(matches!(
        lock.lock_timeout_async(SHORT).await,
        Err(AcquireError::Timeout)
    ));
    release.set();
    let g = lock.lock_async().await.expect("a clean release");
    assert!(lock.locked());
    drop(g);
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn dead_holders_are_errors() {
    let (lock, sem, held) = (
        Lock::new().unwrap(),
        Semaphore::new(1).unwrap(),
        Event::new().unwrap(),
    );
    let mut p = Process::new(hold_forever, (lock.clone(), sem.clone(), held.clone()));
    p.start().unwrap();
    assert!(held.wait_async(Some(T)).await);
    let mut waits = (pin!(lock.lock_async()), pin!(sem.permit_async()));
    assert!(all_pending(&mut [waits.0.as_mut()]).await);
    assert!(all_pending(&mut [waits.1.as_mut()]).await);
    p.kill().unwrap();
    assert_eq!(p.join_async().await.unwrap(), -9);
    let died = waits.0.await.expect_err("taken from a dead holder");
    drop(died.into_inner());
    let died = waits.1.await.expect_err("a dead holder's slot");
    drop(died.into_inner());
    assert_eq!(sem.get_value(), 1);
    // The timeout forms see the death too.
    let mut p = Process::new(hold_forever, (lock.clone(), sem.clone(), held.clone()));
    held.clear();
    p.start().unwrap();
    assert!(held.wait_async(Some(T)).await);
    p.kill().unwrap();
    assert_eq!(p.join_async().await.unwrap(), -9);
    assert!(matches!(
        lock.lock_timeout_async(T).await,
        Err(AcquireError::OwnerDied(_))
    ));
    assert!(matches!(
        sem.permit_timeout_async(T).await,
        Err(AcquireError::OwnerDied(_))
    ));
}

async fn event_from_another_process() {
    let event = Event::new().unwrap();
    assert!(!event.wait_async(Some(SHORT)).await);
    let mut p = Process::new(set_after, (event.clone(), 50));
    p.start().unwrap();
    assert!(event.wait_async(Some(T)).await);
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn dropped_waits_hold_nothing() {
    let lock = Lock::new().unwrap();
    let g = lock.lock().unwrap();
    {
        let mut w = pin!(lock.lock_async());
        assert!(all_pending(&mut [w.as_mut()]).await);
    }
    drop(g);
    assert!(!lock.locked(), "a dropped lock_async took nothing");
    // A release that reached only a dropped waiter is passed on: a
    // blocking waiter in another thread gets the lock.
    let g = lock.lock().unwrap();
    let mut w = Box::pin(lock.lock_async());
    assert!(all_pending(&mut [w.as_mut()]).await);
    let other = lock.clone();
    let blocked = std::thread::spawn(move || other.lock_timeout(T).is_ok());
    std::thread::sleep(SHORT);
    drop(g);
    drop(w);
    assert!(blocked.join().unwrap(), "the blocking waiter got the lock");

    let sem = Semaphore::new(0).unwrap();
    {
        let mut w = pin!(sem.permit_async());
        assert!(all_pending(&mut [w.as_mut()]).await);
    }
    sem.release().unwrap();
    assert_eq!(sem.get_value(), 1, "a dropped permit_async took nothing");
}

async fn rlock_and_condition() {
    let r = RLock::new().unwrap();
    let outer = r.lock_async().await.unwrap();
    let inner = r.lock_timeout_async(SHORT).await.unwrap();
    assert_eq!(r.count(), 2);
    drop((inner, outer));
    assert!(!r.locked());

    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let guard = cond.lock().unwrap();
    assert_eq!(guard.wait_async(Some(SHORT)).await, Ok(false));
    let other = cond.clone();
    let notifier = std::thread::spawn(move || {
        // Notify once the waiter has released the lock (it is waiting).
        let g = other.lock().unwrap();
        g.notify(1).unwrap();
    });
    assert_eq!(guard.wait_async(Some(T)).await, Ok(true));
    notifier.join().unwrap();
    drop(guard);

    // A dropped wait holds the lock again (the caller's guard stays valid).
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let guard = cond.lock().unwrap();
    {
        let mut wait = pin!(guard.wait_async(None));
        assert!(all_pending(&mut [wait.as_mut()]).await);
        assert!(!cond.get_lock().is_mine(), "released while waiting");
    }
    assert!(cond.get_lock().is_mine(), "held again after the drop");
    assert_eq!(guard.notify(1), Ok(()));
    drop(guard);
    assert!(!cond.get_lock().is_mine());

    // Over the default RLock (two levels deep): released while waiting,
    // held again at the same depth after.
    let cond = Condition::new().unwrap();
    let outer = cond.lock().unwrap();
    let SyncLock::RLock(r) = cond.get_lock() else {
        panic!("Condition::new is over an RLock")
    };
    let inner = r.lock().unwrap();
    assert_eq!(r.count(), 2);
    let other = cond.clone();
    let notifier = std::thread::spawn(move || {
        let g = other.lock().unwrap();
        g.notify_all().unwrap();
    });
    assert_eq!(outer.wait_async(Some(T)).await, Ok(true));
    assert!(r.is_mine());
    assert_eq!(r.count(), 2);
    notifier.join().unwrap();
    drop((inner, outer));
    assert!(!r.locked());
}

fn barrier_wait(barrier: Barrier, rounds: u32) {
    for _ in 0..rounds {
        barrier.wait_timeout(T).unwrap();
    }
}

/// Arrives and stays inside until killed.
fn barrier_wait_forever(barrier: Barrier) {
    let _ = barrier.wait();
}

/// Sleeps without a runtime's timer (the scenarios stay runtime-agnostic).
async fn nap() {
    let never = Event::new().unwrap();
    assert!(!never.wait_async(Some(Duration::from_millis(10))).await);
}

/// Awaits (without blocking the runtime) until `n` parties wait.
async fn until_waiting(barrier: &Barrier, n: usize) {
    for _ in 0..3000 {
        if barrier.n_waiting() == n {
            return;
        }
        nap().await;
    }
    panic!("{n} parties never waited: {barrier:?}");
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

/// Two async parties and a blocking one in another process, for three
/// generations: each index once per generation.
async fn barrier_with_another_process() {
    let barrier = Barrier::new(3).unwrap();
    let mut p = Process::new(barrier_wait, (barrier.clone(), 3));
    p.start().unwrap();
    for _ in 0..3 {
        let waits = vec![
            Box::pin(barrier.wait_async()),
            Box::pin(barrier.wait_async()),
        ];
        let got: Vec<usize> = all(waits).await.into_iter().map(Result::unwrap).collect();
        assert!(got[0] != got[1] && got.iter().all(|&i| i < 3), "{got:?}");
    }
    assert_eq!(p.join_async().await.unwrap(), 0);
    assert_eq!((barrier.n_waiting(), barrier.broken()), (0, false));
}

/// The timeout forms break the barrier for everyone, as in Python.
async fn barrier_timeouts_break() {
    let barrier = Barrier::new(3).unwrap();
    let mut other = pin!(barrier.wait_async());
    assert!(all_pending(&mut [other.as_mut()]).await);
    assert_eq!(
        barrier.wait_timeout_async(SHORT).await,
        Err(BrokenBarrierError)
    );
    assert!(barrier.broken());
    assert_eq!(other.await, Err(BrokenBarrierError), "the other party too");
    assert_eq!(barrier.wait_async().await, Err(BrokenBarrierError));
    barrier.reset();
    // The default timeout given at creation applies to `wait_async`.
    let barrier = Barrier::with_timeout(2, Some(SHORT)).unwrap();
    assert_eq!(barrier.wait_async().await, Err(BrokenBarrierError));
    assert!(barrier.broken());
}

/// A dropped wait withdraws its arrival: the barrier stays whole, and the
/// withdrawn index goes to the next arrival.
async fn barrier_dropped_wait_withdraws() {
    let barrier = Barrier::new(3).unwrap();
    let mut first = Box::pin(barrier.wait_async());
    let mut second = Box::pin(barrier.wait_async());
    assert!(all_pending(&mut [first.as_mut()]).await);
    assert!(all_pending(&mut [second.as_mut()]).await);
    assert_eq!(barrier.n_waiting(), 2);
    drop(first);
    assert_eq!((barrier.n_waiting(), barrier.broken()), (1, false));
    let mut p = Process::new(barrier_wait, (barrier.clone(), 1));
    p.start().unwrap();
    until_waiting(&barrier, 2).await;
    let third = barrier.wait_async().await.unwrap();
    let second = second.await.unwrap();
    assert_eq!(p.join_async().await.unwrap(), 0);
    // The blocking party's index is its own; the two async ones differ
    // from each other and are below `parties`.
    assert!(second != third && second < 3 && third < 3);

    // Dropped after its generation was released: it had passed; leaving
    // lets the next generation fill.
    let barrier = Barrier::new(2).unwrap();
    let mut passed = Box::pin(barrier.wait_async());
    assert!(all_pending(&mut [passed.as_mut()]).await);
    let other = barrier.clone();
    assert_eq!(
        std::thread::spawn(move || other.wait()).join().unwrap(),
        Ok(1)
    );
    drop(passed);
    assert_eq!((barrier.n_waiting(), barrier.broken()), (0, false));
    let other = barrier.clone();
    let blocking = std::thread::spawn(move || other.wait_timeout(T));
    let mine = barrier.wait_async().await.unwrap();
    assert_eq!(
        sorted(vec![mine, blocking.join().unwrap().unwrap()]),
        [0, 1]
    );
}

/// A party killed inside `wait` breaks the barrier for an async waiter
/// (an error within a slice, never a hang); `reset` restores it.
async fn barrier_dead_party_breaks() {
    let barrier = Barrier::new(3).unwrap();
    let mut p = Process::new(barrier_wait_forever, (barrier.clone(),));
    p.start().unwrap();
    until_waiting(&barrier, 1).await;
    let mut waiting = pin!(barrier.wait_async());
    assert!(all_pending(&mut [waiting.as_mut()]).await);
    p.kill().unwrap();
    assert_eq!(p.join_async().await.unwrap(), -9);
    assert_eq!(waiting.await, Err(BrokenBarrierError));
    barrier.reset();
    let waits = vec![
        Box::pin(barrier.wait_async()),
        Box::pin(barrier.wait_async()),
        Box::pin(barrier.wait_async()),
    ];
    let got: Vec<usize> = all(waits).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(sorted(got), [0, 1, 2]);
}

async fn many_pending() {
    const PENDING: usize = 10_000;
    let events: Vec<Event> = (0..100).map(|_| Event::new().unwrap()).collect();
    let before = threads();
    let mut waits: Vec<_> = (0..PENDING)
        .map(|i| Box::pin(events[i % events.len()].wait_async(None)))
        .collect();
    let mut polled: Vec<_> = waits.iter_mut().map(|f| f.as_mut()).collect();
    assert!(all_pending(&mut polled).await);
    let during = threads();
    // 100 words: one watcher thread, perhaps the reactor's.
    assert!(
        during <= before + 2,
        "{PENDING} pending waits: {before} threads before, {during} during"
    );
    for e in &events {
        e.set();
    }
    assert!(all(waits).await.into_iter().all(|set| set));
}

/// Tasks spawned on a tokio multi-thread runtime (the futures must be
/// `Send`; wake-ups cross threads): 8 tasks take one `Lock` 200 times each
/// and never overlap; a `Semaphore(2)` never lets more than 2 in.
fn spawned_on_tokio_multi_thread() {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Arc;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let (lock, sem) = (Lock::new().unwrap(), Semaphore::new(2).unwrap());
    let (holders, inside, most, turns) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (lock, sem) = (lock.clone(), sem.clone());
                let (holders, inside) = (holders.clone(), inside.clone());
                let (most, turns) = (most.clone(), turns.clone());
                tokio::spawn(async move {
                    for _ in 0..200 {
                        let g = lock.lock_async().await.unwrap();
                        assert_eq!(holders.fetch_add(1, SeqCst), 0, "two holders");
                        tokio::task::yield_now().await;
                        holders.fetch_sub(1, SeqCst);
                        drop(g);
                        let p = sem.permit_async().await.unwrap();
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, SeqCst);
                        drop(p);
                        turns.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(turns.load(SeqCst), 1600);
    assert!(
        most.load(SeqCst) <= 2,
        "{} inside the semaphore",
        most.load(SeqCst)
    );
    assert!(!lock.locked());
    assert_eq!(sem.get_value(), 2);
}

/// Tasks on a tokio multi-thread runtime pass a `Barrier(4)` 100 times
/// (the future is `Send`; wake-ups cross threads): each index once per
/// generation.
fn barrier_spawned_on_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let barrier = Barrier::new(4).unwrap();
    let rounds: Vec<Vec<usize>> = rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..100 {
                        got.push(barrier.wait_async().await.unwrap());
                    }
                    got
                })
            })
            .collect();
        let mut rounds = Vec::new();
        for t in tasks {
            rounds.push(t.await.unwrap());
        }
        rounds
    });
    for g in 0..100 {
        assert_eq!(sorted(rounds.iter().map(|r| r[g]).collect()), [0, 1, 2, 3]);
    }
}

#[test]
fn sync_async_on_every_runtime() {
    spawned_on_tokio_multi_thread();
    barrier_spawned_on_tokio_multi_thread();
    on_every_runtime(|| async {
        lock_released_by_another_process().await;
        a_child_awaits_too().await;
        a_child_times_out_too().await;
        dead_holders_are_errors().await;
        event_from_another_process().await;
        dropped_waits_hold_nothing().await;
        rlock_and_condition().await;
        many_pending().await;
        barrier_with_another_process().await;
        barrier_timeouts_break().await;
        barrier_dropped_wait_withdraws().await;
        barrier_dead_party_breaks().await;
    });
}
