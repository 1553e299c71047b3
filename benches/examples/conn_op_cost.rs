//! The CPU cost of one `Connection::send` plus one `Connection::recv` of a
//! `u64` over a pipe in one process (the same thread writes, then reads
//! back), beside the raw `write` + `read` of 8 bytes on a pipe: M2's work
//! per message without a second process or a scheduler in the way. Then
//! the same through an `ExclusiveConnection` (the pool's link):
//! `send_message` of a `u64` encoded once, `recv_message_in` into a
//! buffer kept across messages. Five rounds of 1 M messages each; prints
//! nanoseconds per message.
//!
//! `cargo build --release -p multiprocess-benches --example conn_op_cost`,
//! then `taskset -c 0 target/release/examples/conn_op_cost [ours|raw|exclusive]`
//! (one side only, e.g. under `valgrind --tool=callgrind`).

use std::time::Instant;

use multiprocess::pipe;

const MESSAGES: u64 = 1_000_000;

fn main() {
    let only = std::env::args().nth(1);
    let run = |side: &str| only.as_deref().is_none_or(|o| o == side);
    let (a, b) = pipe(true).expect("pipe");
    let (r, w) = mp_sys::fd::pipe().expect("pipe");
    let (ea, eb) = pipe(true).expect("pipe");
    let (mut ea, mut eb) = (
        ea.into_exclusive().expect("exclusive"),
        eb.into_exclusive().expect("exclusive"),
    );
    let mut kept = Vec::new();
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
        let msg = multiprocess::wire::encode(&0x1234_5678u64).expect("encode");
        let t = Instant::now();
        for _ in 0..MESSAGES * u64::from(run("exclusive")) {
            ea.send_message(&msg, None).expect("send");
            let got = eb.recv_message_in(&mut kept, None).expect("recv");
            assert_eq!(got.bytes, msg.bytes);
            kept = got.bytes;
        }
        let exclusive = t.elapsed();
        println!(
            "ours {:.1} ns, raw {:.1} ns, exclusive {:.1} ns per message",
            ours.as_nanos() as f64 / MESSAGES as f64,
            raw.as_nanos() as f64 / MESSAGES as f64,
            exclusive.as_nanos() as f64 / MESSAGES as f64
        );
    }
}
