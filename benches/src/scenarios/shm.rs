//! M8: a named 1 MiB SharedMemory block: create, attach, close, unlink.

use std::time::Instant;

use multiprocess::shared_memory::SharedMemory;

use super::{iters, Measurement};

pub(super) fn m8(quick: bool) -> Measurement {
    let n = iters(quick, 2_000);
    let t = Instant::now();
    for _ in 0..n {
        let shm = SharedMemory::create(1 << 20).expect("create");
        let mut other = SharedMemory::attach(shm.name()).expect("attach");
        other.close();
        shm.unlink().expect("unlink");
        drop(shm);
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e6 / n as f64,
        unit: "us",
    }
}
