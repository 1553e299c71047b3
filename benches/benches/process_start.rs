//! M1: process start + join of a trivial target, per start method, beside
//! the raw limits measured in the same run: `fork()` + `waitid` of a child
//! that exits at once, and fork + exec of this same binary (`std::process`,
//! which uses `posix_spawn`) whose child exits before `main`'s work.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::process::Command;

use criterion::{criterion_group, Criterion};
use mp_sys::process::{exit_now, fork_unchecked, wait_pidfd, Fork};
use multiprocess::{Process, StartMethod};

use multiprocess_benches::raw::{exit_if_exec_child, EXEC_CHILD_ENV as RAW_CHILD_ENV};

fn trivial() {}

fn m1(c: &mut Criterion) {
    let mut g = c.benchmark_group("M1_start_join");
    g.sample_size(30);
    g.measurement_time(std::time::Duration::from_secs(3));
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        g.bench_function(method.name(), |b| {
            b.iter(|| {
                let mut p = Process::new(trivial, ()).start_method(method);
                p.start().expect("start");
                p.join().expect("join");
                assert_eq!(p.exitcode(), Some(0));
            })
        });
    }
    g.bench_function("raw_fork_waitid", |b| {
        // SAFETY: the child only calls `_exit`, which touches no state that
        // another thread of this (possibly multi-threaded) process may hold.
        b.iter(|| match unsafe { fork_unchecked() }.expect("fork") {
            Fork::Child => exit_now(0),
            Fork::Parent { pidfd, .. } => {
                wait_pidfd(&pidfd, true).expect("wait");
            }
        })
    });
    let exe = std::env::current_exe().expect("current_exe");
    g.bench_function("raw_fork_exec_self", |b| {
        b.iter(|| {
            let st = Command::new(&exe)
                .env(RAW_CHILD_ENV, "1")
                .status()
                .expect("spawn");
            assert!(st.success());
        })
    });
    g.finish();
}

criterion_group!(benches, m1);

fn main() {
    exit_if_exec_child();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
