//! M2 (Pipe round trip of a small value between two processes) and
//! M3a/b/c (Queue throughput of small items, of 1 MiB payloads, and
//! SimpleQueue small items), beside raw baselines measured in the same run:
//! a ping-pong of 8 bytes over a raw pipe pair and over a raw Unix socket.
//!
//! Children use the default start method (`MULTIPROCESS_START_METHOD`);
//! the measured loops do not include process start.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use mp_channel::{pipe, Connection, Queue, SimpleQueue};
use mp_process::Process;
use mp_wire::SharedFd;
use serde_bytes::ByteBuf;

fn echo(conn: Connection) {
    while let Ok(v) = conn.recv::<u64>() {
        if conn.send(&v).is_err() {
            break;
        }
    }
}

/// Echoes 8-byte reads on `rx` back on `tx` until end of stream.
fn raw_echo(rx: SharedFd, tx: SharedFd) {
    let mut buf = [0u8; 8];
    while let Ok(8) = rustix::io::read(rx.as_fd(), &mut buf) {
        if mp_sys::fd::write_all(&tx, &buf).is_err() {
            break;
        }
    }
}

fn raw_ping(rx: &SharedFd, tx: &SharedFd) {
    mp_sys::fd::write_all(tx, &7u64.to_le_bytes()).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(rx.as_fd(), &mut buf).unwrap(), 8);
}

fn started(mut p: Process) -> Process {
    p.start().expect("start");
    p
}

fn m2(c: &mut Criterion) {
    let mut g = c.benchmark_group("M2_pipe_round_trip");
    g.measurement_time(Duration::from_secs(3));

    let (mine, theirs) = pipe(true).unwrap();
    let mut p = started(Process::new(echo, (theirs,)));
    g.bench_function("connection_u64", |b| {
        b.iter(|| {
            mine.send(&7u64).unwrap();
            mine.recv::<u64>().unwrap()
        })
    });
    drop(mine);
    p.join().unwrap();

    let (to_child_r, to_child_w) = mp_sys::fd::pipe().unwrap();
    let (to_me_r, to_me_w) = mp_sys::fd::pipe().unwrap();
    let mut p = started(Process::new(
        raw_echo,
        (SharedFd::from(to_child_r), SharedFd::from(to_me_w)),
    ));
    let (rx, tx) = (SharedFd::from(to_me_r), SharedFd::from(to_child_w));
    g.bench_function("raw_pipe_8_bytes", |b| b.iter(|| raw_ping(&rx, &tx)));
    drop(tx);
    p.join().unwrap();

    let (a, b2) = mp_sys::socket::socketpair().unwrap();
    let b2 = SharedFd::from(b2);
    let mut p = started(Process::new(raw_echo, (b2.try_clone().unwrap(), b2)));
    let a = SharedFd::from(a);
    g.bench_function("raw_unix_socket_8_bytes", |b| b.iter(|| raw_ping(&a, &a)));
    drop(a);
    p.join().unwrap();
    g.finish();
}

fn produce_small(q: Queue<u64>, ctrl: Connection) {
    while let Ok(n) = ctrl.recv::<u64>() {
        for i in 0..n {
            q.put(&i).unwrap();
        }
    }
}

fn produce_big(q: Queue<ByteBuf>, ctrl: Connection) {
    let item = ByteBuf::from(vec![5u8; 1 << 20]);
    while let Ok(n) = ctrl.recv::<u64>() {
        for _ in 0..n {
            q.put(&item).unwrap();
        }
    }
}

fn produce_simple(q: SimpleQueue<u64>, ctrl: Connection) {
    while let Ok(n) = ctrl.recv::<u64>() {
        for i in 0..n {
            q.put(&i).unwrap();
        }
    }
}

/// Times receiving `iters` items that a child produces on request.
fn timed(ctrl: &Connection, iters: u64, mut get: impl FnMut()) -> Duration {
    ctrl.send(&iters).unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        get();
    }
    start.elapsed()
}

fn m3(c: &mut Criterion) {
    let mut g = c.benchmark_group("M3_queue");
    g.measurement_time(Duration::from_secs(3));

    let q = Queue::<u64>::new().unwrap();
    let (ctrl, theirs) = pipe(true).unwrap();
    let mut p = started(Process::new(produce_small, (q.clone(), theirs)));
    g.throughput(Throughput::Elements(1));
    g.bench_function("M3a_queue_small_items", |b| {
        b.iter_custom(|iters| {
            timed(&ctrl, iters, || {
                q.get().unwrap();
            })
        })
    });
    drop(ctrl);
    p.join().unwrap();

    let q = Queue::<ByteBuf>::new().unwrap();
    let (ctrl, theirs) = pipe(true).unwrap();
    let mut p = started(Process::new(produce_big, (q.clone(), theirs)));
    g.throughput(Throughput::Bytes(1 << 20));
    g.sample_size(20);
    g.bench_function("M3b_queue_1MiB_items", |b| {
        b.iter_custom(|iters| {
            timed(&ctrl, iters, || {
                assert_eq!(q.get().unwrap().len(), 1 << 20);
            })
        })
    });
    drop(ctrl);
    p.join().unwrap();

    let q = SimpleQueue::<u64>::new().unwrap();
    let (ctrl, theirs) = pipe(true).unwrap();
    let mut p = started(Process::new(produce_simple, (q.clone(), theirs)));
    g.throughput(Throughput::Elements(1));
    g.sample_size(100);
    g.bench_function("M3c_simple_queue_small_items", |b| {
        b.iter_custom(|iters| {
            timed(&ctrl, iters, || {
                q.get().unwrap();
            })
        })
    });
    drop(ctrl);
    p.join().unwrap();
    g.finish();
}

criterion_group!(benches, m2, m3);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
