//! The state machines: each borrows a few atomic words (an `mp-shm` slot in
//! production, loom atomics in the models) and is generic over [`Park`].
//! Each file documents its words and states as a table. Every one of them
//! sleeps and wakes through [`eventcount`], the one futex protocol.
//!
//! [`Park`]: crate::park::Park

pub(crate) mod barrier;
pub(crate) mod condvar;
pub(crate) mod event;
pub(crate) mod eventcount;
pub(crate) mod mutex;
pub(crate) mod semaphore;

/// A blocking call gave up because its deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut;

/// How an acquisition succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The usual way.
    Clean,
    /// Taken over from a holder that died: the protected state may be
    /// inconsistent.
    OwnerDied,
}
