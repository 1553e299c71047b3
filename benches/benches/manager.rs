//! M6: a manager dict `set` + `get` from a child process (two request/reply
//! round trips to the server), beside its raw limit measured in the same
//! run: two round trips of 8 bytes over a Unix socket pair between two
//! processes, with a child that echoes.
//!
//! The timed loop runs in the child: criterion sends it an iteration count
//! over a control socket and gets the elapsed nanoseconds back.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use mp_manager::{DictProxy, Manager};
use multiprocess::wire::SharedFd;
use multiprocess::Process;

/// A blocking read in the harness gives up after this long.
const HANG: Duration = Duration::from_secs(60);

fn stream(fd: SharedFd) -> UnixStream {
    let s = UnixStream::from(std::os::fd::OwnedFd::from(fd));
    s.set_read_timeout(Some(HANG)).expect("timeout");
    s
}

fn read_u64(s: &mut UnixStream) -> Option<u64> {
    let mut b = [0u8; 8];
    s.read_exact(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

/// In the child: run `iters` set+get pairs per request, report nanoseconds.
fn dict_client(d: DictProxy<u64, u64>, ctl: SharedFd) {
    let mut ctl = stream(ctl);
    while let Some(iters) = read_u64(&mut ctl) {
        let t = Instant::now();
        for i in 0..iters {
            d.set(1, i).expect("set");
            assert_eq!(d.get(&1).expect("get"), Some(i));
        }
        let ns = t.elapsed().as_nanos() as u64;
        ctl.write_all(&ns.to_le_bytes()).expect("report");
    }
}

/// In the child: echo 8-byte messages until end of stream.
fn echo(sock: SharedFd) {
    let mut s = stream(sock);
    let mut b = [0u8; 8];
    while s.read_exact(&mut b).is_ok() {
        if s.write_all(&b).is_err() {
            return;
        }
    }
}

fn m6(c: &mut Criterion) {
    let mut g = c.benchmark_group("M6_manager_dict");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));

    let manager = Manager::new().expect("manager");
    let d = manager.dict::<u64, u64>().expect("dict");
    let (ours, theirs) = mp_sys::socket::socketpair().expect("socketpair");
    let mut child = Process::new(dict_client, (d, SharedFd::from(theirs)));
    child.start().expect("start");
    let mut ctl = stream(SharedFd::from(ours));
    g.bench_function("set_get_from_child", |b| {
        b.iter_custom(|iters| {
            ctl.write_all(&iters.to_le_bytes()).expect("ask");
            Duration::from_nanos(read_u64(&mut ctl).expect("child reports"))
        })
    });
    drop(ctl);
    child.join_timeout(HANG).expect("join");

    let (ours, theirs) = mp_sys::socket::socketpair().expect("socketpair");
    let mut echoer = Process::new(echo, (SharedFd::from(theirs),));
    echoer.start().expect("start");
    let mut s = stream(SharedFd::from(ours));
    g.bench_function("raw_two_socket_round_trips", |b| {
        let mut buf = [0u8; 8];
        b.iter(|| {
            for _ in 0..2 {
                s.write_all(&buf).expect("write");
                s.read_exact(&mut buf).expect("read");
            }
        })
    });
    drop(s);
    echoer.join_timeout(HANG).expect("join");
    g.finish();
}

criterion_group!(benches, m6);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
