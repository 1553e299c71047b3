//! `Listener::accept` with an authkey runs handshakes side by side: silent
//! clients do not hold up an honest one, and the number of handshakes in
//! progress is bounded (the rest wait in the listen queue).

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use mp_channel::{client, Address, AuthenticationError, ConnectError, Listener, RecvError};

const KEY: &[u8] = b"secret";

/// A listener on TCP loopback with a 10 s handshake timeout.
fn listener() -> (Listener, SocketAddr) {
    let mut l = Listener::bind(Some(Address::tcp_loopback(0)), Some(KEY)).unwrap();
    l.set_handshake_timeout(Some(Duration::from_secs(10)));
    let Address::Tcp(addr) = l.address().clone() else {
        panic!("not tcp")
    };
    (l, addr)
}

/// Whether the server has sent `s` something (its challenge), waiting up to 10 s.
fn challenged(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut header = [0u8; 4];
    s.read_exact(&mut header).is_ok()
}

/// Whether anything is waiting to be read on `s` right now.
fn has_data(s: &TcpStream) -> bool {
    mp_sys::socket::poll_readable(s.as_fd(), Some(Duration::ZERO)).unwrap()
}

#[test]
fn silent_clients_do_not_hold_up_an_honest_one() {
    let (listener, addr) = listener();
    let silent: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let address = Address::Tcp(addr);
    let honest = thread::spawn(move || {
        let conn = client(&address, Some(KEY)).unwrap();
        conn.send(&"hello".to_string()).unwrap();
    });
    let start = Instant::now();
    // Before handshakes ran side by side, this waited out the first silent
    // client's 10 s and returned its timeout.
    let conn = listener.accept().unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "accepted after {took:?}: waited on a silent client's handshake"
    );
    assert_eq!(conn.recv::<String>().unwrap(), "hello");
    honest.join().unwrap();
    // The silent ones were taken in and challenged, and still wait.
    assert_eq!(listener.pending_handshakes(), silent.len());
}

#[test]
fn handshakes_in_progress_are_bounded_and_the_rest_wait_in_the_backlog() {
    let (mut listener, addr) = listener();
    listener.set_max_pending_handshakes(2);
    let mut silent: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(300)),
        Err(ConnectError::Timeout)
    ));
    assert_eq!(listener.pending_handshakes(), 2);
    assert!(challenged(&mut silent[0]) && challenged(&mut silent[1]));
    // The others are still in the listen queue: nobody spoke to them.
    assert!(silent[2..].iter().all(|s| !has_data(s)));

    // Two clients hang up mid-handshake: each is one failed accept...
    drop(silent.drain(..2));
    for _ in 0..2 {
        match listener.accept_timeout(Duration::from_secs(10)) {
            Err(ConnectError::Authentication(AuthenticationError::Recv(RecvError::Eof))) => {}
            other => panic!("expected a failed handshake, got {other:?}"),
        }
    }
    // ...and makes room for the next two in the queue.
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(300)),
        Err(ConnectError::Timeout)
    ));
    assert_eq!(listener.pending_handshakes(), 2);
    assert!(challenged(&mut silent[0]) && challenged(&mut silent[1]));
    assert!(!has_data(&silent[2]));
}
