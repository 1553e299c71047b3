//! The CPU cost of one `Connection::send` plus one `Connection::recv` of a
//! `u64` over a pipe in one process (the same thread writes, then reads
//! back), beside the raw `write` + `read` of 8 bytes on a pipe: M2's work
//! per message without a second process or a scheduler in the way. Five
//! rounds of 1 M messages each; prints nanoseconds per message.
//!
//! `cargo build --release -p multiprocess-benches --example conn_op_cost`,
//! then `taskset -c 0 target/release/examples/conn_op_cost` (or under
//! `perf record`).

use std::time::Instant;

use multiprocess::pipe;

const MESSAGES: u64 = 1_000_000;

fn main() {
    let only = std::env::args().nth(1);
    let run = |side: &str| only.as_deref().is_none_or(|o| o == side);
    let (a, b) = pipe(true).expect("pipe");
    let (r, w) = mp_sys::fd::pipe().expect("pipe");
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..MESSAGES * u64::from(run("ours")) {
            a.send(&i).expect("send");
            let v: u64 = b.recv().expect("recv");
            assert_eq!(v, i);
        }
        let ours = t.elapsed();
        let t = Instant::now();
        let mut buf = [0u8; 8];
        for i in 0..MESSAGES * u64::from(run("raw")) {
            mp_sys::fd::write_all(&w, &i.to_le_bytes()).expect("write");
            let n = mp_sys::fd::read(&r, &mut buf).expect("read");
            assert_eq!((n, u64::from_le_bytes(buf)), (8, i));
        }
        let raw = t.elapsed();
        println!(
            "ours {:.1} ns, raw {:.1} ns per message",
            ours.as_nanos() as f64 / MESSAGES as f64,
            raw.as_nanos() as f64 / MESSAGES as f64
        );
    }
}
