//! Runs `examples/mpi_cases.rs` under `mpirun -n 3` (rank 0 drives, ranks 1
//! and 2 work) and as a plain local program, and checks what each printed;
//! then the crash case: a task that exits its rank aborts the job, and the
//! rank names the task first.
//!
//! MPI can be initialised once per process, so these run a separate program.
//! Without `mpirun` on PATH the MPI tests fail and say so (the feature
//! `mpi` that builds this file needs an MPI library anyway).

use std::path::PathBuf;
use std::process::{Command, Output};

/// The example binary, built by `cargo test` beside this test's binary.
fn cases() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("examples").join("mpi_cases")
}

/// `mpirun -n 3` with the flags a root CI container on two cores needs.
fn mpirun(args: &[&str]) -> Output {
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "3"])
        .arg(cases())
        .args(args)
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run mpirun ({e}): install Open MPI (apt-get install openmpi-bin)"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CASES: [&str; 10] = [
    "map: ok",
    "map_chunked: ok",
    "imap: ok",
    "imap_unordered: ok",
    "starmap: ok",
    "initializer: ok",
    "apply_async: ok",
    "task panic: ok",
    "imap panic: ok",
    "ranks: ",
];

#[test]
fn every_call_runs_on_the_worker_ranks() {
    let out = mpirun(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.starts_with("mpi: true workers: 2\n"), "{stdout}");
    for case in CASES {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}\n{stderr}");
    }
    // Both worker ranks took chunks, rank 0 none.
    assert!(stdout.contains("ranks: 1,2\n"), "{stdout}");
}

#[test]
fn the_same_program_runs_locally() {
    let out = Command::new(cases()).output().expect("run mpi_cases");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.starts_with("mpi: false workers: "), "{stdout}");
    for case in CASES {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}");
    }
    assert!(stdout.contains("ranks: local\n"), "{stdout}");
}

#[test]
fn a_dying_rank_aborts_the_job_and_names_its_task() {
    let out = mpirun(&["crash"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("survived"), "{stdout}");
    assert!(
        stderr.contains(
            "is exiting while running map of mpi_cases::exits_at_7, chunk 7 (tasks 7..8)"
        ),
        "{stderr}"
    );
}
