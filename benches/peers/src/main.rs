//! `peer-scenarios`: the bench-compare scenarios that the Rust peers can
//! express, written the way their documentation shows — procspawn for
//! processes and its pool, ipc-channel for the channels — so `cargo xtask
//! bench-compare` can put them beside ours in the same run.
//!
//! Usage: `peer-scenarios <id> [--quick]` prints `RESULT <id> <value> <unit>`;
//! `peer-scenarios --list` prints `id<TAB>crate` for each scenario. The ids,
//! sizes and units are those of `mp-scenarios` (benches/src/scenarios); a
//! listed base id stands for its parameterised rows too (`S-10us` for
//! `S-10us@2w`, `M1-spawn` for `M1-spawn@1GB`, as in
//! benches/src/scenarios/families.rs).

use std::time::Instant;

use ipc_channel::ipc::{self, IpcReceiver, IpcSender};

mod rss;

/// Scenario id, the crate that runs it, and the runner.
type Entry = (&'static str, &'static str, fn(bool) -> (f64, &'static str));

const ALL: &[Entry] = &[
    ("M1-spawn", "procspawn", m1_spawn),
    ("M2", "ipc-channel", m2),
    ("M3a", "ipc-channel", m3a),
    ("M4a", "procspawn", m4a),
    ("M4b", "procspawn", m4b),
    ("M4c", "procspawn", m4c),
    ("RSS-idle-worker@spawn", "procspawn", rss::idle_worker_pss),
    ("USS-idle-worker@spawn", "procspawn", rss::idle_worker_uss),
];

/// The parameterised rows: base id, crate, and the runner given the
/// parameter (`2w`, `1GB`); `None` for a parameter it cannot take.
type Family = (
    &'static str,
    &'static str,
    fn(&str, bool) -> Option<(f64, &'static str)>,
);

const FAMILIES: &[Family] = &[
    ("S-10us", "procspawn", |p, q| scaling(10, p, q)),
    ("S-100us", "procspawn", |p, q| scaling(100, p, q)),
    ("S-1ms", "procspawn", |p, q| scaling(1000, p, q)),
    // Always M1's quick count with a large parent, as in families.rs.
    ("M1-spawn", "procspawn", |p, _| {
        parent_memory(p, || m1_spawn(true))
    }),
];

fn main() {
    procspawn::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for (id, krate, _) in ALL {
            println!("{id}\t{krate}");
        }
        for (id, krate, _) in FAMILIES {
            println!("{id}\t{krate}");
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let id = args.first().map_or("", String::as_str);
    let measured = match ALL.iter().find(|(name, ..)| *name == id) {
        Some((_, _, run)) => Some(run(quick)),
        None => id.split_once('@').and_then(|(base, param)| {
            let (_, _, run) = FAMILIES.iter().find(|(name, ..)| *name == base)?;
            run(param, quick)
        }),
    };
    let Some((value, unit)) = measured else {
        eprintln!("usage: peer-scenarios <id> [--quick] | --list");
        std::process::exit(2);
    };
    println!("RESULT {id} {value} {unit}");
}

/// `full` iterations, or a fifth of them in quick mode (as mp-scenarios).
fn iters(quick: bool, full: u64) -> u64 {
    if quick {
        (full / 5).max(1)
    } else {
        full
    }
}

/// M1 (spawn): `procspawn::spawn` of a trivial function, then join.
fn m1_spawn(quick: bool) -> (f64, &'static str) {
    let n = iters(quick, 20);
    procspawn::spawn((), |()| ()).join().expect("warm-up");
    let t = Instant::now();
    for _ in 0..n {
        procspawn::spawn((), |()| ()).join().expect("join");
    }
    (t.elapsed().as_secs_f64() * 1e6 / n as f64, "us")
}

/// M2: a round trip of a `u64` over a pair of ipc-channel channels to a
/// child that echoes.
fn m2(quick: bool) -> (f64, &'static str) {
    let rounds = iters(quick, 50_000);
    let (to_child, child_rx) = ipc::channel::<u64>().expect("channel");
    let (child_tx, from_child) = ipc::channel::<u64>().expect("channel");
    let child = procspawn::spawn(
        (child_rx, child_tx, rounds + 100),
        |(rx, tx, n): (IpcReceiver<u64>, IpcSender<u64>, u64)| {
            for _ in 0..n {
                tx.send(rx.recv().expect("recv")).expect("send");
            }
        },
    );
    for i in 0..100 {
        to_child.send(i).expect("send");
        from_child.recv().expect("recv");
    }
    let t = Instant::now();
    for i in 0..rounds {
        to_child.send(i).expect("send");
        assert_eq!(from_child.recv().expect("recv"), i);
    }
    let took = t.elapsed();
    child.join().expect("join");
    (took.as_secs_f64() * 1e6 / rounds as f64, "us")
}

/// M3a: a child sends small items over an ipc-channel channel, the parent
/// receives them (ipc-channel has no MPMC queue; this is its closest form).
fn m3a(quick: bool) -> (f64, &'static str) {
    let n = iters(quick, 500_000);
    let (tx, rx) = ipc::channel::<u64>().expect("channel");
    let t = Instant::now();
    let child = procspawn::spawn((tx, n), |(tx, n): (IpcSender<u64>, u64)| {
        for i in 0..n {
            tx.send(i).expect("send");
        }
    });
    for i in 0..n {
        assert_eq!(rx.recv().expect("recv"), i);
    }
    let took = t.elapsed();
    child.join().expect("join");
    (n as f64 / took.as_secs_f64(), "items/s")
}

fn double_all(xs: Vec<u64>) -> Vec<u64> {
    xs.into_iter().map(|x| x * 2).collect()
}

/// A procspawn pool of two, warmed up the way mp-scenarios warms ours.
fn pool() -> procspawn::Pool {
    let pool = procspawn::Pool::new(2).expect("pool");
    let warm: Vec<_> = (0..8u64)
        .map(|i| pool.spawn(vec![i; 125], double_all))
        .collect();
    for h in warm {
        h.join().expect("warm-up");
    }
    pool
}

/// M4a: `x * 2` over 200k ints on a pool of two. procspawn has no `map`;
/// the input is cut into the chunks Python's default chunk size gives
/// (200k / (2 × 4) = 25 000 per chunk), one spawn per chunk.
fn m4a(quick: bool) -> (f64, &'static str) {
    let pool = pool();
    let n = 200_000u64;
    let reps = iters(quick, 10);
    let t = Instant::now();
    for _ in 0..reps {
        let input: Vec<u64> = (0..n).collect();
        let handles: Vec<_> = input
            .chunks(25_000)
            .map(|c| pool.spawn(c.to_vec(), double_all))
            .collect();
        let mut out = Vec::with_capacity(n as usize);
        for h in handles {
            out.extend(h.join().expect("join"));
        }
        assert_eq!(out[(n - 1) as usize], 2 * (n - 1));
    }
    ((n * reps) as f64 / t.elapsed().as_secs_f64(), "tasks/s")
}

/// M4b: one task's round trip on the pool (spawn, then join).
fn m4b(quick: bool) -> (f64, &'static str) {
    let pool = pool();
    let n = iters(quick, 20_000);
    let t = Instant::now();
    for i in 0..n {
        let r = pool.spawn(i, |x: u64| x * 2).join().expect("join");
        assert_eq!(r, 2 * i);
    }
    (t.elapsed().as_secs_f64() * 1e6 / n as f64, "us")
}

/// M4c: 20k one-item tasks, results collected. procspawn has no
/// `imap_unordered`, and each pending task holds an ipc-channel pair of fds,
/// so 20k submitted at once fail with EMFILE ("Too many open files"); at most
/// [`M4C_WINDOW`] are kept in flight, joined oldest first.
fn m4c(_quick: bool) -> (f64, &'static str) {
    let pool = pool();
    let n = 20_000u64;
    let t = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let mut ok = 0u64;
    for i in 0..n {
        if pending.len() == M4C_WINDOW {
            let h: procspawn::JoinHandle<u64> = pending.pop_front().expect("non-empty");
            ok += u64::from(h.join().is_ok());
        }
        pending.push_back(pool.spawn(i, |x: u64| x * 2));
    }
    for h in pending {
        ok += u64::from(h.join().is_ok());
    }
    let took = t.elapsed();
    assert_eq!(ok, n);
    (n as f64 / took.as_secs_f64(), "tasks/s")
}

/// How many M4c tasks are in flight at once on the procspawn pool.
const M4C_WINDOW: usize = 256;

/// The CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Burns `us` microseconds of this thread's CPU time (the task of the
/// scaling rows, as in benches/src/scenarios/scaling.rs), returns `us`.
fn spin(us: u64) -> u64 {
    let end = thread_cpu_ns() + us * 1000;
    while thread_cpu_ns() < end {
        std::hint::spin_loop();
    }
    us
}

fn spin_all(tasks: Vec<u64>) -> Vec<u64> {
    tasks.into_iter().map(spin).collect()
}

/// `S-*@<N>w`: tasks of `task_us` CPU each on a procspawn pool of N, one
/// second of work in all (a fifth in quick mode). procspawn has no `map`:
/// the tasks are cut into the chunks CPython's default chunk size gives
/// (`ceil(n / (4 N))`), one spawn per chunk.
fn scaling(task_us: u64, param: &str, quick: bool) -> Option<(f64, &'static str)> {
    let workers: usize = param.strip_suffix('w')?.parse().ok().filter(|w| *w > 0)?;
    let pool = procspawn::Pool::new(workers).expect("pool");
    let warm: Vec<_> = (0..4 * workers)
        .map(|_| pool.spawn(vec![1u64], spin_all))
        .collect();
    for h in warm {
        h.join().expect("warm-up");
    }
    let n = iters(quick, 1_000_000 / task_us) as usize;
    let chunk = n.div_ceil(4 * workers);
    let t = Instant::now();
    let tasks = vec![task_us; n];
    let handles: Vec<_> = tasks
        .chunks(chunk)
        .map(|c| pool.spawn(c.to_vec(), spin_all))
        .collect();
    let mut done = 0;
    for h in handles {
        let out = h.join().expect("join");
        assert!(out.iter().all(|&us| us == task_us));
        done += out.len();
    }
    let took = t.elapsed();
    assert_eq!(done, n);
    Some((n as f64 / took.as_secs_f64(), "tasks/s"))
}

/// Runs `f` after writing the parent size `param` (`100MB`, `1GB`,
/// decimal) of fresh memory, kept until `f` returns.
fn parent_memory(
    param: &str,
    f: impl FnOnce() -> (f64, &'static str),
) -> Option<(f64, &'static str)> {
    let (digits, scale) = if let Some(d) = param.strip_suffix("MB") {
        (d, 1_000_000)
    } else {
        (param.strip_suffix("GB")?, 1_000_000_000)
    };
    let bytes = digits.parse::<usize>().ok()?.checked_mul(scale)?;
    let ballast = std::hint::black_box(vec![1u8; bytes]);
    let out = f();
    drop(std::hint::black_box(ballast));
    Some(out)
}
