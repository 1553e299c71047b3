//! The async half of a waiter's help (the `async` feature): a result
//! future reads its task's worker itself, as a blocking `get` does (see
//! `Help::help`), but awaits the worker's link on the reactor instead of
//! blocking in `poll`. [`Inner::watch`] finds the worker and hands out the
//! wait for its link; [`Inner::collect`] reads what came. The reply thus
//! wakes the awaiting task directly (under smol's `block_on`, the very
//! thread that awaits), instead of waking the engine thread, which would
//! then wake the task.
//!
//! Unlike a blocking helper, a future does not *borrow* the worker (`lent`
//! stays `No`): it reads only under the pool's lock, inside a poll, so
//! the engine or another waiter may read the same worker meanwhile (the
//! future then finds its result delivered). A future that is kept but no
//! longer polled therefore holds nothing up. It only spares the engine a
//! wake-up: [`Inner::watch`] does not count its own worker as unwatched.
//! A worker lent to a blocking helper is left to it (that helper sleeps in
//! `poll` until the link is readable, so it must be the one to read).
//!
//! A child module of `engine.rs`, so it uses the engine's private parts.

use std::sync::Arc;

use mp_sys::readiness::Registration;

use super::{run_all, Inner};
use crate::lock::lock;

/// What [`Inner::watch`] found.
pub(crate) enum Watched {
    /// Nobody can read for the job now (its chunk is queued, its worker is
    /// lent to a blocking waiter, the pool is ending): the engine, or that
    /// waiter, delivers.
    No,
    /// Replies that had arrived were read and delivered, and the worker
    /// holds no more of the job: look at the result again.
    Progress,
    /// Worker `id` holds the job: await `source`, then call
    /// [`Inner::collect`].
    Worker {
        /// The worker's id.
        id: u64,
        /// Its link's kept registration with the reactor.
        source: Arc<Registration>,
    },
}

impl Inner {
    /// Finds the worker that holds job `job`, after reading what it already
    /// sent; its link's registration with the reactor is made on the first
    /// watch and kept with the worker.
    pub(crate) fn watch(&self, job: u64) -> Watched {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        let Some(i) = s.holder_of(job) else {
            self.settle(s, None);
            return Watched::No;
        };
        s.dispatch_and_deliver(&self.config, &mut completions);
        let watch = if !s.still_holds(i, job) {
            Watched::Progress
        } else {
            let w = &mut s.workers[i];
            let source = match &w.registration {
                Some(r) => Ok(Arc::clone(r)),
                None => Registration::new(w.conn.as_fd()).map(Arc::new),
            };
            match source {
                Ok(source) => {
                    w.registration = Some(Arc::clone(&source));
                    Watched::Worker { id: w.id, source }
                }
                Err(e) => {
                    log::warn!(target: "multiprocess", "pool: cannot await {}: {e}", w.name);
                    Watched::No
                }
            }
        };
        // Its worker is watched by the caller: no reason to wake the engine
        // for it (for another one, yes).
        let except = matches!(watch, Watched::Worker { .. }).then_some(job);
        self.settle(s, except);
        run_all(completions);
        watch
    }

    /// Reads what worker `id` sent (without waiting) and delivers it,
    /// unless a blocking waiter has borrowed the worker meanwhile.
    pub(crate) fn collect(&self, id: u64) {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        if let Some(i) = s.index_of(id).filter(|&i| !s.workers[i].held()) {
            s.read_replies(i);
            s.dispatch_and_deliver(&self.config, &mut completions);
        }
        // A dead worker is the engine's to reap (it polls every sentinel).
        self.settle(s, None);
        run_all(completions);
    }
}
