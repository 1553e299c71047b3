//! Python's `multiprocessing` logging: `log_to_stderr(level)` prints records
//! as `[LEVEL/ProcessName] message` on stderr, through the `log` facade.
//!
//! The library logs its lifecycle events (`child process calling
//! self.run()`, `process shutting down`, `process exiting with exitcode N`,
//! `calling terminate() for daemon X`, ...) with target `multiprocess`. A
//! program that installs its own `log` logger receives them there instead.
//! Children inherit the level (set by [`Logger::set_level`] or
//! [`log_to_stderr`]) and whether records go to stderr, under every start
//! method, as CPython's do.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use serde::{Deserialize, Serialize};

/// The `log` target of the library's own records.
pub const TARGET: &str = "multiprocess";

/// The stderr logger of [`log_to_stderr`] (Python's `get_logger()`).
#[derive(Debug)]
pub struct Logger {
    level: AtomicU8,
}

static LOGGER: Logger = Logger {
    level: AtomicU8::new(LevelFilter::Warn as u8),
};
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn filter_from(n: u8) -> LevelFilter {
    match n {
        0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Python's level names; `Trace` is Python's `SUBDEBUG`.
fn level_name(l: Level) -> &'static str {
    match l {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "SUBDEBUG",
    }
}

impl Logger {
    /// Sets the level (Python's `get_logger().setLevel(INFO)`).
    pub fn set_level(&self, level: LevelFilter) {
        self.level.store(level as u8, Ordering::SeqCst);
        if INSTALLED.load(Ordering::SeqCst) {
            log::set_max_level(level);
        }
    }

    /// The current level.
    pub fn level(&self) -> LevelFilter {
        filter_from(self.level.load(Ordering::SeqCst))
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "[{}/{}] {}\n",
            level_name(record.level()),
            crate::current::name(),
            record.args()
        );
        // One write per line, so lines of different processes never interleave.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Python's `log_to_stderr(level)`: sends log records to stderr as
/// `[LEVEL/ProcessName] message`, setting the level if one is given
/// (otherwise it stays as it was, `Warn` by default). Returns the logger.
///
/// If the program already installed another `log` logger, that one keeps
/// receiving the records and only the level is applied.
pub fn log_to_stderr(level: Option<LevelFilter>) -> &'static Logger {
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        let _ = log::set_logger(&LOGGER);
    }
    if let Some(l) = level {
        LOGGER.set_level(l);
    } else {
        log::set_max_level(LOGGER.level());
    }
    &LOGGER
}

/// Python's `get_logger()`: the library's logger (installed or not).
pub fn get_logger() -> &'static Logger {
    &LOGGER
}

/// What a child inherits of the logger (CPython's `log_level` and
/// `log_to_stderr` preparation data): the level, always (so
/// `get_logger().set_level(..)` alone reaches children under every start
/// method), and whether records go to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Inherited {
    level: u8,
    to_stderr: bool,
}

/// The logger state a new child inherits.
pub(crate) fn for_child() -> Inherited {
    Inherited {
        level: LOGGER.level.load(Ordering::SeqCst),
        to_stderr: INSTALLED.load(Ordering::SeqCst),
    }
}

/// In a child: take the parent's level, and log to stderr if it did.
pub(crate) fn inherit(parent: Inherited) {
    let level = filter_from(parent.level);
    if parent.to_stderr {
        log_to_stderr(Some(level));
    } else {
        LOGGER.set_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels() {
        assert_eq!(level_name(Level::Warn), "WARNING");
        assert_eq!(level_name(Level::Trace), "SUBDEBUG");
        for f in [LevelFilter::Off, LevelFilter::Info, LevelFilter::Trace] {
            assert_eq!(filter_from(f as u8), f);
        }
    }
}
