//! The lifecycle of a [`Pool`]: `close`, `terminate`, `join`.

use std::time::Duration;

use crate::engine::RunState;
use crate::error::PoolError;
use crate::lock::lock;
use crate::pool::Pool;

impl Pool {
    /// Stops accepting work; the workers exit once every submitted task is
    /// done (Python's `close()`). Idempotent. Does nothing in a process
    /// other than the pool's maker (see [`PoolError::NotOwner`]).
    pub fn close(&self) {
        if !self.is_owner() {
            return;
        }
        let mut s = lock(&self.inner.shared);
        if s.state == RunState::Run {
            s.state = RunState::Close;
        }
        drop(s);
        self.inner.wake();
    }

    /// Stops the workers now (`SIGTERM`, then `SIGKILL` after 2 s); every
    /// unfinished result becomes [`PoolError::Terminated`] (Python's
    /// `terminate()`; there they never become ready). Waits until the workers
    /// are gone, except when called from a callback. Does nothing in a
    /// process other than the pool's maker: dropping a forked child's copy
    /// of a pool leaves its parent's workers alone.
    pub fn terminate(&self) {
        if !self.is_owner() {
            // A forked child's copy (dropped there, say): the workers are
            // its parent's.
            return;
        }
        lock(&self.inner.shared).state = RunState::Terminate;
        self.inner.wake();
        if self.on_engine_thread() {
            return;
        }
        self.inner.wait_finished(None);
        self.join_thread();
    }

    /// Waits until the workers have exited (Python's `join()`); requires
    /// [`close`](Self::close) or [`terminate`](Self::terminate) first, else
    /// [`PoolError::StillRunning`].
    pub fn join(&self) -> Result<(), PoolError> {
        self.join_inner(None).map(|_| ())
    }

    /// [`join`](Self::join) waiting at most `timeout`; returns whether the
    /// pool has finished.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, PoolError> {
        self.join_inner(Some(timeout))
    }

    fn join_inner(&self, timeout: Option<Duration>) -> Result<bool, PoolError> {
        self.check_owner()?;
        if self.state() == RunState::Run {
            return Err(PoolError::StillRunning);
        }
        if self.on_engine_thread() {
            return Ok(false);
        }
        let done = self.inner.wait_finished(timeout);
        if done {
            self.join_thread();
        }
        Ok(done)
    }

    fn on_engine_thread(&self) -> bool {
        lock(&self.thread).as_ref().is_some_and(|t| t.is_current())
    }

    fn join_thread(&self) {
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }

    /// Number of live worker processes right now (a dead one is replaced
    /// within moments); 0 in a process other than the pool's maker.
    pub fn live_workers(&self) -> usize {
        if !self.is_owner() {
            return 0;
        }
        lock(&self.inner.shared).worker_count()
    }
}
