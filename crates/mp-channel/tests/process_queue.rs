//! Queues between processes, under the start method chosen by
//! `MULTIPROCESS_START_METHOD`: MPMC counts and per-producer order, handles
//! (Connection, SharedMemory, Lock, another Queue) as items or arguments,
//! 64 MiB items, JoinableQueue across processes.

use std::collections::HashMap;
use std::time::Duration;

use mp_channel::{pipe, Connection, JoinableQueue, Queue, SimpleQueue};
use mp_process::Process;
use mp_sync::Lock;

const T: Duration = Duration::from_secs(30);
const EACH: u32 = 3000;

fn finish(p: &mut Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("child did not finish within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

fn produce(q: Queue<(u32, u32)>, id: u32) {
    for i in 0..EACH {
        q.put(&(id, i)).unwrap();
    }
}

fn consume(q: Queue<(u32, u32)>, results: SimpleQueue<Vec<(u32, u32)>>, stop_after: u32) {
    let mut got = Vec::new();
    for _ in 0..stop_after {
        got.push(q.get_timeout(true, Some(T)).unwrap());
    }
    results.put(&got).unwrap();
}

#[test]
fn processes_as_mpmc_lose_and_duplicate_nothing() {
    let q = Queue::<(u32, u32)>::with_ring(0, 16 * 1024).unwrap();
    let results = SimpleQueue::new().unwrap();
    let total = 3 * EACH;
    let mut procs: Vec<Process> = (0..3)
        .map(|id| Process::new(produce, (q.clone(), id)))
        .collect();
    procs.push(Process::new(
        consume,
        (q.clone(), results.clone(), total / 2),
    ));
    procs.push(Process::new(
        consume,
        (q.clone(), results.clone(), total - total / 2),
    ));
    for p in &mut procs {
        p.start().unwrap();
    }
    let mut seen: HashMap<u32, Vec<u32>> = HashMap::new();
    for _ in 0..2 {
        let got = results.get_timeout(T).unwrap();
        let mut last: HashMap<u32, u32> = HashMap::new();
        for (p, i) in got {
            if let Some(prev) = last.insert(p, i) {
                assert!(i > prev, "producer {p}: {i} after {prev}");
            }
            seen.entry(p).or_default().push(i);
        }
    }
    for p in &mut procs {
        finish(p);
    }
    for id in 0..3 {
        let mut v = seen.remove(&id).unwrap();
        v.sort_unstable();
        assert_eq!(v, (0..EACH).collect::<Vec<_>>());
    }
    assert_eq!(q.qsize(), 0);
}

fn use_handles(q: Queue<(Connection, mp_shm::SharedMemory)>, lock: Lock, reply: Queue<String>) {
    let (conn, shm) = q.get_timeout(true, Some(T)).unwrap();
    let mut buf = [0u8; 5];
    shm.read(0, &mut buf).unwrap();
    let _g = lock.lock().unwrap();
    conn.send(&String::from_utf8_lossy(&buf).into_owned())
        .unwrap();
    reply.put(&"done".to_string()).unwrap();
}

#[test]
fn handles_travel_through_a_queue_and_as_arguments() {
    let q = Queue::new().unwrap();
    let reply = Queue::new().unwrap();
    let lock = Lock::new().unwrap();
    let mut p = Process::new(use_handles, (q.clone(), lock.clone(), reply.clone()));
    p.start().unwrap();
    let (mine, theirs) = pipe(true).unwrap();
    let shm = mp_shm::SharedMemory::create(64).unwrap();
    shm.write(0, b"hello").unwrap();
    let item = (theirs, shm);
    q.put(&item).unwrap();
    // Dropping ours (which unlinks the name) does not affect the copy in flight:
    // its fd travels with it.
    drop(item);
    assert_eq!(mine.recv_timeout::<String>(T).unwrap(), "hello");
    assert_eq!(reply.get_timeout(true, Some(T)).unwrap(), "done");
    finish(&mut p);
    assert!(!lock.locked());
}

fn send_big(q: Queue<serde_bytes::ByteBuf>) {
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i ^ (i >> 9)) as u8).collect();
    q.put(&serde_bytes::ByteBuf::from(big)).unwrap();
}

#[test]
fn sixty_four_mib_from_a_child() {
    let q = Queue::new().unwrap();
    let mut p = Process::new(send_big, (q.clone(),));
    p.start().unwrap();
    let got = q.get_timeout(true, Some(T)).unwrap().into_vec();
    assert_eq!(got.len(), 64 << 20);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i as u32 ^ (i as u32 >> 9)) as u8));
    finish(&mut p);
}

fn worker(tasks: JoinableQueue<Option<u32>>, results: Queue<u32>) {
    while let Some(n) = tasks.get().unwrap() {
        results.put(&(n * n)).unwrap();
        tasks.task_done().unwrap();
    }
    tasks.task_done().unwrap();
}

#[test]
fn joinable_queue_across_processes() {
    let tasks = JoinableQueue::new().unwrap();
    let results = Queue::new().unwrap();
    let mut procs: Vec<Process> = (0..2)
        .map(|_| Process::new(worker, (tasks.clone(), results.clone())))
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    for n in 0..50 {
        tasks.put(&Some(n)).unwrap();
    }
    tasks.put(&None).unwrap();
    tasks.put(&None).unwrap();
    assert!(tasks.join_timeout(Some(T)), "every task done");
    let mut got: Vec<u32> = (0..50)
        .map(|_| results.get_timeout(true, Some(T)).unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..50).map(|n| n * n).collect::<Vec<_>>());
    for p in &mut procs {
        finish(p);
    }
}
