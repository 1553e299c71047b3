//! Running one child command under a wall-clock deadline, capturing its output, and making sure
//! nothing it started outlives it.
//!
//! Every run gets a unique environment marker (`MULTIPROCESS_XTASK_RUN=...`) that all of its
//! descendants inherit, so processes that left the process group (or never had their own) are
//! still found and killed.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{kill_process_group, Pid, Signal};

use crate::procfs::{self, ProcInfo};

/// The environment variable that marks every process of one run.
pub(crate) const MARKER_VAR: &str = "MULTIPROCESS_XTASK_RUN";

/// How long leftover processes get to disappear after the run is over, before they count.
const LEFTOVER_GRACE: Duration = Duration::from_millis(500);

/// What to run and how.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The program.
    pub(crate) program: OsString,
    /// Its arguments.
    pub(crate) args: Vec<OsString>,
    /// Its working directory.
    pub(crate) cwd: PathBuf,
    /// Variables to set.
    pub(crate) env: Vec<(String, String)>,
    /// Variables to remove.
    pub(crate) env_remove: Vec<String>,
    /// Give stdout and stderr one pipe, so they read as one stream in time order.
    pub(crate) merged: bool,
    /// Put the child in a process group of its own (killed as a whole on timeout).
    pub(crate) own_group: bool,
    /// Kill the run when it has not finished after this long.
    pub(crate) timeout: Duration,
    /// How long processes may keep the output pipes open after the main process exited
    /// (a crashed test binary's stuck child would otherwise hold the run until `timeout`).
    pub(crate) output_grace: Duration,
}

impl Spec {
    /// A spec for `program args...` in `cwd`, merged output, own group, the given timeout.
    pub(crate) fn new(program: impl Into<OsString>, cwd: impl Into<PathBuf>) -> Self {
        Spec {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            merged: true,
            own_group: true,
            timeout: Duration::from_secs(30),
            output_grace: Duration::from_secs(10),
        }
    }

    /// Appends arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// What happened.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// stdout, or stdout and stderr interleaved when the spec was `merged`.
    pub(crate) stdout: String,
    /// stderr (empty when merged).
    pub(crate) stderr: String,
    /// The exit status, `None` when it could not be collected.
    pub(crate) status: Option<ExitStatus>,
    /// The deadline passed and everything was killed.
    pub(crate) timed_out: bool,
    /// When the main process exited, if it did before the deadline.
    pub(crate) main_exited: Option<Duration>,
    /// Wall time until the main process exited and its output pipes were closed by everyone.
    pub(crate) wall: Duration,
    /// Processes of the run still alive after it was over (they have been killed since),
    /// including any that still held the output pipes [`Spec::output_grace`] after the main
    /// process exited.
    pub(crate) leftovers: Vec<ProcInfo>,
    /// The pid of the main process.
    pub(crate) pid: u32,
    /// On timeout: the processes of the run that were alive at the deadline (before the
    /// kill), so a report can say which one hung.
    pub(crate) at_timeout: Vec<ProcInfo>,
}

impl Outcome {
    /// `"exit status 3"`, `"killed by signal 9"`, ...: why the status is not a success, if it is not.
    pub(crate) fn status_problem(&self) -> Option<String> {
        use std::os::unix::process::ExitStatusExt;
        match self.status {
            None => Some("no exit status".to_owned()),
            Some(s) if s.success() => None,
            Some(s) => Some(match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => format!("{s}"),
            }),
        }
    }
}

static RUN_SEQ: AtomicU64 = AtomicU64::new(0);

/// A pipe being read to its end by a thread, into a shared buffer.
type Reader = (Arc<Mutex<Vec<u8>>>, JoinHandle<()>);

fn reader(file: File) -> Reader {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let handle = thread::spawn(move || {
        let mut file = file;
        let mut chunk = [0u8; 8192];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
    (buf, handle)
}

fn take(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Runs `spec` to completion (or to its deadline) and reports what happened.
///
/// The run is over when the main process has exited **and** every process holding its output
/// pipes has closed them. On timeout the whole process group and every process carrying the
/// run's marker are killed. Afterwards any process of the run that is still alive is listed in
/// [`Outcome::leftovers`] and killed.
pub(crate) fn run(spec: &Spec) -> anyhow::Result<Outcome> {
    let marker_value = format!(
        "{}-{}",
        std::process::id(),
        RUN_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let marker_entry = format!("{MARKER_VAR}={marker_value}");

    let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC).context("pipe")?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .env(MARKER_VAR, &marker_value);
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let err_r = if spec.merged {
        cmd.stderr(Stdio::from(out_w.try_clone().context("dup")?));
        None
    } else {
        let (err_r, err_w) = pipe_with(PipeFlags::CLOEXEC).context("pipe")?;
        cmd.stderr(Stdio::from(err_w));
        Some(err_r)
    };
    cmd.stdout(Stdio::from(out_w));
    if spec.own_group {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let start = Instant::now();
    let spawned = cmd.spawn();
    drop(cmd); // closes this process's copies of the write ends
    let mut child = spawned.with_context(|| format!("cannot start {:?}", spec.program))?;
    let pgrp = spec.own_group.then_some(child.id() as i32);

    let (out_buf, out_h) = reader(File::from(out_r));
    let err = err_r.map(|r| reader(File::from(r)));
    let deadline = start + spec.timeout;

    let mut status = None;
    let mut main_exited: Option<Duration> = None;
    let mut timed_out = false;
    let mut held_output = false;
    let readers_done = |err: &Option<Reader>| {
        out_h.is_finished() && err.as_ref().is_none_or(|(_, h)| h.is_finished())
    };
    loop {
        if status.is_none() {
            if let Ok(Some(s)) = child.try_wait() {
                status = Some(s);
                main_exited = Some(start.elapsed());
            }
        }
        if status.is_some() && readers_done(&err) {
            break;
        }
        if main_exited.is_some_and(|t| start.elapsed() >= t + spec.output_grace) {
            held_output = true;
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();

    // Whoever still holds the output after the grace is a leftover: list, then kill.
    let holders = if held_output {
        let holders = procfs::members(pgrp, &marker_entry);
        procfs::kill_all(&holders);
        let until = Instant::now() + Duration::from_secs(2);
        while !readers_done(&err) && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
        holders
    } else {
        Vec::new()
    };

    let at_timeout = if timed_out {
        procfs::members(pgrp, &marker_entry)
    } else {
        Vec::new()
    };
    if timed_out {
        if let Some(g) = pgrp.and_then(Pid::from_raw) {
            let _ = kill_process_group(g, Signal::KILL);
        }
        procfs::kill_all(&procfs::members(pgrp, &marker_entry));
        if status.is_none() {
            let _ = child.kill();
            status = child.wait().ok();
        }
        let until = Instant::now() + Duration::from_secs(2);
        while !readers_done(&err) && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
    }

    let mut leftovers = procfs::members(pgrp, &marker_entry);
    let until = Instant::now() + LEFTOVER_GRACE;
    while !leftovers.is_empty() && Instant::now() < until {
        thread::sleep(Duration::from_millis(25));
        leftovers = procfs::members(pgrp, &marker_entry);
    }
    if !leftovers.is_empty() {
        procfs::kill_all(&leftovers);
        thread::sleep(Duration::from_millis(50));
    }
    for h in holders {
        if !leftovers.iter().any(|l| l.pid == h.pid) {
            leftovers.push(h);
        }
    }

    Ok(Outcome {
        stdout: take(&out_buf),
        stderr: err.as_ref().map(|(b, _)| take(b)).unwrap_or_default(),
        status,
        timed_out,
        main_exited: if timed_out { None } else { main_exited },
        wall,
        leftovers,
        pid: child.id(),
        at_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spec {
        Spec::new("sh", std::env::temp_dir()).args(["-c", script])
    }

    #[test]
    fn captures_separate_streams_and_status() {
        let mut spec = sh("echo out; echo err >&2; exit 3");
        spec.merged = false;
        let o = run(&spec).unwrap();
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert_eq!(o.status_problem().as_deref(), Some("exit status 3"));
        assert!(!o.timed_out);
        assert!(o.leftovers.is_empty());
    }

    #[test]
    fn merged_stream_keeps_time_order() {
        let o = run(&sh("echo 1; echo 2 >&2; echo 3")).unwrap();
        assert_eq!(o.stdout, "1\n2\n3\n");
        assert_eq!(o.stderr, "");
        assert_eq!(o.status_problem(), None);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let mut spec = sh("sleep 30 & sleep 30; echo never");
        spec.timeout = Duration::from_millis(300);
        let o = run(&spec).unwrap();
        assert!(o.timed_out);
        assert!(!o.stdout.contains("never"));
        assert!(o.wall < Duration::from_secs(5), "{:?}", o.wall);
        assert!(o.leftovers.is_empty(), "{:?}", o.leftovers);
        // What was running at the deadline is reported: both sleeps, in the kernel's sleep.
        let sleeps: Vec<_> = o
            .at_timeout
            .iter()
            .filter(|p| p.cmdline == "sleep 30")
            .collect();
        assert_eq!(sleeps.len(), 2, "{:?}", o.at_timeout);
        assert!(
            sleeps.iter().all(|p| p.state == 'S' && !p.wchan.is_empty()),
            "{sleeps:?}"
        );
    }

    #[test]
    fn leftover_that_closed_its_output_is_found_and_killed() {
        // The background sleep holds no copy of the pipes, so the run is over without it.
        let o = run(&sh("sleep 20 >/dev/null 2>&1 </dev/null & echo done")).unwrap();
        assert_eq!(o.stdout, "done\n");
        assert!(!o.timed_out);
        assert_eq!(o.leftovers.len(), 1, "{:?}", o.leftovers);
        assert!(o.leftovers[0].cmdline.contains("sleep 20"));
    }

    #[test]
    fn a_child_holding_the_output_past_the_grace_is_killed_and_listed() {
        let mut spec = sh("sleep 30 & echo early");
        spec.output_grace = Duration::from_millis(300);
        let o = run(&spec).unwrap();
        assert_eq!(o.stdout, "early\n");
        assert!(!o.timed_out);
        assert!(o.wall < Duration::from_secs(5), "{:?}", o.wall);
        assert_eq!(o.leftovers.len(), 1, "{:?}", o.leftovers);
        assert!(o.leftovers[0].cmdline.contains("sleep 30"));
    }

    #[test]
    fn run_waits_for_children_holding_the_output() {
        let o = run(&sh("(sleep 0.3; echo late) & echo early")).unwrap();
        assert_eq!(o.stdout, "early\nlate\n");
        assert!(o.wall >= Duration::from_millis(300));
        assert!(o.main_exited.unwrap() < o.wall);
    }
}
