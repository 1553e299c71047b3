//! An iterator's help (`imap`, `imap_unordered`): when it has taken every
//! result that arrived, the iterator's thread reads the workers that hold
//! its job itself, as a blocking `get` does (see `Help::help`), but every
//! such worker at once. A reply then wakes the thread that takes it,
//! instead of waking the engine thread, which would then wake that thread:
//! the two threads of the parent no longer hand every batch of replies
//! over (a sleep and a wake-up each), and no longer take turns on one CPU
//! while the other idles.
//!
//! **The lease.** Having read, the iterator leaves each worker whose work
//! is all of its job *leased* to it for [`LEASE`] ([`Lent::Until`]): it is
//! likely back for the next replies sooner, and meanwhile the engine thread
//! does not poll those links (it would wake for every reply the iterator
//! reads). If the iterator is not back in time (its caller is busy with
//! the results, or dropped it), the engine reads the worker again when the
//! lease ends: it sleeps no longer than the nearest lease
//! (`Shared::end_leases`), and whoever leases a worker the engine will not
//! look at by then wakes it (`Shared::engine_stale`). So a worker's replies
//! wait at most a lease for a reader, and its next chunks for a dispatch.
//! A worker that also holds another job's work is not leased: those
//! results are not this iterator's to hold up.
//!
//! **Results read by others.** While the iterator's thread sleeps on its
//! workers, another thread may deliver one of its results: the engine
//! reading a worker that got one of the job's chunks meanwhile (it was
//! busy with another job when the iterator began to wait), or a waiter
//! reading a worker the iterator could not take. The iterator's state is
//! armed before the sleep ([`Arrivals::arm`]): a push then wakes the
//! sleeper through a [`WakeFd`](crate::wake_fd::WakeFd) it polls beside
//! the links.
//!
//! Deaths: the sleeper polls each worker's sentinel too; the engine thread
//! (which polls every sentinel) reaps the dead worker and fails or
//! requeues its chunks, and the iterator, awake, finds the worker gone.
//!
//! A child module of `engine.rs`, so it uses the engine's private parts.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_sys::time::Deadline;

use super::{run_all, Inner, RunState, Shared};
use crate::imap::{Arm, Arrivals};
use crate::lock::lock;
use crate::worker_handle::{Lent, WorkerSignals};

/// How long a worker stays leased to the iterator that last read it. Long
/// enough that an iterator taking results as fast as they come is always
/// back in time; short enough that a worker whose replies nobody reads
/// waits little for its next chunks.
pub(crate) const LEASE: Duration = Duration::from_millis(1);

impl Shared {
    /// The workers holding part of job `job` that the calling thread may
    /// read: all but those a waiting thread sleeps on.
    fn readers_of(&self, job: u64) -> Vec<usize> {
        (0..self.workers.len())
            .filter(|&i| {
                let w = &self.workers[i];
                !w.held() && !w.eof && w.inflight.iter().any(|c| c.job == job)
            })
            .collect()
    }

    /// Worker `i`, just read for job `job`'s iterator, is leased to it
    /// until `until` if the rest of its work is of that job; else (or with
    /// nothing left in flight) the engine reads it.
    fn lease(&mut self, i: usize, job: u64, until: Instant) {
        let w = &mut self.workers[i];
        if w.held() {
            return;
        }
        let only_this = !w.eof && !w.inflight.is_empty() && w.inflight.iter().all(|c| c.job == job);
        w.lent = if only_this {
            Lent::Until(until)
        } else {
            Lent::No
        };
    }
}

impl Inner {
    /// Job `job`'s iterator found no result to take: reads, or waits (until
    /// `deadline`) for, the replies of every worker holding part of the
    /// job, delivering them (other jobs' replies read on the way too). A
    /// push by another thread meanwhile ends the wait (`arrivals`).
    /// Returns `false` when it cannot help: no worker it may read holds the
    /// job (its chunks are queued, or held by another waiter), the pool is
    /// ending, or the wait cannot be armed; the engine delivers then.
    pub(crate) fn help_iter(&self, job: u64, deadline: Deadline, arrivals: &dyn Arrivals) -> bool {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        let readers = if s.state == RunState::Terminate {
            Vec::new()
        } else {
            s.readers_of(job)
        };
        if readers.is_empty() {
            self.settle(s, None);
            return false;
        }
        let mut read = false;
        for &i in &readers {
            // The task word says whether a reply is there: no system call.
            if s.workers[i].reply_waiting() {
                s.read_replies(i);
                read = true;
            }
        }
        let wake = if read || deadline.remaining() == Some(Duration::ZERO) {
            Arm::Ready
        } else {
            arrivals.arm()
        };
        let wake = match wake {
            Arm::Sleep(fd) => fd,
            Arm::Ready | Arm::Cannot => {
                s.dispatch_and_deliver(&self.config, &mut completions);
                let helped = !matches!(wake, Arm::Cannot);
                if helped {
                    let until = Instant::now() + LEASE;
                    for &i in &readers {
                        s.lease(i, job, until);
                    }
                }
                self.settle(s, None);
                run_all(completions);
                return helped;
            }
        };
        let since = Instant::now();
        let held: Vec<(u64, Arc<WorkerSignals>)> = readers
            .iter()
            .map(|&i| {
                let w = &mut s.workers[i];
                w.lent = Lent::Polled(since);
                (w.id, Arc::clone(&w.signals))
            })
            .collect();
        drop(s);
        wait_for_replies(wake, &held, deadline);
        arrivals.disarm();
        let mut s = lock(&self.shared);
        for (id, _) in &held {
            if let Some(i) = s.index_of(*id) {
                s.workers[i].lent = Lent::No;
                s.read_replies(i);
            }
        }
        s.dispatch_and_deliver(&self.config, &mut completions);
        let until = Instant::now() + LEASE;
        for (id, _) in &held {
            if let Some(i) = s.index_of(*id) {
                s.lease(i, job, until);
            }
        }
        // A dead worker is the engine's to reap (it polls every sentinel).
        self.settle(s, None);
        run_all(completions);
        true
    }
}

/// Sleeps until one of the `held` workers' links has bytes to read or the
/// worker has ended, `wake` is readable, or `deadline` passes.
fn wait_for_replies(
    wake: std::os::fd::BorrowedFd<'_>,
    held: &[(u64, Arc<WorkerSignals>)],
    deadline: Deadline,
) {
    let mut fds = Vec::with_capacity(1 + 2 * held.len());
    fds.push(wake);
    for (_, signals) in held {
        fds.push(signals.reply.as_fd());
        fds.push(signals.sentinel.as_fd());
    }
    let mut ready = vec![false; fds.len()];
    let _ = mp_sys::fd::poll_readable_into(&fds, deadline.remaining(), &mut ready);
}
