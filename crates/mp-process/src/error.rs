//! The errors of process management, one enum with Python's cases as variants.

use std::io;

use thiserror::Error;

/// What can go wrong when creating, starting, waiting for or signalling a
/// process. Python raises `AssertionError`, `ValueError` or `RuntimeError` for
/// most of these; here each is a variant.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// `start()` was called a second time (Python: "cannot start a process twice").
    #[error("cannot start a process twice")]
    AlreadyStarted,
    /// An operation that needs a started process was called before `start()`.
    #[error("can only {0} a started process")]
    NotStarted(&'static str),
    /// The process object was closed with `close()`.
    #[error("process object is closed")]
    Closed,
    /// `close()` while the child still runs.
    #[error("cannot close a process while it is still running; call join() or terminate() first")]
    StillRunning,
    /// The object was created by another process (only the creator may start,
    /// join or signal it).
    #[error("can only {0} a process created by this process")]
    NotCreator(&'static str),
    /// A daemonic process tried to start a child.
    #[error("daemonic processes are not allowed to have children")]
    DaemonicChildren,
    /// `daemon` or `name` was changed after `start()`.
    #[error("process has already started")]
    StartedAlready,
    /// A capturing closure can only run in a forked child.
    #[error(
        "a capturing closure can only be run with the fork start method (this process uses {0})"
    )]
    ClosureNeedsFork(&'static str),
    /// The program was started as a child but the bootstrap did not take it
    /// over; starting processes now would recurse.
    #[error("this process was started as a multiprocess child but its bootstrap did not run; refusing to start processes (would fork-bomb)")]
    BootstrapNotRun,
    /// An unknown start method name (Python: "cannot find context for 'x'").
    #[error("cannot find context for {0:?}")]
    UnknownStartMethod(String),
    /// `set_start_method` a second time without `force`.
    #[error("context has already been set")]
    ContextAlreadySet,
    /// The target's arguments could not be serialized.
    #[error("cannot serialize the process arguments: {0}")]
    Encode(#[from] mp_wire::EncodeError),
    /// Talking to a child or to the fork server failed.
    #[error("process channel: {0}")]
    Wire(#[from] mp_wire::WireError),
    /// The fork server failed to start a child.
    #[error("fork server: {0}")]
    ForkServer(String),
    /// The OS gave no entropy for a new authkey (there is no weaker
    /// fallback).
    #[error("cannot create an authkey: the OS gave no entropy: {0}")]
    NoEntropy(#[source] std::sync::Arc<io::Error>),
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ProcessError> = std::result::Result<T, E>;
