//! The async half of a waiter's help (the `async` feature): a result
//! future reads its task's worker itself, as a blocking `get` does (see
//! `Help::help`), but awaits the worker's socket on the reactor instead of
//! blocking in `poll`. [`Inner::lend`] lends it the worker (the engine
//! thread stops reading it), [`Inner::give_back`] reads what came and
//! returns it. The reply thus wakes the awaiting task directly (under
//! smol's `block_on`, the very thread that awaits), instead of waking the
//! engine thread, which would then wake the task.
//!
//! A child module of `engine.rs`, so it uses the engine's private parts.

use std::sync::Arc;

use mp_sys::readiness::Registration;

use super::{run_all, Inner, RunState};
use crate::lock::lock;

/// What [`Inner::lend`] did.
pub(crate) enum Lend {
    /// Nobody can read for the job now (its chunk is queued, its worker is
    /// lent to another waiter, the pool is ending): the engine, or that
    /// waiter, delivers.
    No,
    /// Replies that had arrived were read and delivered, and the worker
    /// holds no more of the job: look at the result again.
    Progress,
    /// Worker `id` is lent to the caller, who awaits `source` and then
    /// calls [`Inner::give_back`].
    Lent {
        /// The worker's id.
        id: u64,
        /// Its socket's kept registration with the reactor.
        source: Arc<Registration>,
    },
}

impl Inner {
    /// Lends the caller the worker that holds job `job`, after reading what
    /// it already sent; its socket's registration with the reactor is made
    /// on the first lend and kept with the worker.
    pub(crate) fn lend(&self, job: u64) -> Lend {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        let found = (s.state != RunState::Terminate)
            .then(|| {
                s.workers
                    .iter()
                    .position(|w| !w.lent && !w.eof && w.inflight.iter().any(|c| c.job == job))
            })
            .flatten();
        let Some(i) = found else {
            self.settle(s, None);
            return Lend::No;
        };
        if s.workers[i].read_first {
            let before = s.workers[i].replied;
            s.read_replies(i);
            let w = &mut s.workers[i];
            w.read_first = w.replied != before;
        }
        s.dispatch_and_deliver(&self.config, &mut completions);
        let w = &mut s.workers[i];
        let lend = if w.eof || !w.inflight.iter().any(|c| c.job == job) {
            Lend::Progress
        } else {
            let source = match &w.registration {
                Some(r) => Ok(Arc::clone(r)),
                None => Registration::new(w.conn.as_fd()).map(Arc::new),
            };
            match source {
                Ok(source) => {
                    w.registration = Some(Arc::clone(&source));
                    w.lent = true;
                    Lend::Lent { id: w.id, source }
                }
                Err(e) => {
                    log::warn!(target: "multiprocess", "pool: cannot await {}: {e}", w.name);
                    Lend::No
                }
            }
        };
        self.settle(s, None);
        run_all(completions);
        lend
    }

    /// Takes back worker `id` from the caller it was lent to: reads what it
    /// sent (without waiting), delivers, and lets the engine read it again.
    pub(crate) fn give_back(&self, id: u64) {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        if let Some(i) = s.index_of(id) {
            s.workers[i].lent = false;
            s.read_replies(i);
            let w = &mut s.workers[i];
            w.read_first = w.read_first || w.conn.has_buffered();
            s.dispatch_and_deliver(&self.config, &mut completions);
        }
        // A dead worker is the engine's to reap (it polls every sentinel).
        self.settle(s, None);
        run_all(completions);
    }
}
