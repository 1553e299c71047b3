//! Runs `examples/mpi_cases.rs` under `mpirun -n 3` (rank 0 drives, ranks 1
//! and 2 work), as a singleton that spawns its two worker ranks, and as a
//! plain local program, and checks what each printed; a forked child's
//! copy of the pool (all three ways); then the crash cases: a task that
//! exits its rank aborts the job, and the rank names the task first (also
//! when it ran in a batch of chunks), under `mpirun` and as a singleton.
//!
//! With [`NETNS_ENV`]`=1` (as `cargo xtask test-all` sets it; needs root and
//! `ip`), one more run spans two "hosts": two network namespaces joined by a
//! veth pair, with private addresses, that the test creates and removes
//! itself; rank 0 runs in one, ranks 1-2 in the other, launched through an
//! `ip netns exec` stand-in for ssh and talking over TCP only.
//!
//! MPI can be initialised once per process, so these run a separate program.
//! Without `mpirun` on PATH the MPI tests fail and say so (the feature
//! `mpi` that builds this file needs an MPI library anyway).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Set to `1` to run the two-host test (root, `ip` from iproute2).
const NETNS_ENV: &str = "MP_MPI_NETNS_TEST";

/// The example binary, built by `cargo test` beside this test's binary.
fn cases() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join("examples").join("mpi_cases");
    assert!(
        path.is_file(),
        "{} is missing: run the whole `cargo test -p mp-mpi --features mpi` (a `--test` \
         filter does not build examples)",
        path.display()
    );
    path
}

/// A session directory of its own for one `mpirun`: Open MPI's launchers
/// race to create the shared `/tmp/ompi.HOST.UID` when several start at once
/// ("mkdir: File exists", seen with these tests running in parallel).
struct SessionDir(PathBuf);

impl SessionDir {
    fn new(test: &str) -> SessionDir {
        let dir = std::env::temp_dir().join(format!("mp-mpi-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("session dir");
        SessionDir(dir)
    }

    /// The `mpirun` arguments that put the session directory here.
    fn args(&self) -> [&std::ffi::OsStr; 3] {
        [
            "--mca".as_ref(),
            "orte_tmpdir_base".as_ref(),
            self.0.as_os_str(),
        ]
    }
}

impl Drop for SessionDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `mpirun -n 3` with the flags a root CI container on two cores needs.
fn mpirun(test: &str, args: &[&str]) -> Output {
    let session = SessionDir::new(test);
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "3"])
        .args(session.args())
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

const CASES: [&str; 20] = [
    "map: ok",
    "map_chunked: ok",
    "big map: ok",
    "large calls in flight: ok",
    "a call above the send buffer: ok",
    "imap: ok",
    "imap_unordered: ok",
    "starmap: ok",
    "initializer: ok",
    "apply_async: ok",
    "task panic: ok",
    "imap panic: ok",
    "encode error after the first chunks: ok",
    "ranks: ",
    "get_timeout: ok",
    "one pool at a time: ok",
    "join_timeout: ok",
    "next pool: ok",
    "terminate: ok",
    "pool after terminate: ok",
];

#[test]
fn every_call_runs_on_the_worker_ranks() {
    let out = mpirun("calls", &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.starts_with("mpi: true workers: 2\n"), "{stdout}");
    for case in CASES {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}\n{stderr}");
    }
    // Both worker ranks took chunks, rank 0 none.
    assert!(stdout.contains("ranks: 1,2\n"), "{stdout}");
    assert!(
        stdout.contains("worker network namespace: same\n"),
        "{stdout}"
    );
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
fn a_singleton_spawns_its_worker_ranks() {
    // No launcher: the program starts MPI itself and spawns two ranks of
    // itself (MPI_Comm_spawn), as root and on two cores like CI.
    let out = singleton("singleton", &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.starts_with("mpi: true workers: 2\n"), "{stdout}");
    for case in CASES {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}\n{stderr}");
    }
    // The spawned ranks are ranks 0 and 1 of their own job.
    assert!(stdout.contains("ranks: 0,1\n"), "{stdout}");
    // A clean ending on both sides (a one-sided or rsmpi-made disconnect
    // fails here with these).
    for bad in ["ORTE_ERROR", "Segmentation", "MPI_ERR"] {
        assert!(!stderr.contains(bad), "{bad} in\n{stderr}");
    }
}

/// `mpi_cases fork-copy` printed that its forked child was refused at
/// once (not left waiting for ever on a dispatcher it does not have) and
/// that the pool then ran on as before (on MPI ranks if `mpi`).
fn refuses_the_forked_copy(out: &Output, mpi: bool) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(
        stdout.starts_with(&format!("mpi: {mpi} workers: ")),
        "{stdout}"
    );
    for case in ["forked copy refused: ok", "pool after the forked copy: ok"] {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}\n{stderr}");
    }
}

#[test]
fn a_forked_copy_of_the_pool_is_refused_under_mpirun() {
    refuses_the_forked_copy(&mpirun("fork-copy", &["fork-copy"]), true);
}

#[test]
fn a_forked_copy_of_the_pool_is_refused_in_a_singleton() {
    let out = singleton("singleton-fork-copy", &["fork-copy"]);
    refuses_the_forked_copy(&out, true);
}

#[test]
fn a_forked_copy_of_the_local_pool_is_refused() {
    let out = Command::new(cases())
        .arg("fork-copy")
        .output()
        .expect("run mpi_cases");
    refuses_the_forked_copy(&out, false);
}

/// `mpi_cases ARGS` as a singleton that spawns two worker ranks, as root
/// and on two cores like CI; killed (and reported as such) after 120 s.
fn singleton(test: &str, args: &[&str]) -> Output {
    let session = SessionDir::new(test);
    Command::new("timeout")
        .args(["--signal=KILL", "120"])
        .arg(cases())
        .args(args)
        .env(mp_mpi::SPAWN_ENV, "2")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_orte_tmpdir_base", &session.0)
        .output()
        .expect("run mpi_cases")
}

/// The crash cases in singleton mode: the spawned ranks are another MPI
/// job, whose death Open MPI does not report to rank 0, which polled (or
/// sat in a send) for ever. Rank 0 must end too, saying which rank died,
/// after the rank named its task.
#[test]
fn a_dying_spawned_rank_ends_the_singleton_too() {
    for (case, task) in [
        (
            "crash",
            "map of mpi_cases::exits_at_7, chunk 7 (tasks 7..8)",
        ),
        (
            "crash-late",
            "imap_unordered of mpi_cases::exits_at_3000, chunk 3000 (tasks 3000..3001)",
        ),
    ] {
        // A session directory apart from the mpirun crash tests' (same case names).
        let out = singleton(&format!("singleton-{case}"), &[case]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        // `timeout` exits with 137 when it had to kill rank 0.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{case}: {}\n{stdout}\n{stderr}",
            out.status
        );
        assert!(!stdout.contains("survived"), "{stdout}");
        assert!(
            stderr.contains(&format!("is exiting while running {task};")),
            "{case}: {stderr}"
        );
        assert!(
            stderr.contains("ended during the job; MPI's rule: the whole job aborts"),
            "{case}: {stderr}"
        );
    }
}

/// A worker rank killed from outside while idle, in singleton mode: rank 0
/// ends with exit code 1 and a line naming the rank (whether its next call
/// or the watchdog notices first), instead of waiting for the dead rank.
#[test]
fn a_spawned_rank_killed_while_idle_ends_the_singleton() {
    let out = singleton("singleton-killed-idle", &["killed-idle"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Rank 0 may be ended (rightly) before it prints the kill's result.
    assert!(
        stdout.contains("killing worker rank pid") && !stdout.contains("MISMATCH"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!stdout.contains("survived"), "{stdout}");
    assert!(
        stderr.contains("ended during the job; MPI's rule: the whole job aborts"),
        "{stderr}"
    );
}

/// The same under `mpirun -n 3`: the job fails, rank 0 does not go on.
#[test]
fn a_rank_killed_while_idle_fails_the_job() {
    let out = mpirun("killed-idle", &["killed-idle"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Rank 0 may be ended (rightly) before it prints the kill's result.
    assert!(
        stdout.contains("killing worker rank pid") && !stdout.contains("MISMATCH"),
        "{stdout}\n{stderr}"
    );
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("survived"), "{stdout}");
}

/// Runs the crash case `case` under `mpirun -n 3`: the job must fail, rank 0
/// must not go on, and a worker rank must have said it was exiting while
/// running `task`.
fn dies_naming(case: &str, task: &str) {
    let out = mpirun(case, &[case]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("survived"), "{stdout}");
    assert!(
        stderr.contains(&format!("is exiting while running {task};")),
        "{stderr}"
    );
}

#[test]
fn a_dying_rank_aborts_the_job_and_names_its_task() {
    dies_naming(
        "crash",
        "map of mpi_cases::exits_at_7, chunk 7 (tasks 7..8)",
    );
}

#[test]
fn a_rank_dying_in_a_batch_names_its_own_task() {
    // Tiny tasks go to a rank many chunks per message; the rank names the
    // chunk it was running, not the whole batch.
    dies_naming(
        "crash-late",
        "imap_unordered of mpi_cases::exits_at_3000, chunk 3000 (tasks 3000..3001)",
    );
}

/// `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("ip {}: {}", args.join(" "), text(&o.stderr)),
        Err(e) => panic!("cannot run ip ({e}): install iproute2"),
    }
}

/// Two network namespaces joined by a veth pair, `10.233.P.1` and
/// `10.233.P.2`; removed on drop (with the pair, which goes with them).
struct TwoHosts {
    names: [String; 2],
    addrs: [String; 2],
}

impl TwoHosts {
    fn new() -> TwoHosts {
        let id = std::process::id();
        let net = format!("10.233.{}", id % 250 + 1);
        let hosts = TwoHosts {
            names: [format!("mpmpi{id}a"), format!("mpmpi{id}b")],
            addrs: [format!("{net}.1"), format!("{net}.2")],
        };
        let (veth_a, veth_b) = (format!("mpv{id}a"), format!("mpv{id}b"));
        for (ns, (veth, addr)) in hosts
            .names
            .iter()
            .zip([(&veth_a, &hosts.addrs[0]), (&veth_b, &hosts.addrs[1])])
        {
            ip(&["netns", "add", ns]);
            if ns == &hosts.names[0] {
                ip(&[
                    "link", "add", &veth_a, "type", "veth", "peer", "name", &veth_b,
                ]);
            }
            ip(&["link", "set", veth, "netns", ns]);
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", veth]);
            ip(&["-n", ns, "link", "set", veth, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[test]
fn two_hosts_over_tcp() {
    if std::env::var(NETNS_ENV).as_deref() != Ok("1") {
        println!("SKIP two_hosts_over_tcp: set {NETNS_ENV}=1 (root, iproute2) to run it");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mp-mpi-netns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hosts = TwoHosts::new();
    let agent = dir.join("agent.sh");
    let script = format!(
        "#!/bin/sh\n# ssh stand-in: run the command in the host's network namespace\n\
         case \"$1\" in\n{a}) ns={na} ;;\n{b}) ns={nb} ;;\n\
         *) echo \"unknown host $1\" >&2; exit 255 ;;\nesac\nshift\n\
         exec ip netns exec \"$ns\" /bin/sh -c \"$*\"\n",
        a = hosts.addrs[0],
        b = hosts.addrs[1],
        na = hosts.names[0],
        nb = hosts.names[1],
    );
    write_executable(&agent, &script);
    let hostfile = dir.join("hosts");
    std::fs::write(
        &hostfile,
        format!("{} slots=1\n{} slots=2\n", hosts.addrs[0], hosts.addrs[1]),
    )
    .expect("hostfile");
    let session = SessionDir::new("netns");
    let subnet = format!("{}.0/24", hosts.addrs[0].rsplit_once('.').expect("addr").0);
    let out = Command::new("ip")
        .args(["netns", "exec", &hosts.names[0], "mpirun"])
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "3"])
        .args(session.args())
        .arg("--hostfile")
        .arg(&hostfile)
        .args(["--mca", "plm_rsh_agent"])
        .arg(&agent)
        .args(["--mca", "btl", "tcp,self"])
        .args(["--mca", "btl_tcp_if_include", &subnet])
        .args(["--mca", "oob_tcp_if_include", &subnet])
        .args([
            "-x",
            "OMPI_ALLOW_RUN_AS_ROOT=1",
            "-x",
            "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
        ])
        .arg(cases())
        .output()
        .expect("ip netns exec mpirun");
    drop(hosts);
    let _ = std::fs::remove_dir_all(&dir);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    for case in CASES {
        assert!(stdout.contains(case), "no {case:?} in\n{stdout}\n{stderr}");
    }
    assert!(stdout.contains("ranks: 1,2\n"), "{stdout}");
    assert!(
        stdout.contains("worker network namespace: other\n"),
        "{stdout}"
    );
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write agent");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod agent");
}
