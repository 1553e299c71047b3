//! A forked child whose target panics must end even when another thread of
//! the parent was capturing or printing a backtrace at the fork: std's
//! process-wide backtrace lock is then held for ever in the child. Alone in
//! its binary (it sets `RUST_BACKTRACE` for the whole process).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mp_process::{Process, StartMethod};

fn panics() {
    panic!("on purpose, with a backtrace");
}

#[test]
fn panicking_children_end_while_another_thread_prints_backtraces() {
    // Before any thread exists: the children try to capture a backtrace.
    std::env::set_var("RUST_BACKTRACE", "1");
    let stop = Arc::new(AtomicBool::new(false));
    let printer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Resolving a backtrace holds std's lock most of the time.
            while !stop.load(Ordering::Relaxed) {
                let text = format!("{}", std::backtrace::Backtrace::force_capture());
                assert!(!text.is_empty());
            }
        })
    };
    // About half of the forks land while the lock is held (each costs the
    // 2 s probe); ten make a child that would hang near certain.
    for i in 0..10 {
        let mut p = Process::new(panics, ()).start_method(StartMethod::Fork);
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(60)).unwrap();
        let code = p.exitcode();
        if code.is_none() {
            let _ = p.kill();
        }
        assert_eq!(code, Some(1), "panicking fork child {i} did not end");
    }
    stop.store(true, Ordering::Relaxed);
    printer.join().unwrap();
}
