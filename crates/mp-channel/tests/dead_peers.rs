//! Peers that die: a Connection whose peer process is killed gives end of
//! stream (duplex and one-way) and sends to it fail as disconnected; a producer SIGKILLed in the middle of a large `put` leaves the
//! queue usable for everyone else and a waiting `get` does not hang.
//!
//! Alone in this file because the pipe test relies on EOF, which a child
//! forked concurrently by another test thread could delay by inheriting
//! the socket.

use std::time::{Duration, Instant};

use mp_channel::{pipe, Connection, GetError, Queue, RecvError, SendError};
use mp_process::Process;

const T: Duration = Duration::from_secs(30);

fn hold_forever(conn: Connection) {
    conn.send(&"ready").unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn put_huge(q: Queue<serde_bytes::ByteBuf>, ready: Connection) {
    ready.send(&"starting").unwrap();
    // Far larger than the ring: the feeder streams chunks and then waits
    // for space while holding the writer lock.
    q.put(&serde_bytes::ByteBuf::from(vec![7u8; 8 << 20]))
        .unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn kill(mut p: Process) {
    p.kill().unwrap();
    p.join_timeout(T).unwrap();
    assert_eq!(p.exitcode(), Some(-9));
}

#[test]
fn dead_peers() {
    // 1. A Connection whose peer process dies: end of stream, not a hang.
    let (parent, child) = pipe(true).unwrap();
    let mut p = Process::new(hold_forever, (child,));
    p.start().unwrap();
    assert_eq!(parent.recv_timeout::<String>(T).unwrap(), "ready");
    kill(p);
    assert!(matches!(parent.recv_timeout::<u8>(T), Err(RecvError::Eof)));
    assert!(matches!(parent.send(&1u8), Err(SendError::Disconnected)));

    // 1b. The writer of a one-way pipe dies: its reader sees end of stream.
    let (reader, writer) = pipe(false).unwrap();
    let mut p = Process::new(hold_forever, (writer,));
    p.start().unwrap();
    assert_eq!(reader.recv_timeout::<String>(T).unwrap(), "ready");
    kill(p);
    assert!(matches!(reader.recv_timeout::<u8>(T), Err(RecvError::Eof)));

    // 2. A producer killed in the middle of a chunked put.
    let q = Queue::<serde_bytes::ByteBuf>::with_ring(0, 64 * 1024).unwrap();
    let (ready, ready_child) = pipe(true).unwrap();
    let mut p = Process::new(put_huge, (q.clone(), ready_child));
    p.start().unwrap();
    assert_eq!(ready.recv_timeout::<String>(T).unwrap(), "starting");
    let start = Instant::now();
    while q.empty() {
        assert!(start.elapsed() < T, "the producer never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100)); // let it fill the ring
    kill(p);
    // A get waiting on the dead producer's half message ends (Empty).
    let start = Instant::now();
    assert!(matches!(
        q.get_timeout(true, Some(Duration::from_secs(2))),
        Err(GetError::Empty)
    ));
    assert!(start.elapsed() < Duration::from_secs(10));
    // Another producer (this process) puts and gets, intact.
    for n in 0..3u8 {
        q.put(&serde_bytes::ByteBuf::from(vec![n; 100_000]))
            .unwrap();
    }
    for n in 0..3u8 {
        let got = q.get_timeout(true, Some(T)).unwrap();
        assert_eq!(got.len(), 100_000);
        assert!(got.iter().all(|&b| b == n));
    }
}
