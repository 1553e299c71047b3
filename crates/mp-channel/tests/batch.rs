//! What an engine multiplexing many connections uses: `send_many` (batched
//! writes, fds only on the first frame of a write), `try_recv_message` (what
//! has arrived, without waiting) and `try_recv_buffered` (no system call),
//! over both transports.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mp_channel::{pipe, Connection, RecvError};
use mp_wire::Message;

const T: Duration = Duration::from_secs(10);

/// A socket-backed pair and a pipe-backed pair.
fn pairs() -> Vec<(Connection, Connection)> {
    let (x, y) = mp_sys::socket::socketpair().unwrap();
    vec![
        (Connection::from_fd(x), Connection::from_fd(y)),
        pipe(true).unwrap(),
    ]
}

/// A message of `bytes` carrying one end of a fresh socket pair; returns
/// the other end to check that the fd arrived live.
fn with_fd(bytes: Vec<u8>) -> (Message, UnixStream) {
    let (p, q) = mp_sys::socket::socketpair().unwrap();
    (
        Message {
            bytes,
            fds: vec![p],
        },
        UnixStream::from(q),
    )
}

fn assert_live(fd: OwnedFd, peer: &mut UnixStream) {
    UnixStream::from(fd).write_all(b"hi").unwrap();
    peer.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 2];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn send_many_keeps_order_boundaries_and_fds() {
    for (a, b) in pairs() {
        let (m2, mut peer2) = with_fd(vec![2; 5]);
        let (m5, mut peer5) = with_fd(vec![5; 100_000]);
        let msgs = vec![
            Message::from_bytes(vec![0; 3]),
            Message::from_bytes(Vec::new()),
            m2,
            Message::from_bytes(vec![3; 40_000]),
            Message::from_bytes(vec![4; 7]),
            m5,
            Message::from_bytes(vec![6; 1]),
        ];
        let want: Vec<(Vec<u8>, usize)> = msgs
            .iter()
            .map(|m| (m.bytes.clone(), m.fds.len()))
            .collect();
        std::thread::scope(|s| {
            s.spawn(|| a.send_many(&msgs).unwrap());
            let mut got = Vec::new();
            for _ in 0..want.len() {
                got.push(b.recv_message(Some(T)).unwrap());
            }
            for (m, (bytes, fds)) in got.iter().zip(&want) {
                assert_eq!(&m.bytes, bytes);
                assert_eq!(m.fds.len(), *fds);
            }
            let mut got = got.into_iter();
            assert_live(got.nth(2).unwrap().fds.pop().unwrap(), &mut peer2);
            assert_live(got.nth(2).unwrap().fds.pop().unwrap(), &mut peer5);
        });
        assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    }
}

#[test]
fn try_recv_takes_what_arrived_and_buffered_makes_no_read() {
    for (a, b) in pairs() {
        assert!(b.try_recv_message().unwrap().is_none());
        assert!(b.try_recv_buffered().unwrap().is_none());
        let msgs: Vec<Message> = (0u8..5).map(|i| Message::from_bytes(vec![i; 10])).collect();
        a.send_many(&msgs).unwrap();
        // Nothing read yet: nothing buffered.
        assert!(b.try_recv_buffered().unwrap().is_none());
        // One read takes in all five; the rest come from the buffer.
        assert_eq!(b.try_recv_message().unwrap().unwrap().bytes, [0; 10]);
        for i in 1u8..5 {
            assert_eq!(b.try_recv_buffered().unwrap().unwrap().bytes, [i; 10]);
        }
        assert!(b.try_recv_buffered().unwrap().is_none());
        assert!(b.try_recv_message().unwrap().is_none());
        drop(a);
        assert!(matches!(b.try_recv_message(), Err(RecvError::Eof)));
    }
}

#[test]
fn try_recv_keeps_a_partial_message() {
    let (x, y) = mp_sys::socket::socketpair().unwrap();
    let b = Connection::from_fd(y);
    let mut raw = UnixStream::from(x);
    let mut frame = b"MPW\x01".to_vec();
    frame.extend_from_slice(&5u64.to_le_bytes());
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.extend_from_slice(b"hello");
    raw.write_all(&frame[..10]).unwrap();
    assert!(b.try_recv_message().unwrap().is_none());
    raw.write_all(&frame[10..]).unwrap();
    assert_eq!(b.recv_message(Some(T)).unwrap().bytes, b"hello");
    raw.write_all(&frame[..18]).unwrap();
    drop(raw);
    assert!(matches!(
        b.try_recv_message(),
        Err(RecvError::Truncated {
            expected: 21,
            got: 18
        })
    ));
}
