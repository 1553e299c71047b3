//! Queues and connection ends used by a forked child through the parent's
//! own handles (a closure's capture, under fork).
//!
//! A queue: the child has a feeder of its own — it neither waits for the
//! parent's feeder mutex (held by a parent thread at the fork, it stays
//! locked for ever in the child) nor loses what it put when it ends (its
//! handles are copies whose count never reaches zero, so no `Drop` flushes
//! them).
//!
//! A connection end: the child has receiving and sending state of its own,
//! so a parent thread waiting in `recv` at the moment of the fork (holding
//! the end's reader lock) does not stop the child, and bytes the parent had
//! taken in are not received twice.
//!
//! A `PyConnection`: the child has its own reader (the lock a parent thread
//! waiting in `recv_bytes` holds, and the message it is in the middle of).
//!
//! A listener: the child accepts with handshakes of its own (it neither
//! waits for the lock of a parent thread in `accept` nor drives, and so
//! steals, the handshakes its parent has under way), and dropping its copy
//! leaves the parent's socket file in place.
//!
//! These children are closures, which only the fork start method runs; the
//! tests pin it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mp_channel::{client, pipe, Address, ConnectError, Listener, PyConnection, Queue, RecvError};
use mp_process::{Process, StartMethod};

const T: Duration = Duration::from_secs(30);

fn forked(f: impl FnOnce() + Send + 'static) -> Process {
    let mut p = Process::from_closure(f).start_method(StartMethod::Fork);
    p.start().unwrap();
    p
}

fn finish(mut p: Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("the child did not end within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

/// The child puts more than the ring holds and ends at once: what waits in
/// its feeder's buffer reaches the queue before the child ends.
#[test]
fn a_forked_child_ends_only_once_what_it_put_is_in_the_queue() {
    let q = Queue::<Vec<u8>>::with_ring(0, 64 * 1024).unwrap();
    let qc = q.clone();
    let p = forked(move || {
        for i in 0..40u8 {
            qc.put(&vec![i; 30_000]).unwrap();
        }
    });
    for i in 0..40u8 {
        let v = q.get_timeout(true, Some(T)).expect("every item arrives");
        assert_eq!((v[0], v.len()), (i, 30_000));
    }
    finish(p);
    assert!(q.empty());
}

/// A parent thread keeps its feeder busy (a small ring, large items, a slow
/// consumer), so its feeder mutex is often held at the moment of a fork;
/// each forked child puts through the copied handle and must end.
#[test]
fn a_forked_child_puts_although_the_parents_feeder_was_busy_at_the_fork() {
    let q = Queue::<Vec<u8>>::with_ring(0, 256 * 1024).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (q, stop) = (q.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                q.put(&vec![7u8; 100_000]).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let consumer = {
        let (q, stop) = (q.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut small = 0;
            while !stop.load(Ordering::Relaxed) || !q.empty() {
                match q.get_timeout(true, Some(Duration::from_millis(100))) {
                    Ok(v) if v.len() == 1 => small += 1,
                    Ok(_) => std::thread::sleep(Duration::from_micros(300)),
                    Err(_) => {}
                }
            }
            small
        })
    };
    for i in 0..40u8 {
        let qc = q.clone();
        let p = forked(move || qc.put(&vec![i]).unwrap());
        finish(p);
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), 40, "every child's item arrived");
}

#[test]
fn a_forked_child_uses_an_end_a_parent_thread_is_reading() {
    let (ours, theirs) = pipe(true).unwrap();
    let reading = ours.try_clone().unwrap();
    let reader = std::thread::spawn(move || reading.recv::<u32>());
    // Let the thread take the reader lock and sleep in `read`.
    std::thread::sleep(Duration::from_millis(100));
    let child_end = ours.try_clone().unwrap();
    let p = forked(move || {
        // Both halves of the end: a look at what is buffered (the reader
        // lock) and a send (the writer lock).
        assert!(!child_end.poll(Some(Duration::from_millis(10))).unwrap());
        child_end.send(&7u32).unwrap();
    });
    finish(p);
    assert_eq!(theirs.recv::<u32>().unwrap(), 7);
    theirs.send(&1u32).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 1);
}

#[test]
fn a_forked_child_does_not_receive_what_its_parent_took_in() {
    let (ours, theirs) = pipe(true).unwrap();
    // One read takes in both messages; the parent has received the first,
    // the second waits in its end's buffer.
    theirs.send(&1u32).unwrap();
    theirs.send(&2u32).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ours.recv::<u32>().unwrap(), 1);
    assert!(ours.has_buffered());
    let child_end = ours.try_clone().unwrap();
    let p = forked(move || {
        // The child's reads start at the pipe: the next message there.
        assert!(!child_end.has_buffered());
        assert_eq!(child_end.recv::<u32>().unwrap(), 3);
    });
    theirs.send(&3u32).unwrap();
    finish(p);
    assert_eq!(ours.recv::<u32>().unwrap(), 2);
}

#[test]
fn a_forked_child_uses_a_py_connection_a_parent_thread_is_reading() {
    let (ours, theirs) = pipe(true).unwrap();
    let ours = Arc::new(PyConnection::from(ours));
    let theirs = PyConnection::from(theirs);
    let reading = Arc::clone(&ours);
    let reader = std::thread::spawn(move || reading.recv_bytes(None));
    // Let the thread take the reader lock and sleep in `read`.
    std::thread::sleep(Duration::from_millis(100));
    let child_end = Arc::clone(&ours);
    let p = forked(move || {
        let got = child_end.recv_bytes_timeout(None, Duration::from_millis(10));
        assert!(matches!(got, Err(RecvError::Timeout)), "{got:?}");
        child_end.send_bytes(b"from the child").unwrap();
    });
    finish(p);
    assert_eq!(theirs.recv_bytes(None).unwrap(), b"from the child");
    theirs.send_bytes(b"to the thread").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"to the thread");
}

const KEY: &[u8] = b"fork copies";

#[test]
fn a_forked_child_accepts_although_a_parent_thread_was_accepting() {
    let listener = Arc::new(Listener::bind(None, Some(KEY)).unwrap());
    let (stop_rx, stop_tx) = pipe(false).unwrap();
    let accepting = Arc::clone(&listener);
    let acceptor = std::thread::spawn(move || {
        accepting
            .accept_unless(&[stop_rx.as_fd()])
            .map(|c| c.is_some())
    });
    // Let the thread take the handshake lock and sleep in `poll`.
    std::thread::sleep(Duration::from_millis(100));
    let copy = Arc::clone(&listener);
    let p = forked(move || {
        assert_eq!(copy.pending_handshakes(), 0);
        assert_eq!(copy.last_accepted(), None);
        let got = copy.accept_timeout(Duration::from_millis(10));
        assert!(matches!(got, Err(ConnectError::Timeout)), "{got:?}");
    });
    finish(p);
    stop_tx.send(&()).unwrap();
    assert!(!acceptor.join().unwrap().unwrap(), "the thread was stopped");
}

#[test]
fn a_forked_child_leaves_its_parents_handshakes_alone() {
    let listener = Arc::new(Listener::bind(Some(Address::tcp_loopback(0)), Some(KEY)).unwrap());
    let address = listener.address().clone();
    let connecting = std::thread::spawn(move || client(&address, Some(KEY)).map(|_| ()));
    // Take the client in and start its handshake, without waiting for it.
    let deadline = std::time::Instant::now() + T;
    while listener.pending_handshakes() == 0 {
        assert!(std::time::Instant::now() < deadline, "the client connects");
        assert!(matches!(
            listener.accept_timeout(Duration::ZERO),
            Err(ConnectError::Timeout)
        ));
    }
    // The client's answer to the challenge arrives, unread.
    std::thread::sleep(Duration::from_millis(100));
    let copy = Arc::clone(&listener);
    let p = forked(move || {
        assert_eq!(
            copy.pending_handshakes(),
            0,
            "the parent's are not the child's"
        );
        let got = copy.accept_timeout(Duration::from_millis(100));
        assert!(matches!(got, Err(ConnectError::Timeout)), "{got:?}");
    });
    finish(p);
    // The parent finishes the handshake it began.
    assert_eq!(listener.pending_handshakes(), 1);
    listener.accept_timeout(T).unwrap();
    connecting.join().unwrap().unwrap();
}

/// A child closes its copy of the parent's listener (as a pre-forked
/// worker that must not accept does in Python): the socket file stays, the
/// parent goes on accepting there.
#[test]
fn a_forked_child_closing_its_copy_leaves_the_socket_file() {
    let listener = Listener::bind(None, None).unwrap();
    let address = listener.address().clone();
    let Address::Unix(path) = address.clone() else {
        panic!("a default address is a Unix socket path");
    };
    let slot = Arc::new(std::sync::Mutex::new(Some(listener)));
    let copy = Arc::clone(&slot);
    let p = forked(move || {
        let mine = copy.lock().unwrap().take().expect("the copy");
        mine.close();
    });
    finish(p);
    assert!(path.exists(), "the child removed its parent's socket file");
    let listener = slot.lock().unwrap().take().unwrap();
    let connecting = std::thread::spawn(move || client(&address, None).map(|_| ()));
    listener.accept_timeout(T).unwrap();
    connecting.join().unwrap().unwrap();
    drop(listener);
    assert!(!path.exists(), "the parent's drop removes it");
}
