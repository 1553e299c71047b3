//! Error types of the queues.

use std::io;

use mp_wire::{DecodeError, EncodeError};

/// Why a `put` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The queue is at `maxsize` (after waiting, if the call waits): Python's `queue.Full`.
    #[error("queue is full")]
    Full,
    /// [`close`](crate::Queue::close) was called in this process.
    #[error("queue is closed")]
    Closed,
    /// The item could not be encoded; nothing was put.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The operating system reported an error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Why a `get` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// Nothing arrived (after waiting, if the call waits): Python's `queue.Empty`.
    #[error("queue is empty")]
    Empty,
    /// [`close`](crate::Queue::close) was called in this process.
    #[error("queue is closed")]
    Closed,
    /// An item arrived (and was removed) but is not a valid `T`.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An item longer than this handle's limit arrived: it was removed and
    /// dropped, undecoded (see [`Queue::set_max_message`](crate::Queue::set_max_message)).
    #[error(
        "a queue item of {len} bytes or more exceeds the limit of {max} bytes; it was dropped"
    )]
    TooLarge {
        /// Its length in bytes (at least this many, if it was dropped as
        /// it came).
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The operating system reported an error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Misuse of the feeder-thread calls (Python's assertion errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueStateError {
    /// `join_thread` before `close` in this process.
    #[error("queue is not closed")]
    NotClosed,
}

/// `JoinableQueue::task_done` called more times than items were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called too many times")]
pub struct TaskDoneError;
