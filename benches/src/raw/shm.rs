//! M8's raw limit: a named 1 MiB posix shared-memory block by hand —
//! `shm_open(O_CREAT|O_EXCL)`, `ftruncate`, `mmap`; attach with `shm_open`,
//! `fstat`, `mmap`; unmap both, close both, `shm_unlink`.

use std::hint::black_box;
use std::time::Instant;

use mp_sys::memfd::{set_size, shm_attach, shm_create, shm_unlink, size};
use mp_sys::mmap::Mapping;

use crate::scenarios::{iters, Measurement};

const MIB: usize = 1 << 20;

pub(super) fn m8(quick: bool) -> Measurement {
    let n = iters(quick, 2_000);
    let name = format!("mp-raw-m8-{}", std::process::id());
    let t = Instant::now();
    for _ in 0..n {
        let fd = shm_create(&name).expect("create");
        set_size(&fd, MIB as u64).expect("ftruncate");
        let map = Mapping::map_shared(&fd, MIB).expect("mmap");
        let fd2 = shm_attach(&name).expect("attach");
        let len = usize::try_from(size(&fd2).expect("fstat")).expect("size");
        let map2 = Mapping::map_shared(&fd2, len).expect("mmap");
        black_box((&map, &map2));
        drop((map2, fd2, map, fd));
        shm_unlink(&name).expect("unlink");
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e6 / n as f64,
        unit: "us",
    }
}
