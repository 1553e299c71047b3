//! Starting children while other threads use the library's process-wide
//! state (names, authkey, the start method, logging) must never leave a child
//! stuck on a lock another thread held at `fork()` time. Alone in its binary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_process::{current_process, get_start_method, Process, StartMethod};

fn noop() {}

#[test]
fn children_start_while_other_threads_hammer_shared_state() {
    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let me = current_process();
                    std::hint::black_box(me.name());
                    std::hint::black_box(get_start_method(false));
                    std::hint::black_box(Process::new(noop, ()));
                }
            })
        })
        .collect();
    for method in [
        StartMethod::Fork,
        StartMethod::ForkServer,
        StartMethod::Spawn,
    ] {
        let rounds = if method == StartMethod::Spawn {
            20
        } else {
            100
        };
        for i in 0..rounds {
            let mut p = Process::new(noop, ()).start_method(method);
            p.start().unwrap();
            let t = Instant::now();
            p.join_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(
                p.exitcode(),
                Some(0),
                "{method} child {i} stuck for {:?}",
                t.elapsed()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
}
