//! What a small item would cost in the queue design that M3a-1cpu and
//! M3c-1cpu need (issue 13), measured before anyone builds it: a *lane* that
//! one producer writes without a writer lock, publishing each record with
//! one `SeqCst` store, and that consumers take from without a reader lock,
//! claiming a record with one compare-and-swap of `head` after copying it
//! out. Beside it, in the same run, today's `Queue` and the raw ring of the
//! benchmarks' raw limit (8-byte slots, one `SeqCst` store per side).
//!
//! All three run in one process, pinned by the caller, in batches of 32 Ki
//! `put`s then 32 Ki `get`s through a 1 MiB ring, as `queue_op_cost ring`
//! does: the CPU cost of an item without a scheduler between the two sides
//! (which M3a-1cpu adds, about 12 ns an item here, for every design alike).
//!
//! The lane is a prototype of the per-item work only, written against the
//! same shared-memory `Region` the queue's ring uses and with the same
//! encoding (`mp_wire::encode_to_sink` into a stack buffer, `decode_from`
//! of a stack copy). It keeps what the real design needs per item — a
//! record header with the length, flags and a sequence number (from which
//! `qsize` would be read), the free-space check against a cached `head`,
//! the waiter checks of both eventcounts — and leaves out what a small item
//! never meets (chunks, fds, waiting for space or data, the lane table).
//! It is not a queue: one thread, no sleeping, no death handling.
//!
//! `cargo build --release -p multiprocess-benches --example lane_cost`, then
//! `taskset -c 0 target/release/examples/lane_cost`. docs/performance.md
//! ("A lock-free lane, measured before it is built") says what it showed.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Instant;

use mp_shm::Region;
use multiprocess::Queue;

/// Items per round (a multiple of [`BATCH`]).
const ITEMS: u64 = 2_031_616;
/// Items per batch: `put`s, then as many `get`s.
const BATCH: u64 = 32 << 10;
/// Bytes of a ring's data area, as the queue's default ring.
const CAP: usize = 1 << 20;
/// The header: two cache lines of words (`head` on the first, `tail` and
/// the waiter counts on the second), as the queue's ring keeps each side's
/// words on a line of its own.
const DATA: usize = 128;
/// A record's header: payload length, flags, sequence number.
const RECORD_HEADER: usize = 16;
/// The largest record assembled on the stack.
const SMALL_RECORD: usize = 64;
const FIRST_LAST: u32 = 3;

/// A stack buffer that postcard encodes into, after the record header.
struct Small {
    buf: [u8; SMALL_RECORD],
    len: usize,
}

impl mp_wire::Sink for Small {
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        assert!(end <= SMALL_RECORD, "a small item");
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }
}

/// A ring's shared words and data area, in a `Region` as the queue's.
struct Words {
    region: Region,
}

impl Words {
    fn new(name: &str) -> Words {
        Words {
            region: Region::create(name, DATA + CAP).expect("region"),
        }
    }

    fn head(&self) -> &AtomicU64 {
        &self.region.atomic_u64s::<1>(0).expect("header")[0]
    }

    fn tail(&self) -> &AtomicU64 {
        &self.region.atomic_u64s::<1>(64).expect("header")[0]
    }

    /// Sleeping consumers, then sleeping producers.
    fn waiters(&self) -> &[AtomicU32; 2] {
        self.region.atomic_u32s::<2>(72).expect("header")
    }
}

/// One lane: a single producer (this thread), consumers claiming by CAS.
struct Lane {
    words: Words,
    /// The producer's own: the `head` it last saw, its next sequence number.
    seen_head: u64,
    seq: u32,
}

impl std::ops::Deref for Lane {
    type Target = Words;
    fn deref(&self) -> &Words {
        &self.words
    }
}

impl Lane {
    fn new() -> Lane {
        Lane {
            words: Words::new("lane-cost"),
            seen_head: 0,
            seq: 0,
        }
    }

    /// The producer's `put` of a small item: encode on the stack, check the
    /// room, copy the record in, publish it with one `SeqCst` store, look
    /// for sleeping consumers.
    #[inline(never)]
    fn put(&mut self, item: &u64) {
        let mut small = Small {
            buf: [0; SMALL_RECORD],
            len: RECORD_HEADER,
        };
        let fds = mp_wire::encode_to_sink(item, &mut small).expect("encode");
        assert!(fds.is_empty());
        let len = small.len - RECORD_HEADER;
        self.seq = self.seq.wrapping_add(1);
        small.buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
        small.buf[4..8].copy_from_slice(&FIRST_LAST.to_le_bytes());
        small.buf[8..12].copy_from_slice(&self.seq.to_le_bytes());
        let need = (RECORD_HEADER + len + 7) & !7;
        let tail = self.tail().load(Relaxed);
        if CAP as u64 - tail.wrapping_sub(self.seen_head) < need as u64 {
            self.seen_head = self.head().load(Acquire);
            assert!(
                CAP as u64 - tail.wrapping_sub(self.seen_head) >= need as u64,
                "a batch fits"
            );
        }
        let off = (tail as usize) & (CAP - 1);
        let at = DATA + off;
        let ok = match need {
            _ if off + need > CAP => {
                let first = CAP - off;
                self.region
                    .write(at, &small.buf[..first])
                    .and_then(|()| self.region.write(DATA, &small.buf[first..need]))
            }
            24 => self.region.write(at, &small.buf[..24]),
            32 => self.region.write(at, &small.buf[..32]),
            _ => self.region.write(at, &small.buf[..need]),
        };
        debug_assert!(ok.is_ok());
        self.tail().store(tail + need as u64, SeqCst);
        if self.waiters()[0].load(Relaxed) != 0 {
            unreachable!("no consumer sleeps here");
        }
    }

    /// A consumer's `get`: copy the record at `head` onto the stack, claim
    /// it with one compare-and-swap (retrying if another consumer took it
    /// first), decode the copy, look for producers waiting for room.
    #[inline(never)]
    fn get(&self) -> Option<u64> {
        let mut record = [0u8; SMALL_RECORD];
        let (len, head, need) = loop {
            let head = self.head().load(Acquire);
            if head == self.tail().load(Acquire) {
                return None;
            }
            let off = (head as usize) & (CAP - 1);
            if off + 32 > CAP {
                let first = CAP - off;
                let (a, b) = record[..32].split_at_mut(first);
                self.region.read(DATA + off, a).expect("in the ring");
                self.region.read(DATA, b).expect("in the ring");
            } else {
                self.region
                    .read(DATA + off, &mut record[..32])
                    .expect("in the ring");
            }
            let len = u32::from_le_bytes(record[..4].try_into().expect("4 bytes")) as usize;
            let flags = u32::from_le_bytes(record[4..8].try_into().expect("4 bytes"));
            assert!(
                flags == FIRST_LAST && RECORD_HEADER + len <= 32,
                "a small record"
            );
            let need = ((RECORD_HEADER + len + 7) & !7) as u64;
            if self
                .head()
                .compare_exchange(head, head + need, AcqRel, Relaxed)
                .is_ok()
            {
                break (len, head, need);
            }
        };
        let _ = (head, need);
        if self.waiters()[1].load(Relaxed) != 0 {
            unreachable!("no producer sleeps here");
        }
        Some(
            mp_wire::decode_from(&record[RECORD_HEADER..RECORD_HEADER + len], Vec::new())
                .expect("decode"),
        )
    }
}

/// The raw limit's ring: 8-byte slots, one `SeqCst` store per side.
struct Raw {
    words: Words,
}

impl std::ops::Deref for Raw {
    type Target = Words;
    fn deref(&self) -> &Words {
        &self.words
    }
}

impl Raw {
    fn new() -> Raw {
        Raw {
            words: Words::new("raw-cost"),
        }
    }

    fn slots(&self) -> &[AtomicU64; CAP / 8] {
        self.region.atomic_u64s::<{ CAP / 8 }>(DATA).expect("data")
    }

    #[inline(never)]
    fn put(&self, item: u64) {
        let tail = self.tail().load(Relaxed);
        assert!(
            tail - self.head().load(Acquire) < (CAP / 8) as u64,
            "a batch fits"
        );
        self.slots()[(tail as usize) & (CAP / 8 - 1)].store(item, Relaxed);
        self.tail().store(tail + 1, SeqCst);
        if self.waiters()[0].load(Relaxed) != 0 {
            unreachable!("no consumer sleeps here");
        }
    }

    #[inline(never)]
    fn get(&self) -> Option<u64> {
        let head = self.head().load(Relaxed);
        if head == self.tail().load(Acquire) {
            return None;
        }
        let item = self.slots()[(head as usize) & (CAP / 8 - 1)].load(Relaxed);
        self.head().store(head + 1, SeqCst);
        if self.waiters()[1].load(Relaxed) != 0 {
            unreachable!("no producer sleeps here");
        }
        Some(item)
    }
}

/// Nanoseconds per `put` and per `get` over a round of batches.
fn round(mut put: impl FnMut(u64), mut get: impl FnMut() -> u64) -> (f64, f64) {
    let (mut p, mut g) = (0u128, 0u128);
    for b in 0..ITEMS / BATCH {
        let t = Instant::now();
        for i in 0..BATCH {
            put(b * BATCH + i);
        }
        p += t.elapsed().as_nanos();
        let t = Instant::now();
        for i in 0..BATCH {
            assert_eq!(get(), b * BATCH + i);
        }
        g += t.elapsed().as_nanos();
    }
    (p as f64 / ITEMS as f64, g as f64 / ITEMS as f64)
}

fn main() {
    let queue: Queue<u64> = Queue::new().expect("queue");
    let mut lane = Lane::new();
    let raw = Raw::new();
    for r in 0..5 {
        let q = round(
            |i| queue.put(&i).expect("put"),
            || queue.get().expect("get"),
        );
        let l = {
            let lane = &mut lane;
            let (mut p, mut g) = (0u128, 0u128);
            for b in 0..ITEMS / BATCH {
                let t = Instant::now();
                for i in 0..BATCH {
                    lane.put(&(b * BATCH + i));
                }
                p += t.elapsed().as_nanos();
                let t = Instant::now();
                for i in 0..BATCH {
                    assert_eq!(lane.get(), Some(b * BATCH + i));
                }
                g += t.elapsed().as_nanos();
            }
            (p as f64 / ITEMS as f64, g as f64 / ITEMS as f64)
        };
        let w = round(|i| raw.put(i), || raw.get().expect("an item"));
        println!(
            "round {r}: Queue {:.1} ns ({:.1} + {:.1}), lane {:.1} ns ({:.1} + {:.1}), raw {:.1} ns ({:.1} + {:.1})",
            q.0 + q.1,
            q.0,
            q.1,
            l.0 + l.1,
            l.0,
            l.1,
            w.0 + w.1,
            w.0,
            w.1
        );
    }
}
