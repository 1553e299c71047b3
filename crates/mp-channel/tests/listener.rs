//! Listener / client over Unix sockets and TCP: authkeys (right, wrong,
//! missing), socket file permissions and clean-up, stale and live paths.

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use mp_channel::{
    client, client_with_timeout, Address, AuthenticationError, ConnectError, Listener,
};

const T: Duration = Duration::from_secs(10);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mp-channel-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Accepts one connection in a thread and echoes one message back.
fn echo_once(listener: Listener) -> thread::JoinHandle<Result<(), ConnectError>> {
    thread::spawn(move || {
        let c = listener.accept_timeout(T)?;
        let m: String = c.recv_timeout(T).unwrap();
        c.send(&format!("echo {m}")).unwrap();
        Ok(())
    })
}

#[test]
fn default_address_is_a_private_unix_socket_removed_on_close() {
    let l = Listener::bind(None, None).unwrap();
    let Address::Unix(path) = l.address().clone() else {
        panic!("not unix")
    };
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir = path.parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let server = echo_once(l);
    let c = client(&Address::Unix(path.clone()), None).unwrap();
    c.send(&"x").unwrap();
    assert_eq!(c.recv_timeout::<String>(T).unwrap(), "echo x");
    server.join().unwrap().unwrap();
    assert!(!path.exists(), "socket file removed");
    assert!(!dir.exists(), "private directory removed");
}

#[test]
fn unix_path_with_authkey() {
    let dir = scratch("auth");
    let path = dir.join("sock");
    let l = Listener::bind(Some(Address::Unix(path.clone())), Some(b"key")).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let server = echo_once(l);
    let c = client(&path.as_path().into(), Some(b"key")).unwrap();
    c.send(&"y").unwrap();
    assert_eq!(c.recv_timeout::<String>(T).unwrap(), "echo y");
    server.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tcp_loopback_with_authkey_and_last_accepted() {
    let l = Listener::bind(Some("localhost:0".parse().unwrap()), Some(b"k")).unwrap();
    let Address::Tcp(addr) = l.address().clone() else {
        panic!("not tcp")
    };
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let addr2 = l.address().clone();
    let t = thread::spawn(move || {
        let c = client(&addr2, Some(b"k")).unwrap();
        c.send(&"tcp").unwrap();
        c.recv_timeout::<String>(T).unwrap()
    });
    let c = l.accept_timeout(T).unwrap();
    assert!(matches!(l.last_accepted(), Some(Address::Tcp(a)) if a.ip().is_loopback()));
    assert_eq!(c.recv_timeout::<String>(T).unwrap(), "tcp");
    c.send(&"back").unwrap();
    assert_eq!(t.join().unwrap(), "back");
}

#[test]
fn wrong_key_fails_on_both_sides() {
    let l = Listener::bind(Some(Address::tcp_loopback(0)), Some(b"right")).unwrap();
    let addr = l.address().clone();
    let server = thread::spawn(move || l.accept_timeout(T).map(|_| ()));
    let err = client(&addr, Some(b"wrong")).unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Authentication(AuthenticationError::DigestRejected)
        ),
        "{err}"
    );
    let err = server.join().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Authentication(AuthenticationError::DigestWrong)
        ),
        "{err}"
    );
}

#[test]
fn nothing_is_served_to_a_client_without_the_key() {
    let l = Listener::bind(None, Some(b"right")).unwrap();
    let Address::Unix(path) = l.address().clone() else {
        panic!("not unix")
    };
    let server = thread::spawn(move || l.accept_timeout(T).map(|_| ()));
    // No key: the client does not answer the challenge but sends a request.
    let mut c = UnixStream::connect(path).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    mp_wire::send_value(c.as_fd(), &"give me everything").unwrap();
    let err = server.join().unwrap().unwrap_err();
    assert!(matches!(err, ConnectError::Authentication(_)), "{err}");
    // All the client sees is the challenge (in CPython's framing: a 4-byte
    // big-endian length), then the end of the stream.
    let challenge = b"#CHALLENGE#{sha256}".len() + 40;
    let mut seen = vec![0u8; 4 + challenge];
    c.read_exact(&mut seen).unwrap();
    assert_eq!(seen[..4], (challenge as u32).to_be_bytes());
    assert!(seen[4..].starts_with(b"#CHALLENGE#{sha256}"));
    // The server hung up with our request unread (Linux: a reset).
    match c.read(&mut [0u8; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the end of the stream, got {other:?}"),
    }
}

#[test]
fn a_server_without_the_handshake_makes_the_client_time_out() {
    let l = Listener::bind(None, None).unwrap();
    let addr = l.address().clone();
    let err = client_with_timeout(&addr, Some(b"k"), Some(Duration::from_millis(100))).unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Authentication(AuthenticationError::Recv(_))
        ),
        "{err}"
    );
    drop(l);
}

#[test]
fn stale_socket_is_replaced_live_one_and_files_are_refused() {
    let dir = scratch("stale");
    let path = dir.join("sock");
    // A stale socket file: bound, then its listener gone without clean-up.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let l = Listener::bind(Some(Address::Unix(path.clone())), None).unwrap();
    // A live one at the same path is refused.
    let err = Listener::bind(Some(Address::Unix(path.clone())), None).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    drop(l);
    assert!(!path.exists());
    // A regular file is never replaced.
    std::fs::write(&path, b"precious").unwrap();
    let err = Listener::bind(Some(Address::Unix(path.clone())), None).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn accept_timeout_and_refused_connect() {
    let l = Listener::bind(None, None).unwrap();
    assert!(matches!(
        l.accept_timeout(Duration::from_millis(30)),
        Err(ConnectError::Timeout)
    ));
    let addr = l.address().clone();
    drop(l);
    assert!(matches!(client(&addr, None), Err(ConnectError::Io(_))));
}

#[test]
fn addresses_parse() {
    assert_eq!(
        "127.0.0.1:5".parse::<Address>().unwrap(),
        Address::tcp_loopback(5)
    );
    assert_eq!(":7".parse::<Address>().unwrap(), Address::tcp_loopback(7));
    assert_eq!(
        "/tmp/x.sock".parse::<Address>().unwrap(),
        Address::Unix("/tmp/x.sock".into())
    );
    assert_eq!(Address::tcp_loopback(9).to_string(), "127.0.0.1:9");
}

#[test]
fn abstract_namespace_addresses_leave_no_file() {
    let name = format!("mp-channel-test-{}-abstract", std::process::id());
    let address: Address = format!("\0{name}").parse().unwrap();
    assert_eq!(address, Address::unix_abstract(&name));
    assert_eq!(address.abstract_name(), Some(name.as_bytes()));
    assert_eq!(address.to_string(), format!("@{name}"));
    let listener = Listener::bind(Some(address.clone()), Some(b"k")).unwrap();
    assert_eq!(listener.address(), &address);
    // A second listener on the same name is refused, as for a path.
    assert!(Listener::bind(Some(address.clone()), None).is_err());
    let server = echo_once(listener);
    let c = client(&address, Some(b"k")).unwrap();
    c.send(&"hi").unwrap();
    assert_eq!(c.recv_timeout::<String>(T).unwrap(), "echo hi");
    server.join().unwrap().unwrap();
    // Closed, the name is free again (no file to clean up).
    drop(Listener::bind(Some(address), None).unwrap());
}
