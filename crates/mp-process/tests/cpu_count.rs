//! `cpu_count` / `process_cpu_count` and their override variable
//! (`MULTIPROCESS_CPU_COUNT`, Python 3.13's `PYTHON_CPU_COUNT`), checked in a
//! fresh run of this test binary so no other test sees the variable change.

use std::process::Command;

use mp_process::{cpu_count, process_cpu_count, CPU_COUNT_VAR};

const CHILD: &str = "MP_TEST_CPU_COUNT_CHILD";

/// Runs this test alone in a new process with `CPU_COUNT_VAR=value`; returns
/// what that process counted.
fn counts_with(value: &str) -> (usize, usize) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "counts_follow_the_override", "--nocapture"])
        .env(CHILD, "1")
        .env(CPU_COUNT_VAR, value)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CPUS "))
        .unwrap_or_else(|| panic!("no count in {text:?}"));
    let (a, b) = line.split_once(' ').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn counts_follow_the_override() {
    if std::env::var_os(CHILD).is_some() {
        println!("CPUS {} {}", cpu_count(), process_cpu_count());
        return;
    }
    let real = (cpu_count(), process_cpu_count());
    assert!(real.0 >= 1 && real.1 >= 1 && real.1 <= real.0);
    assert_eq!(counts_with("7"), (7, 7));
    assert_eq!(counts_with(" 3 "), (3, 3));
    // Not a positive integer: ignored.
    assert_eq!(counts_with("0"), real);
    assert_eq!(counts_with("many"), real);
}
