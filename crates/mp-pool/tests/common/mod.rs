//! Test helpers: a watchdog that fails a test instead of letting it hang,
//! and process-liveness checks.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `f`; if it takes longer than `secs`, prints `what` and aborts the
/// test binary (a bug fails the run instead of hanging it).
pub(crate) fn deadline<T>(secs: u64, what: &str, f: impl FnOnce() -> T) -> T {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let what = what.to_string();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("DEADLINE: {what} did not finish within {secs} s");
        std::process::abort();
    });
    let r = f();
    done.store(true, Ordering::SeqCst);
    r
}

/// Whether a process with this pid still exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z') || r.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits (at most `secs`) until none of `pids` is alive.
pub(crate) fn wait_all_dead(pids: &[u32], secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if pids.iter().all(|&p| !pid_alive(p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A pipe whose write end travels to workers as a `SharedFd`.
pub(crate) fn report_pipe() -> (std::os::fd::OwnedFd, mp_wire::SharedFd) {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    (r, mp_wire::SharedFd::from(w))
}

/// Writes one line to a report pipe (in a worker).
pub(crate) fn report(fd: &mp_wire::SharedFd, line: &str) {
    mp_sys::fd::write_all(fd, format!("{line}\n").as_bytes()).unwrap();
}

/// Reads what is in the pipe until `n` lines arrived or `secs` passed.
pub(crate) fn read_lines(read: &std::os::fd::OwnedFd, n: usize, secs: u64) -> Vec<String> {
    use std::io::Read;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut file = std::fs::File::from(read.try_clone().unwrap());
    let mut buf = Vec::new();
    while buf.iter().filter(|&&b| b == b'\n').count() < n {
        let left = end.saturating_duration_since(Instant::now());
        if !mp_sys::socket::poll_readable(&file, Some(left)).unwrap() {
            break;
        }
        let mut chunk = [0u8; 4096];
        let got = file.read(&mut chunk).unwrap();
        if got == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The worker-name prefix for the start method the default context uses.
pub(crate) fn worker_prefix() -> String {
    let m = mp_process::get_start_method(false).unwrap();
    format!("{}PoolWorker-", m.class_prefix())
}

/// Reports `x` when it starts, waits (bounded) until `gate` exists, returns
/// `x`.
pub(crate) fn gated(x: u64, gate: String, out: mp_wire::SharedFd) -> u64 {
    report(&out, &x.to_string());
    for _ in 0..3000 {
        if std::fs::metadata(&gate).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    x
}

/// A file whose existence lets [`gated`] tasks finish; removed on drop.
pub(crate) struct Gate(pub(crate) String);

impl Gate {
    /// A shut gate (a fresh path in the temporary directory).
    pub(crate) fn new(name: &str) -> Gate {
        let p = std::env::temp_dir().join(format!("mp-pool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Gate(p.to_string_lossy().into_owned())
    }

    /// Lets the tasks through.
    pub(crate) fn open(&self) {
        std::fs::write(&self.0, b"1").unwrap();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
