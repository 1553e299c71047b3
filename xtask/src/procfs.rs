//! Reading `/proc` and `/dev/shm`: which processes belong to a run (by process group or by the
//! environment marker every run's children inherit), and which shared-memory names exist or are
//! still in use by a live process.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use rustix::process::{kill_process, Pid, Signal};

/// One live process found under `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcInfo {
    /// Its pid.
    pub(crate) pid: i32,
    /// Its process group.
    pub(crate) pgrp: i32,
    /// Its one-letter state (`R`, `S`, `Z`, ...).
    pub(crate) state: char,
    /// Its command line, arguments joined by spaces (or the `comm` name if that is empty).
    pub(crate) cmdline: String,
    /// The kernel function it sleeps in (`/proc/PID/wchan`; empty if running or unknown).
    pub(crate) wchan: String,
}

impl std::fmt::Display for ProcInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} [{}", self.pid, self.state)?;
        if !self.wchan.is_empty() && self.wchan != "0" {
            write!(f, " in {}", self.wchan)?;
        }
        write!(f, "] {}", self.cmdline)
    }
}

/// Parses the state and process group out of the text of `/proc/PID/stat`.
///
/// The `comm` field may hold spaces and parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn info(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (state, pgrp) = parse_stat(&stat)?;
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut cmdline = raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if cmdline.is_empty() {
        cmdline = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map(|(c, _)| format!("[{c}]"))
            .unwrap_or_default();
    }
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    Some(ProcInfo {
        pid,
        pgrp,
        state,
        cmdline,
        wchan,
    })
}

fn environ_has(pid: i32, entry: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|e| e == entry))
        .unwrap_or(false)
}

/// Live (not zombie) processes that are in process group `pgrp`, or whose environment holds
/// exactly `marker_entry` (`NAME=value`), other than this process itself.
pub(crate) fn members(pgrp: Option<i32>, marker_entry: &str) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter_map(info)
        .filter(|p| p.state != 'Z' && p.state != 'X')
        .filter(|p| Some(p.pgrp) == pgrp || environ_has(p.pid, marker_entry.as_bytes()))
        .collect()
}

/// Sends SIGKILL to each process (errors such as "already gone" are ignored).
pub(crate) fn kill_all(procs: &[ProcInfo]) {
    for p in procs {
        if let Some(pid) = Pid::from_raw(p.pid) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
}

/// The directory where POSIX named shared memory lives on Linux.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// The names currently in `dir` (empty if it cannot be read).
pub(crate) fn shm_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every path under `dir` that some live process has open (an fd) or mapped.
pub(crate) fn paths_in_use_under(dir: &Path) -> BTreeSet<String> {
    let prefix = format!("{}/", dir.display());
    let mut used = BTreeSet::new();
    for pid in pids() {
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
            for fd in fds.flatten() {
                if let Ok(target) = fs::read_link(fd.path()) {
                    let t = target.to_string_lossy();
                    if let Some(name) = t.strip_prefix(&prefix) {
                        used.insert(name.trim_end_matches(" (deleted)").to_owned());
                    }
                }
            }
        }
        if let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) {
            for line in maps.lines() {
                if let Some(at) = line.find(&prefix) {
                    let name = &line[at + prefix.len()..];
                    used.insert(name.trim_end_matches(" (deleted)").to_owned());
                }
            }
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let stat = "4242 (a (weird) name) S 1 4240 4240 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat(stat), Some(('S', 4240)));
    }

    #[test]
    fn stat_garbage_is_none() {
        assert_eq!(parse_stat("no parens here"), None);
        assert_eq!(parse_stat("1 (x) S 1 notanumber"), None);
    }

    #[test]
    fn finds_a_child_by_marker_and_group() {
        use std::os::unix::process::CommandExt;
        let marker = format!("XTASK_PROCFS_TEST={}", std::process::id());
        let (k, v) = marker.split_once('=').unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env(k, v)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Right after spawn the child may still be inside execve, with its new environment not
        // yet readable: poll briefly.
        let found = |pgrp: Option<i32>, entry: &str| {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                let m = members(pgrp, entry);
                if m.iter().any(|p| p.pid == pid) || std::time::Instant::now() > until {
                    return m;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        let by_marker = found(None, &marker);
        let by_group = found(Some(pid), "XTASK_NO_SUCH_MARKER=1");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(by_marker.iter().any(|p| p.pid == pid), "{by_marker:?}");
        assert!(by_group.iter().any(|p| p.pid == pid), "{by_group:?}");
        assert!(members(Some(pid), &marker).is_empty());
    }
}
