//! M5a, M5b and M7's raw limits: a futex mutex uncontended and shared by two
//! processes incrementing a counter, and a futex ping-pong.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_sys::futex;
use mp_sys::mmap::Mapping;

use super::{child, FutexMutex};
use crate::scenarios::{iters, Measurement};

/// A shared page: the words live at 64-byte strides so no two share a line.
fn shared_page() -> Mapping {
    let fd = mp_sys::memfd::create_sealed("raw-sync", 4096).expect("memfd");
    Mapping::map_shared(&fd, 4096).expect("mmap")
}

fn word(m: &Mapping, line: usize) -> &AtomicU32 {
    m.atomic_u32(64 * line).expect("word")
}

/// Sleeps until `*w >= target` (re-checking every 100 ms).
fn wait_at_least(w: &AtomicU32, target: u32) {
    loop {
        let v = w.load(Ordering::Acquire);
        if v >= target {
            return;
        }
        let _ = futex::wait(w, v, Some(Duration::from_millis(100)));
    }
}

fn bump(w: &AtomicU32) {
    w.fetch_add(1, Ordering::Release);
    futex::wake(w, u32::MAX);
}

pub(super) fn m5a(quick: bool) -> Measurement {
    let page = shared_page();
    let mutex = FutexMutex(word(&page, 0));
    let n = iters(quick, 5_000_000);
    for _ in 0..1000 {
        mutex.lock();
        mutex.unlock();
    }
    let t = Instant::now();
    for _ in 0..n {
        mutex.lock();
        black_box(mutex);
        mutex.unlock();
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e9 / n as f64,
        unit: "ns",
    }
}

pub(super) fn m5b(quick: bool) -> Measurement {
    two_incrementers(quick, [None, None])
}

/// [`m5b`] with one process on CPU 0 and the other on CPU 1.
pub(super) fn m5b_2cpu(quick: bool) -> Measurement {
    two_incrementers(quick, [Some(0), Some(1)])
}

/// Two processes (each pinned to its CPU, if given) add `n` each to a
/// counter under a futex mutex.
fn two_incrementers(quick: bool, cpus: [Option<usize>; 2]) -> Measurement {
    let n = iters(quick, 200_000);
    let page = shared_page();
    // Lines: mutex 0, counter 1, ready 2, go 3.
    let (mutex, ready, go) = (FutexMutex(word(&page, 0)), word(&page, 2), word(&page, 3));
    let counter: &AtomicU64 = page.atomic_u64(64).expect("counter");
    let worker = |cpu: Option<usize>| {
        if let Some(cpu) = cpu {
            crate::placement::pin_to(cpu);
        }
        bump(ready);
        wait_at_least(go, 1);
        for _ in 0..n {
            mutex.lock();
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            mutex.unlock();
        }
    };
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let a = unsafe { child::start(|| worker(cpus[0])) };
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let b = unsafe { child::start(|| worker(cpus[1])) };
    wait_at_least(ready, 2);
    // As the scenario: time the increments and the two exits.
    let t = Instant::now();
    bump(go);
    child::reap(&a);
    child::reap(&b);
    let took = t.elapsed();
    assert_eq!(counter.load(Ordering::Relaxed), 2 * n, "lost increments");
    Measurement {
        value: (2 * n) as f64 / took.as_secs_f64(),
        unit: "ops/s",
    }
}

pub(super) fn m7(quick: bool) -> Measurement {
    let rounds = iters(quick, 20_000);
    let warm = 100;
    let page = shared_page();
    let (ping, pong) = (word(&page, 0), word(&page, 1));
    let wait_set = |w: &AtomicU32| {
        while w.load(Ordering::Acquire) == 0 {
            let _ = futex::wait(w, 0, Some(Duration::from_secs(1)));
        }
        w.store(0, Ordering::Relaxed);
    };
    let set = |w: &AtomicU32| {
        w.store(1, Ordering::Release);
        futex::wake(w, 1);
    };
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let peer = unsafe {
        child::start(|| {
            for _ in 0..warm + rounds {
                wait_set(ping);
                set(pong);
            }
        })
    };
    let round = || {
        set(ping);
        wait_set(pong);
    };
    (0..warm).for_each(|_| round());
    let t = Instant::now();
    (0..rounds).for_each(|_| round());
    let took = t.elapsed();
    child::reap(&peer);
    Measurement {
        value: took.as_secs_f64() * 1e6 / rounds as f64,
        unit: "us",
    }
}
