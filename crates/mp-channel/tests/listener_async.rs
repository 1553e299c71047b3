//! `Listener::accept_async` and `wait_async` (the `async` feature) under
//! tokio (multi-thread and current-thread) and smol, with the start method
//! from `MULTIPROCESS_START_METHOD`: a client process authenticates and
//! talks, a client that dies mid-handshake fails its accept (never hangs
//! it) and the next client is accepted, a dropped accept loses nothing,
//! the timeout forms, and `wait_async` over connections and a process
//! sentinel with a dead peer.
//!
//! One test in its own binary, scenarios in sequence (children forked
//! while another test's thread holds a lock could hang; see
//! `queue_deaths.rs`).
#![cfg(feature = "async")]

use std::io::Write;
use std::net::TcpStream;
use std::pin::pin;
use std::time::Duration;

use mp_channel::{
    client, pipe, wait_async, Address, ConnectError, Connection, Listener, RecvError,
};
use mp_process::Process;

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all_pending, on_every_runtime};

const KEY: &[u8] = b"async key";
const SHORT: Duration = Duration::from_millis(30);
const T: Duration = Duration::from_secs(30);

fn talk(address: Address, n: u32) {
    let conn = client(&address, Some(KEY)).unwrap();
    conn.send(&n).unwrap();
    assert_eq!(conn.recv::<u32>().unwrap(), n + 1);
}

fn send_then_die(conn: Connection) {
    conn.send(&"bye").unwrap();
    std::process::exit(3);
}

async fn accepts() {
    let listener = Listener::bind(Some(Address::tcp_loopback(0)), Some(KEY)).unwrap();
    let address = listener.address().clone();
    assert!(matches!(
        listener.accept_timeout_async(SHORT).await,
        Err(ConnectError::Timeout)
    ));

    // A client that connects and dies before answering the challenge.
    let Address::Tcp(socket_address) = &address else {
        panic!("not TCP: {address:?}")
    };
    let mut raw = TcpStream::connect(socket_address).unwrap();
    raw.write_all(b"\x00\x00").unwrap();
    drop(raw);
    assert!(matches!(
        listener.accept_timeout_async(T).await,
        Err(ConnectError::Authentication(_))
    ));

    // A dropped accept loses nothing: the client's handshake goes on.
    let mut p = Process::new(talk, (address.clone(), 41));
    p.start().unwrap();
    {
        let mut accept = pin!(listener.accept_async());
        let _ = all_pending(&mut [accept.as_mut()]).await;
    }
    let conn = listener.accept_timeout_async(T).await.unwrap();
    let n: u32 = conn.recv_async().await.unwrap();
    assert_eq!(n, 41);
    conn.send_async(&(n + 1)).await.unwrap();
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn waits() {
    let (a, b) = pipe(true).unwrap();
    let (c, d) = pipe(true).unwrap();
    assert!(wait_async(&[&b, &d], Some(SHORT)).await.unwrap().is_empty());
    c.send(&1u8).unwrap();
    assert_eq!(wait_async(&[&b, &d], None).await.unwrap(), vec![1]);
    assert_eq!(d.recv::<u8>().unwrap(), 1);

    // A peer that dies: its connection and its sentinel become ready.
    let mut p = Process::new(send_then_die, (c,));
    p.start().unwrap();
    assert_eq!(wait_async(&[&b, &d], Some(T)).await.unwrap(), vec![1]);
    assert_eq!(d.recv::<String>().unwrap(), "bye");
    let sentinel = p.sentinel().unwrap();
    let ready = wait_async(&[&b, &sentinel], Some(T)).await.unwrap();
    assert_eq!(ready, vec![1]);
    assert_eq!(p.join_async().await.unwrap(), 3);
    assert_eq!(wait_async(&[&b, &d], Some(T)).await.unwrap(), vec![1]);
    assert!(matches!(d.recv_async::<u8>().await, Err(RecvError::Eof)));
    drop(a);
}

#[test]
fn listener_async_on_every_runtime() {
    on_every_runtime(|| async {
        accepts().await;
        waits().await;
    });
}
