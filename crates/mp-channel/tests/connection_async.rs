//! `Connection::recv_async` / `send_async` (the `async` feature) under
//! tokio (multi-thread and current-thread) and smol, with the start method
//! from `MULTIPROCESS_START_METHOD`: a round trip over pipe and socket
//! ends, a peer process that dies is an error (not a hang) for both, a
//! dropped receive in the middle of a frame loses nothing, and 1,000
//! pending receives take no thread each.
//!
//! One test in its own binary, scenarios in sequence: the dead-peer case
//! relies on EOF, which a child forked concurrently by another test thread
//! could delay by inheriting the socket, and the thread count must see no
//! other test's threads.
#![cfg(feature = "async")]

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::time::Duration;

use mp_channel::{pipe, Connection, RecvError, SendError};
use mp_process::Process;

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all, all_pending, assert_pending_without_threads, on_every_runtime};

const T: Duration = Duration::from_secs(30);
const PENDING: usize = 1000;

fn hold_forever(conn: Connection) {
    conn.send(&"ready").unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// A socket connection and the raw peer socket.
fn socket_conn() -> (Connection, UnixStream) {
    let (a, b) = mp_sys::socket::socketpair().unwrap();
    (Connection::from_fd(a), UnixStream::from(b))
}

/// The bytes of one frame carrying `value`, as they go over a socket.
fn frame_bytes(value: &Vec<u32>) -> Vec<u8> {
    let (conn, mut raw) = socket_conn();
    conn.send(value).unwrap();
    drop(conn);
    let mut bytes = Vec::new();
    raw.read_to_end(&mut bytes).unwrap();
    bytes
}

async fn round_trips() {
    let (a, b) = pipe(true).unwrap();
    a.send_async(&("to b", 1u32)).await.unwrap();
    assert_eq!(
        b.recv_async::<(String, u32)>().await.unwrap(),
        ("to b".to_string(), 1)
    );
    // Within the pipe's 64 KiB: the reader may be a task on this thread.
    b.send_async(&vec![7u8; 40_000]).await.unwrap();
    assert_eq!(a.recv_async::<Vec<u8>>().await.unwrap(), vec![7u8; 40_000]);

    let (x, y) = pipe(false).unwrap();
    assert!(matches!(
        x.send_async(&1u8).await,
        Err(SendError::NotWritable)
    ));
    assert!(matches!(
        y.recv_async::<u8>().await,
        Err(RecvError::NotReadable)
    ));
    y.send_async(&2u8).await.unwrap();
    assert_eq!(x.recv_async::<u8>().await.unwrap(), 2);

    let (s, mut raw) = socket_conn();
    s.send_async(&"over a socket").await.unwrap();
    raw.write_all(&frame_bytes(&vec![1, 2, 3])).unwrap();
    assert_eq!(s.recv_async::<Vec<u32>>().await.unwrap(), [1, 2, 3]);
    drop(s);
    let mut sent = Vec::new();
    raw.read_to_end(&mut sent).unwrap();
    let (check, mut check_raw) = socket_conn();
    check_raw.write_all(&sent).unwrap();
    assert_eq!(check.recv_async::<String>().await.unwrap(), "over a socket");
}

async fn dead_peer() {
    let (parent, child) = pipe(true).unwrap();
    let mut p = Process::new(hold_forever, (child,));
    p.start().unwrap();
    assert_eq!(parent.recv_async::<String>().await.unwrap(), "ready");
    p.kill().unwrap();
    p.join_timeout(T).unwrap();
    assert_eq!(p.exitcode(), Some(-9));
    assert!(matches!(
        parent.recv_async::<u8>().await,
        Err(RecvError::Eof)
    ));
    assert!(matches!(
        parent.send_async(&1u8).await,
        Err(SendError::Disconnected)
    ));
}

async fn dropped_recv_mid_frame() {
    let value: Vec<u32> = (0..1000).collect();
    let bytes = frame_bytes(&value);
    let (conn, mut raw) = socket_conn();
    let half = bytes.len() / 2;
    raw.write_all(&bytes[..half]).unwrap();
    {
        // Reads the first half into the connection's buffer, then waits.
        let mut recv = pin!(conn.recv_async::<Vec<u32>>());
        assert!(all_pending(&mut [recv.as_mut()]).await);
    }
    // The half was taken off the socket into the connection's buffer.
    raw.set_nonblocking(true).unwrap();
    assert!(!mp_sys::socket::poll_readable(conn.as_fd(), Some(Duration::ZERO)).unwrap());
    raw.write_all(&bytes[half..]).unwrap();
    assert_eq!(conn.recv_async::<Vec<u32>>().await.unwrap(), value);
    // And the blocking form takes over from a dropped async one as well.
    raw.write_all(&bytes).unwrap();
    assert_eq!(conn.recv_timeout::<Vec<u32>>(T).unwrap(), value);
    let mut probe = [0u8; 1];
    assert_eq!(
        raw.read(&mut probe).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock)
    );
}

async fn many_pending() {
    let pairs: Vec<(Connection, Connection)> = (0..PENDING).map(|_| pipe(true).unwrap()).collect();
    let mut waits: Vec<_> = pairs
        .iter()
        .map(|(_, b)| Box::pin(b.recv_async::<u32>()))
        .collect();
    let mut polled: Vec<_> = waits.iter_mut().map(|f| f.as_mut()).collect();
    assert_pending_without_threads(&mut polled, "receives").await;
    for (i, (a, _)) in pairs.iter().enumerate() {
        a.send(&(i as u32)).unwrap();
    }
    let got: Vec<u32> = all(waits).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, (0..PENDING as u32).collect::<Vec<_>>());
}

#[test]
fn connection_async_on_every_runtime() {
    on_every_runtime(|| async {
        round_trips().await;
        dead_peer().await;
        dropped_recv_mid_frame().await;
        many_pending().await;
    });
}
