//! Issue 4's proof of MPMC: 8 producer processes × 8 consumer processes on one
//! `Queue`; every item arrives exactly once (checked item by item, not just
//! by a sum) and each consumer sees every producer's items in order. Runs
//! under the start method of `MULTIPROCESS_START_METHOD`.

use std::collections::HashSet;
use std::time::Duration;

use mp_channel::Queue;
use mp_process::Process;

const PRODUCERS: u32 = 8;
const CONSUMERS: u32 = 8;
const PER_PRODUCER: u32 = 2_000;

/// An item: (producer, sequence number), or `None` to stop a consumer.
type Item = Option<(u32, u32)>;

fn produce(q: Queue<Item>, id: u32) {
    for seq in 0..PER_PRODUCER {
        q.put(&Some((id, seq))).expect("put");
    }
    q.close();
    q.join_thread().expect("flush");
}

fn consume(q: Queue<Item>, out: Queue<(Vec<(u32, u32)>, bool)>) {
    let mut got = Vec::new();
    let mut last = vec![None::<u32>; PRODUCERS as usize];
    let mut in_order = true;
    while let Some((id, seq)) = q
        .get_timeout(true, Some(Duration::from_secs(60)))
        .expect("get")
    {
        if last[id as usize].is_some_and(|prev| prev >= seq) {
            in_order = false;
        }
        last[id as usize] = Some(seq);
        got.push((id, seq));
    }
    out.put(&(got, in_order)).expect("report");
    out.close();
    out.join_thread().expect("flush");
}

#[test]
fn eight_producers_eight_consumers_lose_and_duplicate_nothing() {
    let q: Queue<Item> = Queue::new().unwrap();
    let results: Queue<(Vec<(u32, u32)>, bool)> = Queue::new().unwrap();
    let mut consumers: Vec<Process> = (0..CONSUMERS)
        .map(|_| Process::new(consume, (q.clone(), results.clone())))
        .collect();
    let mut producers: Vec<Process> = (0..PRODUCERS)
        .map(|id| Process::new(produce, (q.clone(), id)))
        .collect();
    for p in consumers.iter_mut().chain(producers.iter_mut()) {
        p.start().unwrap();
    }
    for p in &mut producers {
        p.join_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(p.exitcode(), Some(0), "producer {p}");
    }
    for _ in 0..CONSUMERS {
        q.put(&None).unwrap();
    }
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for _ in 0..CONSUMERS {
        let (items, in_order) = results
            .get_timeout(true, Some(Duration::from_secs(60)))
            .unwrap();
        assert!(in_order, "a consumer saw a producer's items out of order");
        total += items.len();
        for item in items {
            assert!(seen.insert(item), "duplicated item {item:?}");
        }
    }
    for p in &mut consumers {
        p.join_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(p.exitcode(), Some(0), "consumer {p}");
    }
    assert_eq!(total, (PRODUCERS * PER_PRODUCER) as usize, "items lost");
    for id in 0..PRODUCERS {
        for seq in 0..PER_PRODUCER {
            assert!(seen.contains(&(id, seq)), "lost item ({id}, {seq})");
        }
    }
}
