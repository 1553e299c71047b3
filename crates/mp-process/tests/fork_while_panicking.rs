//! Forking while another thread is panicking must not leave the child stuck
//! on the panic-hook lock that thread held at fork time. Alone in its binary
//! (it installs a quiet panic hook for the whole process).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mp_process::{Process, StartMethod};

fn noop() {}

#[test]
fn children_start_while_another_thread_panics() {
    std::panic::set_hook(Box::new(|_| {}));
    // Creating a Process installs the library's hook (chained to ours) now,
    // in the parent, before any fork.
    drop(Process::new(noop, ()));
    let stop = Arc::new(AtomicBool::new(false));
    let panicker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::panic::catch_unwind(|| panic!("on purpose"));
            }
        })
    };
    for i in 0..200 {
        let mut p = Process::new(noop, ()).start_method(StartMethod::Fork);
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(p.exitcode(), Some(0), "fork child {i} stuck");
    }
    stop.store(true, Ordering::Relaxed);
    panicker.join().unwrap();
}
