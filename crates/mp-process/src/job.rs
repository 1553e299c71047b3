//! The plain data a start passes from `Process` to the start methods: what
//! the child runs ([`Job`], named by a [`TargetEntry`]) and the parts of the
//! process the start needs ([`Spec`]).

use mp_sys::entry::EntryPoint;
use mp_wire::{EncodeError, Message};

use crate::authkey::AuthKey;
use crate::method::StartMethod;

/// The function a child calls with its encoded arguments; returns the exit code.
pub(crate) type TargetEntry = EntryPoint<Message, i32>;

/// Encodes a target's arguments when the process starts.
pub(crate) type EncodeArgs = Box<dyn FnOnce() -> Result<Message, EncodeError> + Send>;

/// What the child runs.
pub(crate) enum Job {
    /// Nothing (Python's `Process()` without a target: `run()` does nothing).
    Nothing,
    /// A named entry point plus its encoded-on-start arguments.
    Entry {
        entry: TargetEntry,
        args: EncodeArgs,
    },
    /// A capturing closure; fork start method only.
    Closure(Box<dyn FnOnce() + Send>),
}

/// The parts of a `Process` the start needs.
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) method: StartMethod,
    /// The key the child starts with.
    pub(crate) authkey: AuthKey,
    /// The starting (this) process's pid, known from the creator check.
    pub(crate) parent_pid: u32,
}
