//! M4a and M4c's raw limit: two forked workers, each fed chunks of integers
//! over its own pipe and answering `x * 2` over another, with the chunking of
//! the scenario (CPython's default for `map`, one item for
//! `imap_unordered`).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::time::Instant;

use mp_sys::fd::{pipe, write_all};

use super::child;
use super::pipes::{read_exact, read_u64};
use crate::scenarios::{iters, Measurement};

/// Bytes a worker may have outstanding in each direction: under a pipe's
/// 64 KiB, so that neither side's write waits on the other's.
const IN_FLIGHT: usize = 16 << 10;

/// One message: a count, then that many little-endian `u64`s.
fn encode(items: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * (items.len() + 1));
    out.extend_from_slice(&(items.len() as u64).to_le_bytes());
    for x in items {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn decode_into(fd: &OwnedFd, out: &mut Vec<u64>) {
    let n = read_u64(fd) as usize;
    let mut bytes = vec![0u8; 8 * n];
    read_exact(fd, &mut bytes);
    out.extend(
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
    );
}

/// A worker: answers each chunk with its items doubled; stops at an empty one.
fn work(tasks: &OwnedFd, results: &OwnedFd) {
    let mut items = Vec::new();
    loop {
        items.clear();
        decode_into(tasks, &mut items);
        if items.is_empty() {
            return;
        }
        for x in &mut items {
            *x *= 2;
        }
        write_all(results, &encode(&items)).expect("result");
    }
}

struct Worker {
    tasks: OwnedFd,
    results: OwnedFd,
    pidfd: OwnedFd,
}

fn start_worker() -> Worker {
    let (task_rx, tasks) = pipe().expect("pipe");
    let (results, result_tx) = pipe().expect("pipe");
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let pidfd = unsafe { child::start(|| work(&task_rx, &result_tx)) };
    Worker {
        tasks,
        results,
        pidfd,
    }
}

/// Two workers, kept until dropped (which stops and reaps them).
struct RawPool([Worker; 2]);

impl RawPool {
    fn new() -> RawPool {
        RawPool([start_worker(), start_worker()])
    }

    /// Maps `items` in chunks of `chunk`, round-robin over the workers;
    /// the results come back in chunk order.
    fn map(&self, items: &[u64], chunk: usize) -> Vec<u64> {
        let window = (IN_FLIGHT / (8 * chunk + 8)).max(1);
        let mut chunks = items.chunks(chunk);
        let mut pending: VecDeque<usize> = VecDeque::new();
        let mut in_flight = [0usize; 2];
        let mut out = Vec::with_capacity(items.len());
        loop {
            let mut sent = false;
            for (w, flight) in in_flight.iter_mut().enumerate() {
                if *flight < window {
                    if let Some(c) = chunks.next() {
                        write_all(&self.0[w].tasks, &encode(c)).expect("task");
                        *flight += 1;
                        pending.push_back(w);
                        sent = true;
                    }
                }
            }
            if !sent {
                let Some(w) = pending.pop_front() else {
                    return out;
                };
                decode_into(&self.0[w].results, &mut out);
                in_flight[w] -= 1;
            }
        }
    }
}

impl Drop for RawPool {
    fn drop(&mut self) {
        for w in &self.0 {
            write_all(&w.tasks, &encode(&[])).expect("stop");
        }
        for w in &self.0 {
            child::reap(&w.pidfd);
        }
    }
}

/// CPython's default `map` chunk size: `ceil(len / (4 * workers))`.
fn default_chunksize(len: usize) -> usize {
    len.div_ceil(4 * 2).max(1)
}

pub(super) fn m4a(quick: bool) -> Measurement {
    let pool = RawPool::new();
    let n = 200_000u64;
    let items: Vec<u64> = (0..n).collect();
    assert_eq!(pool.map(&items[..1000], 125).len(), 1000);
    let reps = iters(quick, 10);
    let t = Instant::now();
    for _ in 0..reps {
        let r = pool.map(&items, default_chunksize(items.len()));
        assert_eq!(r[(n - 1) as usize], 2 * (n - 1));
    }
    Measurement {
        value: (n * reps) as f64 / t.elapsed().as_secs_f64(),
        unit: "tasks/s",
    }
}

pub(super) fn m4c(_quick: bool) -> Measurement {
    let pool = RawPool::new();
    assert_eq!(pool.map(&[1, 2, 3], 1).len(), 3);
    // Always 20k tasks, as the scenario.
    let items: Vec<u64> = (0..20_000).collect();
    let t = Instant::now();
    let r = pool.map(&items, 1);
    let took = t.elapsed();
    assert_eq!(r.len(), items.len());
    Measurement {
        value: items.len() as f64 / took.as_secs_f64(),
        unit: "tasks/s",
    }
}
