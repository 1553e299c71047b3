//! Pipe round trips with an echo child: M2's ping-pong, M4b's round trip to
//! a waiting worker, and M6's two round trips per operation.

use std::os::fd::OwnedFd;
use std::time::Instant;

use mp_sys::fd::{pipe, read, write_all};

use super::child;
use crate::scenarios::{iters, Measurement};

/// Reads exactly 8 bytes from `fd`.
pub(super) fn read_u64(fd: &OwnedFd) -> u64 {
    let mut b = [0u8; 8];
    read_exact(fd, &mut b);
    u64::from_le_bytes(b)
}

/// Fills `buf` from `fd`, panicking at end of stream.
pub(super) fn read_exact(fd: &OwnedFd, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        let n = read(fd, &mut buf[got..]).expect("read");
        assert!(n > 0, "peer hung up");
        got += n;
    }
}

/// `ops` timed operations of `trips` round trips of 8 bytes each (after 100
/// untimed ones), with a child that sends back each value doubled.
fn round_trips(ops: u64, trips: u64) -> Measurement {
    let warm = 100;
    let total = (warm + ops) * trips;
    let (rx_child, tx_parent) = pipe().expect("pipe");
    let (rx_parent, tx_child) = pipe().expect("pipe");
    // SAFETY: a raw scenario's process is single-threaded (`Raw::run`
    // checked; none starts a thread).
    let echo = unsafe {
        child::start(|| {
            for _ in 0..total {
                let v = read_u64(&rx_child);
                write_all(&tx_child, &(v * 2).to_le_bytes()).expect("write");
            }
        })
    };
    drop((rx_child, tx_child));
    let op = |i: u64| {
        for _ in 0..trips {
            write_all(&tx_parent, &i.to_le_bytes()).expect("write");
            assert_eq!(read_u64(&rx_parent), 2 * i);
        }
    };
    (0..warm).for_each(op);
    let t = Instant::now();
    (0..ops).for_each(op);
    let took = t.elapsed();
    child::reap(&echo);
    Measurement {
        value: took.as_secs_f64() * 1e6 / ops as f64,
        unit: "us",
    }
}

pub(super) fn m2(quick: bool) -> Measurement {
    round_trips(iters(quick, 50_000), 1)
}

pub(super) fn m4b(quick: bool) -> Measurement {
    round_trips(iters(quick, 20_000), 1)
}

pub(super) fn m6(quick: bool) -> Measurement {
    round_trips(iters(quick, 20_000), 2)
}
