//! The `srun` part of the MPI step: a one-node Slurm cluster made for the run (`munged`,
//! `slurmctld` and `slurmd` on this host, in the foreground as children of this process, with
//! their configuration, state, logs and munge socket in a temporary directory and TCP ports of
//! their own), then the facade example under `srun --mpi=pmix -n 3`, whose output must be the
//! local run's. The daemons are killed and the directory removed afterwards.
//!
//! Skipped, with the reason printed, when Slurm or munge is not installed (`.ci/run` installs
//! `slurmctld slurmd slurm-client munge` from Debian's packages), when not root (the daemons
//! run as root here), or when the node does not come up within [`NODE_UP`] (a sandbox that
//! forbids what the daemons need): the reason and the daemons' log tails are printed. A node
//! that is up but an `srun` that fails or prints something else is a failure.
//!
//! `--mpi=pmix` only: Debian's Open MPI has no Slurm PMI-1/PMI-2 support, so under
//! `--mpi=pmi2` every rank stops with "OMPI was not built with SLURM's PMI support".

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::report::{print_indented, Tally};
use crate::run::{self, Spec};

/// How long the node may take to be reported idle.
const NODE_UP: Duration = Duration::from_secs(30);

/// How long a daemon has to end after `SIGTERM`.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The programs the cluster needs.
const PROGRAMS: [&str; 6] = ["munged", "slurmctld", "slurmd", "srun", "sinfo", "squeue"];

/// Where Debian's munge package puts the key it creates at install time.
const MUNGE_KEY: &str = "/etc/munge/munge.key";

/// Runs `exe` under `srun --mpi=pmix -n 3` on a cluster made for the run and checks that it
/// printed `local` (the output of its local run).
pub(crate) fn check(tally: &mut Tally, exe: &Path, local: &str, root: bool) {
    let label = "mpi example mpi_pool: the same output under srun --mpi=pmix -n 3";
    let start = Instant::now();
    if let Some(why) = missing(root) {
        println!("SKIP  {label}: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("xtask-slurm-{}", std::process::id()));
    let cluster = match Cluster::start(&dir) {
        Ok(c) => c,
        Err(why) => {
            println!("SKIP  {label}: the Slurm daemons did not come up here: {why}");
            for log in ["munged.log", "slurmctld.log", "slurmd.log"] {
                let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
                print_indented(log, &text, 10);
            }
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
    };
    let spec = Spec {
        merged: false,
        timeout: Duration::from_secs(90),
        ..Spec::new("srun", &dir)
            .args(["--immediate=30", "--overcommit", "--mpi=pmix", "-n", "3"])
            .args([exe])
            .env("SLURM_CONF", &cluster.conf.to_string_lossy())
    };
    let outcome = run::run(&spec);
    // Let the job's step daemon finish the job before its slurmd goes.
    let _ = wait_for(|| queue_empty(&cluster.conf), "empty job queue");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    match outcome {
        Ok(out) if out.status_problem().is_none() => {
            let same = !local.is_empty() && out.stdout == local;
            tally.check(same, label, start.elapsed(), "the outputs differ");
            if !same {
                print_indented("local", local, 40);
                print_indented("srun", &out.stdout, 40);
            }
        }
        Ok(out) => {
            let why = out.status_problem().unwrap_or_default();
            tally.check(false, label, start.elapsed(), &why);
            print_indented("stderr", &out.stderr, 40);
        }
        Err(e) => tally.check(false, label, start.elapsed(), &format!("{e:#}")),
    }
}

/// Why the cluster cannot be made here, if it cannot.
fn missing(root: bool) -> Option<String> {
    let absent: Vec<&str> = PROGRAMS.into_iter().filter(|p| !on_path(p)).collect();
    if !absent.is_empty() {
        return Some(format!(
            "{} not installed (apt-get install slurmctld slurmd slurm-client munge; .ci/run does)",
            absent.join(", ")
        ));
    }
    if !root {
        return Some("needs root to run the Slurm daemons".into());
    }
    if !Path::new(MUNGE_KEY).exists() {
        return Some(format!("no munge key at {MUNGE_KEY}"));
    }
    None
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

/// The daemons of a one-node cluster; killed when dropped.
struct Cluster {
    conf: PathBuf,
    daemons: Vec<Child>,
}

impl Cluster {
    /// Writes the configuration into `dir`, starts munged, slurmctld and slurmd, and waits
    /// until the node is idle; why not, if it is not within [`NODE_UP`].
    fn start(dir: &Path) -> Result<Cluster, String> {
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_err(|e| format!("hostname: {e}"))?;
        let host = host
            .trim()
            .split('.')
            .next()
            .unwrap_or("localhost")
            .to_owned();
        // Ports of this run's own, so concurrent runs do not meet.
        let port = 20_000 + (std::process::id() % 20_000) * 2;
        let socket = dir.join("munge.sock");
        let conf = dir.join("slurm.conf");
        let d = dir.display();
        let text = format!(
            "ClusterName=xtask\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
             AuthType=auth/munge\nAuthInfo=socket={socket}\nCredType=cred/munge\n\
             SlurmctldPort={port}\nSlurmdPort={}\nStateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\nSlurmctldLogFile={d}/slurmctld.log\n\
             SlurmdLogFile={d}/slurmd.log\nProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\nSchedulerType=sched/builtin\nSelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\nJobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\nMpiDefault=none\n\
             ReturnToService=2\nNodeName={host} CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            port + 1,
            socket = socket.display(),
            cpus = std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        let mut cluster = Cluster {
            conf: conf.clone(),
            daemons: Vec::new(),
        };
        let socket_arg = format!("--socket={}", socket.display());
        cluster.spawn(
            dir,
            "munged.out",
            "munged",
            &[
                "-F",
                "-f",
                &socket_arg,
                &format!("--key-file={MUNGE_KEY}"),
                &format!("--log-file={d}/munged.log"),
                &format!("--pid-file={d}/munged.pid"),
                &format!("--seed-file={d}/munged.seed"),
            ],
        )?;
        wait_for(|| socket.exists(), "munged's socket")?;
        let conf_arg = conf.to_string_lossy().into_owned();
        cluster.spawn(dir, "slurmctld.out", "slurmctld", &["-D", "-f", &conf_arg])?;
        cluster.spawn(dir, "slurmd.out", "slurmd", &["-D", "-f", &conf_arg])?;
        wait_for(
            || node_state(&conf).is_some_and(|s| s.starts_with("idle")),
            "an idle node",
        )
        .map_err(|e| format!("{e} (sinfo: {})", node_state(&conf).unwrap_or_default()))?;
        Ok(cluster)
    }

    /// Starts `program args` in the foreground, its output into `dir/out`.
    fn spawn(&mut self, dir: &Path, out: &str, program: &str, args: &[&str]) -> Result<(), String> {
        let log = std::fs::File::create(dir.join(out)).map_err(|e| format!("{out}: {e}"))?;
        let err = log.try_clone().map_err(|e| format!("{out}: {e}"))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        self.daemons.push(child);
        Ok(())
    }
}

impl Drop for Cluster {
    /// Stops the daemons, the last started first (slurmd, slurmctld, munged): `SIGTERM`, so
    /// slurmctld also ends its `slurmscriptd`, then `SIGKILL` for one still there after
    /// [`STOP_GRACE`].
    fn drop(&mut self) {
        for child in self.daemons.iter_mut().rev() {
            if let Some(pid) = Pid::from_raw(child.id() as i32) {
                let _ = kill_process(pid, Signal::TERM);
            }
            let start = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && start.elapsed() < STOP_GRACE {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The node's state as `sinfo` reports it, if it answers.
fn node_state(conf: &Path) -> Option<String> {
    let out = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%T"])
        .env("SLURM_CONF", conf)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether `squeue` answers and lists no job.
fn queue_empty(conf: &Path) -> bool {
    Command::new("squeue")
        .args(["-h"])
        .env("SLURM_CONF", conf)
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii().is_empty())
}

/// Polls `ready` until it holds or [`NODE_UP`] has passed.
fn wait_for(mut ready: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > NODE_UP {
            return Err(format!("no {what} after {} s", NODE_UP.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
