//! Threads in one process, with half of the handles decoded into a second
//! mapping of the same memory (as another process would see it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mp_shm::{with_fresh_mappings, ProcessIdent, RawValue};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::*;

/// A copy of `h` that maps its memory anew, as a child process would.
fn remap<T: Serialize + DeserializeOwned>(h: &T) -> T {
    let msg = mp_wire::encode(h).unwrap();
    with_fresh_mappings(|| mp_wire::decode(msg)).unwrap()
}

/// The identity of a process that has exited (and been reaped).
fn dead_ident() -> u64 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let ident = ProcessIdent::of(child.id()).unwrap();
    child.wait().unwrap();
    ident.to_bits()
}

#[test]
fn lock_excludes_across_mappings() {
    let lock = Lock::new().unwrap();
    let counter = RawValue::new(0u64).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (lock, counter) = if i % 2 == 0 {
                (lock.clone(), counter.clone())
            } else {
                (remap(&lock), remap(&counter))
            };
            thread::spawn(move || {
                for _ in 0..20_000 {
                    let _g = lock.lock().unwrap();
                    counter.set(counter.get() + 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(counter.get(), 80_000);
    assert!(!lock.locked());
}

#[test]
fn lock_python_semantics() {
    let lock = Lock::new().unwrap();
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    assert_eq!(lock.acquire(true, None), Ok(true));
    assert_eq!(lock.owner_pid(), Some(std::process::id()));
    assert_eq!(
        lock.acquire(false, Some(Duration::from_secs(10))),
        Ok(false)
    );
    let t = Instant::now();
    assert_eq!(
        lock.acquire(true, Some(Duration::from_millis(100))),
        Ok(false)
    );
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert!(matches!(
        lock.lock_timeout(Duration::from_millis(10)),
        Err(AcquireError::Timeout)
    ));
    assert!(matches!(lock.try_lock(), Err(TryAcquireError::WouldBlock)));
    // Another thread may release a Lock.
    let other = remap(&lock);
    thread::spawn(move || other.release().unwrap())
        .join()
        .unwrap();
    assert!(!lock.locked());
    assert_eq!(format!("{lock:?}"), "<Lock(owner=None)>");
}

#[test]
fn lock_wakes_a_sleeping_waiter() {
    let lock = Lock::new().unwrap();
    let g = lock.lock().unwrap();
    let other = remap(&lock);
    let t = thread::spawn(move || {
        let start = Instant::now();
        let _g = other.lock_timeout(Duration::from_secs(10)).unwrap();
        start.elapsed()
    });
    thread::sleep(Duration::from_millis(30));
    drop(g);
    assert!(t.join().unwrap() < Duration::from_secs(10));
}

#[test]
fn nobody_asleep_means_no_wake_up() {
    // With no registered waiter, unlock, set and notify never bump the
    // eventcount's seq, so they make no futex syscall.
    let lock = Lock::new().unwrap();
    for _ in 0..3 {
        drop(lock.lock().unwrap());
        assert!(lock.try_lock().is_ok());
    }
    let ev = Event::new().unwrap();
    ev.set();
    ev.clear();
    ev.set();
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    cond.lock().unwrap().notify_all().unwrap();
    assert_eq!(lock.raw().wake.seq.load(Ordering::SeqCst), 0);
    assert_eq!(ev.raw().wake.seq.load(Ordering::SeqCst), 0);
    assert_eq!(cond.raw().wake.seq.load(Ordering::SeqCst), 0);
    // A registered waiter is woken: the seq moves.
    let w = lock.raw().wake.prepare();
    drop(lock.lock().unwrap());
    assert!(w.notified());
}

#[test]
fn lock_taken_from_a_dead_owner_says_so_once() {
    let lock = Lock::new().unwrap();
    lock.raw().state.store(dead_ident(), Ordering::SeqCst);
    let start = Instant::now();
    let died = lock.lock_timeout(Duration::from_secs(5)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    let AcquireError::OwnerDied(d) = died else {
        panic!("expected OwnerDied")
    };
    assert_eq!(lock.owner_pid(), Some(std::process::id()));
    drop(d.into_inner());
    assert!(lock.lock().is_ok());
    // The non-blocking forms detect it too.
    let lock = Lock::new().unwrap();
    lock.raw().state.store(dead_ident(), Ordering::SeqCst);
    assert!(matches!(lock.acquire(false, None), Err(OwnerDied { .. })));
    lock.release().unwrap();
}

#[test]
fn rlock_recursion_and_ownership() {
    let r = RLock::new().unwrap();
    assert_eq!(r.release(), Err(ReleaseError::NotOwner));
    assert_eq!(r.acquire(true, None), Ok(true));
    assert_eq!(r.acquire(false, None), Ok(true));
    assert_eq!(r.count(), 2);
    let other = remap(&r);
    thread::spawn(move || {
        assert_eq!(other.release(), Err(ReleaseError::NotOwner));
        assert_eq!(other.acquire(false, None), Ok(false));
        assert!(!other.is_mine());
    })
    .join()
    .unwrap();
    r.release().unwrap();
    assert!(r.locked());
    r.release().unwrap();
    assert!(!r.locked() && r.count() == 0);
    // A dead owner process.
    let dead = dead_ident();
    RawMutexView(&r).set_owner(dead);
    let start = Instant::now();
    let g = r.lock_timeout(Duration::from_secs(5));
    assert!(matches!(g, Err(AcquireError::OwnerDied(_))));
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(g);
    assert!(!r.locked());
}

#[test]
fn rlock_names_its_owner_thread() {
    let r = RLock::new().unwrap();
    let (held, release) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (held_tx, held_rx) = held;
    let (release_tx, release_rx) = release;
    let other = remap(&r);
    let t = thread::spawn(move || {
        let _g = other.lock().unwrap();
        held_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    held_rx.recv().unwrap();
    // Another thread of this process holds it: not mine, but this process's.
    assert!(r.locked() && !r.is_mine());
    assert_eq!(r.owner_pid(), Some(std::process::id()));
    assert_eq!(r.release(), Err(ReleaseError::NotOwner));
    assert_eq!(r.acquire(false, None), Ok(false));
    release_tx.send(()).unwrap();
    t.join().unwrap();
    assert!(!r.locked() && r.count() == 0);
}

#[test]
fn rlock_held_by_an_ended_thread_is_taken_over() {
    let r = RLock::new().unwrap();
    let other = remap(&r);
    // The thread ends three levels deep, never releasing.
    thread::spawn(move || {
        for _ in 0..3 {
            std::mem::forget(other.lock().unwrap());
        }
        assert_eq!(other.count(), 3);
    })
    .join()
    .unwrap();
    assert!(r.locked() && !r.is_mine());
    let g = r.lock_timeout(Duration::from_secs(5));
    let Err(AcquireError::OwnerDied(died)) = g else {
        panic!("expected OwnerDied, got {g:?}");
    };
    // One level, this thread's: the dead thread's depth is gone.
    assert!(r.is_mine());
    assert_eq!(r.count(), 1);
    drop(died.into_inner());
    assert!(!r.locked() && r.count() == 0);
    assert_eq!(r.release(), Err(ReleaseError::NotOwner));
}

/// Test access to an RLock's mutex word.
struct RawMutexView<'a>(&'a RLock);
impl RawMutexView<'_> {
    fn set_owner(&self, ident: u64) {
        let msg = mp_wire::encode(self.0).unwrap();
        let slot: mp_shm::Slot = mp_wire::decode(msg).unwrap();
        slot.atomic_u64(0).unwrap().store(ident, Ordering::SeqCst);
        slot.atomic_u64(16).unwrap().store(12345, Ordering::SeqCst);
        slot.atomic_u32(24).unwrap().store(1, Ordering::SeqCst);
    }
}

#[test]
fn semaphore_never_exceeds_its_value() {
    let sem = Semaphore::new(3).unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let sem = if i % 2 == 0 { sem.clone() } else { remap(&sem) };
            let (inside, max) = (Arc::clone(&inside), Arc::clone(&max));
            thread::spawn(move || {
                for _ in 0..2_000 {
                    let _p = sem.permit().unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(max.load(Ordering::SeqCst) <= 3);
    assert_eq!(sem.get_value(), 3);
}

#[test]
fn semaphore_python_semantics() {
    let sem = Semaphore::new(0).unwrap();
    assert_eq!(sem.acquire(false, None), Ok(false));
    assert_eq!(
        sem.acquire(true, Some(Duration::from_millis(20))),
        Ok(false)
    );
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(sem.get_value(), 2);
    assert_eq!(format!("{sem:?}"), "<Semaphore(value=2)>");
    let b = BoundedSemaphore::new(2).unwrap();
    assert_eq!(b.release(), Err(ReleaseError::TooManyReleases));
    assert_eq!(b.acquire(true, None), Ok(true));
    b.release().unwrap();
    assert_eq!(b.release(), Err(ReleaseError::TooManyReleases));
    assert_eq!((b.get_value(), b.max_value()), (2, 2));
    assert!(BoundedSemaphore::new(0).is_err());
    assert!(Semaphore::new(u32::MAX).is_err());
}

#[test]
fn semaphore_slots_of_a_dead_holder_come_back() {
    let sem = BoundedSemaphore::new(3).unwrap();
    let dead = dead_ident();
    // Forge the state a dead process holding all three slots leaves behind.
    let slot: mp_shm::Slot = mp_wire::decode(mp_wire::encode(&sem).unwrap()).unwrap();
    slot.atomic_u32(0).unwrap().store(0, Ordering::SeqCst);
    slot.atomic_u32(16).unwrap().store(6, Ordering::SeqCst); // entries used
    slot.atomic_u64(48 + 16 * 5)
        .unwrap()
        .store(dead, Ordering::SeqCst);
    slot.atomic_u32(56 + 16 * 5)
        .unwrap()
        .store(3, Ordering::SeqCst);
    let start = Instant::now();
    let p = sem.permit_timeout(Duration::from_secs(5));
    assert!(start.elapsed() < Duration::from_secs(2));
    let AcquireError::OwnerDied(p) = p.unwrap_err() else {
        panic!("expected OwnerDied")
    };
    // One slot is ours, the other two are free again.
    assert_eq!(sem.get_value(), 2);
    drop(p.into_inner());
    assert_eq!(sem.get_value(), 3);
}

/// Issue 11 (the take/record window): a holder killed between taking a
/// slot and recording itself. Every state a process killed inside an
/// acquire or a release can leave (the state mutex held by the dead
/// process, any subset of the operation's writes made) is forged on a
/// `BoundedSemaphore(2)`; afterwards both slots can be taken again,
/// cleanly or with `OwnerDied`, and a third is refused.
#[test]
fn semaphore_killed_inside_an_operation_loses_no_slot() {
    const COUNT: usize = 0;
    const USED: usize = 16;
    const LOCK: usize = 24;
    const TOTAL: usize = 40;
    const WHO: usize = 48;
    const HELD: usize = 56;
    let dead = dead_ident();
    // (count, dead's held, total) left by each cut of each operation.
    let cuts: &[(&str, u32, u32, u32)] = &[
        ("acquire: nothing written", 2, 0, 2),
        ("acquire: held written", 2, 1, 2),
        ("acquire: count written", 1, 0, 2),
        ("acquire: both written", 1, 1, 2),
        ("release by the holder: held written", 1, 0, 2),
        ("release by the holder: count written", 2, 1, 2),
        ("release by a non-holder: total written", 1, 1, 3),
        ("release by a non-holder: count written", 2, 1, 2),
    ];
    for &(cut, count, held, total) in cuts {
        let sem = BoundedSemaphore::new(2).unwrap();
        let slot: mp_shm::Slot = mp_wire::decode(mp_wire::encode(&sem).unwrap()).unwrap();
        slot.atomic_u32(COUNT)
            .unwrap()
            .store(count, Ordering::SeqCst);
        slot.atomic_u32(USED).unwrap().store(1, Ordering::SeqCst);
        slot.atomic_u32(TOTAL)
            .unwrap()
            .store(total, Ordering::SeqCst);
        slot.atomic_u64(WHO).unwrap().store(dead, Ordering::SeqCst);
        slot.atomic_u32(HELD).unwrap().store(held, Ordering::SeqCst);
        slot.atomic_u64(LOCK).unwrap().store(dead, Ordering::SeqCst);
        let mut permits = Vec::new();
        for _ in 0..2 {
            match sem.permit_timeout(Duration::from_secs(5)) {
                Ok(p) => permits.push(p),
                Err(AcquireError::OwnerDied(p)) => permits.push(p.into_inner()),
                Err(AcquireError::Timeout) => panic!("{cut}: a slot was lost"),
            }
        }
        assert!(sem.try_permit().is_err(), "{cut}: a slot was doubled");
        drop(permits);
        assert_eq!(sem.get_value(), 2, "{cut}");
        assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases), "{cut}");
    }
}

/// A setter killed between raising the flag and notifying: a waiter
/// without a deadline must still see the flag (it used to sleep for ever,
/// and later `set`s, finding the flag up, notified nobody).
#[test]
fn event_waiter_sees_a_flag_raised_without_a_notify() {
    let ev = Event::new().unwrap();
    let waiter = {
        let ev = ev.clone();
        thread::spawn(move || ev.wait(None))
    };
    let slot: mp_shm::Slot = mp_wire::decode(mp_wire::encode(&ev).unwrap()).unwrap();
    // Registered: the eventcount's waiter count (@12) is up.
    while slot.atomic_u32(12).unwrap().load(Ordering::SeqCst) == 0 {
        thread::yield_now();
    }
    slot.atomic_u32(0).unwrap().store(1, Ordering::SeqCst); // the dead setter's CAS
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(waiter.join().unwrap()));
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(true));
}

#[test]
fn condition_notify_counts_are_exact() {
    let cond = Condition::new().unwrap();
    let woken = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let cond = if i % 2 == 0 {
                cond.clone()
            } else {
                remap(&cond)
            };
            let woken = Arc::clone(&woken);
            thread::spawn(move || {
                let g = cond.lock().unwrap();
                if g.wait(Some(Duration::from_secs(10))).unwrap() {
                    woken.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Wait until all five are registered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cond.raw().waiting() < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    {
        let g = cond.lock().unwrap();
        g.notify(2).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while woken.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(50));
    assert_eq!(woken.load(Ordering::SeqCst), 2);
    cond.lock().unwrap().notify_all().unwrap();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), 5);
}

/// Issue 11 #5: a thread that notifies and then waits itself must not
/// take the notification meant for the thread already waiting.
#[test]
fn condition_notifier_cannot_take_its_own_notify() {
    for _ in 0..20 {
        let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
        let c2 = remap(&cond);
        let waiter = thread::spawn(move || {
            let g = c2.lock().unwrap();
            g.wait(Some(Duration::from_secs(20))).unwrap()
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while cond.raw().waiting() < 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let g = cond.lock().unwrap();
        g.notify(1).unwrap();
        assert_eq!(
            g.wait(Some(Duration::ZERO)),
            Ok(false),
            "took its own notify"
        );
        drop(g);
        assert!(waiter.join().unwrap(), "the waiter was not woken");
        // Every registration was settled: nothing left for a later wait.
        let g = cond.lock().unwrap();
        assert_eq!(g.wait(Some(Duration::ZERO)), Ok(false));
        assert_eq!(cond.raw().waiting(), 0);
    }
}

#[test]
fn condition_python_semantics() {
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    assert_eq!(cond.wait(None), Err(ConditionError::NotOwner));
    assert_eq!(cond.notify(1), Err(ConditionError::NotOwner));
    assert_eq!(cond.acquire(true, None), Ok(true));
    assert_eq!(cond.wait(Some(Duration::ZERO)), Ok(false));
    assert!(cond.get_lock().is_mine());
    assert_eq!(cond.wait_for(|| true, None), Ok(true));
    let t = Instant::now();
    assert_eq!(
        cond.wait_for(|| false, Some(Duration::from_millis(50))),
        Ok(false)
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    cond.release().unwrap();
    // RLock depth is restored after wait.
    let cond = Condition::new().unwrap();
    let SyncLock::RLock(r) = cond.get_lock().clone() else {
        panic!("RLock by default")
    };
    r.acquire(true, None).unwrap();
    r.acquire(true, None).unwrap();
    assert_eq!(cond.wait(Some(Duration::from_millis(1))), Ok(false));
    assert_eq!(r.count(), 2);
}

#[test]
fn condition_wait_for_a_shared_flag() {
    let cond = Condition::new().unwrap();
    let flag = RawValue::new(0u32).unwrap();
    let (c2, f2) = (remap(&cond), remap(&flag));
    let t = thread::spawn(move || {
        let g = c2.lock().unwrap();
        g.wait_for(|| f2.get() == 1, Some(Duration::from_secs(10)))
            .unwrap()
    });
    thread::sleep(Duration::from_millis(20));
    {
        let g = cond.lock().unwrap();
        flag.set(1);
        g.notify(1).unwrap();
    }
    assert!(t.join().unwrap());
}

#[test]
fn event_set_wakes_all_and_pulses_count() {
    let ev = Event::new().unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let ev = remap(&ev);
            thread::spawn(move || ev.wait(Some(Duration::from_secs(10))))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ev.raw().waiting() < 3 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
    }
    ev.set();
    ev.clear(); // a pulse: the waiters still saw it
    for h in handles {
        assert!(h.join().unwrap());
    }
    assert!(!ev.is_set());
    assert!(!ev.wait(Some(Duration::from_millis(10))));
    assert_eq!(format!("{ev:?}"), "<Event unset>");
}

static ACTIONS: AtomicUsize = AtomicUsize::new(0);
fn count_action() {
    ACTIONS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn barrier_generations_give_each_index_once() {
    let mut barrier = Barrier::new(3).unwrap();
    barrier.set_action(count_action);
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let mut b = if i == 0 {
                barrier.clone()
            } else {
                remap(&barrier)
            };
            b.set_action(count_action);
            thread::spawn(move || {
                (0..200)
                    .map(|_| b.wait_timeout(Duration::from_secs(10)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<usize>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for gen in 0..200 {
        let mut idx: Vec<usize> = results.iter().map(|r| r[gen]).collect();
        idx.sort_unstable();
        assert_eq!(idx, [0, 1, 2], "generation {gen}");
    }
    assert_eq!(ACTIONS.load(Ordering::SeqCst), 200);
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn barrier_timeout_abort_reset() {
    let b = Barrier::with_timeout(2, Some(Duration::from_millis(50))).unwrap();
    assert_eq!(b.wait(), Err(BrokenBarrierError));
    assert!(b.broken());
    assert_eq!(b.wait(), Err(BrokenBarrierError));
    b.reset();
    assert!(!b.broken());
    let other = remap(&b);
    let t = thread::spawn(move || other.wait_timeout(Duration::from_secs(10)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.n_waiting() < 1 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    b.abort();
    assert_eq!(t.join().unwrap(), Err(BrokenBarrierError));
    b.reset();
    let other = remap(&b);
    let t = thread::spawn(move || other.wait_timeout(Duration::from_secs(10)));
    let mine = b.wait_timeout(Duration::from_secs(10)).unwrap();
    let theirs = t.join().unwrap().unwrap();
    assert_eq!(mine + theirs, 1);
    assert!(Barrier::new(0).is_err());
    assert!(Barrier::new(Barrier::MAX_PARTIES + 1).is_err());
}

/// The state a party of a three-party barrier leaves when it is killed
/// inside `wait` (forged: its arrival entry names a dead process): the
/// next party to wait learns it as `BrokenBarrierError`, and a reset
/// barrier completes full rounds again.
#[test]
fn barrier_dead_party_breaks_the_generation() {
    let b = Barrier::new(3).unwrap();
    let slot: mp_shm::Slot = mp_wire::decode(mp_wire::encode(&b).unwrap()).unwrap();
    slot.atomic_u64(48)
        .unwrap()
        .store(dead_ident(), Ordering::SeqCst);
    slot.atomic_u32(20).unwrap().store(1, Ordering::SeqCst); // count
    assert_eq!(b.n_waiting(), 1);
    assert_eq!(
        b.wait_timeout(Duration::from_secs(20)),
        Err(BrokenBarrierError)
    );
    b.reset();
    assert_eq!(slot.atomic_u64(48).unwrap().load(Ordering::SeqCst), 0);
    for _ in 0..3 {
        let others: Vec<_> = (0..2)
            .map(|_| {
                let other = remap(&b);
                thread::spawn(move || other.wait_timeout(Duration::from_secs(20)).unwrap())
            })
            .collect();
        let mut idx = vec![b.wait_timeout(Duration::from_secs(20)).unwrap()];
        idx.extend(others.into_iter().map(|t| t.join().unwrap()));
        idx.sort_unstable();
        assert_eq!(idx, [0, 1, 2]);
    }
}

#[test]
fn value_and_array_increment_exactly() {
    let v = Value::new(0i64).unwrap();
    let a = Array::<u32>::new(2).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (v, a) = if i % 2 == 0 {
                (v.clone(), a.clone())
            } else {
                (remap(&v), remap(&a))
            };
            thread::spawn(move || {
                for _ in 0..5_000 {
                    v.lock().unwrap().update(|x| x + 1);
                    let g = a.lock().unwrap();
                    g.set(1, g.get(1).unwrap() + 2).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(v.value(), 20_000);
    assert_eq!(a.to_vec(), [0, 40_000]);
    assert!(a.set(2, 0).is_err());
    assert!(a.copy_from_slice(&[1]).is_err());
    let shared_lock = Lock::new().unwrap();
    let w = Value::with_lock(1.5f64, shared_lock.clone()).unwrap();
    let _g = w.lock().unwrap();
    assert!(shared_lock.locked());
}

#[test]
fn forged_handles_are_rejected() {
    // A slot too small for the primitive does not decode.
    let tiny = mp_shm::alloc(8, 8).unwrap();
    let msg = mp_wire::encode(&tiny).unwrap();
    assert!(mp_wire::decode::<Semaphore>(msg).is_err());
    let msg = mp_wire::encode(&tiny).unwrap();
    assert!(mp_wire::decode::<Lock>(msg).is_err());
    // A barrier whose parties do not fit its slot's arrival table.
    let b = Barrier::new(2).unwrap();
    let slot: mp_shm::Slot = mp_wire::decode(mp_wire::encode(&b).unwrap()).unwrap();
    slot.atomic_u32(28).unwrap().store(1000, Ordering::SeqCst);
    assert!(mp_wire::decode::<Barrier>(mp_wire::encode(&b).unwrap()).is_err());
}

/// The shared slot of `h`, as another process holding it could write it.
fn slot_of<T: Serialize>(h: &T) -> mp_shm::Slot {
    mp_wire::decode(mp_wire::encode(h).unwrap()).unwrap()
}

#[test]
fn a_damaged_rlock_depth_does_not_panic_the_owner() {
    let r = RLock::new().unwrap();
    let outer = r.lock().unwrap();
    // Another process writes the depth word (@24) while we own the lock.
    slot_of(&r)
        .atomic_u32(24)
        .unwrap()
        .store(u32::MAX, Ordering::SeqCst);
    // Before, one more level overflowed the depth (a panic in debug builds).
    let inner = r.lock().unwrap();
    assert_eq!(r.count(), u32::MAX);
    drop((inner, outer));
    assert!(r.is_mine(), "still owned: the depth is what the word says");
}

#[test]
fn a_damaged_barrier_is_not_scanned_past_its_arrival_table() {
    let b = Barrier::new(2).unwrap();
    // Another process writes `parties` (@28) and `count` (@20): an arrival
    // looks for a free entry from `count` to `parties`, and before, looked
    // up each of the 2^32 indices past the 2-entry table in vain (minutes
    // in a debug build, holding the barrier's lock).
    let slot = slot_of(&b);
    slot.atomic_u32(28)
        .unwrap()
        .store(u32::MAX, Ordering::SeqCst);
    slot.atomic_u32(20).unwrap().store(2, Ordering::SeqCst);
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(b.wait_timeout(Duration::from_millis(10)));
    });
    let waited = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the wait ends with its timeout");
    assert_eq!(waited, Err(BrokenBarrierError));
}
