//! Connection semantics inside one process: boundaries, directions, end of
//! stream, size limits, `recv_bytes_into`, `poll`, timeouts, fds, and bad
//! input from a raw socket.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use mp_channel::{pipe, Connection, RecvError, RecvIntoError, SendError};
use mp_wire::SharedFd;

const T: Duration = Duration::from_secs(10);

#[test]
fn boundaries_are_kept_and_empty_messages_are_messages() {
    let (a, b) = pipe(true).unwrap();
    for m in [&b"a"[..], b"b", b"cd", b"", b"efg"] {
        a.send_bytes(m).unwrap();
    }
    for m in [&b"a"[..], b"b", b"cd"] {
        assert_eq!(b.recv_bytes(None).unwrap(), m);
    }
    assert!(
        b.poll(Some(Duration::ZERO)).unwrap(),
        "pending empty message"
    );
    assert_eq!(b.recv_bytes(None).unwrap(), b"");
    assert_eq!(b.recv_bytes(None).unwrap(), b"efg");
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
}

#[test]
fn duplex_both_ways_and_values() {
    let (a, b) = pipe(true).unwrap();
    a.send(&(1u8, "x".to_string(), vec![1.5f64])).unwrap();
    b.send(&Some(7i64)).unwrap();
    assert_eq!(
        b.recv::<(u8, String, Vec<f64>)>().unwrap(),
        (1, "x".to_string(), vec![1.5])
    );
    assert_eq!(a.recv::<Option<i64>>().unwrap(), Some(7));
}

#[test]
fn one_way_pipe_is_reader_then_writer() {
    let (r, w) = pipe(false).unwrap();
    assert_eq!((r.readable(), r.writable()), (true, false));
    assert_eq!((w.readable(), w.writable()), (false, true));
    assert!(matches!(r.send(&1u8), Err(SendError::NotWritable)));
    assert!(matches!(w.recv::<u8>(), Err(RecvError::NotReadable)));
    assert!(matches!(w.poll(None), Err(RecvError::NotReadable)));
    w.send(&5u32).unwrap();
    assert_eq!(r.recv::<u32>().unwrap(), 5);
}

#[test]
fn closed_peer_is_eof_after_pending_messages() {
    let (a, b) = pipe(true).unwrap();
    a.send(&1u32).unwrap();
    a.send(&2u32).unwrap();
    a.close();
    assert_eq!(b.recv::<u32>().unwrap(), 1);
    assert_eq!(b.recv::<u32>().unwrap(), 2);
    assert!(b.poll(Some(Duration::ZERO)).unwrap(), "poll is true at EOF");
    assert!(matches!(b.recv::<u32>(), Err(RecvError::Eof)));
    assert!(
        matches!(b.recv::<u32>(), Err(RecvError::Eof)),
        "EOF repeats"
    );
    assert!(matches!(b.send(&1u8), Err(SendError::Disconnected)));
}

#[test]
fn recv_bytes_max_refuses_and_poisons_like_python() {
    let (a, b) = pipe(true).unwrap();
    a.send_bytes(&[7; 100]).unwrap();
    a.send_bytes(b"next").unwrap();
    match b.recv_bytes(Some(10)) {
        Err(RecvError::TooLarge { len: 100, max: 10 }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(b.recv_bytes(None), Err(RecvError::Unusable(_))));
}

#[test]
fn max_message_limit_is_checked_before_reading() {
    let (a, mut b) = pipe(true).unwrap();
    b.set_max_message(1000);
    assert_eq!(b.max_message(), 1000);
    a.send_bytes(&[0; 1000]).unwrap();
    assert_eq!(b.recv_bytes(None).unwrap().len(), 1000);
    a.send_bytes(&[0; 1001]).unwrap();
    assert!(matches!(
        b.recv_bytes(None),
        Err(RecvError::TooLarge { .. })
    ));
}

#[test]
fn typed_slices_cross_as_their_bytes() {
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Point {
        x: f32,
        y: f32,
    }
    let (a, b) = pipe(true).unwrap();
    let points = [Point { x: 1.0, y: -1.0 }, Point { x: 0.5, y: 2.5 }];
    a.send_slice(&points).unwrap();
    // The receive buffer is the typed slice itself (aligned for `u64`),
    // written from byte 8 on: offsets and lengths count bytes, as in Python.
    let mut words = [u64::MAX; 3];
    assert_eq!(b.recv_bytes_into_slice(&mut words, 8).unwrap(), 16);
    assert_eq!(words[0], u64::MAX);
    let got: &[Point] = bytemuck::cast_slice(&words[1..]);
    assert_eq!(got, points);

    // The bytes are the values' own: a byte receiver sees them.
    a.send_slice(&[0x0102_0304u32]).unwrap();
    assert_eq!(b.recv_bytes(None).unwrap(), 0x0102_0304u32.to_ne_bytes());

    // Too short keeps the message whole and the connection usable.
    a.send_slice(&[1u16, 2, 3]).unwrap();
    let mut two = [0u16; 2];
    let err = b.recv_bytes_into_slice(&mut two, 0).unwrap_err();
    assert_eq!(
        err.into_message().unwrap(),
        bytemuck::cast_slice::<u16, u8>(&[1, 2, 3])
    );
    assert!(matches!(
        b.recv_bytes_into_slice(&mut two, 5),
        Err(RecvIntoError::OffsetTooLarge { offset: 5, len: 4 })
    ));
    a.send_slice::<u16>(&[]).unwrap();
    assert_eq!(b.recv_bytes_into_slice(&mut two, 4).unwrap(), 0);
    // A zero-sized type has no bytes: only an empty message fits.
    a.send_slice(&[(); 3]).unwrap();
    assert_eq!(b.recv_bytes_into_slice(&mut [(); 2], 0).unwrap(), 0);
}

#[test]
fn recv_bytes_into_with_offset_and_buffer_too_short() {
    let (a, b) = pipe(true).unwrap();
    let mut buf = [0u8; 8];
    a.send_bytes(b"abc").unwrap();
    assert_eq!(b.recv_bytes_into(&mut buf, 5).unwrap(), 3);
    assert_eq!(&buf[5..], b"abc");
    a.send_bytes(b"abcd").unwrap();
    match b.recv_bytes_into(&mut buf, 5) {
        Err(RecvIntoError::BufferTooShort(m)) => assert_eq!(m, b"abcd"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        b.recv_bytes_into(&mut buf, 9),
        Err(RecvIntoError::OffsetTooLarge { offset: 9, len: 8 })
    ));
    a.send_bytes(b"").unwrap();
    assert_eq!(b.recv_bytes_into(&mut buf, 8).unwrap(), 0);
}

#[test]
fn recv_bytes_into_takes_a_message_larger_than_the_read_buffer() {
    let (a, b) = pipe(true).unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let sent = big.clone();
    let sender = std::thread::spawn(move || {
        a.send_bytes(&sent).unwrap();
        a.send_bytes(&sent).unwrap();
        a
    });
    let mut buf = vec![0u8; 200_010];
    assert_eq!(b.recv_bytes_into(&mut buf, 10).unwrap(), 200_000);
    assert_eq!((&buf[..10], &buf[10..]), (&[0u8; 10][..], &big[..]));
    match b.recv_bytes_into(&mut buf, 11) {
        Err(RecvIntoError::BufferTooShort(m)) => assert!(m == big, "the whole message"),
        other => panic!("{other:?}"),
    }
    drop(sender.join().unwrap());
    assert!(matches!(
        b.recv_bytes_into(&mut buf, 0),
        Err(RecvIntoError::Recv(RecvError::Eof))
    ));
}

#[test]
fn timeouts_leave_the_connection_usable_even_mid_message() {
    let (raw, theirs) = UnixStream::pair().unwrap();
    let b = Connection::from_fd(OwnedFd::from(theirs));
    let start = Instant::now();
    assert!(matches!(
        b.recv_timeout::<u32>(Duration::from_millis(50)),
        Err(RecvError::Timeout)
    ));
    assert!(start.elapsed() >= Duration::from_millis(45));
    assert!(!b.poll(Some(Duration::from_millis(20))).unwrap());
    // Half a frame, a timeout, then the rest.
    let frame = frame(&mp_wire::encode(&0xdead_beef_u32).unwrap().bytes, 0);
    let mut raw = raw;
    raw.write_all(&frame[..10]).unwrap();
    assert!(matches!(
        b.recv_timeout::<u32>(Duration::from_millis(30)),
        Err(RecvError::Timeout)
    ));
    raw.write_all(&frame[10..]).unwrap();
    assert_eq!(b.recv_timeout::<u32>(T).unwrap(), 0xdead_beef);
}

#[test]
fn decode_errors_keep_the_connection_usable() {
    let (a, b) = pipe(true).unwrap();
    a.send(&"not a number").unwrap();
    a.send(&3u16).unwrap();
    assert!(matches!(b.recv::<u64>(), Err(RecvError::Decode(_))));
    assert_eq!(b.recv::<u16>().unwrap(), 3);
}

#[test]
fn recv_with_lends_small_and_large_messages_and_their_fds() {
    for duplex in [true, false] {
        let (a, b) = pipe(duplex).unwrap();
        let (a, b) = if duplex { (a, b) } else { (b, a) };
        let big = vec![5u8; 300_000];
        let sender = std::thread::spawn(move || {
            a.send_bytes(b"small").unwrap();
            a.send_bytes(&big).unwrap();
            a.send(&marked_fd(9)).unwrap();
            a
        });
        let got = b
            .recv_with(Some(T), |bytes, fds| (bytes.to_vec(), fds.len()))
            .unwrap();
        assert_eq!(got, (b"small".to_vec(), 0));
        let got = b.recv_with(Some(T), |bytes, _| {
            (bytes.len(), bytes.iter().all(|&x| x == 5))
        });
        assert_eq!(got.unwrap(), (300_000, true));
        let fd: SharedFd = b.recv_with(None, mp_wire::decode_from).unwrap().unwrap();
        let mut marker = [0u8; 1];
        mp_sys::fd::read(fd.as_fd(), &mut marker).unwrap();
        assert_eq!(marker, [9]);
        let a = sender.join().unwrap();
        let started = Instant::now();
        let r = b.recv_with(Some(Duration::from_millis(50)), |_, _| ());
        assert!(matches!(r, Err(RecvError::Timeout)), "{r:?}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(a);
        assert!(matches!(
            b.recv_with(Some(T), |_, _| ()),
            Err(RecvError::Eof)
        ));
    }
}

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
fn fds_go_to_the_message_that_carried_them_when_many_are_buffered() {
    let (a, b) = pipe(true).unwrap();
    // Many small messages written before any read, so one recvmsg sees
    // several frames; every third carries fds.
    for i in 0..60u8 {
        if i % 3 == 0 {
            a.send(&(i, vec![marked_fd(i), marked_fd(i + 100)]))
                .unwrap();
        } else {
            a.send(&(i, Vec::<SharedFd>::new())).unwrap();
        }
    }
    for i in 0..60u8 {
        let (n, fds): (u8, Vec<SharedFd>) = b.recv_timeout(T).unwrap();
        assert_eq!(n, i);
        let markers: Vec<u8> = fds.into_iter().map(read_marker).collect();
        if i % 3 == 0 {
            assert_eq!(markers, vec![i, i + 100]);
        } else {
            assert!(markers.is_empty());
        }
    }
}

#[test]
fn a_connection_travels_through_a_connection() {
    let (a, b) = pipe(true).unwrap();
    let (x, y) = pipe(true).unwrap();
    a.send(&x).unwrap();
    drop(x);
    let x2: Connection = b.recv().unwrap();
    x2.send(&"through").unwrap();
    assert_eq!(y.recv::<String>().unwrap(), "through");
    // A one-way end keeps its direction.
    let (r, w) = pipe(false).unwrap();
    a.send(&(r, w)).unwrap();
    let (r2, w2): (Connection, Connection) = b.recv().unwrap();
    assert!(r2.readable() && !r2.writable() && w2.writable() && !w2.readable());
}

#[test]
fn a_connection_with_unread_data_refuses_to_travel() {
    let (a, b) = pipe(true).unwrap();
    let (x, y) = pipe(true).unwrap();
    y.send(&1u8).unwrap();
    y.send(&2u8).unwrap();
    assert_eq!(x.recv::<u8>().unwrap(), 1); // the second is now buffered
    assert!(matches!(a.send(&x), Err(SendError::Encode(_))));
    assert_eq!(x.recv::<u8>().unwrap(), 2);
    a.send(&x).unwrap();
    let _x2: Connection = b.recv().unwrap();
}

#[test]
fn large_messages_arrive_intact() {
    let (a, b) = pipe(true).unwrap();
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    let expected = big.clone();
    let t = std::thread::spawn(move || {
        a.send_bytes(&big).unwrap();
        a.send(&serde_bytes::ByteBuf::from(big)).unwrap();
        a
    });
    assert!(b.recv_bytes(None).unwrap() == expected);
    let v: serde_bytes::ByteBuf = b.recv_timeout(T).unwrap();
    assert!(v.into_vec() == expected);
    drop(t.join().unwrap());
}

/// A frame in mp-wire's layout, for writing by hand.
fn frame(payload: &[u8], fds: u32) -> Vec<u8> {
    let mut f = b"MPW\x01".to_vec();
    f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    f.extend_from_slice(&fds.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// A connection whose peer is a raw socket we write arbitrary bytes to.
fn raw_peer(bytes: &[u8], close: bool) -> (Connection, Option<UnixStream>) {
    let (mut raw, theirs) = UnixStream::pair().unwrap();
    raw.write_all(bytes).unwrap();
    let conn = Connection::from_fd(OwnedFd::from(theirs));
    (conn, (!close).then_some(raw))
}

#[test]
fn garbage_is_malformed_and_then_unusable() {
    let (c, _raw) = raw_peer(b"GET / HTTP/1.1\r\n\r\n", false);
    assert!(matches!(c.recv::<u8>(), Err(RecvError::Malformed(_))));
    assert!(matches!(c.recv::<u8>(), Err(RecvError::Unusable(_))));
}

#[test]
fn truncated_frames_are_typed() {
    let f = frame(b"hello world", 0);
    let (c, _) = raw_peer(&f[..f.len() - 3], true);
    match c.recv_bytes(None) {
        Err(RecvError::Truncated { expected, got }) => {
            assert_eq!((expected, got), (f.len() as u64, f.len() as u64 - 3));
        }
        other => panic!("{other:?}"),
    }
    let (c, _) = raw_peer(&f[..7], true);
    assert!(matches!(
        c.recv_bytes(None),
        Err(RecvError::Truncated { .. })
    ));
    // A large frame cut short, read in direct mode.
    let mut big = frame(&vec![1u8; 200_000], 0);
    big.truncate(150_000);
    let (tx, rx) = UnixStream::pair().unwrap();
    let c = Connection::from_fd(OwnedFd::from(rx));
    let t = std::thread::spawn(move || {
        let mut tx = tx;
        tx.write_all(&big).unwrap();
    });
    assert!(matches!(
        c.recv_bytes(None),
        Err(RecvError::Truncated { .. })
    ));
    t.join().unwrap();
}

#[test]
fn absurd_lengths_and_fd_counts_are_refused_before_allocating() {
    let mut f = frame(b"", 0);
    f[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
    let (c, _raw) = raw_peer(&f, false);
    assert!(matches!(
        c.recv_bytes(None),
        Err(RecvError::TooLarge { .. })
    ));
    let (c, _raw) = raw_peer(&frame(b"x", 1_000_000), false);
    assert!(matches!(c.recv_bytes(None), Err(RecvError::Malformed(_))));
    // Declares fds that never came.
    let (c, _raw) = raw_peer(&frame(b"x", 2), false);
    assert!(matches!(c.recv_bytes(None), Err(RecvError::Malformed(_))));
}

#[test]
fn stray_fds_are_malformed() {
    let (raw, theirs) = UnixStream::pair().unwrap();
    let c = Connection::from_fd(OwnedFd::from(theirs));
    let f = frame(b"abc", 0); // declares no fds but carries one
    let extra = mp_sys::fd::devnull().unwrap();
    mp_sys::socket::send_with_fds(&raw, &f, &[extra.as_fd()]).unwrap();
    mp_sys::socket::send_with_fds(&raw, &frame(b"d", 0), &[]).unwrap();
    let first = c.recv_bytes(None);
    let second = c.recv_bytes(None);
    assert!(
        matches!(first, Err(RecvError::Malformed(_)))
            || matches!(second, Err(RecvError::Malformed(_))),
        "{first:?} {second:?}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes from a peer give values or typed errors, never a panic
        /// or a hang (the peer closes, so every read ends).
        #[test]
        fn any_stream_ends_in_a_typed_result(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (c, _) = raw_peer(&bytes, true);
            for _ in 0..50 {
                match c.recv_timeout::<(u32, String)>(Duration::from_secs(5)) {
                    Ok(_) | Err(RecvError::Decode(_)) => continue,
                    Err(RecvError::Timeout) => panic!("closed stream timed out"),
                    Err(_) => break,
                }
            }
        }

        /// Valid frames with mutated bytes: still no panic.
        #[test]
        fn mutated_frames(payload in proptest::collection::vec(any::<u8>(), 0..100),
                          at in 0usize..200, byte in any::<u8>()) {
            let mut f = frame(&payload, 0);
            f.extend(frame(&payload, 0));
            let at = at % f.len();
            f[at] = byte;
            let (c, _) = raw_peer(&f, true);
            for _ in 0..4 {
                if c.recv_bytes_timeout(None, Duration::from_secs(5)).is_err() { break; }
            }
        }

        /// Whatever is sent as bytes comes back as the same bytes.
        #[test]
        fn bytes_round_trip(msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 0..20)) {
            let (a, b) = pipe(true).unwrap();
            let sent = msgs.clone();
            let t = std::thread::spawn(move || for m in &sent { a.send_bytes(m).unwrap(); });
            for m in &msgs {
                prop_assert_eq!(&b.recv_bytes_timeout(None, T).unwrap(), m);
            }
            t.join().unwrap();
        }
    }
}
