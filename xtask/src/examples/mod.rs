//! The 52 seed examples of `shared/seed-programs.md` and the ports of CPython's documentation
//! examples: their names, areas and output checkers (one file per area), the start methods they run under, and the runner that builds, runs and
//! checks them.

mod channels;
pub(crate) mod check;
mod logging;
mod manager;
mod pool;
mod ports;
mod process;
pub(crate) mod runner;
mod shared;
mod sync;

use anyhow::bail;

/// Checks one run's output; `Err` says why it is wrong.
pub(crate) type Checker = fn(&check::Observed) -> anyhow::Result<()>;

/// A start method, passed to examples as `MULTIPROCESS_START_METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `fork`.
    Fork,
    /// `spawn`.
    Spawn,
    /// `forkserver`.
    ForkServer,
}

impl Method {
    /// Every method, in the order they are run.
    pub(crate) const ALL: [Method; 3] = [Method::Fork, Method::Spawn, Method::ForkServer];

    /// The name used in `MULTIPROCESS_START_METHOD`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Fork => "fork",
            Method::Spawn => "spawn",
            Method::ForkServer => "forkserver",
        }
    }

    /// The prefix of pool worker names under this method (`ForkPoolWorker-1`, ...).
    pub(crate) fn pool_worker_prefix(self) -> &'static str {
        match self {
            Method::Fork => "Fork",
            Method::Spawn => "Spawn",
            Method::ForkServer => "ForkServer",
        }
    }

    /// Parses `fork`, `spawn` or `forkserver`.
    pub(crate) fn parse(s: &str) -> anyhow::Result<Method> {
        match Method::ALL.into_iter().find(|m| m.as_str() == s) {
            Some(m) => Ok(m),
            None => bail!("unknown start method `{s}` (expected fork, spawn or forkserver)"),
        }
    }
}

/// One listed example.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Example {
    /// Its example target name.
    pub(crate) name: &'static str,
    /// Its area in seed-programs.md.
    pub(crate) area: &'static str,
    /// Whether stdout and stderr are checked as one stream (the logging area).
    pub(crate) merged: bool,
    /// Its output rule.
    pub(crate) check: Checker,
}

/// Every listed example, area by area, in the order of seed-programs.md, then the ports.
pub(crate) fn all() -> Vec<Example> {
    let areas: [(&str, &[(&str, Checker)]); 8] = [
        ("process", process::EXAMPLES),
        ("sync", sync::EXAMPLES),
        ("shared state", shared::EXAMPLES),
        ("channels", channels::EXAMPLES),
        ("pool", pool::EXAMPLES),
        ("manager", manager::EXAMPLES),
        ("logging", logging::EXAMPLES),
        ("ports", ports::EXAMPLES),
    ];
    areas
        .into_iter()
        .flat_map(|(area, list)| {
            list.iter().map(move |&(name, check)| Example {
                name,
                area,
                merged: area == "logging",
                check,
            })
        })
        .collect()
}

/// Parses a Linux CPU list such as `0-3,5,7-8` into a count.
fn count_cpu_list(list: &str) -> Option<usize> {
    let mut n = 0;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse().ok()?)? + 1,
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// The accepted values of `cpu_count()`: the online CPUs (`os.cpu_count()`, read from
/// `/sys/devices/system/cpu/online`) and the affinity/cgroup-limited count.
pub(crate) fn cpu_counts() -> Vec<usize> {
    let mut counts = Vec::new();
    if let Some(n) = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| count_cpu_list(&s))
    {
        counts.push(n);
    }
    if let Ok(n) = std::thread::available_parallelism() {
        counts.push(n.get());
    }
    counts.sort_unstable();
    counts.dedup();
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_two_seeds_in_seven_areas_and_the_ports() {
        let all = all();
        assert_eq!(all.len(), 52 + ports::EXAMPLES.len());
        let mut names: Vec<&str> = all.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        let count = |a: &str| all.iter().filter(|e| e.area == a).count();
        assert_eq!(
            [
                count("process"),
                count("sync"),
                count("shared state"),
                count("channels"),
                count("pool"),
                count("manager"),
                count("logging"),
                count("ports")
            ],
            [22, 9, 3, 6, 5, 5, 2, 3]
        );
        assert!(all.iter().filter(|e| e.merged).all(|e| e.area == "logging"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,5,7-8"), Some(7));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("x"), None);
        assert_eq!(count_cpu_list(""), None);
        assert!(!cpu_counts().is_empty());
    }

    #[test]
    fn methods() {
        assert_eq!(Method::parse("forkserver").unwrap(), Method::ForkServer);
        assert!(Method::parse("thread").is_err());
    }
}
