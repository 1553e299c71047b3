//! Start methods (`fork`, `spawn`, `forkserver`) and the global choice of one.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{ProcessError, Result};

/// The environment variable that overrides the built-in default start method
/// (used by the test suite to run everything under each method).
pub const START_METHOD_ENV: &str = "MULTIPROCESS_START_METHOD";

/// How a child process is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StartMethod {
    /// `fork()`: the child is a copy of the parent; fastest; closures may
    /// capture state; risky to mix with threads in the parent.
    ///
    /// # Contract in a multi-threaded parent
    /// As in CPython, forking a process that has other threads is unsafe:
    /// the child contains only the thread that forked, and POSIX allows it
    /// only async-signal-safe calls until it `exec`s. Choosing this method
    /// in a multi-threaded program is the promise that the child's target
    /// does not use a lock, a lazily initialised value or other state that
    /// one of the parent's other threads may have been holding or changing
    /// at the moment of the fork (a `Mutex` held there stays locked forever
    /// in the child). This crate keeps its own part: it holds its registries,
    /// stdout and stderr across the fork, and installs its panic hook before
    /// any fork; it logs a warning when the parent has several threads. When
    /// in doubt, use [`StartMethod::ForkServer`] (the default) or
    /// [`StartMethod::Spawn`].
    Fork,
    /// Fork + exec of this same executable: a clean process that receives only
    /// what is passed to it.
    Spawn,
    /// A single-threaded server process, started once by spawning, forks
    /// children on request: as clean as spawn, nearly as fast as fork.
    ForkServer,
}

impl StartMethod {
    /// Python's name: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::ForkServer => "forkserver",
        }
    }

    /// The class-name prefix Python gives processes of a concrete context
    /// (`ForkProcess`, `SpawnProcess`, `ForkServerProcess`) without the
    /// `Process` suffix.
    pub fn class_prefix(self) -> &'static str {
        match self {
            StartMethod::Fork => "Fork",
            StartMethod::Spawn => "Spawn",
            StartMethod::ForkServer => "ForkServer",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StartMethod {
    type Err = ProcessError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::ForkServer),
            other => Err(ProcessError::UnknownStartMethod(other.to_string())),
        }
    }
}

/// The built-in default: `forkserver`, as CPython 3.14 chose on Linux — safe
/// when the parent has threads, and each start costs one fork of a small
/// single-threaded server (see `docs/start-methods.md`).
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::ForkServer;

static CHOSEN: Mutex<Option<StartMethod>> = Mutex::new(None);

fn env_default() -> StartMethod {
    std::env::var(START_METHOD_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_START_METHOD)
}

/// Python's `set_start_method(method, force)`: choose the start method once.
///
/// A second call without `force` fails with
/// [`ProcessError::ContextAlreadySet`], as does a call after the method was
/// fixed implicitly (by starting a process). `None` with `force` resets it.
pub fn set_start_method(method: Option<StartMethod>, force: bool) -> Result<()> {
    let mut chosen = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    if chosen.is_some() && !force {
        return Err(ProcessError::ContextAlreadySet);
    }
    *chosen = method;
    Ok(())
}

/// Python's `get_start_method(allow_none)`. Without `allow_none` this fixes
/// the default if nothing was chosen yet.
pub fn get_start_method(allow_none: bool) -> Option<StartMethod> {
    let mut chosen = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    if chosen.is_none() && !allow_none {
        *chosen = Some(env_default());
    }
    *chosen
}

/// Python's `get_all_start_methods()`, the default first.
pub fn get_all_start_methods() -> Vec<StartMethod> {
    let first = env_default();
    let mut all = vec![first];
    all.extend(
        [
            StartMethod::ForkServer,
            StartMethod::Fork,
            StartMethod::Spawn,
        ]
        .into_iter()
        .filter(|m| *m != first),
    );
    all
}

/// Holds the start-method lock across `fork()` (see `current::hold_for_fork`).
pub(crate) fn hold_for_fork() -> std::sync::MutexGuard<'static, Option<StartMethod>> {
    CHOSEN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forces the start method in a child to the one that created it, as Python does.
pub(crate) fn force_in_child(method: StartMethod) {
    *CHOSEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(method);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in [
            StartMethod::Fork,
            StartMethod::Spawn,
            StartMethod::ForkServer,
        ] {
            assert_eq!(m.name().parse::<StartMethod>().unwrap(), m);
        }
        let err = "bogus".parse::<StartMethod>().unwrap_err();
        assert_eq!(err.to_string(), "cannot find context for \"bogus\"");
        assert_eq!(get_all_start_methods().len(), 3);
    }
}
