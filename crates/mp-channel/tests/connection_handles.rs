//! A connection end's handles and state: `try_clone` shares one end
//! (messages never interleave or split between handles), and an end that a
//! too-long message made unusable says so through `readable()`, as in Python.

use std::thread;
use std::time::Duration;

use mp_channel::{pipe, Connection, RecvError};

const T: Duration = Duration::from_secs(10);

#[test]
fn a_message_over_the_maximum_makes_the_end_unreadable_but_still_writable() {
    for (a, b) in [pipe(true).unwrap(), socket_pair()] {
        a.send_bytes(b"0123456789").unwrap();
        assert!(b.readable());
        assert!(matches!(
            b.recv_bytes(Some(4)),
            Err(RecvError::TooLarge { len: 10, max: 4 })
        ));
        assert!(!b.readable(), "Python sets readable to False here");
        assert!(matches!(
            b.poll(Some(Duration::ZERO)),
            Err(RecvError::NotReadable)
        ));
        assert!(matches!(b.recv_bytes(None), Err(RecvError::Unusable(_))));
        assert!(b.writable());
        b.send_bytes(b"still sends").unwrap();
        assert_eq!(a.recv_bytes_timeout(None, T).unwrap(), b"still sends");
        // A copy sent elsewhere cannot receive either.
        let (carrier, there) = pipe(true).unwrap();
        carrier.send(&b).unwrap();
        let copy: Connection = there.recv_timeout(T).unwrap();
        assert!(!copy.readable());
        assert!(copy.writable());
    }
}

/// A connected socket pair as connections.
fn socket_pair() -> (Connection, Connection) {
    let (x, y) = mp_sys::socket::socketpair().unwrap();
    (Connection::from_fd(x), Connection::from_fd(y))
}

#[test]
fn clones_send_whole_messages_concurrently() {
    let (a, b) = pipe(true).unwrap();
    let senders: Vec<_> = (0u8..2)
        .map(|id| {
            let handle = a.try_clone().unwrap();
            thread::spawn(move || {
                for _ in 0..20 {
                    // Large enough to take several writes on a pipe.
                    handle.send_bytes(&vec![id; 200_000]).unwrap();
                }
            })
        })
        .collect();
    let mut counts = [0; 2];
    for _ in 0..40 {
        let msg = b.recv_bytes_timeout(None, T).unwrap();
        assert_eq!(msg.len(), 200_000);
        assert!(msg.iter().all(|&x| x == msg[0]), "messages interleaved");
        counts[usize::from(msg[0])] += 1;
    }
    assert_eq!(counts, [20, 20]);
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn clones_share_the_receive_buffer_and_the_end_lives_until_the_last_handle() {
    let (a, b) = pipe(true).unwrap();
    let b2 = b.try_clone().unwrap();
    a.send(&1u32).unwrap();
    a.send(&2u32).unwrap();
    // One read may take in both messages; the other handle still gets its own.
    assert_eq!(b.recv_timeout::<u32>(T).unwrap(), 1);
    assert_eq!(b2.recv_timeout::<u32>(T).unwrap(), 2);
    // The clone keeps the end open after the original is gone...
    let a2 = a.try_clone().unwrap();
    drop(a);
    a2.send(&3u32).unwrap();
    assert_eq!(b.recv_timeout::<u32>(T).unwrap(), 3);
    // ...until it goes too.
    a2.close();
    assert!(matches!(b2.recv_timeout::<u32>(T), Err(RecvError::Eof)));
    // An end made unusable is unusable through every handle.
    let (c, d) = pipe(true).unwrap();
    let d2 = d.try_clone().unwrap();
    c.send_bytes(b"too long").unwrap();
    assert!(d.recv_bytes(Some(1)).is_err());
    assert!(!d2.readable());
}
