//! `Listener::bind_with_backlog`: the listen queue holds about as many
//! unaccepted connections as asked (Linux: backlog + 1), no more.

use std::path::Path;

use mp_channel::{Address, Listener};
use rustix::net::{connect, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// How many non-blocking connects to `path` succeed before the queue is full
/// (stops at `max`).
fn queued_connects(path: &Path, max: usize) -> usize {
    let addr = SocketAddrUnix::new(path).unwrap();
    let mut held = Vec::new();
    while held.len() < max {
        let sock = socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        match connect(&sock, &addr) {
            Ok(()) => held.push(sock),
            Err(e) if e == rustix::io::Errno::AGAIN => break,
            Err(e) => panic!("connect: {e}"),
        }
    }
    held.len()
}

fn unix_path(l: &Listener) -> &Path {
    match l.address() {
        Address::Unix(p) => p,
        other => panic!("not a unix address: {other:?}"),
    }
}

#[test]
fn the_queue_length_follows_the_backlog() {
    let small = Listener::bind_with_backlog(None, None, 1).unwrap();
    let n = queued_connects(unix_path(&small), 100);
    assert!((1..=2).contains(&n), "backlog 1 queued {n}");

    let large = Listener::bind_with_backlog(None, None, 50).unwrap();
    let n = queued_connects(unix_path(&large), 100);
    assert!((50..=51).contains(&n), "backlog 50 queued {n}");

    // A queued connection is still accepted normally.
    assert!(large.accept().is_ok());
}
