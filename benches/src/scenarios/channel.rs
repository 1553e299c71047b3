//! M2 (Pipe round trip) and M3a/b/c/d (queue throughput).

use std::time::{Duration, Instant};

use multiprocess::wire::serde_bytes::ByteBuf;
use multiprocess::{pipe, Connection, Process, Queue, SimpleQueue};

use super::{iters, Measurement};

fn echo(conn: Connection, rounds: u64) {
    for _ in 0..rounds {
        let v: u64 = conn.recv().expect("recv");
        conn.send(&v).expect("send");
    }
}

pub(super) fn m2(quick: bool) -> Measurement {
    let rounds = iters(quick, 50_000);
    let (ours, theirs) = pipe(true).expect("pipe");
    let mut p = Process::new(echo, (theirs, rounds + 100));
    p.start().expect("start");
    for i in 0..100u64 {
        ours.send(&i).expect("send");
        let _: u64 = ours.recv().expect("recv");
    }
    let t = Instant::now();
    for i in 0..rounds {
        ours.send(&i).expect("send");
        let back: u64 = ours.recv().expect("recv");
        assert_eq!(back, i);
    }
    let took = t.elapsed();
    p.join().expect("join");
    Measurement {
        value: took.as_secs_f64() * 1e6 / rounds as f64,
        unit: "us",
    }
}

fn produce(q: Queue<u64>, n: u64, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        crate::placement::pin_to(cpu);
    }
    for i in 0..n {
        q.put(&i).expect("put");
    }
}

pub(super) fn m3a(quick: bool) -> Measurement {
    small_items(quick, Queue::new().expect("queue"), None)
}

/// M3a with the consumer (this process) on CPU 0 and the producer on CPU 1.
pub(super) fn m3a_2cpu(quick: bool) -> Measurement {
    crate::placement::pin_to(0);
    small_items(quick, Queue::new().expect("queue"), Some(1))
}

/// M3d's ring: 4 KiB, the smallest. Pinned to one CPU, the producer fills
/// it in a fraction of its time slice and buffers most of its items for
/// the feeder thread: the path of every `put` to a queue whose consumer
/// falls behind. (On two CPUs the consumer keeps up and M3d is M3a.)
const M3D_RING_BYTES: usize = 4 << 10;

pub(super) fn m3d(quick: bool) -> Measurement {
    small_items(
        quick,
        Queue::with_ring(0, M3D_RING_BYTES).expect("queue"),
        None,
    )
}

/// M3e's bound: the raw limit's ring holds 4096 items, and its producer
/// sleeps when they are all there, as a bounded queue's does.
const M3E_MAXSIZE: usize = 4096;

pub(super) fn m3e(quick: bool) -> Measurement {
    small_items(quick, Queue::bounded(M3E_MAXSIZE).expect("queue"), None)
}

/// A child (pinned to `cpu`, if given) puts 500k `u64`s into `q`; the rate
/// at which this process gets them, from the child's start (the start
/// method warmed up first, as for every M3 row).
fn small_items(quick: bool, q: Queue<u64>, cpu: Option<usize>) -> Measurement {
    let n = iters(quick, 500_000);
    super::process::warm_up(None);
    let mut p = Process::new(produce, (q.clone(), n, cpu));
    let t = Instant::now();
    p.start().expect("start");
    for i in 0..n {
        let v = q
            .get_timeout(true, Some(Duration::from_secs(30)))
            .expect("get");
        assert_eq!(v, i);
    }
    let took = t.elapsed();
    p.join().expect("join");
    Measurement {
        value: n as f64 / took.as_secs_f64(),
        unit: "items/s",
    }
}

fn produce_big(q: Queue<ByteBuf>, n: u64) {
    let item = ByteBuf::from(vec![7u8; 1 << 20]);
    for _ in 0..n {
        q.put(&item).expect("put");
    }
}

/// M3b's ring: 4 MiB, as the raw limit's (four 1 MiB slots), so that a 1 MiB
/// item is one record; the default ring (1 MiB) would chunk every item, and
/// the guide tells users moving items over 512 KiB to ask for a larger ring.
const M3B_RING_BYTES: usize = 4 << 20;

pub(super) fn m3b(quick: bool) -> Measurement {
    let n = iters(quick, 500);
    let q: Queue<ByteBuf> = Queue::with_ring(0, M3B_RING_BYTES).expect("queue");
    super::process::warm_up(None);
    let mut p = Process::new(produce_big, (q.clone(), n));
    let t = Instant::now();
    p.start().expect("start");
    for _ in 0..n {
        let v = q
            .get_timeout(true, Some(Duration::from_secs(30)))
            .expect("get");
        assert_eq!(v.len(), 1 << 20);
        assert_eq!(v[v.len() / 2], 7);
    }
    let took = t.elapsed();
    p.join().expect("join");
    Measurement {
        value: n as f64 * 1.048576 / took.as_secs_f64(),
        unit: "MB/s",
    }
}

fn produce_simple(q: SimpleQueue<u64>, n: u64, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        crate::placement::pin_to(cpu);
    }
    for i in 0..n {
        q.put(&i).expect("put");
    }
}

pub(super) fn m3c(quick: bool) -> Measurement {
    simple_items(quick, None)
}

/// M3c with the consumer (this process) on CPU 0 and the producer on CPU 1.
pub(super) fn m3c_2cpu(quick: bool) -> Measurement {
    crate::placement::pin_to(0);
    simple_items(quick, Some(1))
}

/// A child (pinned to `cpu`, if given) puts 500k `u64`s into a
/// `SimpleQueue`; the rate at which this process gets them.
fn simple_items(quick: bool, cpu: Option<usize>) -> Measurement {
    let n = iters(quick, 500_000);
    let q: SimpleQueue<u64> = SimpleQueue::new().expect("queue");
    super::process::warm_up(None);
    let mut p = Process::new(produce_simple, (q.clone(), n, cpu));
    let t = Instant::now();
    p.start().expect("start");
    for i in 0..n {
        let v = q.get().expect("get");
        assert_eq!(v, i);
    }
    let took = t.elapsed();
    p.join().expect("join");
    Measurement {
        value: n as f64 / took.as_secs_f64(),
        unit: "items/s",
    }
}
