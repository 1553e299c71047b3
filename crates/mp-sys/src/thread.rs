//! Facts about the running process's threads and the machine's CPUs, read
//! from `/proc` and `/sys`.

use std::io;

/// How many threads this process has.
///
/// One `statx` of `/proc/self/task`, whose link count is two plus the
/// number of threads (procfs adds one link per thread): about a
/// microsecond, against tens for reading and parsing `/proc/self/stat`,
/// which [`fork`](crate::process::fork) and the `fork` start method pay on
/// every start. Falls back to `/proc/self/stat` (field 20) if the link
/// count does not look like that.
pub fn thread_count() -> io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata("/proc/self/task")?.nlink();
    match usize::try_from(links) {
        Ok(n) if n >= 3 => Ok(n - 2),
        _ => thread_count_from_stat(),
    }
}

/// Counts this process's threads through a handle on its own
/// `/proc/<pid>/task` directory, opened once: an `fstat` of the handle
/// (procfs computes the link count at each call) instead of
/// [`thread_count`]'s walk of the path through procfs, which took 2–6 µs
/// on every fork of a fork server (1–3 % of a start).
///
/// It counts the threads of the process that made it. In a process forked
/// from that one, [`count`](Self::count) finds the pid changed and counts
/// that process's own threads the slow way ([`thread_count`]): the handle
/// names the parent's directory.
#[derive(Debug)]
pub struct ThreadCounter {
    dir: std::fs::File,
    pid: u32,
}

impl ThreadCounter {
    /// Opens the calling process's task directory.
    pub fn new() -> io::Result<ThreadCounter> {
        let pid = crate::process::getpid();
        let dir = std::fs::File::open(format!("/proc/{pid}/task"))?;
        Ok(ThreadCounter { dir, pid })
    }

    /// Closes the handle with [`crate::fd::close`] (a fork server's child
    /// does, in place of dropping it).
    #[inline]
    pub fn close(self) {
        crate::fd::close(self.dir);
    }

    /// How many threads the calling process has.
    pub fn count(&self) -> io::Result<usize> {
        if crate::process::getpid() != self.pid {
            return thread_count();
        }
        use std::os::unix::fs::MetadataExt;
        match usize::try_from(self.dir.metadata()?.nlink()) {
            Ok(n) if n >= 3 => Ok(n - 2),
            _ => thread_count_from_stat(),
        }
    }
}

/// [`thread_count`] the slow way: field 20 of `/proc/self/stat`.
fn thread_count_from_stat() -> io::Result<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc/self/stat"))?;
    // `rest` starts at field 3; field 20 is index 17 there.
    rest.split_whitespace()
        .nth(17)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc/self/stat"))
}

/// The number of online CPUs, like Python's `os.cpu_count()` (not limited by
/// the affinity mask). Falls back to `available_parallelism`.
pub fn cpu_count() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(s.trim()))
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Counts the CPUs in a kernel cpu list such as `0-3,8,10-11`.
fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0;
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                n += b.checked_sub(a)? + 1;
            }
            None => {
                part.parse::<usize>().ok()?;
                n += 1;
            }
        }
    }
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_list() {
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("x"), None);
        assert!(cpu_count() >= 1);
    }

    #[test]
    fn threads() {
        let before = thread_count().unwrap();
        assert!(before >= 1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::spawn(move || rx.recv().ok());
        // Other tests' threads come and go: the two ways must agree at a
        // moment when no thread started or ended between them.
        let agree = (0..1000).any(|_| {
            let (a, slow, b) = (
                thread_count().unwrap(),
                thread_count_from_stat().unwrap(),
                thread_count().unwrap(),
            );
            a == b && a == slow
        });
        assert!(
            agree,
            "statx of /proc/self/task disagrees with /proc/self/stat"
        );
        assert!(thread_count().unwrap() >= 2);
        drop(tx);
        h.join().unwrap();
    }

    /// The kept handle's count follows threads as they start and end, as
    /// the path walk's does.
    #[test]
    fn a_thread_counter_follows_threads() {
        let counter = ThreadCounter::new().unwrap();
        let agree = |extra: usize| {
            (0..1000).any(|_| {
                let (a, kept, b) = (
                    thread_count().unwrap(),
                    counter.count().unwrap(),
                    thread_count().unwrap(),
                );
                a == b && a == kept && kept > extra
            })
        };
        assert!(agree(0), "the kept handle disagrees with /proc/self/task");
        let stops: Vec<_> = (0..3)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                (tx, std::thread::spawn(move || rx.recv().ok()))
            })
            .collect();
        assert!(agree(3), "three more threads are counted");
        for (tx, h) in stops {
            drop(tx);
            h.join().unwrap();
        }
        assert!(agree(0));
    }

    /// A counter another process made (a forked copy: its pid is not this
    /// process's) counts this process's threads, not through its handle.
    #[test]
    fn a_copied_counter_counts_its_own_process() {
        let mut counter = ThreadCounter::new().unwrap();
        // Another process's directory and pid, as a forked child sees them.
        counter.dir = std::fs::File::open("/proc/1/task").unwrap();
        counter.pid = 1;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::spawn(move || rx.recv().ok());
        let agree = (0..1000).any(|_| {
            let (a, copied, b) = (
                thread_count().unwrap(),
                counter.count().unwrap(),
                thread_count().unwrap(),
            );
            a == b && a == copied
        });
        assert!(agree, "the copy counted another process's threads");
        drop(tx);
        h.join().unwrap();
    }
}
