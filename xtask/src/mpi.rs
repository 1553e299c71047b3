//! The MPI step of `cargo xtask test-all`: mp-mpi's tests built with its `mpi` feature (unit
//! tests; `examples/mpi_cases` under `mpirun -n 3 --allow-run-as-root --oversubscribe`, on its
//! own, and with a task that kills its rank; as root, one run across two "hosts" made of
//! network namespaces that the test creates and removes), then the facade example `mpi_pool`,
//! whose output must be the same as a local pool, under `mpirun -n 3`, as a singleton that
//! spawns its two worker ranks (`MULTIPROCESS_MPI_SPAWN=2`), and under
//! `srun --mpi=pmix -n 3` on a one-node Slurm cluster made for the run ([`mpi_srun`]; skipped
//! with the reason printed where Slurm is missing or its daemons cannot run).
//!
//! Needs Open MPI (`mpirun`, `mpicc`) and libclang, which `.ci/run` installs from Debian's
//! packages when missing. Without `mpirun` the step fails and says what to install; it never
//! passes silently. Measured on the shared 2-core machine: about 40 s with a cold build of the
//! `mpi` feature, a few seconds warm.

use std::time::{Duration, Instant};

use crate::cargo::{cargo, workspace_root};
use crate::mpi_srun;
use crate::report::{print_indented, Tally};
use crate::run::{self, Spec};

/// The label of the step's test counts in the report.
pub(crate) const LABEL: &str = "mpi tests (mpirun -n 3)";

/// What `mpirun` needs on a root CI container with fewer cores than ranks.
const MPIRUN_FLAGS: [&str; 2] = ["--allow-run-as-root", "--oversubscribe"];

/// The facade example that must print the same locally and under `mpirun`.
const EXAMPLE: &str = "mpi_pool";

/// `Ok(version line)` if `mpirun` runs, else why not (with what to install).
pub(crate) fn preflight() -> Result<String, String> {
    let spec = Spec {
        timeout: Duration::from_secs(20),
        ..Spec::new("mpirun", workspace_root()).args(["--version"])
    };
    match run::run(&spec) {
        Ok(out) if out.status_problem().is_none() => {
            Ok(out.stdout.lines().next().unwrap_or("").trim().to_owned())
        }
        Ok(out) => Err(format!(
            "mpirun --version failed ({})",
            out.status_problem().unwrap_or_default()
        )),
        Err(e) => Err(format!(
            "mpirun not found ({e:#}): install Open MPI and libclang \
             (apt-get install openmpi-bin libopenmpi-dev libclang-dev; .ci/run does)"
        )),
    }
}

/// Whether this process runs as root (the two-host test needs `ip netns`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The mp-mpi tests, through `test` (the runner of every `cargo test` step).
pub(crate) fn tests(test: impl FnOnce(&str, &[&str], &[(&str, &str)])) {
    let args = [
        "test",
        "-p",
        "mp-mpi",
        "--features",
        "mpi",
        "--no-fail-fast",
    ];
    if is_root() {
        test(LABEL, &args, &[("MP_MPI_NETNS_TEST", "1")]);
    } else {
        println!("SKIP  mpi two-host test: needs root for ip netns");
        test(LABEL, &args, &[]);
    }
}

/// Builds the `mpi_pool` example, runs it locally and under `mpirun -n 3`, and checks that
/// both printed the same (non-empty) output.
pub(crate) fn example(tally: &mut Tally, limit: Duration) {
    let label = format!(
        "mpi example {EXAMPLE}: the same output locally, under mpirun -n 3 and as a singleton"
    );
    let start = Instant::now();
    let build = [
        "build",
        "--release",
        "-p",
        "multiprocess-examples",
        "--features",
        "mpi",
        "--example",
        EXAMPLE,
    ];
    println!("==> cargo {}", build.join(" "));
    match cargo(&build, &[], limit) {
        Ok(out) if out.status_problem().is_none() && !out.timed_out => {}
        Ok(out) => {
            tally.check(false, &label, start.elapsed(), "the build failed");
            print_indented("output", &out.stdout, 60);
            return;
        }
        Err(e) => return tally.check(false, &label, start.elapsed(), &format!("{e:#}")),
    }
    let exe = workspace_root()
        .join("target/release/examples")
        .join(EXAMPLE);
    let local = Spec::new(&exe, workspace_root());
    // A session directory of its own: concurrent `mpirun`s race on the shared one.
    let session = std::env::temp_dir().join(format!("xtask-mpi-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&session);
    let mut mpi_args: Vec<std::ffi::OsString> = MPIRUN_FLAGS.iter().map(Into::into).collect();
    mpi_args.extend([
        "--mca".into(),
        "orte_tmpdir_base".into(),
        session.clone().into(),
    ]);
    mpi_args.extend(["-n".into(), "3".into(), exe.clone().into_os_string()]);
    let mpi = Spec::new("mpirun", workspace_root()).args(mpi_args);
    // Singleton mode: no launcher, the program spawns its two worker ranks.
    let singleton = Spec::new(&exe, workspace_root())
        .env("MULTIPROCESS_MPI_SPAWN", "2")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_orte_tmpdir_base", &session.to_string_lossy());
    let mut outputs = Vec::new();
    let mut failure = None;
    let runs = [
        ("local", &local),
        ("mpirun -n 3", &mpi),
        ("singleton, 2 spawned ranks", &singleton),
    ];
    for (what, spec) in runs {
        let spec = Spec {
            merged: false,
            timeout: Duration::from_secs(60),
            ..spec.clone()
        };
        match run::run(&spec) {
            Ok(out) if out.status_problem().is_none() => outputs.push(out.stdout),
            Ok(out) => {
                let why = format!("{what}: {}", out.status_problem().unwrap_or_default());
                failure = Some((why, out.stderr));
                break;
            }
            Err(e) => {
                failure = Some((format!("{what}: {e:#}"), String::new()));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&session);
    if let Some((why, stderr)) = failure {
        tally.check(false, &label, start.elapsed(), &why);
        return print_indented("stderr", &stderr, 40);
    }
    let same = !outputs[0].is_empty() && outputs[1..].iter().all(|o| *o == outputs[0]);
    tally.check(same, &label, start.elapsed(), "the outputs differ");
    if !same {
        for ((what, _), output) in runs.iter().zip(&outputs) {
            print_indented(what, output, 40);
        }
    }
    mpi_srun::check(tally, &exe, &outputs[0], is_root());
}
