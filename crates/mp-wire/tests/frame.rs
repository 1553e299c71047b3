//! Framing tests: send/recv over socketpairs, every error path, timeouts,
//! large frames.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use mp_sys::socket::{send_with_fds, socketpair};
const MAGIC: [u8; 4] = *b"MPW\x01";
use mp_wire::{
    decode, encode, recv, recv_value, send, send_timeout, send_value, serde_bytes, Limits, Message,
    SharedFd, WireError, MAX_FDS_PER_FRAME,
};
use serde::{Deserialize, Serialize};

const WAIT: Option<Duration> = Some(Duration::from_secs(10));
const SHORT: Duration = Duration::from_millis(50);

fn header(len: u64, fds: u32) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&fds.to_le_bytes());
    h
}

fn recv_default(sock: &OwnedFd) -> Result<Message, WireError> {
    recv(sock.as_fd(), &Limits::default(), WAIT)
}

fn null_fd() -> OwnedFd {
    OwnedFd::from(std::fs::File::open("/dev/null").unwrap())
}

#[derive(Debug, Serialize, Deserialize)]
struct WithPipe {
    id: u32,
    end: SharedFd,
}

#[test]
fn value_with_fd_roundtrips_and_fd_is_live() {
    let (a, b) = socketpair().unwrap();
    let (p, q) = socketpair().unwrap();
    send_value(
        a.as_fd(),
        &WithPipe {
            id: 9,
            end: SharedFd::from(p),
        },
    )
    .unwrap();
    let got: WithPipe = recv_value(b.as_fd(), &Limits::default(), WAIT).unwrap();
    assert_eq!(got.id, 9);
    UnixStream::from(got.end.into_inner())
        .write_all(b"ping")
        .unwrap();
    let mut q = UnixStream::from(q);
    q.set_read_timeout(WAIT).unwrap();
    let mut buf = [0u8; 4];
    q.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn back_to_back_frames_are_not_merged() {
    let (a, b) = socketpair().unwrap();
    for i in 0..5u32 {
        let fds: Vec<SharedFd> = (0..i).map(|_| SharedFd::from(null_fd())).collect();
        send_value(a.as_fd(), &(i, fds)).unwrap();
        send_value(a.as_fd(), &format!("text {i}")).unwrap();
    }
    send(a.as_fd(), &Message::default()).unwrap();
    for i in 0..5u32 {
        let msg = recv_default(&b).unwrap();
        assert_eq!(msg.fds.len(), i as usize);
        let (n, fds): (u32, Vec<SharedFd>) = decode(msg).unwrap();
        assert_eq!((n, fds.len()), (i, i as usize));
        let text: String = recv_value(b.as_fd(), &Limits::default(), WAIT).unwrap();
        assert_eq!(text, format!("text {i}"));
    }
    let empty = recv_default(&b).unwrap();
    assert!(empty.bytes.is_empty() && empty.fds.is_empty());
    drop(a);
    assert!(matches!(recv_default(&b), Err(WireError::Eof)));
}

#[test]
fn eof_before_a_frame_is_clean() {
    let (a, b) = socketpair().unwrap();
    drop(a);
    assert!(matches!(recv_default(&b), Err(WireError::Eof)));
}

#[test]
fn eof_inside_header_is_truncated() {
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, &header(10, 0)[..7], &[]).unwrap();
    drop(a);
    match recv_default(&b) {
        Err(WireError::Truncated {
            expected: 16,
            got: 7,
        }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn eof_inside_payload_is_truncated() {
    let (a, b) = socketpair().unwrap();
    let mut frame = header(100, 0);
    frame.extend_from_slice(&[1; 40]);
    send_with_fds(&a, &frame, &[]).unwrap();
    drop(a);
    match recv_default(&b) {
        Err(WireError::Truncated {
            expected: 116,
            got: 56,
        }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn absurd_length_is_too_large() {
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, &header(u64::MAX, 0), &[]).unwrap();
    match recv_default(&b) {
        Err(WireError::TooLarge { len: u64::MAX, max }) => assert_eq!(max, 1 << 30),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let (a, b) = socketpair().unwrap();
    send_value(a.as_fd(), serde_bytes::Bytes::new(&[0u8; 100])).unwrap();
    let limits = Limits::with_max_frame(64);
    match recv(b.as_fd(), &limits, WAIT) {
        Err(WireError::TooLarge { len: 101, max: 64 }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn bad_magic_is_malformed() {
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, b"GET / HTTP/1.1\r\n\r\n", &[]).unwrap();
    match recv_default(&b) {
        Err(WireError::Malformed(why)) => assert!(why.contains("magic"), "{why}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn more_fds_than_allowed_is_too_many_fds() {
    let (a, b) = socketpair().unwrap();
    let fds: Vec<OwnedFd> = (0..3).map(|_| null_fd()).collect();
    send(
        a.as_fd(),
        &Message {
            bytes: vec![1],
            fds,
        },
    )
    .unwrap();
    let limits = Limits {
        max_fds: 2,
        ..Limits::default()
    };
    match recv(b.as_fd(), &limits, WAIT) {
        Err(WireError::TooManyFds { count: 3, max: 2 }) => {}
        other => panic!("expected TooManyFds, got {other:?}"),
    }
}

#[test]
fn declared_fd_count_must_match() {
    // Declares 2 fds, attaches 1.
    let (a, b) = socketpair().unwrap();
    let fd = null_fd();
    send_with_fds(&a, &header(0, 2), &[fd.as_fd()]).unwrap();
    assert!(matches!(recv_default(&b), Err(WireError::Malformed(_))));
    // Declares 1 fd, attaches 3 (with room for 3).
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, &header(0, 1), &[fd.as_fd(), fd.as_fd(), fd.as_fd()]).unwrap();
    assert!(matches!(recv_default(&b), Err(WireError::Malformed(_))));
    // Declares 0 fds, attaches 1, receiver allows none.
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, &header(0, 0), &[fd.as_fd()]).unwrap();
    let none = Limits {
        max_fds: 0,
        ..Limits::default()
    };
    assert!(matches!(
        recv(b.as_fd(), &none, WAIT),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn fds_inside_the_payload_are_malformed_and_closed() {
    let (a, b) = socketpair().unwrap();
    let (p, q) = socketpair().unwrap();
    send_with_fds(&a, &header(4, 0), &[]).unwrap();
    send_with_fds(&a, b"body", &[p.as_fd()]).unwrap();
    drop(p);
    match recv_default(&b) {
        Err(WireError::Malformed(why)) => assert!(why.contains("payload"), "{why}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
    // The stray fd was closed: its peer sees end of stream.
    let mut q = UnixStream::from(q);
    q.set_read_timeout(WAIT).unwrap();
    assert_eq!(q.read(&mut [0u8; 1]).unwrap(), 0);
}

#[test]
fn too_many_fds_to_send_is_refused_before_writing() {
    let (a, b) = socketpair().unwrap();
    let fds: Vec<OwnedFd> = (0..=MAX_FDS_PER_FRAME).map(|_| null_fd()).collect();
    let msg = Message { bytes: vec![], fds };
    assert!(matches!(
        send(a.as_fd(), &msg),
        Err(WireError::TooManyFds {
            count: 254,
            max: 253
        })
    ));
    drop(a);
    assert!(matches!(recv_default(&b), Err(WireError::Eof)));
}

#[test]
fn max_fds_per_frame_roundtrip() {
    let (a, b) = socketpair().unwrap();
    let fds: Vec<SharedFd> = (0..MAX_FDS_PER_FRAME)
        .map(|_| SharedFd::from(null_fd()))
        .collect();
    send_value(a.as_fd(), &fds).unwrap();
    let got: Vec<SharedFd> = recv_value(b.as_fd(), &Limits::default(), WAIT).unwrap();
    assert_eq!(got.len(), MAX_FDS_PER_FRAME);
}

#[test]
fn send_to_closed_peer_is_io_error() {
    let (a, b) = socketpair().unwrap();
    drop(b);
    match send_value(a.as_fd(), &1u8) {
        Err(WireError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe),
        other => panic!("expected Io(EPIPE), got {other:?}"),
    }
}

#[test]
fn recv_times_out_on_silence_and_connection_stays_usable() {
    let (a, b) = socketpair().unwrap();
    let start = Instant::now();
    assert!(matches!(
        recv(b.as_fd(), &Limits::default(), Some(SHORT)),
        Err(WireError::Timeout)
    ));
    assert!(start.elapsed() >= SHORT);
    send_value(a.as_fd(), &5u8).unwrap();
    assert_eq!(
        recv_value::<u8>(b.as_fd(), &Limits::default(), Some(SHORT)).unwrap(),
        5
    );
}

#[test]
fn timeout_covers_the_whole_frame() {
    let (a, b) = socketpair().unwrap();
    send_with_fds(&a, &header(10, 0), &[]).unwrap();
    send_with_fds(&a, b"abc", &[]).unwrap();
    assert!(matches!(
        recv(b.as_fd(), &Limits::default(), Some(SHORT)),
        Err(WireError::Timeout)
    ));
}

#[test]
fn send_times_out_when_nobody_reads() {
    let (a, _b) = socketpair().unwrap();
    let msg = encode(serde_bytes::Bytes::new(&vec![0u8; 16 << 20])).unwrap();
    let start = Instant::now();
    assert!(matches!(
        send_timeout(a.as_fd(), &msg, Some(SHORT)),
        Err(WireError::Timeout)
    ));
    assert!(start.elapsed() >= SHORT);
}

#[test]
fn nonblocking_socket_without_timeout_still_waits() {
    let (a, b) = socketpair().unwrap();
    mp_sys::socket::set_nonblocking(&b, true).unwrap();
    mp_sys::socket::set_nonblocking(&a, true).unwrap();
    let reader = thread::spawn(move || {
        let v: String = recv_value(b.as_fd(), &Limits::default(), None).unwrap();
        v
    });
    thread::sleep(SHORT);
    send_value(a.as_fd(), &"late".to_string()).unwrap();
    assert_eq!(reader.join().unwrap(), "late");
}

fn big_roundtrip(timeout: Option<Duration>) {
    let (a, b) = socketpair().unwrap();
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
    let expected_len = data.len();
    let reader = thread::spawn(move || {
        let got: serde_bytes::ByteBuf = recv_value(b.as_fd(), &Limits::default(), timeout).unwrap();
        got.into_vec()
    });
    let msg = encode(serde_bytes::Bytes::new(&data)).unwrap();
    send_timeout(a.as_fd(), &msg, timeout).unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), expected_len);
    assert!(got == data, "64 MiB payload differs");
}

#[test]
fn sixty_four_mib_roundtrip() {
    big_roundtrip(None);
}

#[test]
fn sixty_four_mib_roundtrip_with_timeouts() {
    big_roundtrip(WAIT);
}

#[test]
fn recv_leaves_the_next_frames_bytes_on_the_socket() {
    // Handshakes rely on this: after `recv`, another reader takes over the
    // socket and must find every byte that followed the frame.
    let (a, b) = socketpair().unwrap();
    let mut after = header(3, 0);
    after.extend_from_slice(b"xyz");
    after.extend_from_slice(b"raw tail");
    let mut all = header(5, 0);
    all.extend_from_slice(b"hello");
    all.extend_from_slice(&after);
    send_with_fds(&a, &all, &[]).unwrap();
    drop(a);
    assert_eq!(recv_default(&b).unwrap().bytes, b"hello");
    let mut rest = Vec::new();
    std::fs::File::from(b).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, after);
}
