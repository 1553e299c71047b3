//! Queue, SimpleQueue and JoinableQueue inside one process: FIFO, sizes,
//! Empty/Full with timeouts, close, the feeder, large items, fds, and
//! threads as concurrent producers and consumers.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mp_channel::{
    pipe, Connection, GetError, JoinableQueue, PutError, Queue, QueueStateError, SimpleQueue,
};

const T: Duration = Duration::from_secs(20);

#[test]
fn fifo_sizes_and_nowait() {
    let q = Queue::<u32>::new().unwrap();
    assert!(q.empty());
    assert_eq!((q.qsize(), q.full(), q.maxsize()), (0, false, 0));
    for i in 0..100 {
        q.put(&i).unwrap();
    }
    assert_eq!(q.qsize(), 100);
    assert!(!q.empty());
    for i in 0..100 {
        assert_eq!(q.get_timeout(true, Some(T)).unwrap(), i);
    }
    assert!(matches!(q.get_nowait(), Err(GetError::Empty)));
    let start = Instant::now();
    assert!(matches!(
        q.get_timeout(true, Some(Duration::from_millis(50))),
        Err(GetError::Empty)
    ));
    assert!(start.elapsed() >= Duration::from_millis(45));
}

#[test]
fn bounded_queue_is_full_at_maxsize() {
    let q = Queue::<u8>::bounded(2).unwrap();
    q.put(&1).unwrap();
    q.put_nowait(&2).unwrap();
    assert!(q.full());
    assert!(matches!(q.put_nowait(&3), Err(PutError::Full)));
    let start = Instant::now();
    assert!(matches!(
        q.put_timeout(&3, true, Some(Duration::from_millis(50))),
        Err(PutError::Full)
    ));
    assert!(start.elapsed() >= Duration::from_millis(45));
    // A blocked put proceeds when a slot frees up.
    let q2 = q.clone();
    let t = thread::spawn(move || q2.put_timeout(&3, true, Some(T)));
    thread::sleep(Duration::from_millis(50));
    assert_eq!(q.get().unwrap(), 1);
    t.join().unwrap().unwrap();
    assert_eq!(q.get().unwrap(), 2);
    assert_eq!(q.get().unwrap(), 3);
    assert_eq!(q.qsize(), 0);
}

#[test]
fn unbounded_put_never_blocks_when_the_ring_is_full() {
    let q = Queue::<Vec<u8>>::with_ring(0, 4096).unwrap();
    let start = Instant::now();
    for i in 0..2000u32 {
        q.put(&vec![(i % 251) as u8; 1000]).unwrap();
    }
    assert!(start.elapsed() < T, "puts returned");
    assert_eq!(q.qsize(), 2000);
    for i in 0..2000u32 {
        let v = q.get_timeout(true, Some(T)).unwrap();
        assert_eq!((v.len(), v[0]), (1000, (i % 251) as u8));
    }
    assert_eq!(q.qsize(), 0);
}

/// Small items that find a 4 KiB ring full wait in the feeder's buffer
/// (inline, see `feeder`); the feeder thread writes them in order as the
/// consumer makes room, and `close` with `join_thread` flushes the rest.
#[test]
fn small_items_through_a_full_ring_arrive_in_order() {
    const N: u32 = 20_000;
    let q = Queue::<u32>::with_ring(0, 4096).unwrap();
    let reader: Queue<u32> = mp_wire::decode(mp_wire::encode(&q).unwrap()).unwrap();
    let consumer =
        thread::spawn(move || (0..N).find(|&i| reader.get_timeout(true, Some(T)).unwrap() != i));
    for i in 0..N {
        q.put(&i).unwrap();
    }
    q.close();
    q.join_thread().unwrap();
    assert_eq!(
        consumer.join().unwrap(),
        None,
        "the first item out of order"
    );
}

#[test]
fn close_and_join_thread() {
    let q = Queue::<u8>::with_ring(0, 4096).unwrap();
    assert_eq!(q.join_thread(), Err(QueueStateError::NotClosed));
    let other = q.clone();
    q.close();
    assert!(matches!(q.put(&1), Err(PutError::Closed)));
    assert!(matches!(other.get_nowait(), Err(GetError::Closed)));
    q.join_thread().unwrap();
}

#[test]
fn close_flushes_the_feeder_buffer() {
    let q = Queue::<Vec<u8>>::with_ring(0, 4096).unwrap();
    let reader: Queue<Vec<u8>> = mp_wire::decode(mp_wire::encode(&q).unwrap()).unwrap();
    let consumer = thread::spawn(move || {
        (0..300)
            .map(|_| reader.get_timeout(true, Some(T)).unwrap().len())
            .sum::<usize>()
    });
    for _ in 0..300 {
        q.put(&vec![0; 500]).unwrap();
    }
    q.close();
    q.join_thread().unwrap();
    assert_eq!(consumer.join().unwrap(), 300 * 500);
}

#[test]
fn sixty_four_mib_item_through_a_queue() {
    let q = Queue::<serde_bytes::ByteBuf>::new().unwrap();
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i ^ (i >> 13)) as u8).collect();
    let expected = big.clone();
    let q2 = q.clone();
    let t = thread::spawn(move || q2.put(&serde_bytes::ByteBuf::from(big)).unwrap());
    let got = q.get_timeout(true, Some(T)).unwrap();
    assert!(got.into_vec() == expected);
    t.join().unwrap();
}

#[test]
fn connections_travel_through_a_queue() {
    let q = Queue::<(u32, Connection)>::new().unwrap();
    let (a, b) = pipe(true).unwrap();
    q.put(&(1, b)).unwrap();
    let (c, d) = pipe(true).unwrap();
    q.put(&(2, d)).unwrap();
    let (n1, b2) = q.get().unwrap();
    let (n2, d2) = q.get().unwrap();
    assert_eq!((n1, n2), (1, 2));
    a.send(&"to b").unwrap();
    c.send(&"to d").unwrap();
    assert_eq!(b2.recv_timeout::<String>(T).unwrap(), "to b");
    assert_eq!(d2.recv_timeout::<String>(T).unwrap(), "to d");
}

/// An item whose encoding is `len + 2` bytes (or about 2 more with a
/// connection), and its connection's other end if it carries one.
type Sized = (Vec<u8>, Option<Connection>);

fn sized(len: usize) -> (Sized, Option<Connection>) {
    let bytes = (0..len).map(|i| (i * 7 + len) as u8).collect();
    if len % 7 == 3 {
        let (a, b) = pipe(true).unwrap();
        ((bytes, Some(b)), Some(a))
    } else {
        ((bytes, None), None)
    }
}

fn check_sized(len: usize, (bytes, conn): Sized, other_end: Option<Connection>) {
    let want: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
    assert_eq!(bytes, want, "item of {len} bytes");
    match (conn, other_end) {
        (Some(conn), Some(other)) => {
            other.send(&(len as u64)).unwrap();
            assert_eq!(conn.recv_timeout::<u64>(T).unwrap(), len as u64);
        }
        (None, None) => {}
        _ => panic!("item of {len} bytes lost or gained a connection"),
    }
}

/// Encodings from 2 bytes to well past the 56 that a `put` keeps on the
/// stack and a `get` takes onto it, some with an fd beside them (a small
/// item with fds goes the general way): every item arrives whole, in
/// order, through `Queue` and `SimpleQueue`.
#[test]
fn items_on_both_sides_of_the_stack_limit_arrive_whole_and_in_order() {
    const LENS: std::ops::Range<usize> = 0..130;
    let q = Queue::<Sized>::new().unwrap();
    let sq = SimpleQueue::<Sized>::new().unwrap();
    let mut ends = Vec::new();
    for len in LENS {
        let (item, end) = sized(len);
        q.put(&item).unwrap();
        sq.put(&item).unwrap();
        ends.push(end);
    }
    for (len, end) in LENS.zip(ends) {
        // Both queues' copies of a connection are the same socket end.
        let twin = end.as_ref().map(|e| e.try_clone().unwrap());
        check_sized(len, q.get_timeout(true, Some(T)).unwrap(), twin);
        check_sized(len, sq.get_timeout(T).unwrap(), end);
    }
    assert!(matches!(q.get_nowait(), Err(GetError::Empty)));
    assert!(sq.empty());
}

#[test]
fn shared_memory_travels_through_a_queue() {
    let q = Queue::<mp_shm::SharedMemory>::new().unwrap();
    let mut shm = mp_shm::SharedMemory::create(4096).unwrap();
    shm.write(0, b"shared!").unwrap();
    q.put(&shm).unwrap();
    let got = q.get().unwrap();
    let mut buf = [0u8; 7];
    got.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"shared!");
    drop(got);
    shm.unlink().unwrap();
    shm.close();
}

#[test]
fn undecodable_items_are_typed_errors() {
    let q = Queue::<String>::new().unwrap();
    let raw: Queue<u64> = mp_wire::decode(mp_wire::encode(&q).unwrap()).unwrap();
    raw.put(&u64::MAX).unwrap();
    q.put(&"fine".to_string()).unwrap();
    assert!(matches!(q.get(), Err(GetError::Decode(_))));
    assert_eq!(q.get().unwrap(), "fine");
}

#[test]
fn threads_as_mpmc_lose_and_duplicate_nothing_and_keep_per_producer_order() {
    const PRODUCERS: u32 = 4;
    const EACH: u32 = 5000;
    let q = Queue::<(u32, u32)>::with_ring(0, 8192).unwrap();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    q.put(&(p, i)).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(item) = q.get_timeout(true, Some(Duration::from_secs(2))) {
                    got.push(item);
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut seen: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut total = 0;
    for c in consumers {
        let got = c.join().unwrap();
        total += got.len();
        // Within one consumer, each producer's items arrive in order.
        let mut last: HashMap<u32, u32> = HashMap::new();
        for (p, i) in got {
            if let Some(prev) = last.insert(p, i) {
                assert!(i > prev, "producer {p}: {i} after {prev}");
            }
            seen.entry(p).or_default().push(i);
        }
    }
    assert_eq!(total, (PRODUCERS * EACH) as usize);
    for p in 0..PRODUCERS {
        let mut v = seen.remove(&p).unwrap();
        v.sort_unstable();
        assert_eq!(v, (0..EACH).collect::<Vec<_>>(), "producer {p}");
    }
}

#[test]
fn simple_queue() {
    let q = SimpleQueue::<String>::new().unwrap();
    assert!(q.empty());
    q.put(&"a".into()).unwrap();
    q.put(&"b".into()).unwrap();
    assert!(!q.empty());
    assert_eq!(q.get().unwrap(), "a");
    assert_eq!(q.get().unwrap(), "b");
    assert!(matches!(
        q.get_timeout(Duration::from_millis(20)),
        Err(GetError::Empty)
    ));
    // A big item streams through while a thread reads.
    let q2 = q.clone();
    let t = thread::spawn(move || q2.get_timeout(T).unwrap().len());
    q.put(&"x".repeat(5 << 20)).unwrap();
    assert_eq!(t.join().unwrap(), 5 << 20);
}

#[test]
fn joinable_queue_counts_tasks() {
    let q = Arc::new(JoinableQueue::<u32>::new().unwrap());
    assert!(q.task_done().is_err());
    for i in 0..10 {
        q.put(&i).unwrap();
    }
    assert!(!q.join_timeout(Some(Duration::from_millis(20))));
    let worker = {
        let q = Arc::clone(&q);
        thread::spawn(move || {
            for _ in 0..10 {
                q.get_timeout(true, Some(T)).unwrap();
                thread::sleep(Duration::from_millis(2));
                q.task_done().unwrap();
            }
        })
    };
    assert!(q.join_timeout(Some(T)));
    worker.join().unwrap();
    assert!(q.task_done().is_err(), "one call too many");
    q.join();
}

#[test]
fn many_laps_of_a_small_ring_keep_order_and_counts() {
    // Records of varying sizes, several in flight, wrapping the 4 KiB ring
    // hundreds of times: the cached head/tail copies must never hide data
    // or free space, and `qsize` must follow puts and gets exactly.
    let q = SimpleQueue::<Vec<u8>>::new().unwrap();
    let bq = Queue::<Vec<u8>>::with_ring(3, 4096).unwrap();
    let item = |i: usize| vec![(i % 251) as u8; (i * 37) % 700];
    for i in 0..3000 {
        q.put(&item(i)).unwrap();
        bq.put_timeout(&item(i), true, Some(Duration::from_secs(10)))
            .unwrap();
        if i % 3 == 2 {
            for j in i - 2..=i {
                assert_eq!(q.get_timeout(Duration::from_secs(10)).unwrap(), item(j));
                let got = bq.get_timeout(true, Some(Duration::from_secs(10)));
                assert_eq!(got.unwrap(), item(j));
            }
            assert_eq!(bq.qsize(), 0);
            assert!(q.empty());
        } else {
            assert_eq!(bq.qsize(), i % 3 + 1);
        }
    }
    assert!(matches!(bq.get_nowait(), Err(GetError::Empty)));
}
