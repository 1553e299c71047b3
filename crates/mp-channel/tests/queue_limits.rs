//! A queue handle's limit on an item's length (`set_max_message`), under
//! the start method chosen by `MULTIPROCESS_START_METHOD`: an item over
//! it — small, large in place, chunked across a ring smaller than it, with
//! fds — is removed, dropped undecoded and reported as `TooLarge`, and
//! the next item arrives whole (with its own fds); a chunked item from
//! another process is dropped as it comes, and the queue goes on.

use std::time::Duration;

use mp_channel::{GetError, JoinableQueue, Queue, SimpleQueue};
use mp_process::Process;
use mp_wire::SharedFd;
use serde_bytes::ByteBuf;

const T: Duration = Duration::from_secs(30);

fn bytes(len: usize, seed: u8) -> ByteBuf {
    ByteBuf::from(vec![seed; len])
}

/// Asserts `got` is `TooLarge` for an item of at least `at_least` bytes.
fn assert_too_large<V: std::fmt::Debug>(got: Result<V, GetError>, at_least: u64, max: usize) {
    match got {
        Err(GetError::TooLarge { len, max: m }) => {
            assert!(
                len >= at_least,
                "reported {len} bytes, the item had {at_least} or more"
            );
            assert_eq!(m, max);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn the_default_is_a_connections() {
    let q: Queue<u8> = Queue::new().unwrap();
    assert_eq!(q.max_message(), 1 << 30);
    let s: SimpleQueue<u8> = SimpleQueue::new().unwrap();
    assert_eq!(s.max_message(), 1 << 30);
}

#[test]
fn items_over_the_limit_are_dropped_and_the_queue_goes_on() {
    // A 64 KiB ring: 100 bytes is a small record, 20 KiB a record read in
    // place, 200 KiB a run of chunks.
    let mut q: Queue<ByteBuf> = Queue::with_ring(0, 64 << 10).unwrap();
    q.set_max_message(50);
    assert_eq!(q.max_message(), 50);
    let clone = q.clone();
    assert_eq!(clone.max_message(), 50, "a clone copies the limit");
    for (len, seed) in [(100, 1), (20 << 10, 2), (200 << 10, 3)] {
        q.put(&bytes(len, seed)).unwrap();
        q.put(&bytes(10, seed)).unwrap();
        assert_too_large(q.get_timeout(true, Some(T)), len as u64, 50);
        assert_eq!(q.get_timeout(true, Some(T)).unwrap(), bytes(10, seed));
    }
    assert_eq!(q.qsize(), 0);
    // A handle with the default limit takes the same items.
    let mut other = q.clone();
    other.set_max_message(1 << 30);
    q.put(&bytes(200 << 10, 4)).unwrap();
    assert_eq!(
        other.get_timeout(true, Some(T)).unwrap(),
        bytes(200 << 10, 4)
    );
}

#[test]
fn an_item_over_the_limit_takes_its_fds_with_it() {
    let mut q: Queue<(SharedFd, ByteBuf)> = Queue::new().unwrap();
    q.set_max_message(64);
    let fd = |text: &[u8]| {
        let (r, w) = mp_sys::fd::pipe().unwrap();
        mp_sys::fd::write_all(&w, text).unwrap();
        SharedFd::from(r)
    };
    q.put(&(fd(b"first"), bytes(1000, 1))).unwrap();
    q.put(&(fd(b"second"), bytes(8, 2))).unwrap();
    assert_too_large(q.get_timeout(true, Some(T)), 1000, 64);
    // The next item's fd is its own (the side socket stayed in step).
    let (got, payload) = q.get_timeout(true, Some(T)).unwrap();
    assert_eq!(payload, bytes(8, 2));
    let mut text = [0u8; 6];
    assert_eq!(mp_sys::fd::read(&got, &mut text).unwrap(), 6);
    assert_eq!(&text, b"second");
}

#[test]
fn simple_and_joinable_queues_have_the_limit_too() {
    let mut s: SimpleQueue<ByteBuf> = SimpleQueue::new().unwrap();
    s.set_max_message(16);
    s.put(&bytes(40, 1)).unwrap();
    s.put(&bytes(4, 2)).unwrap();
    assert_too_large(s.get_timeout(T), 40, 16);
    assert_eq!(s.get_timeout(T).unwrap(), bytes(4, 2));

    let mut j: JoinableQueue<ByteBuf> = JoinableQueue::new().unwrap();
    j.set_max_message(16);
    j.put(&bytes(40, 3)).unwrap();
    assert_too_large(j.get_timeout(true, Some(T)), 40, 16);
    // A dropped item is still a task to mark done.
    j.task_done().unwrap();
    assert!(j.join_timeout(Some(T)));
}

/// Puts a chunked item far over the consumer's limit, then a small one.
fn produce(q: Queue<ByteBuf>) {
    q.put(&bytes(4 << 20, 7)).unwrap();
    q.put(&bytes(3, 8)).unwrap();
    q.close();
    q.join_thread().unwrap();
}

#[test]
fn a_chunked_item_from_another_process_is_dropped_as_it_comes() {
    // A 4 KiB ring: the 4 MiB item crosses it in a thousand chunks, which
    // the consumer drops as they come once past its limit.
    let mut q: Queue<ByteBuf> = Queue::with_ring(0, 4096).unwrap();
    q.set_max_message(64 << 10);
    let mut p = Process::new(produce, (q.clone(),));
    p.start().unwrap();
    assert_too_large(q.get_timeout(true, Some(T)), 4 << 20, 64 << 10);
    assert_eq!(q.get_timeout(true, Some(T)).unwrap(), bytes(3, 8));
    p.join_timeout(T).unwrap();
    assert_eq!(p.exitcode(), Some(0));
}
