//! M5a, M5b, M7 and M8: `Lock` acquire+release uncontended; two processes
//! incrementing a shared `Value<u64>` under its lock; `Event` ping-pong
//! latency across two processes; `SharedMemory` 1 MiB
//! create+attach+close+unlink. Each stands beside its raw limit measured in
//! the same run: a minimal futex mutex (std's algorithm, no dead-owner
//! bookkeeping) in shared memory, a bare futex ping-pong, and
//! memfd+ftruncate+mmap+munmap+close.
//!
//! For the latency scenarios run it also pinned to one CPU:
//! `taskset -c 0 cargo bench -p multiprocess-benches --bench sync`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use mp_shm::{Region, SharedMemory};
use mp_sync::{Event, Lock, OwnerDied, Value};
use mp_sys::futex;
use mp_sys::mmap::Mapping;
use multiprocess::Process;
// The raw baseline, shared with `mp-scenarios raw:M5a` / `raw:M5b`.
use multiprocess_benches::raw::FutexMutex as RawFutexMutex;

/// A blocking wait in the harness gives up (panics) after this long.
const HANG: Duration = Duration::from_secs(60);

fn word(r: &Region, offset: usize) -> &AtomicU32 {
    r.atomic_u32(offset).expect("offset inside the region")
}

/// Sleeps until `*w >= target`, panicking after [`HANG`].
fn wait_at_least(w: &AtomicU32, target: u32) {
    let start = Instant::now();
    loop {
        let v = w.load(Ordering::Acquire);
        if v >= target {
            return;
        }
        assert!(start.elapsed() < HANG, "benchmark peer hung");
        let _ = futex::wait(w, v, Some(Duration::from_secs(1)));
    }
}

fn bump(w: &AtomicU32) {
    w.fetch_add(1, Ordering::Release);
    futex::wake(w, u32::MAX);
}

/// Start line for the M5b workers. Words: `ready` @0, `go` @4, `done` @8.
fn gate(ctl: &Region) {
    bump(word(ctl, 0));
    wait_at_least(word(ctl, 4), 1);
}

fn m5a(c: &mut Criterion) {
    let mut g = c.benchmark_group("M5a_lock_uncontended");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(2));
    let lock = Lock::new().expect("lock");
    g.bench_function("Lock_guard", |b| {
        b.iter(|| {
            let guard = lock.lock().unwrap_or_else(OwnerDied::into_inner);
            black_box(&guard);
        })
    });
    g.bench_function("Lock_acquire_release", |b| {
        b.iter(|| {
            black_box(lock.acquire(true, None).expect("acquire"));
            lock.release().expect("release");
        })
    });
    let region = Region::create("bench-m5a", 64).expect("region");
    let raw = RawFutexMutex(word(&region, 0));
    g.bench_function("raw_futex_mutex", |b| {
        b.iter(|| {
            raw.lock();
            black_box(raw);
            raw.unlock();
        })
    });
    g.finish();
}

fn m5b_value_worker(ctl: Region, v: Value<u64>, n: u64) {
    gate(&ctl);
    for _ in 0..n {
        let g = v.lock().unwrap_or_else(OwnerDied::into_inner);
        g.set(g.get() + 1);
    }
    bump(word(&ctl, 8));
}

/// Where the M5b baseline keeps its counter: a cache line of its own, as
/// a `Value` keeps its lock and its data in separate slots.
const RAW_COUNTER: usize = 128;

/// Shared words: mutex @0, counter (u64) @[`RAW_COUNTER`].
fn m5b_raw_worker(ctl: Region, shared: Region, n: u64) {
    gate(&ctl);
    let mutex = RawFutexMutex(word(&shared, 0));
    let counter: &AtomicU64 = shared.atomic_u64(RAW_COUNTER).expect("counter");
    for _ in 0..n {
        mutex.lock();
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        mutex.unlock();
    }
    bump(word(&ctl, 8));
}

/// Starts two workers made by `start(ctl, share)`, opens the gate, and
/// times them until both are done; `iters` increments in all.
fn two_workers(iters: u64, start: impl Fn(Region, u64) -> Process) -> Duration {
    let ctl = Region::create("bench-m5b-ctl", 64).expect("region");
    let mut workers = [iters / 2, iters - iters / 2].map(|n| start(ctl.clone(), n));
    for w in &mut workers {
        w.start().expect("start");
    }
    wait_at_least(word(&ctl, 0), 2);
    let t0 = Instant::now();
    bump(word(&ctl, 4));
    wait_at_least(word(&ctl, 8), 2);
    let elapsed = t0.elapsed();
    for w in &mut workers {
        w.join().expect("join");
        assert_eq!(w.exitcode(), Some(0));
    }
    elapsed
}

fn m5b(c: &mut Criterion) {
    let mut g = c.benchmark_group("M5b_two_processes_increment");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    for (name, value) in [
        ("Value_default_RLock", Value::new(0u64).expect("value")),
        (
            "Value_with_Lock",
            Value::with_lock(0u64, Lock::new().expect("lock")).expect("value"),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                value.set_value(0);
                let t = two_workers(iters, |ctl, n| {
                    Process::new(m5b_value_worker, (ctl, value.clone(), n))
                });
                assert_eq!(value.value(), iters, "lost increments");
                t
            })
        });
    }
    let shared = Region::create("bench-m5b", 4096).expect("region");
    let counter = shared.atomic_u64(RAW_COUNTER).expect("counter");
    g.bench_function("raw_futex_mutex", |b| {
        b.iter_custom(|iters| {
            counter.store(0, Ordering::Relaxed);
            let t = two_workers(iters, |ctl, n| {
                Process::new(m5b_raw_worker, (ctl, shared.clone(), n))
            });
            assert_eq!(counter.load(Ordering::Relaxed), iters, "lost increments");
            t
        })
    });
    g.finish();
}

fn m7_event_peer(ping: Event, pong: Event, stop: Event) {
    loop {
        ping.wait(None);
        ping.clear();
        if stop.is_set() {
            return;
        }
        pong.set();
    }
}

/// Words: ping @0, pong @4, stop @8.
fn m7_raw_peer(r: Region) {
    let (ping, pong, stop) = (word(&r, 0), word(&r, 4), word(&r, 8));
    loop {
        while ping.load(Ordering::Acquire) == 0 {
            let _ = futex::wait(ping, 0, None);
        }
        ping.store(0, Ordering::Relaxed);
        if stop.load(Ordering::Acquire) != 0 {
            return;
        }
        pong.store(1, Ordering::Release);
        futex::wake(pong, 1);
    }
}

fn m7(c: &mut Criterion) {
    let mut g = c.benchmark_group("M7_ping_pong_round_trip");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));

    let [ping, pong, stop] = [(); 3].map(|()| Event::new().expect("event"));
    let mut peer = Process::new(m7_event_peer, (ping.clone(), pong.clone(), stop.clone()));
    peer.start().expect("start");
    g.bench_function("Event", |b| {
        b.iter(|| {
            ping.set();
            pong.wait(None);
            pong.clear();
        })
    });
    stop.set();
    ping.set();
    peer.join().expect("join");
    assert_eq!(peer.exitcode(), Some(0));

    let r = Region::create("bench-m7", 64).expect("region");
    let mut peer = Process::new(m7_raw_peer, (r.clone(),));
    peer.start().expect("start");
    let (ping, pong, stop) = (word(&r, 0), word(&r, 4), word(&r, 8));
    g.bench_function("raw_futex", |b| {
        b.iter(|| {
            ping.store(1, Ordering::Release);
            futex::wake(ping, 1);
            while pong.load(Ordering::Acquire) == 0 {
                let _ = futex::wait(pong, 0, None);
            }
            pong.store(0, Ordering::Relaxed);
        })
    });
    stop.store(1, Ordering::Release);
    ping.store(1, Ordering::Release);
    futex::wake(ping, 1);
    peer.join().expect("join");
    assert_eq!(peer.exitcode(), Some(0));
    g.finish();
}

const MIB: usize = 1 << 20;

fn m8(c: &mut Criterion) {
    let mut g = c.benchmark_group("M8_shared_memory_1MiB");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("SharedMemory_close_unlink", |b| {
        b.iter(|| {
            let mut shm = SharedMemory::create(MIB).expect("create");
            let mut other = SharedMemory::attach(shm.name()).expect("attach");
            other.close();
            shm.close();
            shm.unlink().expect("unlink");
        })
    });
    g.bench_function("SharedMemory_drop", |b| {
        b.iter(|| {
            let shm = SharedMemory::create(MIB).expect("create");
            let other = SharedMemory::attach(shm.name()).expect("attach");
            drop(other);
            drop(shm); // the creator unlinks on drop
        })
    });
    // The floor of a *named* block: what `SharedMemory` does, by hand.
    let mut n = 0u64;
    g.bench_function("raw_dev_shm_mmap", |b| {
        b.iter(|| {
            use rustix::fs::{Mode, OFlags};
            n += 1;
            let path = format!("/dev/shm/bench-m8-{}-{n}", std::process::id());
            let rw = OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW;
            let fd = rustix::fs::open(
                &path,
                rw | OFlags::CREATE | OFlags::EXCL,
                Mode::RUSR | Mode::WUSR,
            )
            .expect("create");
            rustix::fs::ftruncate(&fd, MIB as u64).expect("ftruncate");
            let map = Mapping::map_shared(&fd, MIB).expect("mmap");
            let fd2 = rustix::fs::open(&path, rw, Mode::empty()).expect("attach");
            let len = rustix::fs::fstat(&fd2).expect("fstat").st_size;
            let map2 =
                Mapping::map_shared(&fd2, usize::try_from(len).expect("size")).expect("mmap");
            black_box((&map, &map2));
            drop((map2, fd2, map, fd));
            rustix::fs::unlink(&path).expect("unlink");
        })
    });
    g.bench_function("raw_memfd_mmap", |b| {
        b.iter(|| {
            let fd = rustix::fs::memfd_create("bench-m8", rustix::fs::MemfdFlags::CLOEXEC)
                .expect("memfd_create");
            rustix::fs::ftruncate(&fd, MIB as u64).expect("ftruncate");
            let map = Mapping::map_shared(&fd, MIB).expect("mmap");
            black_box(&map);
            drop(map);
            drop(fd);
        })
    });
    g.finish();
}

criterion_group!(benches, m5a, m5b, m7, m8);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
