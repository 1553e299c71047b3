//! A queue used by a forked child through the parent's own handles (a
//! closure's capture, under fork): the child has a feeder of its own — it
//! neither waits for the parent's feeder mutex (held by a parent thread at
//! the fork, it stays locked for ever in the child) nor loses what it put
//! when it ends (its handles are copies whose count never reaches zero, so
//! no `Drop` flushes them).
//!
//! These children are closures, which only the fork start method runs; the
//! tests pin it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mp_channel::Queue;
use mp_process::{Process, StartMethod};

const T: Duration = Duration::from_secs(30);

fn forked(f: impl FnOnce() + Send + 'static) -> Process {
    let mut p = Process::from_closure(f).start_method(StartMethod::Fork);
    p.start().unwrap();
    p
}

fn finish(mut p: Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("the child did not end within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

/// The child puts more than the ring holds and ends at once: what waits in
/// its feeder's buffer reaches the queue before the child ends.
#[test]
fn a_forked_child_ends_only_once_what_it_put_is_in_the_queue() {
    let q = Queue::<Vec<u8>>::with_ring(0, 64 * 1024).unwrap();
    let qc = q.clone();
    let p = forked(move || {
        for i in 0..40u8 {
            qc.put(&vec![i; 30_000]).unwrap();
        }
    });
    for i in 0..40u8 {
        let v = q.get_timeout(true, Some(T)).expect("every item arrives");
        assert_eq!((v[0], v.len()), (i, 30_000));
    }
    finish(p);
    assert!(q.empty());
}

/// A parent thread keeps its feeder busy (a small ring, large items, a slow
/// consumer), so its feeder mutex is often held at the moment of a fork;
/// each forked child puts through the copied handle and must end.
#[test]
fn a_forked_child_puts_although_the_parents_feeder_was_busy_at_the_fork() {
    let q = Queue::<Vec<u8>>::with_ring(0, 256 * 1024).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (q, stop) = (q.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                q.put(&vec![7u8; 100_000]).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let consumer = {
        let (q, stop) = (q.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut small = 0;
            while !stop.load(Ordering::Relaxed) || !q.empty() {
                match q.get_timeout(true, Some(Duration::from_millis(100))) {
                    Ok(v) if v.len() == 1 => small += 1,
                    Ok(_) => std::thread::sleep(Duration::from_micros(300)),
                    Err(_) => {}
                }
            }
            small
        })
    };
    for i in 0..40u8 {
        let qc = q.clone();
        let p = forked(move || qc.put(&vec![i]).unwrap());
        finish(p);
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), 40, "every child's item arrived");
}
