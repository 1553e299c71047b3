//! `ExclusiveConnection`, under the start method chosen by
//! `MULTIPROCESS_START_METHOD`: made only from an end no other handle
//! shares, keeping what the end had received; a child that turns its end
//! of a Process argument exclusive and echoes through it (messages with
//! fds too, batches, end of stream); back to a `Connection`.

use std::time::Duration;

use mp_channel::{pipe, Connection, ExclusiveConnection, RecvError};
use mp_process::Process;
use mp_wire::{Message, SharedFd};

const T: Duration = Duration::from_secs(30);

#[test]
fn a_shared_end_is_not_made_exclusive() {
    let (a, b) = pipe(true).unwrap();
    let other = a.try_clone().unwrap();
    let a = a.into_exclusive().expect_err("another handle shares it");
    // Given back whole.
    a.send(&1u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 1);
    drop(other);
    let mut a = a.into_exclusive().expect("the last handle");
    a.send(&2u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 2);
}

#[test]
fn what_was_received_stays() {
    let (a, b) = pipe(true).unwrap();
    b.send_many(&[1u32, 2, 3].map(|n| mp_wire::encode(&n).unwrap()))
        .unwrap();
    // One read takes in all three; the first is returned, two stay buffered.
    assert_eq!(a.recv::<u32>().unwrap(), 1);
    assert!(a.has_buffered());
    let mut a = a.into_exclusive().unwrap();
    assert!(a.has_buffered());
    let mut next = || mp_wire::decode::<u32>(a.try_recv_buffered().unwrap().unwrap()).unwrap();
    assert_eq!((next(), next()), (2, 3));
    assert!(a.try_recv_buffered().unwrap().is_none());
    assert!(!a.has_buffered());
    assert!(a.try_recv_message().unwrap().is_none());
    // And back: still the same end.
    let a = Connection::from(a);
    b.send(&4u32).unwrap();
    assert_eq!(a.recv::<u32>().unwrap(), 4);
}

#[test]
fn directions_are_kept() {
    let (rx, tx) = pipe(false).unwrap();
    let (mut rx, mut tx) = (rx.into_exclusive().unwrap(), tx.into_exclusive().unwrap());
    assert!(rx.readable() && !rx.writable());
    assert!(tx.writable() && !tx.readable());
    assert!(matches!(
        rx.send(&1u8),
        Err(mp_channel::SendError::NotWritable)
    ));
    assert!(matches!(tx.try_recv_message(), Err(RecvError::NotReadable)));
    tx.send(&5u8).unwrap();
    assert!(rx.poll(Some(T)).unwrap());
    let msg = rx.recv_message(Some(T)).unwrap();
    assert_eq!(mp_wire::decode::<u8>(msg).unwrap(), 5);
    assert!(matches!(
        rx.recv_message(Some(Duration::from_millis(20))),
        Err(RecvError::Timeout)
    ));
    drop(tx);
    assert!(matches!(rx.recv_message(Some(T)), Err(RecvError::Eof)));
}

/// The child's side: echoes each message (with its fds) until an empty
/// one (under fork the child holds a copy of the parent's end too, so it
/// would never see end of stream).
fn echo(conn: Connection) {
    let mut conn: ExclusiveConnection = conn.into_exclusive().expect("the child's only handle");
    loop {
        let msg = conn.recv_message(Some(T)).unwrap();
        if msg.bytes.is_empty() {
            return;
        }
        conn.send_message(&msg, Some(T)).unwrap();
    }
}

#[test]
fn a_child_echoes_through_its_exclusive_end() {
    let (ours, theirs) = pipe(true).unwrap();
    let mut p = Process::new(echo, (theirs,));
    p.start().unwrap();
    let mut ours = ours.into_exclusive().unwrap();
    // One at a time, a batch, and a message carrying an fd.
    for n in 0..100u64 {
        ours.send(&n).unwrap();
        let back = ours.recv_message(Some(T)).unwrap();
        assert_eq!(mp_wire::decode::<u64>(back).unwrap(), n);
    }
    let batch: Vec<Message> = (0..50u64).map(|n| mp_wire::encode(&n).unwrap()).collect();
    ours.send_many(&batch).unwrap();
    for n in 0..50u64 {
        let back = ours.recv_message(Some(T)).unwrap();
        assert_eq!(mp_wire::decode::<u64>(back).unwrap(), n);
    }
    // The read end of a pipe goes out and comes back: it reads what is
    // written into the pipe here.
    let (r, w) = mp_sys::fd::pipe().unwrap();
    ours.send(&SharedFd::from(r)).unwrap();
    let back: SharedFd = mp_wire::decode(ours.recv_message(Some(T)).unwrap()).unwrap();
    mp_sys::fd::write_all(&w, b"through the child").unwrap();
    let mut text = [0u8; 17];
    assert_eq!(mp_sys::fd::read(&back, &mut text).unwrap(), 17);
    assert_eq!(&text, b"through the child");
    assert!(ours.as_fd().try_clone_to_owned().is_ok());
    ours.send_message(&Message::default(), Some(T)).unwrap();
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        panic!("the child did not finish within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}
