//! M6: a manager dict `set` + `get` pair from a client process (a child of
//! the benchmark, not the server).

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use multiprocess::managers::DictProxy;
use multiprocess::wire::SharedFd;
use multiprocess::{Manager, Process};

use super::{iters, Measurement};

/// The child: does `n` set+get pairs and reports the elapsed nanoseconds.
fn client(d: DictProxy<u64, u64>, n: u64, out: SharedFd) {
    for i in 0..100 {
        d.set(i, i).expect("set");
    }
    let t = Instant::now();
    for i in 0..n {
        d.set(i % 64, i).expect("set");
        let v = d.get(&(i % 64)).expect("get");
        assert_eq!(v, Some(i));
    }
    let ns = t.elapsed().as_nanos() as u64;
    let file = std::fs::File::from(out.into_inner());
    std::io::Write::write_all(&mut &file, &ns.to_le_bytes()).expect("report");
}

pub(super) fn m6(quick: bool) -> Measurement {
    let n = iters(quick, 20_000);
    let manager = Manager::new().expect("manager");
    let d: DictProxy<u64, u64> = manager.dict().expect("dict");
    let (r, w) = std::io::pipe().expect("pipe");
    let mut p = Process::new(client, (d, n, SharedFd::from(OwnedFd::from(w))));
    p.start().expect("start");
    let mut buf = [0u8; 8];
    std::io::Read::read_exact(&mut &r, &mut buf).expect("result");
    p.join_timeout(Duration::from_secs(30)).expect("join");
    assert_eq!(p.exitcode(), Some(0));
    Measurement {
        value: u64::from_le_bytes(buf) as f64 / 1e3 / n as f64,
        unit: "us",
    }
}
