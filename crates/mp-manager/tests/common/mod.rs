//! Test helpers: run a child to completion within a deadline.

#![allow(dead_code)]

use std::time::Duration;

use mp_process::Process;

/// Starts `p`, waits at most 30 s, and asserts it exited with 0.
pub(crate) fn run(mut p: Process) {
    p.start().unwrap();
    finish(&mut p);
}

/// Waits at most 30 s for a started `p` and asserts it exited with 0.
pub(crate) fn finish(p: &mut Process) {
    p.join_timeout(Duration::from_secs(30)).unwrap();
    if p.is_alive() {
        let _ = p.kill();
        let _ = p.join_timeout(Duration::from_secs(5));
        panic!("{} did not finish in 30 s", p.get_name());
    }
    assert_eq!(p.exitcode(), Some(0), "{}", p.get_name());
}
