//! The fork-bomb guard: a process that still carries the bootstrap marker
//! (its constructor did not take it over) refuses to start children.
//! Alone in its binary, because it changes the environment.

use mp_process::{Process, ProcessError};

fn noop() {}

#[test]
fn marker_left_in_environment_refuses_to_start() {
    std::env::set_var("MULTIPROCESS_BOOTSTRAP", "3:0:0:00");
    let mut p = Process::new(noop, ());
    let r = p.start();
    std::env::remove_var("MULTIPROCESS_BOOTSTRAP");
    assert!(matches!(r, Err(ProcessError::BootstrapNotRun)), "{r:?}");
    // Without the marker the same process starts normally.
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}
