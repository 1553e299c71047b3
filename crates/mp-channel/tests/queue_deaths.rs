//! Queues whose producers and consumers are SIGKILLed at random moments
//! in the middle of `put` and `get` (small items and items larger than the
//! ring, streamed in chunks), under the start method chosen by
//! `MULTIPROCESS_START_METHOD`: no slot or count leaks (`qsize()` returns
//! to 0 once drained), each kill loses at most the item in flight,
//! nothing is duplicated or corrupted, `JoinableQueue::join` returns, and
//! a fresh producer/consumer round completes. Every wait has a timeout.
//!
//! The tests run one at a time ([`serial`]): under the fork start method a
//! child forked while another test's thread holds a process-local lock
//! (mp-shm's region cache, for one) would inherit it locked and hang
//! decoding its arguments — a hazard of forking a multi-threaded process,
//! not of the queues.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mp_channel::{GetError, JoinableQueue, Queue, SimpleQueue};
use mp_process::Process;
use serde_bytes::ByteBuf;

const T: Duration = Duration::from_secs(30);

/// Held for the whole of each test (see the module docs).
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}
const KILLS: u32 = 20;
/// A ring small enough that every third item (see [`payload`]) is
/// streamed in chunks.
const RING: usize = 16 * 1024;

/// (producer, sequence number, payload).
type Item = (u32, u32, ByteBuf);

/// Item `seq`'s payload: every third one larger than [`RING`].
fn payload(seq: u32) -> ByteBuf {
    let len = if seq % 3 == 2 { 40_000 } else { 60 };
    ByteBuf::from(vec![(seq % 251) as u8; len])
}

fn check(item: &Item) {
    assert_eq!(item.2, payload(item.1), "item {}/{} intact", item.0, item.1);
}

/// A small xorshift generator, seeded from the clock (printed, so a
/// failure can be replayed by hand).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("random seed {seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    /// A random moment to kill at: up to 15 ms, in 100 µs steps.
    fn moment(&mut self) -> Duration {
        Duration::from_micros(100 * self.below(150))
    }
}

fn kill(mut p: Process) {
    p.kill().unwrap();
    p.join_timeout(T).unwrap();
    assert!(p.exitcode().is_some(), "a killed child is reaped in time");
}

fn finish(mut p: Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        kill(p);
        panic!("child did not finish within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

/// Waits (at most [`T`]) until `done()` holds; if it does not, kills `p`
/// (so the test fails rather than waits for it at exit) and fails.
fn wait_for(p: Process, what: &str, done: impl Fn() -> bool) -> Process {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > T {
            kill(p);
            panic!("waited {T:?} for {what}");
        }
        thread::sleep(Duration::from_millis(1));
    }
    p
}

/// Puts items `0..` until killed (or until a put cannot finish in [`T`]).
fn produce_forever(q: Queue<Item>, id: u32) {
    for seq in 0.. {
        q.put_timeout(&(id, seq, payload(seq)), true, Some(T))
            .unwrap();
    }
}

fn produce_forever_joinable(q: JoinableQueue<Item>, id: u32) {
    for seq in 0.. {
        q.put_timeout(&(id, seq, payload(seq)), true, Some(T))
            .unwrap();
    }
}

/// Puts `n` items and flushes.
fn produce_n(q: Queue<Item>, id: u32, n: u32) {
    for seq in 0..n {
        q.put_timeout(&(id, seq, payload(seq)), true, Some(T))
            .unwrap();
    }
    q.close();
    q.join_thread().unwrap();
}

/// Gets items until killed, reporting each one's sequence number.
fn consume_forever(q: Queue<Item>, seen: SimpleQueue<u32>) {
    loop {
        let item = q.get_timeout(true, Some(T)).unwrap();
        check(&item);
        seen.put(&item.1).unwrap();
    }
}

/// Gets everything left (each get waits at most 1 s: a dead producer's
/// partial message is dropped within the 100 ms probe), checking each item.
fn drain(q: &Queue<Item>) -> Vec<Item> {
    let mut got = Vec::new();
    loop {
        match q.get_timeout(true, Some(Duration::from_secs(1))) {
            Ok(item) => {
                check(&item);
                got.push(item);
            }
            Err(GetError::Empty) => return got,
            Err(e) => panic!("drain: {e}"),
        }
    }
}

/// The queue is usable: a fresh producer process puts items (small and
/// streamed) that all arrive, in order, and the count ends at 0.
fn fresh_round(q: &Queue<Item>) {
    let mut p = Process::new(produce_n, (q.clone(), 999, 12));
    p.start().unwrap();
    for seq in 0..12 {
        let item = q.get_timeout(true, Some(T)).expect("fresh round");
        check(&item);
        assert_eq!((item.0, item.1), (999, seq));
    }
    finish(p);
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
}

/// Consumes in a thread, per producer counting items and checking that
/// each producer's items arrive in order and intact.
struct Collector {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<HashMap<u32, u32>>>,
    thread: thread::JoinHandle<()>,
}

impl Collector {
    fn start(q: &Queue<Item>, task_done: Option<JoinableQueue<Item>>) -> Collector {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let (q, stop2, seen2) = (q.clone(), Arc::clone(&stop), Arc::clone(&seen));
        let thread = thread::spawn(move || {
            while !stop2.load(SeqCst) {
                match q.get_timeout(true, Some(Duration::from_millis(20))) {
                    Ok(item) => {
                        check(&item);
                        let mut seen = seen2.lock().unwrap();
                        let next = seen.entry(item.0).or_insert(0);
                        assert!(item.1 >= *next, "producer {} went back", item.0);
                        *next = item.1 + 1;
                        if let Some(jq) = &task_done {
                            jq.task_done().unwrap();
                        }
                    }
                    Err(GetError::Empty) => {}
                    Err(e) => panic!("collector: {e}"),
                }
            }
        });
        Collector { stop, seen, thread }
    }

    /// Whether an item of producer `id` arrived.
    fn has_seen(&self, id: u32) -> bool {
        self.seen.lock().unwrap().contains_key(&id)
    }

    fn stop(self) {
        self.stop.store(true, SeqCst);
        self.thread.join().unwrap();
    }
}

/// Starts producers that put forever and kills each at a random moment
/// after its first item arrived, while `collector` drains `q`.
fn kill_producers(q: &Queue<Item>, collector: &Collector, rng: &mut Rng) {
    for id in 0..KILLS {
        let mut p = Process::new(produce_forever, (q.clone(), id));
        p.start().unwrap();
        let p = wait_for(p, "a first item", || collector.has_seen(id));
        thread::sleep(rng.moment());
        kill(p);
    }
}

/// Producer processes killed at random moments while this process
/// consumes: afterwards the queue drains to a count of 0 and works.
fn producer_kills(maxsize: usize) {
    let mut rng = Rng::new();
    let q = Queue::<Item>::with_ring(maxsize, RING).unwrap();
    let collector = Collector::start(&q, None);
    kill_producers(&q, &collector, &mut rng);
    collector.stop();
    drain(&q);
    assert_eq!(q.qsize(), 0, "no slot or count leaked");
    assert!(q.empty());
    fresh_round(&q);
}

#[test]
fn bounded_queue_survives_producer_kills() {
    let _serial = serial();
    producer_kills(2);
}

#[test]
fn unbounded_queue_survives_producer_kills() {
    let _serial = serial();
    producer_kills(0);
}

/// Consumer processes killed at random moments while this process
/// produces (the reports of what they got travel through a SimpleQueue,
/// whose producers are thus killed too): each kill loses at most the item
/// the consumer held; nothing is duplicated; the count ends at 0.
fn consumer_kills(q: Queue<Item>) {
    let mut rng = Rng::new();
    let seen = SimpleQueue::<u32>::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let put = Arc::new(AtomicU32::new(0));
    let producer = {
        let (q, stop, put) = (q.clone(), Arc::clone(&stop), Arc::clone(&put));
        thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(SeqCst) {
                if q.qsize() >= 8 {
                    // Unbounded: keep this process's feeder buffer small.
                    thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let item = (0, seq, payload(seq));
                if q.put_timeout(&item, true, Some(Duration::from_millis(20)))
                    .is_ok()
                {
                    seq += 1;
                    put.store(seq, SeqCst);
                }
            }
        })
    };
    let mut got = Vec::new();
    for _ in 0..KILLS {
        let mut p = Process::new(consume_forever, (q.clone(), seen.clone()));
        p.start().unwrap();
        match seen.get_timeout(T) {
            Ok(seq) => got.push(seq),
            Err(e) => {
                let (size, empty) = (q.qsize(), q.empty());
                kill(p);
                panic!("no item reported in {T:?} ({e}; qsize {size}, empty {empty})");
            }
        }
        thread::sleep(rng.moment());
        kill(p);
    }
    stop.store(true, SeqCst);
    producer.join().unwrap();
    let put = put.load(SeqCst);
    got.extend(drain(&q).into_iter().map(|item| item.1));
    while let Ok(seq) = seen.get_timeout(Duration::from_millis(200)) {
        got.push(seq);
    }
    let distinct: HashSet<u32> = got.iter().copied().collect();
    assert_eq!(distinct.len(), got.len(), "no item twice");
    assert!(distinct.iter().all(|&s| s < put));
    let lost = put - got.len() as u32;
    assert!(lost <= KILLS, "{lost} items lost in {KILLS} kills");
    assert_eq!(q.qsize(), 0, "no count leaked");
}

#[test]
fn bounded_queue_survives_consumer_kills() {
    let _serial = serial();
    let q = Queue::<Item>::with_ring(2, RING).unwrap();
    consumer_kills(q.clone());
    fresh_round(&q);
}

#[test]
fn unbounded_queue_survives_consumer_kills() {
    let _serial = serial();
    let q = Queue::<Item>::with_ring(0, RING).unwrap();
    consumer_kills(q.clone());
    fresh_round(&q);
}

#[test]
fn joinable_queue_join_returns_after_producer_kills() {
    let _serial = serial();
    let mut rng = Rng::new();
    let jq = JoinableQueue::<Item>::bounded(2).unwrap();
    let collector = Collector::start(&jq, Some(jq.clone()));
    for id in 0..KILLS / 2 {
        let mut p = Process::new(produce_forever_joinable, (jq.clone(), id));
        p.start().unwrap();
        let p = wait_for(p, "a first item", || collector.has_seen(id));
        thread::sleep(rng.moment());
        kill(p);
    }
    collector.stop();
    for _ in drain(&jq) {
        jq.task_done().unwrap();
    }
    assert!(jq.join_timeout(Some(T)), "join returns");
    assert_eq!(jq.qsize(), 0);
    assert!(jq.task_done().is_err(), "nothing is left to be done");
}

/// The ring of the wait-for-room test: two [`WAITING_ITEM`]s fit in it.
const BIG_RING: usize = 32 << 20;
/// An item large enough that an unbounded `put` that finds the ring full
/// waits for room about 2 ms before it buffers the item (128 µs a MiB).
const WAITING_ITEM: usize = 15 << 20;

fn big(seq: u32) -> ByteBuf {
    ByteBuf::from(vec![(seq % 251) as u8 + 1; WAITING_ITEM])
}

/// Puts `n` [`WAITING_ITEM`]s, then waits at exit until its buffer is
/// written (with no consumer: until killed).
fn produce_big(q: Queue<(u32, ByteBuf)>, n: u32) {
    for seq in 0..n {
        q.put(&(seq, big(seq))).unwrap();
    }
    q.close();
    q.join_thread().unwrap();
}

/// A producer killed while its large `put` waits for room (two items
/// fill the ring; the third waits for about 2 ms, then goes to the
/// buffer): the items it put before arrive whole and in order, nothing
/// else does, the count returns to 0, and a fresh producer's items go
/// through (the dead waiter's registration for room blocks nobody).
#[test]
fn a_producer_killed_while_it_waits_for_room_loses_only_that_item() {
    let _serial = serial();
    let q = Queue::<(u32, ByteBuf)>::with_ring(0, BIG_RING).unwrap();
    let mut p = Process::new(produce_big, (q.clone(), 3));
    p.start().unwrap();
    let p = wait_for(p, "two items in the ring", || q.qsize() >= 2);
    kill(p);
    for seq in 0..2 {
        let (s, bytes) = q.get_timeout(true, Some(T)).unwrap();
        assert_eq!(s, seq, "in order");
        assert!(bytes == big(seq), "item {seq} whole");
    }
    assert!(
        matches!(
            q.get_timeout(true, Some(Duration::from_millis(500))),
            Err(GetError::Empty)
        ),
        "nothing of the item in flight arrives"
    );
    assert_eq!(q.qsize(), 0);
    let mut p = Process::new(produce_big, (q.clone(), 3));
    p.start().unwrap();
    for seq in 0..3 {
        let (s, bytes) = q.get_timeout(true, Some(T)).unwrap();
        assert_eq!(s, seq, "in order");
        assert!(bytes == big(seq), "item {seq} whole");
    }
    finish(p);
    assert_eq!(q.qsize(), 0);
}
