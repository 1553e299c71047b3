//! The pipe transport of [`pipe`] ends (pipes for bytes, a side socket for
//! fds): fds stay with their messages (threads included), connections of
//! both transports travel through each other, timed sends on a full pipe,
//! and a hand-made pipe end fed raw bytes and raw fd batches gives typed
//! errors for every lie.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use mp_channel::{pipe, Connection, RecvError, SendError};
use mp_wire::SharedFd;
use serde::Serialize;

const T: Duration = Duration::from_secs(10);

/// A pipe end carrying a marker byte, for checking which fd arrived where.
fn marked_fd(marker: u8) -> SharedFd {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    mp_sys::fd::write_all(&w, &[marker]).unwrap();
    SharedFd::from(r)
}

fn read_marker(fd: SharedFd) -> u8 {
    let mut b = [0u8; 1];
    assert_eq!(rustix::io::read(fd.as_fd(), &mut b).unwrap(), 1);
    b[0]
}

#[test]
fn threads_sending_fds_on_one_end_keep_each_message_with_its_fds() {
    let (a, b) = pipe(true).unwrap();
    let a = Arc::new(a);
    let senders: Vec<_> = (0..4u8)
        .map(|t| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                for i in 0..40u8 {
                    let tag = t * 50 + i;
                    let fds = if i % 2 == 0 {
                        vec![marked_fd(tag), marked_fd(tag.wrapping_add(1))]
                    } else {
                        Vec::new()
                    };
                    a.send(&(tag, fds)).unwrap();
                }
            })
        })
        .collect();
    let mut last = [None::<u8>; 4];
    for _ in 0..160 {
        let (tag, fds): (u8, Vec<SharedFd>) = b.recv_timeout(T).unwrap();
        let (t, i) = ((tag / 50) as usize, tag % 50);
        assert!(
            last[t].is_none_or(|l| l < i),
            "thread {t}'s messages out of order"
        );
        last[t] = Some(i);
        let markers: Vec<u8> = fds.into_iter().map(read_marker).collect();
        if i % 2 == 0 {
            assert_eq!(markers, vec![tag, tag.wrapping_add(1)]);
        } else {
            assert!(markers.is_empty());
        }
    }
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn a_large_message_with_fds_then_small_ones() {
    let (a, b) = pipe(true).unwrap();
    let big = serde_bytes::ByteBuf::from(vec![9u8; 3 << 20]);
    let t = std::thread::spawn(move || {
        a.send(&(big, marked_fd(1))).unwrap();
        a.send(&(2u8, marked_fd(2))).unwrap();
        a.send(&3u8).unwrap();
        a
    });
    let (got, fd): (serde_bytes::ByteBuf, SharedFd) = b.recv_timeout(T).unwrap();
    assert!(got.len() == 3 << 20 && got.iter().all(|&x| x == 9));
    assert_eq!(read_marker(fd), 1);
    let (n, fd): (u8, SharedFd) = b.recv_timeout(T).unwrap();
    assert_eq!((n, read_marker(fd)), (2, 2));
    assert_eq!(b.recv_timeout::<u8>(T).unwrap(), 3);
    drop(t.join().unwrap());
    assert!(matches!(b.recv_timeout::<u8>(T), Err(RecvError::Eof)));
}

#[test]
fn connections_of_both_transports_travel_through_each_other() {
    // A socket connection through a pipe connection...
    let (a, b) = pipe(true).unwrap();
    let (s1, s2) = UnixStream::pair().unwrap();
    let (s1, s2) = (
        Connection::from_fd(OwnedFd::from(s1)),
        Connection::from_fd(OwnedFd::from(s2)),
    );
    a.send(&s1).unwrap();
    drop(s1);
    let s1: Connection = b.recv_timeout(T).unwrap();
    s1.send(&"over a socket").unwrap();
    assert_eq!(s2.recv_timeout::<String>(T).unwrap(), "over a socket");
    // ...and pipe connections (both kinds) through the socket connection.
    let (x, y) = pipe(true).unwrap();
    let (r, w) = pipe(false).unwrap();
    s2.send(&(x, w)).unwrap();
    let (x, w): (Connection, Connection) = s1.recv_timeout(T).unwrap();
    assert!(w.writable() && !w.readable());
    w.send(&marked_fd(7)).unwrap();
    drop(w);
    assert_eq!(read_marker(r.recv_timeout(T).unwrap()), 7);
    assert!(matches!(r.recv_timeout::<u8>(T), Err(RecvError::Eof)));
    x.send(&(5u8, marked_fd(5))).unwrap();
    let (n, fd): (u8, SharedFd) = y.recv_timeout(T).unwrap();
    assert_eq!((n, read_marker(fd)), (5, 5));
    y.send(&6u8).unwrap();
    assert_eq!(x.recv_timeout::<u8>(T).unwrap(), 6);
}

#[test]
fn sends_to_a_closed_reader_are_disconnected() {
    let (r, w) = pipe(false).unwrap();
    drop(r);
    assert!(matches!(w.send(&1u8), Err(SendError::Disconnected)));
    assert!(matches!(
        w.send(&marked_fd(1)),
        Err(SendError::Disconnected)
    ));
}

#[test]
fn a_timed_send_into_a_full_pipe_times_out() {
    let (r, w) = pipe(false).unwrap();
    // Fill the pipe.
    let chunk = vec![0u8; 16 * 1024];
    let mut sent = 0;
    let err = loop {
        match w.send_bytes_timeout(&chunk, Duration::ZERO) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 10_000, "the pipe never filled");
    };
    assert!(matches!(err, SendError::Timeout), "{err:?}");
    // That send may have written part of its frame, leaving the end
    // unusable; otherwise the next one times out too.
    assert!(matches!(
        w.send_bytes_timeout(b"x", Duration::from_millis(20)),
        Err(SendError::Timeout | SendError::Unusable)
    ));
    // A frame with fds times out before its fds are sent when no room is left.
    let (r2, w2) = pipe(false).unwrap();
    let mut n = 0u32;
    while w2.send_timeout(&n, Duration::ZERO).is_ok() {
        n += 1;
        assert!(n < 1_000_000, "the pipe never filled");
    }
    assert!(matches!(
        w2.send_timeout(&marked_fd(3), Duration::from_millis(20)),
        Err(SendError::Timeout)
    ));
    // Nothing of it went out: after draining, the stream is intact.
    for i in 0..n {
        assert_eq!(r2.recv_timeout::<u32>(T).unwrap(), i);
    }
    w2.send(&marked_fd(4)).unwrap();
    assert_eq!(read_marker(r2.recv_timeout(T).unwrap()), 4);
    drop(r);
}

/// The serialized form of a pipe end, built by hand (same shape as the
/// crate's private `Wire` enum: variant 1 is a pipe end).
#[derive(Serialize)]
enum FakeWire {
    #[allow(dead_code)]
    Socket,
    Pipe {
        rx: Option<SharedFd>,
        tx: Option<SharedFd>,
        side: SharedFd,
    },
}

/// A readable pipe-transport end whose pipe and side socket we write raw.
struct RawPeer {
    conn: Connection,
    pipe: Option<OwnedFd>,
    side: UnixStream,
}

fn raw_pipe_peer() -> RawPeer {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    let (mine, theirs) = UnixStream::pair().unwrap();
    let wire = FakeWire::Pipe {
        rx: Some(SharedFd::from(r)),
        tx: None,
        side: SharedFd::from(OwnedFd::from(theirs)),
    };
    let conn: Connection = mp_wire::decode(mp_wire::encode(&wire).unwrap()).unwrap();
    assert!(conn.readable() && !conn.writable());
    RawPeer {
        conn,
        pipe: Some(w),
        side: mine,
    }
}

impl RawPeer {
    fn write(&self, bytes: &[u8]) {
        mp_sys::fd::write_all(self.pipe.as_ref().unwrap(), bytes).unwrap();
    }

    fn batch(&self, count_byte: u8, n: usize) {
        let fds: Vec<OwnedFd> = (0..n).map(|_| mp_sys::fd::devnull().unwrap()).collect();
        let fds: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
        mp_sys::socket::send_with_fds(&self.side, &[count_byte], &fds).unwrap();
    }
}

/// A frame in mp-wire's layout, for writing by hand.
fn frame(payload: &[u8], fds: u32) -> Vec<u8> {
    let mut f = b"MPW\x01".to_vec();
    f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    f.extend_from_slice(&fds.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn raw_pipe_peer_frames_and_batches_are_read() {
    let p = raw_pipe_peer();
    p.write(&frame(b"plain", 0));
    p.batch(2, 2);
    p.write(&frame(b"two fds", 2));
    assert_eq!(p.conn.recv_bytes(None).unwrap(), b"plain");
    let m = p.conn.recv_message(Some(T)).unwrap();
    assert_eq!((m.bytes.as_slice(), m.fds.len()), (&b"two fds"[..], 2));
}

#[test]
fn a_frame_whose_fds_never_came_is_malformed() {
    let p = raw_pipe_peer();
    p.write(&frame(b"x", 2));
    assert!(matches!(
        p.conn.recv_bytes(None),
        Err(RecvError::Malformed(_))
    ));
    assert!(matches!(
        p.conn.recv_bytes(None),
        Err(RecvError::Unusable(_))
    ));
}

#[test]
fn a_batch_of_the_wrong_size_is_malformed() {
    for (count_byte, n) in [(2u8, 1usize), (1, 2), (3, 3)] {
        let p = raw_pipe_peer();
        p.batch(count_byte, n);
        p.write(&frame(b"x", 2));
        assert!(
            matches!(p.conn.recv_bytes(None), Err(RecvError::Malformed(_))),
            "batch byte {count_byte} with {n} fds"
        );
    }
}

#[test]
fn garbage_and_truncation_on_a_pipe_are_typed() {
    let p = raw_pipe_peer();
    p.write(b"GET / HTTP/1.1\r\n\r\n");
    assert!(matches!(p.conn.recv::<u8>(), Err(RecvError::Malformed(_))));
    let mut p = raw_pipe_peer();
    let f = frame(b"hello world", 0);
    p.write(&f[..f.len() - 3]);
    drop(p.pipe.take());
    match p.conn.recv_bytes(None) {
        Err(RecvError::Truncated { expected, got }) => {
            assert_eq!((expected, got), (f.len() as u64, f.len() as u64 - 3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timeouts_on_a_pipe_resume_mid_message() {
    let p = raw_pipe_peer();
    assert!(matches!(
        p.conn.recv_timeout::<u32>(Duration::from_millis(30)),
        Err(RecvError::Timeout)
    ));
    assert!(!p.conn.poll(Some(Duration::from_millis(10))).unwrap());
    let f = frame(&mp_wire::encode(&0xfeed_u32).unwrap().bytes, 0);
    p.write(&f[..7]);
    assert!(matches!(
        p.conn.recv_timeout::<u32>(Duration::from_millis(30)),
        Err(RecvError::Timeout)
    ));
    p.write(&f[7..]);
    assert_eq!(p.conn.recv_timeout::<u32>(T).unwrap(), 0xfeed);
    // A large frame cut by a timeout, then finished.
    let big = frame(&vec![3u8; 300_000], 0);
    let (head, tail) = big.split_at(100_000);
    let p = Arc::new(p);
    let writer = {
        let p = Arc::clone(&p);
        let head = head.to_vec();
        std::thread::spawn(move || p.write(&head))
    };
    assert!(matches!(
        p.conn.recv_bytes_timeout(None, Duration::from_millis(100)),
        Err(RecvError::Timeout)
    ));
    writer.join().unwrap();
    let writer = {
        let p = Arc::clone(&p);
        let tail = tail.to_vec();
        std::thread::spawn(move || p.write(&tail))
    };
    let got = p.conn.recv_bytes_timeout(None, T).unwrap();
    assert!(got.len() == 300_000 && got.iter().all(|&x| x == 3));
    writer.join().unwrap();
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any bytes on the pipe (and a random fd batch on the side) give
        /// values or typed errors, never a panic or a hang.
        #[test]
        fn any_pipe_stream_ends_in_a_typed_result(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            batch in proptest::option::of((any::<u8>(), 1usize..4)),
        ) {
            let mut p = raw_pipe_peer();
            if let Some((count_byte, n)) = batch {
                p.batch(count_byte, n);
            }
            p.write(&bytes);
            drop(p.pipe.take());
            for _ in 0..50 {
                match p.conn.recv_timeout::<(u32, String)>(Duration::from_secs(5)) {
                    Ok(_) | Err(RecvError::Decode(_)) => continue,
                    Err(RecvError::Timeout) => panic!("closed stream timed out"),
                    Err(_) => break,
                }
            }
        }
    }
}
