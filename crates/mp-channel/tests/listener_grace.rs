//! `Listener`'s admission policy when every handshake slot is taken: the
//! oldest handshake past its grace period is hung up to make room for a
//! waiting connection, one within its grace period is not, and
//! `accept_unless` returns when a stop fd becomes readable.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use mp_channel::{client, Address, ConnectError, Listener, DEFAULT_HANDSHAKE_GRACE};

const KEY: &[u8] = b"grace";

/// A TCP loopback listener with `slots` handshake slots, the given grace
/// period, and no handshake timeout (only the grace policy can free a slot
/// held by a silent client).
fn listener(slots: usize, grace: Duration) -> (Listener, SocketAddr) {
    let mut l = Listener::bind(Some(Address::tcp_loopback(0)), Some(KEY)).unwrap();
    l.set_handshake_timeout(None);
    l.set_max_pending_handshakes(slots);
    l.set_handshake_grace(grace);
    let Address::Tcp(addr) = l.address().clone() else {
        panic!("not tcp")
    };
    (l, addr)
}

/// Reads what the server sent `s` (its challenge) and then waits up to
/// `wait` for more: `true` if the server closed the connection.
fn hung_up(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut sink = Vec::new();
    match s.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("reading a silent client: {e}"),
    }
}

#[test]
fn the_default_grace_is_one_second() {
    assert_eq!(DEFAULT_HANDSHAKE_GRACE, Duration::from_secs(1));
}

#[test]
fn the_oldest_handshake_past_its_grace_makes_room_for_a_waiting_client() {
    let (listener, addr) = listener(2, Duration::ZERO);
    let mut silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Both are taken in; with nobody else waiting, nobody is hung up.
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(300)),
        Err(ConnectError::Timeout)
    ));
    assert_eq!(listener.pending_handshakes(), 2);

    let address = Address::Tcp(addr);
    let honest = thread::spawn(move || {
        let conn = client(&address, Some(KEY)).unwrap();
        conn.send(&"hello".to_string()).unwrap();
    });
    // Without the policy the honest client would wait in the listen queue
    // for ever (the silent handshakes have no timeout) and this would time out.
    let conn = listener.accept_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(conn.recv::<String>().unwrap(), "hello");
    honest.join().unwrap();
    // The oldest silent client was hung up; the other one still waits.
    assert!(hung_up(&mut silent[0], Duration::from_secs(10)));
    assert!(!hung_up(&mut silent[1], Duration::from_millis(200)));
    assert_eq!(listener.pending_handshakes(), 1);
}

#[test]
fn a_handshake_within_its_grace_keeps_its_slot() {
    let (listener, addr) = listener(1, Duration::from_secs(3600));
    let mut silent = TcpStream::connect(addr).unwrap();
    let address = Address::Tcp(addr);
    let honest = thread::spawn(move || {
        let conn = client(&address, Some(KEY)).unwrap();
        conn.send(&7u32).unwrap();
    });
    // The honest client waits in the listen queue: the only slot is the
    // silent one's, within its grace period.
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(500)),
        Err(ConnectError::Timeout)
    ));
    assert_eq!(listener.pending_handshakes(), 1);
    assert!(!hung_up(&mut silent, Duration::from_millis(200)));
    // The silent client leaves: one failed accept, then the honest one.
    drop(silent);
    assert!(matches!(
        listener.accept_timeout(Duration::from_secs(10)),
        Err(ConnectError::Authentication(_))
    ));
    let conn = listener.accept_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(conn.recv::<u32>().unwrap(), 7);
    honest.join().unwrap();
}

#[test]
fn accept_unless_returns_when_a_stop_fd_is_readable() {
    for authkey in [Some(KEY), None] {
        let listener = Listener::bind(None, authkey).unwrap();
        let (mut stop_w, stop_r) = UnixStream::pair().unwrap();
        // A silent client under way does not keep it from returning.
        let _silent = UnixStream::connect(match listener.address() {
            Address::Unix(p) => p.clone(),
            Address::Tcp(_) => panic!("not unix"),
        })
        .unwrap();
        stop_w.write_all(b"x").unwrap();
        let got = listener.accept_unless(&[stop_r.as_fd()]).unwrap();
        assert!(got.is_none(), "accepted a connection instead of stopping");
    }
}
