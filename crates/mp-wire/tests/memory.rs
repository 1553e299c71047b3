//! A peer that declares a huge payload and sends little must not make the
//! receiver reserve that much memory. This file holds one test so the
//! process's peak memory is not disturbed by others running in parallel.

use std::os::fd::AsFd;
use std::time::Duration;

use mp_sys::socket::{send_with_fds, socketpair};
const MAGIC: [u8; 4] = *b"MPW\x01";
use mp_wire::{recv, Limits, WireError};

/// The process's peak virtual memory size in KiB (`VmPeak`).
fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmPeak:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn header(len: u64) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

#[test]
fn lying_lengths_do_not_allocate() {
    let before = vm_peak_kib();
    let timeout = Some(Duration::from_secs(10));
    // Within the limit, but only 10 bytes follow.
    let (a, b) = socketpair().unwrap();
    let mut frame = header(1000 << 20);
    frame.extend_from_slice(&[7; 10]);
    send_with_fds(&a, &frame, &[]).unwrap();
    drop(a);
    match recv(b.as_fd(), &Limits::default(), timeout) {
        Err(WireError::Truncated { got: 26, .. }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Over the limit: refused from the header alone.
    for len in [(1 << 30) + 1, u64::MAX / 2, u64::MAX] {
        let (a, b) = socketpair().unwrap();
        send_with_fds(&a, &header(len), &[]).unwrap();
        assert!(matches!(
            recv(b.as_fd(), &Limits::default(), timeout),
            Err(WireError::TooLarge { .. })
        ));
    }
    let grown_mib = (vm_peak_kib() - before) / 1024;
    assert!(
        grown_mib < 64,
        "peak virtual memory grew by {grown_mib} MiB"
    );
}
