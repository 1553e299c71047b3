//! The authkey handshake is CPython's: `python3`'s own
//! `multiprocessing.connection` authenticates with us in both directions
//! (a 3.12+ interpreter with HMAC-SHA256, an older one in the legacy
//! HMAC-MD5 form that CPython 3.12 also accepts), and a wrong key fails
//! on both sides; then a `PyConnection` exchanges byte messages with it.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use mp_channel::{client, Address, AuthenticationError, ConnectError, Listener, PyConnection};

/// Runs `python3 -c script args...` with stdout piped.
fn python(script: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to check CPython compatibility");
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

/// The next line python printed, trimmed.
fn line(out: &mut BufReader<ChildStdout>) -> String {
    let mut s = String::new();
    out.read_line(&mut s).unwrap();
    s.trim().to_string()
}

/// A Python `Listener` with an authkey: prints its port, accepts one
/// connection, prints the outcome.
const PY_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
with Listener(('127.0.0.1', 0), authkey=sys.argv[1].encode()) as l:
    print(l.address[1], flush=True)
    try:
        l.accept()
        print('accepted', flush=True)
    except Exception as e:
        print(type(e).__name__, e, flush=True)
"#;

/// A Python `Client` with an authkey to a Unix socket path (a NUL byte
/// first for the abstract namespace, which argv cannot carry): prints the
/// outcome.
const PY_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
address = sys.argv[2] if sys.argv[3] == 'path' else '\0' + sys.argv[2]
try:
    Client(address, authkey=sys.argv[1].encode())
    print('connected', flush=True)
except Exception as e:
    print(type(e).__name__, e, flush=True)
"#;

fn our_client_to_python(python_key: &str, our_key: &[u8]) -> (Result<(), ConnectError>, String) {
    let (mut child, mut out) = python(PY_LISTENER, &[python_key]);
    let port: u16 = line(&mut out).parse().expect("python printed its port");
    let ours = client(&Address::tcp_loopback(port), Some(our_key)).map(drop);
    let theirs = line(&mut out);
    child.wait().unwrap();
    (ours, theirs)
}

fn python_client_to_us(python_key: &str, our_key: &[u8]) -> (Result<(), ConnectError>, String) {
    let listener = Listener::bind(None, Some(our_key)).unwrap();
    let Address::Unix(path) = listener.address().clone() else {
        panic!("not unix")
    };
    let (mut child, mut out) = python(PY_CLIENT, &[python_key, path.to_str().unwrap(), "path"]);
    let ours = listener.accept_timeout(Duration::from_secs(30)).map(drop);
    let theirs = line(&mut out);
    child.wait().unwrap();
    (ours, theirs)
}

#[test]
fn our_client_authenticates_with_a_python_listener() {
    let (ours, theirs) = our_client_to_python("k3y", b"k3y");
    assert!(ours.is_ok(), "{ours:?}");
    assert_eq!(theirs, "accepted");
}

#[test]
fn a_python_client_authenticates_with_our_listener() {
    let (ours, theirs) = python_client_to_us("k3y", b"k3y");
    assert!(ours.is_ok(), "{ours:?}");
    assert_eq!(theirs, "connected");
}

#[test]
fn a_wrong_key_fails_on_both_sides_in_both_directions() {
    let (ours, theirs) = our_client_to_python("k3y", b"other");
    assert!(
        matches!(
            ours,
            Err(ConnectError::Authentication(
                AuthenticationError::DigestRejected
            ))
        ),
        "{ours:?}"
    );
    assert_eq!(theirs, "AuthenticationError digest received was wrong");

    let (ours, theirs) = python_client_to_us("k3y", b"other");
    assert!(
        matches!(
            ours,
            Err(ConnectError::Authentication(
                AuthenticationError::DigestWrong
            ))
        ),
        "{ours:?}"
    );
    assert_eq!(theirs, "AuthenticationError digest sent was rejected");
}

#[test]
fn a_python_client_reaches_our_listener_in_the_abstract_namespace() {
    let name = format!("mp-channel-interop-{}", std::process::id());
    let listener = Listener::bind(Some(Address::unix_abstract(&name)), Some(b"k3y")).unwrap();
    let (mut child, mut out) = python(PY_CLIENT, &["k3y", &name, "abstract"]);
    let ours = listener.accept_timeout(Duration::from_secs(30));
    assert!(ours.is_ok(), "{ours:?}");
    assert_eq!(line(&mut out), "connected");
    child.wait().unwrap();
}

/// A Python echo server: accepts one authenticated connection and sends
/// back every byte message reversed, until the end of the stream.
const PY_ECHO_SERVER: &str = r#"
import sys
from multiprocessing.connection import Listener
with Listener(('127.0.0.1', 0), authkey=b'k3y') as l:
    print(l.address[1], flush=True)
    with l.accept() as c:
        while True:
            try:
                m = c.recv_bytes()
            except (EOFError, ConnectionResetError):
                # We hang up with the last reply unread: a reset.
                break
            c.send_bytes(m[::-1])
print('done', flush=True)
"#;

/// A Python client that sends two byte messages, then prints what our
/// server sent back.
const PY_BYTES_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
with Client(sys.argv[1], authkey=b'k3y') as c:
    c.send_bytes(b'ping')
    c.send_bytes(b'x' * 100000)
    print(c.recv_bytes().decode(), len(c.recv_bytes()), flush=True)
"#;

#[test]
fn byte_messages_round_trip_with_a_python_server() {
    let (mut child, mut out) = python(PY_ECHO_SERVER, &[]);
    let port: u16 = line(&mut out).parse().expect("python printed its port");
    let conn = PyConnection::from(client(&Address::tcp_loopback(port), Some(b"k3y")).unwrap());
    let t = Duration::from_secs(30);
    for message in [
        b"hello".to_vec(),
        Vec::new(),
        (0..=255u8).cycle().take(1 << 20).collect(),
    ] {
        conn.send_bytes(&message).unwrap();
        let mut back = conn.recv_bytes_timeout(None, t).unwrap();
        back.reverse();
        assert_eq!(back, message);
    }
    // A reply longer than the maximum: refused, and the end is unreadable.
    conn.send_bytes(b"0123456789").unwrap();
    assert!(matches!(
        conn.recv_bytes(Some(4)),
        Err(mp_channel::RecvError::TooLarge { len: 10, max: 4 })
    ));
    assert!(!conn.readable());
    drop(conn);
    assert_eq!(line(&mut out), "done");
    child.wait().unwrap();
}

#[test]
fn byte_messages_round_trip_with_a_python_client() {
    let listener = Listener::bind(None, Some(b"k3y")).unwrap();
    let Address::Unix(path) = listener.address().clone() else {
        panic!("not unix")
    };
    let (mut child, mut out) = python(PY_BYTES_CLIENT, &[path.to_str().unwrap()]);
    let t = Duration::from_secs(30);
    let conn = PyConnection::from(listener.accept_timeout(t).unwrap());
    assert_eq!(conn.recv_bytes_timeout(None, t).unwrap(), b"ping");
    assert_eq!(
        conn.recv_bytes_timeout(None, t).unwrap(),
        vec![b'x'; 100_000]
    );
    conn.send_bytes(b"pong").unwrap();
    conn.send_bytes(&[0u8; 70_000]).unwrap();
    assert_eq!(line(&mut out), "pong 70000");
    child.wait().unwrap();
}
