//! The `flavor` traits: each generic function below is written once and run
//! with the native types, the manager's proxies and the thread-backed
//! `dummy` types; the producer side also runs in a child process (native,
//! managed) or a thread (dummy), under every start method.

use std::time::Duration;

use multiprocess::flavor::{EventLike, FlavorError, LockLike, PoolLike, QueueLike};
use multiprocess::managers::{EventProxy, QueueProxy};
use multiprocess::{dummy, Event, Lock, Manager, ManagerBuilder, Pool, Process, Queue, ThreadPool};

const SHORT: Duration = Duration::from_millis(20);

/// Python's lock contract: exclusive, released by the guard, `NotLocked`
/// when released twice.
fn check_lock<L: LockLike>(lock: &L) -> Result<(), FlavorError> {
    assert!(lock.try_acquire()?);
    assert!(!lock.try_acquire()?);
    assert!(!lock.acquire_timeout(SHORT)?);
    lock.release()?;
    assert!(matches!(lock.release(), Err(FlavorError::NotLocked)));
    {
        let _guard = lock.lock()?;
        assert!(!lock.acquire_with(true, Some(SHORT))?);
    }
    lock.acquire()?;
    lock.release()?;
    Ok(())
}

/// A recursive lock: its owner acquires it again, and releases it as often.
fn check_rlock<L: LockLike>(lock: &L) -> Result<(), FlavorError> {
    assert!(lock.try_acquire()?);
    assert!(lock.try_acquire()?);
    lock.release()?;
    lock.release()?;
    assert!(lock.release().is_err());
    Ok(())
}

/// A bounded queue of two: `Full` and `Empty` at once and after a timeout,
/// FIFO order, `qsize`/`empty`/`full`.
fn check_queue<Q: QueueLike<u32>>(q: &Q) -> Result<(), FlavorError> {
    assert!(q.empty()?);
    q.put(1)?;
    q.put_with(2, true, Some(SHORT))?;
    assert_eq!(q.qsize()?, 2);
    assert!(q.full()?);
    assert!(matches!(q.put_nowait(3), Err(FlavorError::Full)));
    assert!(matches!(
        q.put_with(3, true, Some(SHORT)),
        Err(FlavorError::Full)
    ));
    assert_eq!(q.get()?, 1);
    assert_eq!(q.get_timeout(SHORT)?, 2);
    assert!(matches!(q.get_nowait(), Err(FlavorError::Empty)));
    assert!(matches!(q.get_timeout(SHORT), Err(FlavorError::Empty)));
    assert!(q.empty()?);
    Ok(())
}

/// Set, clear, and a wait that times out on a clear flag.
fn check_event<E: EventLike>(e: &E) -> Result<(), FlavorError> {
    assert!(!e.is_set()?);
    assert!(!e.wait(Some(SHORT))?);
    e.set()?;
    assert!(e.is_set()?);
    assert!(e.wait(None)?);
    e.clear()?;
    assert!(!e.is_set()?);
    Ok(())
}

fn square(x: u64) -> u64 {
    x * x
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn check_pool<P: PoolLike>(p: &P) -> Result<(), FlavorError> {
    assert_eq!(p.map(square, 0..5u64)?, vec![0, 1, 4, 9, 16]);
    assert_eq!(p.starmap(add, vec![(1, 2), (3, 4)])?, vec![3, 7]);
    assert_eq!(p.apply(add, (40, 2))?, 42);
    Ok(())
}

/// The producer half of a hand-off, run in another process or thread.
fn produce<Q: QueueLike<u32>, E: EventLike>(q: &Q, ready: &E) -> Result<(), FlavorError> {
    for i in 0..3 {
        q.put(i)?;
    }
    ready.set()
}

/// The consumer half: waits for the event, then drains the queue.
fn consume<Q: QueueLike<u32>, E: EventLike>(q: &Q, ready: &E) -> Result<Vec<u32>, FlavorError> {
    assert!(ready.wait(None)?);
    (0..3).map(|_| q.get()).collect()
}

fn native_producer(q: Queue<u32>, ready: Event) -> Result<(), FlavorError> {
    produce(&q, &ready)
}

fn managed_producer(q: QueueProxy<u32>, ready: EventProxy) -> Result<(), FlavorError> {
    produce(&q, &ready)
}

fn manager() -> Manager {
    ManagerBuilder::default()
        .pool_function(square)
        .pool_function(add)
        .start()
        .unwrap()
}

#[test]
fn locks_of_every_flavour() {
    check_lock(&Lock::new().unwrap()).unwrap();
    check_rlock(&multiprocess::RLock::new().unwrap()).unwrap();
    let m = manager();
    check_lock(&m.lock().unwrap()).unwrap();
    check_rlock(&m.rlock().unwrap()).unwrap();
    check_lock(&dummy::Lock::new()).unwrap();
}

#[test]
fn queues_of_every_flavour() {
    check_queue(&Queue::bounded(2).unwrap()).unwrap();
    let m = manager();
    check_queue(&m.queue(2).unwrap()).unwrap();
    check_queue(&dummy::Queue::new(2)).unwrap();
}

#[test]
fn events_of_every_flavour() {
    check_event(&Event::new().unwrap()).unwrap();
    let m = manager();
    check_event(&m.event().unwrap()).unwrap();
    check_event(&dummy::Event::new()).unwrap();
}

#[test]
fn pools_of_every_flavour() {
    let pool = Pool::builder().processes(2).build().unwrap();
    check_pool(&pool).unwrap();
    let m = manager();
    check_pool(&m.pool(Some(2)).unwrap()).unwrap();
    check_pool(&ThreadPool::builder().threads(2).build().unwrap()).unwrap();
}

#[test]
fn a_hand_off_written_once_crosses_processes_and_threads() {
    let (q, ready) = (Queue::new().unwrap(), Event::new().unwrap());
    let mut p = Process::new(native_producer, (q.clone(), ready.clone()));
    p.start().unwrap();
    assert_eq!(consume(&q, &ready).unwrap(), vec![0, 1, 2]);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));

    let m = manager();
    let (q, ready) = (m.queue(0).unwrap(), m.event().unwrap());
    let mut p = Process::new(managed_producer, (q.clone(), ready.clone()));
    p.start().unwrap();
    assert_eq!(consume(&q, &ready).unwrap(), vec![0, 1, 2]);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));

    let (q, ready) = (dummy::Queue::new(0), dummy::Event::new());
    std::thread::scope(|s| {
        s.spawn(|| produce(&q, &ready).unwrap());
        assert_eq!(consume(&q, &ready).unwrap(), vec![0, 1, 2]);
    });
}
