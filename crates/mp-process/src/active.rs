//! `active_children()`, `cpu_count()` and `process_cpu_count()`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::children::{self, Child};
use crate::error::Result;

/// A live child of this process, as returned by [`active_children`].
#[derive(Debug, Clone)]
pub struct ActiveChild {
    child: Arc<Child>,
    parent: u32,
}

impl ActiveChild {
    /// The child's name.
    pub fn name(&self) -> &str {
        &self.child.name
    }
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid
    }
    /// Whether the child is a daemon.
    pub fn daemon(&self) -> bool {
        self.child.daemon
    }
    /// Whether it still runs.
    pub fn is_alive(&self) -> bool {
        matches!(self.child.poll(), Ok(None))
    }
    /// Its exit code once it ended.
    pub fn exitcode(&self) -> Option<i32> {
        self.child.poll().ok().flatten()
    }
    /// Sends `SIGTERM`.
    pub fn terminate(&self) -> Result<()> {
        Ok(self.child.signal(mp_sys::signal::SIGTERM)?)
    }
    /// Sends `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        Ok(self.child.signal(mp_sys::signal::SIGKILL)?)
    }
    /// Waits for it to end, at most `timeout` if given.
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        self.child.wait(timeout)?;
        Ok(())
    }
}

impl fmt::Display for ActiveChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Process name='{}' pid={} parent={} ",
            self.child.name, self.child.pid, self.parent
        )?;
        match self.exitcode() {
            None => write!(f, "started")?,
            Some(c) => write!(f, "stopped exitcode={}", crate::process::exitcode_repr(c))?,
        }
        if self.child.daemon {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

/// Python's `active_children()`: the live children of this process (reaping
/// the ones that have ended), in no particular order.
pub fn active_children() -> Vec<ActiveChild> {
    let parent = mp_sys::process::getpid();
    children::live_children()
        .into_iter()
        .map(|child| ActiveChild { child, parent })
        .collect()
}

/// The variable that overrides [`cpu_count`] and [`process_cpu_count`]
/// (Python 3.13's `PYTHON_CPU_COUNT` / `-X cpu_count`): a positive integer;
/// anything else is ignored.
pub const CPU_COUNT_VAR: &str = "MULTIPROCESS_CPU_COUNT";

/// The override from [`CPU_COUNT_VAR`], if it holds a positive integer.
fn cpu_count_override() -> Option<usize> {
    std::env::var(CPU_COUNT_VAR)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n: &usize| n > 0)
}

/// Python's `cpu_count()`: the number of online CPUs (or the override in
/// [`CPU_COUNT_VAR`]).
pub fn cpu_count() -> usize {
    cpu_count_override().unwrap_or_else(mp_sys::thread::cpu_count)
}

/// Python 3.13's `process_cpu_count()`: the CPUs this process may run on
/// (its affinity mask), which can be fewer than [`cpu_count`] (or the
/// override in [`CPU_COUNT_VAR`], as 3.13 applies `PYTHON_CPU_COUNT` to both).
pub fn process_cpu_count() -> usize {
    cpu_count_override().unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or_else(|_| mp_sys::thread::cpu_count(), |n| n.get())
    })
}
