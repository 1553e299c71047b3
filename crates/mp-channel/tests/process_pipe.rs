//! Connections between processes, under the start method chosen by
//! `MULTIPROCESS_START_METHOD`: a Connection as a Process argument, a
//! Connection sent through a Connection, 64 MiB messages, fds sent by a
//! child on a one-way pipe, `wait` on connections and process sentinels.

use std::time::Duration;

use std::os::fd::AsFd;

use mp_channel::{pipe, wait, Connection, RecvError};
use mp_process::Process;
use mp_wire::SharedFd;
use serde::{Deserialize, Serialize};

const T: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Msg {
    Num(i64),
    Stop,
}

fn doubler(conn: Connection) {
    while let Ok(Msg::Num(n)) = conn.recv::<Msg>() {
        conn.send(&(n * 2)).unwrap();
    }
}

fn finish(mut p: Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("child did not finish within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn connection_as_process_argument() {
    let (parent, child) = pipe(true).unwrap();
    let mut p = Process::new(doubler, (child,));
    p.start().unwrap();
    for n in [10, 20, 30] {
        parent.send(&Msg::Num(n)).unwrap();
    }
    parent.send(&Msg::Stop).unwrap();
    finish(p);
    // Replies stay readable after the child exited.
    let mut got = Vec::new();
    while parent.poll(Some(Duration::ZERO)).unwrap() {
        match parent.recv::<i64>() {
            Ok(v) => got.push(v),
            Err(RecvError::Eof) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, [20, 40, 60]);
}

fn receive_a_connection(carrier: Connection) {
    let inner: Connection = carrier.recv_timeout(T).unwrap();
    let n: u32 = inner.recv_timeout(T).unwrap();
    inner.send(&(n + 1)).unwrap();
    carrier.send(&"done").unwrap();
}

#[test]
fn connection_through_a_connection_to_a_child() {
    let (carrier, carrier_child) = pipe(true).unwrap();
    let mut p = Process::new(receive_a_connection, (carrier_child,));
    p.start().unwrap();
    let (mine, theirs) = pipe(true).unwrap();
    carrier.send(&theirs).unwrap();
    drop(theirs);
    mine.send(&41u32).unwrap();
    assert_eq!(mine.recv_timeout::<u32>(T).unwrap(), 42);
    assert_eq!(carrier.recv_timeout::<String>(T).unwrap(), "done");
    finish(p);
}

fn echo_bytes(conn: Connection) {
    let m = conn.recv_bytes(None).unwrap();
    conn.send_bytes(&m).unwrap();
    let v: serde_bytes::ByteBuf = conn.recv().unwrap();
    conn.send(&v).unwrap();
}

#[test]
fn sixty_four_mib_both_ways() {
    let (parent, child) = pipe(true).unwrap();
    let mut p = Process::new(echo_bytes, (child,));
    p.start().unwrap();
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i ^ (i >> 11)) as u8).collect();
    parent.send_bytes(&big).unwrap();
    assert!(parent.recv_bytes_timeout(None, T).unwrap() == big);
    parent.send(&serde_bytes::Bytes::new(&big)).unwrap();
    let back: serde_bytes::ByteBuf = parent.recv_timeout(T).unwrap();
    assert!(back.into_vec() == big);
    finish(p);
}

fn sleep_then_send(conn: Connection, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    conn.send(&"late").unwrap();
}

fn sleep_then_exit(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn wait_on_connections_and_sentinels() {
    let (a, a_child) = pipe(true).unwrap();
    let mut sender = Process::new(sleep_then_send, (a_child, 100u64));
    let mut sleeper = Process::new(sleep_then_exit, (2_000u64,));
    sender.start().unwrap();
    sleeper.start().unwrap();
    {
        let s = sleeper.sentinel().unwrap();
        assert!(wait(&[&a, &s], Some(Duration::ZERO)).unwrap().is_empty());
        assert_eq!(wait(&[&s, &a], Some(T)).unwrap(), vec![1]);
        assert_eq!(a.recv::<String>().unwrap(), "late");
        assert_eq!(wait(&[&s], Some(T)).unwrap(), vec![0]);
    }
    finish(sleeper);
    finish(sender);
}

/// Sends 30 messages, every third carrying two pipe ends marked `i` and `i + 100`.
fn send_marked_fds(out: Connection) {
    for i in 0..30u8 {
        let fds = if i % 3 == 0 {
            [i, i + 100]
                .iter()
                .map(|&m| {
                    let (r, w) = mp_sys::fd::pipe().unwrap();
                    mp_sys::fd::write_all(&w, &[m]).unwrap();
                    SharedFd::from(r)
                })
                .collect()
        } else {
            Vec::new()
        };
        out.send(&(i, fds)).unwrap();
    }
}

#[test]
fn fds_from_a_child_stay_with_their_messages() {
    let (r, w) = pipe(false).unwrap();
    let mut p = Process::new(send_marked_fds, (w,));
    p.start().unwrap();
    for i in 0..30u8 {
        let (n, fds): (u8, Vec<SharedFd>) = r.recv_timeout(T).unwrap();
        assert_eq!(n, i);
        let markers: Vec<u8> = fds
            .iter()
            .map(|fd| {
                let mut b = [0u8; 1];
                assert_eq!(rustix::io::read(fd.as_fd(), &mut b).unwrap(), 1);
                b[0]
            })
            .collect();
        let expected = if i % 3 == 0 { vec![i, i + 100] } else { vec![] };
        assert_eq!(markers, expected);
    }
    finish(p);
    assert!(matches!(r.recv_timeout::<u8>(T), Err(RecvError::Eof)));
}
