//! Large items (from 16 KiB of encoding) written straight into the ring by
//! an unbounded `Queue`'s `put` and read straight out of it by `get`: the
//! order and bytes of every kind of item, and a `Serialize` that runs
//! while the item's record is open (holding the writer lock) — one that
//! puts on the same queue, panics, fails, or is killed — leaves the queue
//! consistent and in order. Every wait has a timeout.

use std::cell::RefCell;
use std::time::Duration;

use mp_channel::{GetError, PutError, Queue, SimpleQueue};
use mp_process::Process;
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_bytes::ByteBuf;

const T: Duration = Duration::from_secs(30);

/// Bytes of encoding from which an item goes into the ring in place (the
/// queue's threshold).
const LARGE: usize = 16 << 10;

/// A 64 KiB ring: records hold up to 32 KiB, so 20 KiB items go in place
/// and 40 KiB ones are chunked.
const RING: usize = 64 << 10;

fn bytes(len: usize, seed: u32) -> ByteBuf {
    ByteBuf::from(
        (0..len)
            .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Sizes around the threshold, the largest record, and chunked ones.
const SIZES: [usize; 8] = [
    10,
    LARGE - 8,
    LARGE,
    LARGE + 1,
    20_000,
    32 * 1024 - 16,
    40_000,
    100_000,
];

#[test]
fn byte_strings_of_every_size_arrive_whole_and_in_order() {
    let q = Queue::<ByteBuf>::with_ring(0, RING).unwrap();
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            for round in 0..20u32 {
                for (i, &len) in SIZES.iter().enumerate() {
                    let got = q.get_timeout(true, Some(T)).unwrap();
                    assert_eq!(got, bytes(len, round * 10 + i as u32), "{round}/{i}");
                }
            }
        })
    };
    for round in 0..20u32 {
        for (i, &len) in SIZES.iter().enumerate() {
            q.put(&bytes(len, round * 10 + i as u32)).unwrap();
        }
    }
    consumer.join().unwrap();
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
}

#[test]
fn texts_and_compound_items_arrive_whole_and_in_order() {
    let texts = Queue::<String>::with_ring(0, RING).unwrap();
    let tuples = Queue::<(u32, ByteBuf, Vec<u16>)>::with_ring(0, RING).unwrap();
    for (i, &len) in SIZES.iter().enumerate() {
        texts.put(&"é".repeat(len / 2)).unwrap();
        let item = (i as u32, bytes(len, i as u32), vec![i as u16; len / 8]);
        tuples.put(&item).unwrap();
    }
    for (i, &len) in SIZES.iter().enumerate() {
        assert_eq!(
            texts.get_timeout(true, Some(T)).unwrap(),
            "é".repeat(len / 2)
        );
        let item = tuples.get_timeout(true, Some(T)).unwrap();
        assert_eq!(
            item,
            (i as u32, bytes(len, i as u32), vec![i as u16; len / 8])
        );
    }
    assert_eq!((texts.qsize(), tuples.qsize()), (0, 0));
}

#[test]
fn a_large_item_of_the_wrong_type_is_a_decode_error_and_is_gone() {
    let q = Queue::<(ByteBuf, u8)>::with_ring(0, RING).unwrap();
    q.put(&(bytes(20_000, 1), 7)).unwrap();
    q.put(&(bytes(10, 2), 8)).unwrap();
    // The same queue read as another type: the first item's bytes are one
    // byte string and a byte too many.
    let wrong: Queue<ByteBuf> = mp_wire::decode(mp_wire::encode(&q).unwrap()).unwrap();
    assert!(matches!(
        wrong.get_timeout(true, Some(T)),
        Err(GetError::Decode(mp_wire::DecodeError::TrailingBytes {
            count: 1
        }))
    ));
    assert_eq!(q.get_timeout(true, Some(T)).unwrap(), (bytes(10, 2), 8));
    assert_eq!(q.qsize(), 0);
}

/// What [`Hooked`]'s `Serialize` does after its payload (over [`LARGE`]
/// bytes, so the record is open in the ring by then).
enum Hook {
    Nothing,
    /// Puts a small item on this queue.
    Put(Queue<Hooked>),
    Panic,
    Fail,
    /// Says so on the queue, then never returns.
    Stall(SimpleQueue<u32>),
}

thread_local! {
    static HOOK: RefCell<Hook> = const { RefCell::new(Hook::Nothing) };
}

/// An item whose `Serialize` runs [`HOOK`] between its fields when `tag`
/// is 1.
#[derive(Debug, PartialEq, Deserialize)]
struct Hooked {
    payload: ByteBuf,
    tag: u32,
}

impl Serialize for Hooked {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Hooked", 2)?;
        st.serialize_field("payload", &self.payload)?;
        if self.tag == 1 {
            let hook = HOOK.with(|h| h.replace(Hook::Nothing));
            match hook {
                Hook::Nothing => {}
                Hook::Put(q) => q.put(&Hooked::small(2)).expect("the nested put"),
                Hook::Panic => panic!("a Serialize panics mid-item"),
                Hook::Fail => return Err(S::Error::custom("a Serialize fails mid-item")),
                Hook::Stall(said) => {
                    said.put(&1).expect("say it");
                    loop {
                        std::thread::sleep(Duration::from_secs(60));
                    }
                }
            }
        }
        st.serialize_field("tag", &self.tag)?;
        st.end()
    }
}

impl Hooked {
    fn large(tag: u32) -> Hooked {
        Hooked {
            payload: bytes(2 * LARGE, tag),
            tag,
        }
    }

    fn small(tag: u32) -> Hooked {
        Hooked {
            payload: bytes(8, tag),
            tag,
        }
    }
}

/// Puts `Hooked::large(1)` with `hook` set, and then `Hooked::small(3)`.
fn put_hooked(q: &Queue<Hooked>, hook: Hook) -> std::thread::Result<Result<(), PutError>> {
    HOOK.with(|h| *h.borrow_mut() = hook);
    let put = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.put(&Hooked::large(1))));
    HOOK.with(|h| *h.borrow_mut() = Hook::Nothing);
    q.put(&Hooked::small(3)).unwrap();
    put
}

fn drain(q: &Queue<Hooked>) -> Vec<u32> {
    let mut tags = Vec::new();
    while let Ok(item) = q.get_timeout(true, Some(Duration::from_millis(500))) {
        let expect = if item.tag == 1 {
            Hooked::large(1)
        } else {
            Hooked::small(item.tag)
        };
        assert_eq!(item, expect);
        tags.push(item.tag);
    }
    tags
}

#[test]
fn a_serialize_that_puts_on_the_same_queue_neither_deadlocks_nor_reorders() {
    let q = Queue::<Hooked>::new().unwrap();
    // The nested put is made (and returns) before the outer one: it comes first.
    put_hooked(&q, Hook::Put(q.clone())).unwrap().unwrap();
    assert_eq!(drain(&q), [2, 1, 3]);
    assert_eq!(q.qsize(), 0);
}

#[test]
fn a_serialize_that_panics_mid_item_publishes_nothing() {
    let q = Queue::<Hooked>::new().unwrap();
    q.put(&Hooked::small(0)).unwrap();
    assert!(put_hooked(&q, Hook::Panic).is_err());
    assert_eq!(q.qsize(), 2);
    assert_eq!(drain(&q), [0, 3]);
    assert_eq!(q.qsize(), 0);
}

#[test]
fn a_serialize_that_fails_mid_item_publishes_nothing() {
    let q = Queue::<Hooked>::new().unwrap();
    let put = put_hooked(&q, Hook::Fail).unwrap();
    assert!(matches!(put, Err(PutError::Encode(_))), "{put:?}");
    assert_eq!(drain(&q), [3]);
    assert_eq!(q.qsize(), 0);
}

fn stall_in_serialize(q: Queue<Hooked>, said: SimpleQueue<u32>) {
    HOOK.with(|h| *h.borrow_mut() = Hook::Stall(said));
    let _ = q.put(&Hooked::large(1));
}

#[test]
fn a_producer_killed_inside_a_large_serialize_holds_nothing() {
    let q = Queue::<Hooked>::new().unwrap();
    let said = SimpleQueue::<u32>::new().unwrap();
    q.put(&Hooked::small(0)).unwrap();
    let mut p = Process::new(stall_in_serialize, (q.clone(), said.clone()));
    p.start().unwrap();
    // The child is inside the item's Serialize, its record open.
    assert_eq!(said.get_timeout(T).unwrap(), 1);
    p.kill().unwrap();
    p.join_timeout(T).unwrap();
    assert!(p.exitcode().is_some(), "the killed child is reaped");
    for tag in [4, 5] {
        q.put(&Hooked::small(tag)).unwrap();
    }
    q.put(&Hooked::large(6)).unwrap();
    let tags: Vec<u32> = (0..4)
        .map(|_| q.get_timeout(true, Some(T)).unwrap().tag)
        .collect();
    assert_eq!(tags, [0, 4, 5, 6]);
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
}
