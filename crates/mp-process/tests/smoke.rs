//! Smoke test of the process lifecycle under the start method chosen by the environment.
use std::time::{Duration, Instant};

use mp_process::{Process, ProcessError};

fn worker(i: u32) {
    println!("Worker: {i}");
}

fn exits(code: i32) {
    mp_process::exit(code);
}

fn panics() {
    panic!("There was an error!");
}

fn sleeps(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn lifecycle() {
    let mut p = Process::new(worker, (7,));
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert!(matches!(p.start(), Err(ProcessError::AlreadyStarted)));

    let mut p = Process::new(exits, (3,));
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(3));

    let mut p = Process::new(panics, ());
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(1));

    let mut p = Process::new(sleeps, (5000,));
    p.start().unwrap();
    let t = Instant::now();
    p.join_timeout(Duration::from_millis(200)).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(190));
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    p.terminate().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(-15));
    let s = p.to_string();
    assert!(s.contains("stopped exitcode=-SIGTERM"), "{s}");
}
