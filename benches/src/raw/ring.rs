//! M3a/M3c and M3b's raw limit: a single-producer single-consumer ring in a
//! memfd shared by a forked producer, items copied in and out, each side
//! spinning a little and then sleeping on a futex when the ring is empty
//! (consumer) or full (producer).

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use mp_sys::futex;
use mp_sys::mmap::Mapping;

use super::child;
use crate::scenarios::{iters, Measurement};

/// Header words, each on its own cache line: items taken (`head`), items
/// published (`tail`), and the two sleep flags (1 = that side sleeps or is
/// about to).
const HEAD: usize = 0;
const TAIL: usize = 64;
const CONSUMER_SLEEPS: usize = 128;
const PRODUCER_SLEEPS: usize = 192;
const SLOTS: usize = 4096;

/// Polls before sleeping.
const SPINS: u32 = 200;

struct Ring {
    map: Mapping,
    slot: usize,
    slots: u64,
}

impl Ring {
    fn new(slot: usize, slots: u64) -> Ring {
        let len = SLOTS + slot * slots as usize;
        let fd = mp_sys::memfd::create_sealed("raw-ring", len as u64).expect("memfd");
        let map = Mapping::map_shared(&fd, len).expect("mmap");
        Ring { map, slot, slots }
    }

    fn word64(&self, at: usize) -> &AtomicU64 {
        self.map.atomic_u64(at).expect("header")
    }

    fn word32(&self, at: usize) -> &AtomicU32 {
        self.map.atomic_u32(at).expect("header")
    }

    fn offset(&self, index: u64) -> usize {
        SLOTS + (index % self.slots) as usize * self.slot
    }

    /// Waits until `ready()` holds: spins, then announces itself on
    /// `sleeps` and sleeps on it until the other side clears it.
    fn wait_until(&self, sleeps: usize, ready: impl Fn() -> bool) {
        for _ in 0..SPINS {
            if ready() {
                return;
            }
            spin_loop();
        }
        let flag = self.word32(sleeps);
        loop {
            flag.store(1, SeqCst);
            if ready() {
                flag.store(0, SeqCst);
                return;
            }
            let _ = futex::wait(flag, 1, Some(Duration::from_millis(100)));
        }
    }

    /// Wakes the other side if it announced a sleep.
    fn wake(&self, sleeps: usize) {
        let flag = self.word32(sleeps);
        if flag.load(SeqCst) != 0 && flag.swap(0, SeqCst) != 0 {
            futex::wake(flag, 1);
        }
    }

    fn push(&self, item: &[u8], index: u64) {
        let head = self.word64(HEAD);
        self.wait_until(PRODUCER_SLEEPS, || index - head.load(SeqCst) < self.slots);
        self.map.write(self.offset(index), item).expect("slot");
        self.word64(TAIL).store(index + 1, SeqCst);
        self.wake(CONSUMER_SLEEPS);
    }

    fn pop(&self, item: &mut [u8], index: u64) {
        let tail = self.word64(TAIL);
        self.wait_until(CONSUMER_SLEEPS, || tail.load(SeqCst) > index);
        self.map.read(self.offset(index), item).expect("slot");
        self.word64(HEAD).store(index + 1, SeqCst);
        self.wake(PRODUCER_SLEEPS);
    }
}

/// Times a forked producer pushing `n` items of `slot` bytes (the first
/// eight the index) through a ring of `slots` slots to this process.
fn transfer(n: u64, slot: usize, slots: u64) -> f64 {
    transfer_on(n, slot, slots, None)
}

/// [`transfer`] with the producer pinned to CPU `cpu`, if given.
fn transfer_on(n: u64, slot: usize, slots: u64, cpu: Option<usize>) -> f64 {
    let ring = Ring::new(slot, slots);
    let t = Instant::now();
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let producer = unsafe {
        child::start(|| {
            if let Some(cpu) = cpu {
                crate::placement::pin_to(cpu);
            }
            let mut item = vec![7u8; slot];
            for i in 0..n {
                item[..8].copy_from_slice(&i.to_le_bytes());
                ring.push(&item, i);
            }
        })
    };
    let mut item = vec![0u8; slot];
    for i in 0..n {
        ring.pop(&mut item, i);
        assert_eq!(item[..8], i.to_le_bytes());
    }
    let took = t.elapsed().as_secs_f64();
    child::reap(&producer);
    took
}

pub(super) fn small(quick: bool) -> Measurement {
    let n = iters(quick, 500_000);
    Measurement {
        value: n as f64 / transfer(n, 8, 4096),
        unit: "items/s",
    }
}

/// [`small`] with the consumer (this process) on CPU 0 and the producer
/// on CPU 1.
pub(super) fn small_2cpu(quick: bool) -> Measurement {
    let n = iters(quick, 500_000);
    crate::placement::pin_to(0);
    Measurement {
        value: n as f64 / transfer_on(n, 8, 4096, Some(1)),
        unit: "items/s",
    }
}

pub(super) fn big(quick: bool) -> Measurement {
    let n = iters(quick, 500);
    Measurement {
        value: n as f64 * 1.048576 / transfer(n, 1 << 20, 4),
        unit: "MB/s",
    }
}
