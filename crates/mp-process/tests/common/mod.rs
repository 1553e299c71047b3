//! Test helpers: a pipe whose write end travels to children as a `SharedFd`,
//! so they can report facts back to the test.

#![allow(dead_code)]

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use mp_wire::SharedFd;

/// The test's end of a report pipe.
pub(crate) struct Reports {
    read: OwnedFd,
}

/// Makes a report pipe: the reader stays here, the writer goes to a child.
pub(crate) fn reports() -> (Reports, SharedFd) {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    (Reports { read: r }, SharedFd::from(w))
}

/// A child's target: waits until the test writes a byte to the other end
/// of `go` or closes it.
pub(crate) fn wait_for_go(go: SharedFd) {
    let mut byte = [0u8; 1];
    let _ = std::fs::File::from(go.into_inner()).read(&mut byte);
}

/// Starts a child of `ctx` running [`wait_for_go`]; returns it and the
/// write end of its `go` pipe (write a byte or drop it to let it end).
pub(crate) fn start_waiting(ctx: &mp_process::Context) -> (mp_process::Process, OwnedFd) {
    let (go_r, go_w) = mp_sys::fd::pipe().unwrap();
    let mut child = ctx.process(wait_for_go, (SharedFd::from(go_r),));
    child.start().unwrap();
    (child, go_w)
}

/// Writes one line to a report pipe (in a child).
pub(crate) fn report(fd: &SharedFd, line: &str) {
    mp_sys::fd::write_all(fd, format!("{line}\n").as_bytes()).unwrap();
}

impl Reports {
    /// Reads `n` lines, waiting at most 30 s.
    ///
    /// It does not wait for end-of-file: under the fork start method, a child
    /// forked by another test thread may hold a copy of the write end for a
    /// while (Python has the same property).
    pub(crate) fn take(self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut file = std::fs::File::from(self.read);
        let mut buf = Vec::new();
        while buf.iter().filter(|&&b| b == b'\n').count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                mp_sys::socket::poll_readable(&file, Some(left)).unwrap(),
                "timed out waiting for {n} report lines; got {:?}",
                String::from_utf8_lossy(&buf)
            );
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
}

/// Whether a process with this pid still exists (and is not a zombie).
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z')),
        Err(_) => false,
    }
}

/// Field `n` (1-based, as in proc(5)) of `/proc/PID/stat`, if the process exists.
pub(crate) fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(n - 3).map(str::to_string)
}

/// The parent pid of a live (or zombie) process.
pub(crate) fn parent_pid(pid: u32) -> u32 {
    stat_field(pid, 4)
        .and_then(|pp| pp.parse().ok())
        .unwrap_or_else(|| panic!("no /proc/{pid}/stat"))
}
