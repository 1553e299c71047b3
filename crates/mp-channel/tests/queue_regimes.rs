//! An unbounded `Queue` whose consumer falls behind now and then: the
//! producer's items go straight into the ring, then into its feeder's
//! buffer while the ring is full, then — written by the producer's own
//! `put` or by the feeder thread — into the ring again, and straight in
//! once the buffer has emptied. Across those switches every item arrives
//! once, whole, and in `put` order: large ones (written in place), small
//! ones, and chunked ones (which the feeder writes waiting for room), from
//! a child process under every start method and from a thread. Every wait
//! has a timeout.

use std::time::Duration;

use mp_channel::Queue;
use mp_process::Process;
use serde_bytes::ByteBuf;

const T: Duration = Duration::from_secs(30);

/// 256 KiB: six 40 KiB items fit; records hold up to 128 KiB.
const RING: usize = 256 << 10;

const ITEMS: u32 = 600;

/// Item `i`: mostly 40 KiB (in place), every fifth small, every
/// thirteenth 200 KiB (chunked); its bytes depend on `i`.
fn item(i: u32) -> (u32, ByteBuf) {
    let len = if i.is_multiple_of(13) {
        200 << 10
    } else if i.is_multiple_of(5) {
        100
    } else {
        40 << 10
    };
    let bytes = (0..len as u32)
        .map(|j| j.wrapping_mul(7).wrapping_add(i) as u8)
        .collect::<Vec<u8>>();
    (i, ByteBuf::from(bytes))
}

/// Puts every item, pausing now and then so that a consumer that caught
/// up finds the ring with room again while items are still to come.
fn produce(q: Queue<(u32, ByteBuf)>) {
    for i in 0..ITEMS {
        q.put(&item(i)).unwrap();
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Gets every item, checking it, and stops for a while every 50 items
/// (the producer's puts fill the ring and buffer meanwhile).
fn consume(q: &Queue<(u32, ByteBuf)>) {
    for i in 0..ITEMS {
        if i.is_multiple_of(50) {
            std::thread::sleep(Duration::from_millis(15));
        }
        let got = q.get_timeout(true, Some(T)).unwrap();
        assert_eq!(got.0, i, "items out of order or lost");
        assert!(got == item(i), "item {i}'s bytes differ");
    }
    assert!(
        q.get_timeout(true, Some(Duration::from_millis(50)))
            .is_err(),
        "an item twice"
    );
}

#[test]
fn a_child_producer_s_items_arrive_in_order_as_its_consumer_lags_and_catches_up() {
    let q = Queue::with_ring(0, RING).unwrap();
    let mut p = Process::new(produce, (q.clone(),));
    p.start().unwrap();
    // A failed check must not leave the producer waiting for ever to flush
    // into a ring nobody reads.
    if let Err(failed) = std::panic::catch_unwind(|| consume(&q)) {
        let _ = p.kill();
        let _ = p.join();
        std::panic::resume_unwind(failed);
    }
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("the producer did not finish within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(q.qsize(), 0);
}

#[test]
fn a_thread_s_items_arrive_in_order_as_its_consumer_lags_and_catches_up() {
    let q = Queue::with_ring(0, RING).unwrap();
    let producer = {
        let q = q.clone();
        std::thread::spawn(move || produce(q))
    };
    if let Err(failed) = std::panic::catch_unwind(|| consume(&q)) {
        // The producer thread may wait for ever to flush: not joined.
        std::panic::resume_unwind(failed);
    }
    producer.join().unwrap();
    assert_eq!(q.qsize(), 0);
}
