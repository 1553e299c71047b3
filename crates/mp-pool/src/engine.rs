//! The pool's engine in the parent: the task queue, the workers with their
//! long-lived links and in-flight chunks, and the one thread that polls
//! every worker's link and sentinel at once — collecting results, handing
//! out chunks, noticing deaths (failing or retrying the lost chunk, starting a
//! replacement) and running completions (callbacks) outside the lock.

use std::collections::VecDeque;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mp_channel::RecvError;
use mp_wire::Message;
use rustc_hash::FxHashMap;

use crate::chunk::Payload;
use crate::config::Config;
use crate::error::TaskError;
use crate::func::EntryParts;
use crate::imap::Arrivals;
use crate::job_sink::JobSink;
use crate::lock::{lock, wait_until};
use crate::request;
use crate::result::Help;
use crate::sink::{Completion, Progress};
use crate::wake_fd::WakeFd;
use crate::worker_handle::{
    kill_all, start_worker, stop_gracefully, Chunk, ChunkRare, Lent, Worker, WorkerSignals,
    FAST_CHUNK,
};
use mp_sys::time::Deadline;

#[cfg(feature = "async")]
#[path = "engine_async.rs"]
mod async_help;
#[path = "engine_imap.rs"]
mod imap_help;
#[cfg(feature = "async")]
pub(crate) use async_help::Watched;

/// How often the engine wakes without an event (to retry starting workers).
const TICK: Duration = Duration::from_millis(200);
/// The engine looks at a timed task's task word at least this far apart.
const LOOK_MIN: Duration = Duration::from_millis(2);
/// A chunk is sent again at most this many times after its worker died
/// before any of its tasks started; the next such death fails it (it may be
/// what kills them: one that cannot even be decoded, or a failing
/// initializer).
const MAX_UNSTARTED_LOSSES: u32 = 3;
/// Told when a worker dies on its own (not stopped by the pool, not retired
/// after `maxtasksperchild`), with its name and exit code, under the pool's
/// lock; `true` breaks the pool: it terminates at once (an executor's
/// `BrokenPolicy::Break`).
pub(crate) type DeathHook = Box<dyn Fn(&str, i32) -> bool + Send>;

/// The pool's lifecycle state (Python's `RUN`, `CLOSE`, `TERMINATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Run,
    Close,
    Terminate,
}

/// Everything the engine and the submitting threads share, under one lock.
pub(crate) struct Shared {
    pub(crate) state: RunState,
    queue: VecDeque<Chunk>,
    workers: Vec<Worker>,
    /// Each job's sink by id (`FxHashMap`: an id is a counter, hashed with
    /// one multiplication instead of SipHash's rounds; nothing outside the
    /// pool chooses it).
    jobs: FxHashMap<u64, JobSink>,
    /// The per-task timeout of each job that has one.
    limits: FxHashMap<u64, Duration>,
    next_job: u64,
    next_worker: u64,
    /// The workers whose sockets the engine thread is polling right now.
    engine_watch: Vec<u64>,
    /// When that poll times out at the latest.
    engine_wakes_at: Instant,
    /// A thread woke the engine since it last built its poll set.
    engine_woken: bool,
    /// Replies read but not yet handed to their jobs (job, chunk, the tasks
    /// of the chunk it answers): they are decoded only after the workers
    /// that sent them have been given their next chunks.
    arrived: Vec<(u64, usize, Range<usize>, Message)>,
    /// Told of each worker that dies on its own (see [`DeathHook`]).
    pub(crate) on_death: Option<DeathHook>,
}

impl Shared {
    pub(crate) fn new(workers: Vec<Worker>) -> Self {
        let next_worker = workers.len() as u64;
        Shared {
            state: RunState::Run,
            queue: VecDeque::new(),
            workers,
            jobs: FxHashMap::default(),
            limits: FxHashMap::default(),
            next_job: 0,
            next_worker,
            engine_watch: Vec::new(),
            engine_wakes_at: Instant::now(),
            engine_woken: false,
            arrived: Vec::new(),
            on_death: None,
        }
    }

    /// Takes every worker out (to stop them).
    pub(crate) fn take_workers(&mut self) -> Vec<Worker> {
        std::mem::take(&mut self.workers)
    }

    /// Number of live workers.
    pub(crate) fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Registers a job (whose tasks may each run at most `limit`) and queues
    /// its chunks, then hands out what it can; returns the job's id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn submit(
        &mut self,
        cfg: &Config,
        sink: JobSink,
        entry: EntryParts,
        payloads: impl IntoIterator<Item = Payload>,
        bulk: bool,
        limit: Option<Duration>,
        completions: &mut Vec<Completion>,
    ) -> u64 {
        let job = self.next_job;
        self.next_job += 1;
        self.jobs.insert(job, sink);
        if let Some(limit) = limit {
            self.limits.insert(job, limit);
        }
        self.extend(cfg, job, 0, entry, payloads, bulk, completions);
        job
    }

    /// Whether job `job` is in the table (not finished, cancelled or
    /// terminated).
    pub(crate) fn has_job(&self, job: u64) -> bool {
        self.jobs.contains_key(&job)
    }

    /// Queues more chunks of a submitted job, numbered from `first`, then
    /// hands out what it can (a job's later chunks may be encoded while its
    /// first ones run). The job is in the table: the caller has just put it
    /// there, or looked ([`has_job`](Self::has_job)), under the same lock.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn extend(
        &mut self,
        cfg: &Config,
        job: u64,
        first: usize,
        entry: EntryParts,
        payloads: impl IntoIterator<Item = Payload>,
        bulk: bool,
        completions: &mut Vec<Completion>,
    ) {
        debug_assert!(self.has_job(job));
        for (k, p) in payloads.into_iter().enumerate() {
            let rare = (!p.fds.is_empty()).then(|| {
                Box::new(ChunkRare {
                    fds: p.fds,
                    ..ChunkRare::default()
                })
            });
            self.queue.push_back(Chunk {
                job,
                index: first + k,
                entry,
                bytes: p.bytes,
                len: p.len,
                skip: 0,
                bulk,
                sent_at: None,
                rare,
            });
        }
        self.dispatch(cfg, completions);
    }

    /// Adds chunks of these lengths to an open job (a buffered imap) and
    /// queues `payloads` for the first of them (numbered from `first`; a chunk
    /// without a payload is failed by the caller); with `last`, the job's
    /// input has ended. Returns `false` if the job is gone (terminated).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grow(
        &mut self,
        cfg: &Config,
        job: u64,
        first: usize,
        entry: EntryParts,
        lens: &[usize],
        payloads: Vec<Payload>,
        last: bool,
        completions: &mut Vec<Completion>,
    ) -> bool {
        let Some(sink) = self.jobs.get_mut(&job) else {
            return false;
        };
        if let Progress::Done(c) = sink.grow(lens, last) {
            // Done by this growth: nothing more of it is queued.
            self.jobs.remove(&job);
            completions.extend(c);
        } else {
            self.extend(cfg, job, first, entry, payloads, true, completions);
        }
        true
    }

    /// Chunks `indices` of `job` fail with `err` without running (their
    /// inputs could not be encoded).
    pub(crate) fn fail_chunks(
        &mut self,
        job: u64,
        indices: std::ops::Range<usize>,
        err: &TaskError,
        completions: &mut Vec<Completion>,
    ) {
        for index in indices {
            self.deliver(job, index, 0..usize::MAX, Err(err.clone()), completions);
        }
    }

    /// Whether some worker has work in flight that nobody is reading: not
    /// in the engine thread's poll set (the engine must be woken to rebuild
    /// it), and neither held by a waiting thread nor leased to an iterator
    /// until a time the engine wakes by anyway. A worker holding a chunk of
    /// `except` does not count (its waiter will read it).
    pub(crate) fn engine_stale(&self, except: Option<u64>) -> bool {
        self.workers.iter().any(|w| {
            let unread = match w.lent {
                Lent::No => true,
                Lent::Held | Lent::Polled(_) => false,
                Lent::Until(end) => self.engine_wakes_at > end,
            };
            unread
                && !w.eof
                && !w.inflight.is_empty()
                && !self.engine_watch.contains(&w.id)
                && !except.is_some_and(|job| w.inflight.iter().all(|c| c.job == job))
        })
    }

    fn deliver(
        &mut self,
        job: u64,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
        completions: &mut Vec<Completion>,
    ) {
        deliver(&mut self.jobs, job, index, items, out, completions);
    }

    /// Sends queued chunks to workers that can take them: idle workers first,
    /// then (while plenty of work is queued) small map chunks behind small map
    /// chunks, so a worker finds its next chunk waiting in its socket.
    pub(crate) fn dispatch(&mut self, cfg: &Config, completions: &mut Vec<Completion>) {
        if self.queue.is_empty() {
            // Nothing to hand out, and nothing unsent: each dispatch ends
            // with every worker's requests written (or taken back).
            debug_assert!(self.workers.iter().all(|w| !w.has_unsent()));
            return;
        }
        let mut now = None;
        while let Some(chunk) = self.queue.front() {
            let plenty = self.queue.len() > self.workers.len();
            let best = self
                .workers
                .iter()
                .enumerate()
                .filter(|(_, w)| w.can_take(chunk, cfg.maxtasks, plenty))
                .min_by_key(|(_, w)| w.inflight.len())
                .map(|(i, _)| i);
            let Some(i) = best else {
                break;
            };
            let Some(chunk) = self.queue.pop_front() else {
                break;
            };
            let msg = match request::encode_run(
                self.workers[i].request_buffer(),
                &chunk.entry,
                chunk.skip,
                chunk.request_rare(),
                &chunk.bytes,
            ) {
                Ok(m) => m,
                Err(e) => {
                    let err = TaskError::Encode(format!("the task arguments: {e}"));
                    let items = chunk.skip..chunk.len;
                    self.deliver(chunk.job, chunk.index, items, Err(err), completions);
                    continue;
                }
            };
            // Only a map's chunks are timed (how fast a worker turns them
            // round decides how deep it is prefetched): a clock read costs
            // about as much as the rest of an `apply`'s dispatch.
            let sent_at = chunk.bulk.then(|| *now.get_or_insert_with(Instant::now));
            let back = self.workers[i].send(chunk, msg, sent_at);
            if !back.is_empty() {
                self.requeue_front(back);
            }
        }
        for i in 0..self.workers.len() {
            if !self.workers[i].has_unsent() {
                continue;
            }
            let back = self.workers[i].flush_or_return();
            if !back.is_empty() {
                self.requeue_front(back);
                // Another worker may take them.
                return self.dispatch(cfg, completions);
            }
        }
    }

    /// Puts `chunks` back at the head of the queue, in order.
    fn requeue_front(&mut self, chunks: Vec<Chunk>) {
        for c in chunks.into_iter().rev() {
            self.queue.push_front(c);
        }
    }

    /// Hands every reply read so far to its job (decoding it).
    pub(crate) fn deliver_arrived(&mut self, completions: &mut Vec<Completion>) {
        if self.arrived.is_empty() {
            return;
        }
        // (Drained, not taken: the vector keeps its room for the next replies.)
        for (job, index, items, msg) in self.arrived.drain(..) {
            deliver(&mut self.jobs, job, index, items, Ok(msg), completions);
        }
    }

    /// Gives idle workers their next chunks, then decodes the replies that
    /// freed them (so a worker computes while its last output is decoded).
    pub(crate) fn dispatch_and_deliver(&mut self, cfg: &Config, completions: &mut Vec<Completion>) {
        self.dispatch(cfg, completions);
        self.deliver_arrived(completions);
    }

    fn index_of(&self, id: u64) -> Option<usize> {
        self.workers.iter().position(|w| w.id == id)
    }

    /// The worker holding job `job` that a waiter may read for it (none while
    /// the pool terminates, or when it is lent to another waiter or at its
    /// end), after reading what it has sent already (no waiting: the task
    /// word says whether anything has). Shared by a blocking waiter's help
    /// and a future's watch.
    fn holder_of(&mut self, job: u64) -> Option<usize> {
        if self.state == RunState::Terminate {
            return None;
        }
        let i = self
            .workers
            .iter()
            .position(|w| !w.held() && !w.eof && w.inflight.iter().any(|c| c.job == job))?;
        if self.workers[i].reply_waiting() {
            self.read_replies(i);
        }
        Some(i)
    }

    /// Whether worker `idx` still owes part of job `job`.
    fn still_holds(&self, idx: usize, job: u64) -> bool {
        let w = &self.workers[idx];
        !w.eof && w.inflight.iter().any(|c| c.job == job)
    }

    /// Reads every reply worker `idx` has written so far (one non-blocking
    /// read takes in every frame that has arrived) into `arrived`; the caller
    /// hands them out with [`deliver_arrived`](Self::deliver_arrived) before
    /// it lets go of the lock.
    fn read_replies(&mut self, idx: usize) {
        let Shared {
            workers, arrived, ..
        } = self;
        let w = &mut workers[idx];
        if w.eof {
            return;
        }
        let mut first = true;
        loop {
            // A reply answers the first chunk in flight (replies come in
            // order), whose inputs are then no longer needed: it is read
            // into their allocation. Without a reply the chunk keeps them.
            let mut spare = Vec::new();
            let buf = w.inflight.front_mut().map_or(&mut spare, |c| &mut c.bytes);
            let msg = match w.conn.try_recv_message_in(buf) {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(RecvError::Eof) => {
                    w.eof = true;
                    return;
                }
                Err(e) => return w.fail(&e),
            };
            let Some(chunk) = w.inflight.pop_front() else {
                log::warn!(target: "multiprocess", "{} sent a result for no task", w.name);
                w.broken = true;
                let _ = w.process.kill();
                return;
            };
            if first && chunk.bulk {
                // How long the worker took for this map chunk, at most (it
                // began when it was sent, or after the last reply read).
                let now = Instant::now();
                let began = chunk.sent_at.map_or(w.last_reply, |t| t.max(w.last_reply));
                w.fast = now.saturating_duration_since(began) < FAST_CHUNK;
                w.last_reply = now;
            }
            first = false;
            w.replied += 1;
            arrived.push((chunk.job, chunk.index, chunk.skip..chunk.len, msg));
            if w.inflight.is_empty() && !w.conn.has_buffered() {
                // Nothing more is owed: a read now would only find nothing
                // (or a reply for no task, which the next read reports).
                return;
            }
        }
    }

    /// Worker `idx` ended: collect what it sent; of the chunk it was on, the
    /// tasks that may have run fail (or are retried) and the ones that never
    /// started are queued again, as are the chunks it had not begun.
    fn reap(&mut self, idx: usize, cfg: &Config, completions: &mut Vec<Completion>) {
        self.read_replies(idx);
        self.deliver_arrived(completions);
        let mut w = self.workers.remove(idx);
        let _ = w.process.join_timeout(Duration::from_secs(5));
        let exitcode = w.process.exitcode().unwrap_or(255);
        let died = |task| TaskError::WorkerDied {
            worker: w.name.clone(),
            exitcode,
            task,
        };
        let on_its_own = w.stopped.is_none() && (exitcode != 0 || !w.inflight.is_empty());
        if on_its_own && self.on_death.as_ref().is_some_and(|h| h(&w.name, exitcode)) {
            self.state = RunState::Terminate;
        }
        let mut requeue: Vec<Chunk> = Vec::new();
        let stopped = w.stopped.take();
        if let Some((mut lost, stop)) = stopped.and_then(|s| Some((w.inflight.pop_front()?, s))) {
            // The parent stopped it: no fault of the chunk. The task it was
            // stopped in reports its error (a timeout) without running again;
            // every other task of the chunk runs again elsewhere (the ones
            // before it ran, but their results died with the worker). If the
            // worker had moved on to another task meanwhile, that one runs
            // again too.
            let began = w
                .signals
                .task_word
                .began(w.replied)
                .filter(|_| stop.replied == w.replied);
            match (began, stop.error) {
                (Some(task), Some(err)) if task == stop.task && task == lost.skip => {
                    self.deliver(lost.job, lost.index, task..task + 1, Err(err), completions);
                    lost.skip = task + 1;
                    if lost.skip < lost.len {
                        requeue.push(lost);
                    }
                }
                (Some(task), Some(err)) if task == stop.task => {
                    lost.rare_mut().holes.push((task, err));
                    requeue.push(lost);
                }
                _ => requeue.push(lost),
            }
        } else if let Some(mut lost) = w.inflight.pop_front() {
            match w.signals.task_word.began(w.replied) {
                // The worker retired by itself (exit code 0: past its
                // memory limit) with this chunk queued: no fault of the chunk.
                None if exitcode == 0 => requeue.push(lost),
                // No task of it started (the worker was killed before it
                // read the chunk, or while idle): it goes out again, as long
                // as it is not what kills its workers before any task runs.
                None if lost.unstarted_losses() < MAX_UNSTARTED_LOSSES => {
                    lost.rare_mut().unstarted_losses += 1;
                    requeue.push(lost);
                }
                None => {
                    let items = lost.skip..lost.len;
                    self.deliver(lost.job, lost.index, items, Err(died(None)), completions);
                }
                Some(_) if lost.attempts() < cfg.retries => {
                    lost.rare_mut().attempts += 1;
                    requeue.push(lost);
                }
                // Tasks up to `task` may have run (those before it did, but
                // their results died with the worker); the rest never started.
                Some(task) => {
                    let task = task.clamp(lost.skip, lost.len.saturating_sub(1));
                    let err = died(Some(task));
                    self.deliver(
                        lost.job,
                        lost.index,
                        lost.skip..task + 1,
                        Err(err),
                        completions,
                    );
                    if task + 1 < lost.len {
                        lost.skip = task + 1;
                        requeue.push(lost);
                    }
                }
            }
        }
        requeue.extend(w.inflight.drain(..));
        // Chunks of cancelled jobs are dropped.
        requeue.retain(|c| self.jobs.contains_key(&c.job));
        for c in requeue.into_iter().rev() {
            self.queue.push_front(c);
        }
    }

    /// Kills the workers whose link failed and that did not end within
    /// their grace; returns how long until the next such deadline.
    fn kill_doomed(&mut self, now: Instant) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        for w in &mut self.workers {
            let Some(at) = w.doomed else { continue };
            if at <= now {
                log::warn!(target: "multiprocess", "killing {}: its link failed and it did not end", w.name);
                let _ = w.process.kill();
                w.doomed = None;
            } else {
                let left = at - now;
                next = Some(next.map_or(left, |n| n.min(left)));
            }
        }
        next
    }

    /// Gives the engine back the workers whose lease to an iterator has
    /// ended; returns how long until the engine should look again: when the
    /// next lease ends, or, for a worker an iterator sleeps on (which it
    /// leases when it wakes, without waking the engine if the engine looks
    /// by the lease's end), after a lease's time or as long again as the
    /// sleep has lasted.
    fn end_leases(&mut self, now: Instant) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        for w in &mut self.workers {
            let left = match w.lent {
                Lent::Until(end) if end <= now => {
                    w.lent = Lent::No;
                    continue;
                }
                Lent::Until(end) => end - now,
                Lent::Polled(since) => now.saturating_duration_since(since).max(imap_help::LEASE),
                Lent::No | Lent::Held => continue,
            };
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        next
    }

    /// Watches the running tasks that have a timeout: a worker whose first
    /// chunk in flight has run the same task for its job's limit is stopped
    /// in it. Returns how long until the next look is due: the nearest
    /// deadline, or a fraction of the limit while a task's start is not yet
    /// seen (it is known only by when its task word changed, so a task
    /// runs at most `limit` plus one such look before it is stopped, and
    /// never less than `limit`).
    fn watch_deadlines(&mut self, now: Instant) -> Option<Duration> {
        if self.limits.is_empty() {
            return None;
        }
        let Shared { jobs, limits, .. } = self;
        limits.retain(|job, _| jobs.contains_key(job));
        let mut next: Option<Duration> = None;
        let mut soon = |d: Duration| next = Some(next.map_or(d, |n: Duration| n.min(d)));
        for i in 0..self.workers.len() {
            let w = &mut self.workers[i];
            let limit = match w.inflight.front() {
                Some(head) if w.stopped.is_none() && !w.eof => self.limits.get(&head.job).copied(),
                _ => None,
            };
            let Some(limit) = limit else {
                w.seen = None;
                continue;
            };
            let look = (limit / 16).max(LOOK_MIN);
            let Some(task) = w.signals.task_word.began(w.replied) else {
                w.seen = None;
                soon(look);
                continue;
            };
            let since = match w.seen {
                Some((replied, t, at)) if replied == w.replied && t == task => at,
                _ => {
                    w.seen = Some((w.replied, task, now));
                    now
                }
            };
            let ran = now.saturating_duration_since(since);
            if ran < limit {
                soon((limit - ran).min(look));
                continue;
            }
            // Its reply may be waiting unread (the word still names its last
            // task): read before deciding.
            if !w.held() {
                let before = w.replied;
                self.read_replies(i);
                if self.workers[i].replied != before {
                    soon(Duration::ZERO);
                    continue;
                }
            }
            let err = TaskError::Timeout {
                task,
                timeout: limit,
            };
            self.workers[i].stop_in(task, Some(err), now);
        }
        next
    }

    /// Cancels job `job`: its queued chunks never run, its result reports
    /// [`TaskError::Cancelled`]; with `kill`, the workers running one of its
    /// tasks are stopped (else the task finishes and its result is
    /// dropped). Returns `false` if the job had already completed.
    pub(crate) fn cancel(
        &mut self,
        job: u64,
        kill: bool,
        completions: &mut Vec<Completion>,
    ) -> bool {
        let Some(sink) = self.jobs.remove(&job) else {
            return false;
        };
        self.limits.remove(&job);
        self.queue.retain(|c| c.job != job);
        if kill {
            let now = Instant::now();
            // Also a worker that holds one of its chunks first but has not
            // begun it: stopped, it never runs it.
            for w in &mut self.workers {
                if let Some(head) = w.inflight.front().filter(|c| c.job == job) {
                    let task = w.signals.task_word.began(w.replied).unwrap_or(head.skip);
                    w.stop_in(task, None, now);
                }
            }
        }
        completions.extend(sink.cancel());
        true
    }

    /// Starts workers until there are `processes` of them, while there is or
    /// may be work; if none can be started, fails the queued chunks.
    fn replenish(&mut self, cfg: &Config, completions: &mut Vec<Completion>) {
        if self.state == RunState::Terminate
            || (self.state == RunState::Close && self.jobs.is_empty())
        {
            return;
        }
        while self.workers.len() < cfg.processes {
            let id = self.next_worker;
            self.next_worker += 1;
            match start_worker(cfg, id) {
                Ok(w) => self.workers.push(w),
                Err(e) => {
                    log::warn!(target: "multiprocess", "cannot start a pool worker: {e}");
                    if self.workers.is_empty() {
                        let err = TaskError::NoWorker(e.to_string());
                        while let Some(c) = self.queue.pop_front() {
                            let items = c.skip..c.len;
                            self.deliver(c.job, c.index, items, Err(err.clone()), completions);
                        }
                    }
                    break;
                }
            }
        }
    }
}

/// Runs completions (callbacks, result delivery), outside the lock.
#[inline]
pub(crate) fn run_all(completions: Vec<Completion>) {
    // Most calls have none: a look, not a call (an empty vector's iterator
    // still costs a call to its drop).
    if !completions.is_empty() {
        run_each(completions);
    }
}

/// [`run_all`]'s loop.
#[inline(never)]
fn run_each(completions: Vec<Completion>) {
    for c in completions {
        c();
    }
}

/// Hands chunk `index` of `job` its output; a job that is now complete
/// leaves `jobs` and its completion joins `completions`.
fn deliver(
    jobs: &mut FxHashMap<u64, JobSink>,
    job: u64,
    index: usize,
    items: Range<usize>,
    out: Result<Message, TaskError>,
    completions: &mut Vec<Completion>,
) {
    if let Some(sink) = jobs.get_mut(&job) {
        let progress = sink.chunk_done(index, items, out);
        sink.take_reports(completions);
        if let Progress::Done(c) = progress {
            jobs.remove(&job);
            completions.extend(c);
        }
    }
}

/// The state shared by the [`Pool`](crate::Pool) handle and its engine thread.
pub(crate) struct Inner {
    /// The process that made the pool: the only one that may use it (a
    /// forked child's copy has no engine thread, and its locks may be
    /// held for ever by threads it does not have).
    pub(crate) owner: u32,
    pub(crate) shared: Mutex<Shared>,
    pub(crate) config: Config,
    /// Wakes the engine thread (see [`wake`](Self::wake)).
    pub(crate) wake: WakeFd,
    pub(crate) finished: Mutex<bool>,
    pub(crate) finished_cv: Condvar,
}

impl Inner {
    /// Whether the calling process made the pool (see `owner`).
    #[inline]
    pub(crate) fn is_owner(&self) -> bool {
        self.owner == mp_shm::ProcessIdent::current().pid()
    }

    /// Makes the engine thread look at the state now.
    pub(crate) fn wake(&self) {
        self.wake.wake();
    }

    /// Releases the lock, waking the engine thread if it must poll a worker
    /// it does not know is busy (`except`: see [`Shared::engine_stale`]).
    pub(crate) fn settle(&self, mut s: std::sync::MutexGuard<'_, Shared>, except: Option<u64>) {
        // Once woken, the engine rebuilds its poll set from the state as it
        // will then be: one wake is enough until it does.
        let stale = !s.engine_woken && s.engine_stale(except);
        s.engine_woken |= stale;
        drop(s);
        if stale {
            self.wake();
        }
    }

    /// Changes the shared state with `f` (given the pool's settings and where
    /// to put completions), then lets go of the lock, wakes the engine thread
    /// if it must watch a worker anew, and runs the completions.
    pub(crate) fn update<T>(
        &self,
        f: impl FnOnce(&mut Shared, &Config, &mut Vec<Completion>) -> T,
    ) -> T {
        let mut completions = Vec::new();
        let mut s = lock(&self.shared);
        let out = f(&mut s, &self.config, &mut completions);
        self.settle(s, None);
        run_all(completions);
        out
    }

    /// Waits until the engine thread has stopped (bounded by `timeout`).
    pub(crate) fn wait_finished(&self, timeout: Option<Duration>) -> bool {
        let deadline = Deadline::after(timeout);
        let mut done = lock(&self.finished);
        while !*done {
            let waited;
            (done, waited) = wait_until(&self.finished_cv, done, deadline);
            if !waited {
                return false;
            }
        }
        true
    }
}

/// What the pool's results and iterators ask of its engine. In a process
/// other than the pool's maker (a forked child's copy of a result or an
/// iterator) each answers before it takes any lock: nobody helps, nothing
/// runs, nothing is cancelled (the callers check first too; this closes
/// any path that does not).
impl Help for Inner {
    /// A thread waiting (until `deadline`) for job `job` reads the socket of
    /// the worker holding it itself, so the reply wakes the waiter directly
    /// instead of the engine thread, which then wakes the waiter. Returns
    /// `false` when it cannot help (the chunk is queued, or its worker is
    /// already being read): the engine delivers it then. Replies of other
    /// jobs read on the way are delivered too (their callbacks run here).
    ///
    /// Before it sleeps, a waiter whose reply has not come offers its CPU
    /// once ([`offer_cpu`]): a worker that shares the CPU, woken by the
    /// request, runs its task then, and if it has replied when the offer
    /// returns, the waiter reads the reply without sleeping (no `poll`,
    /// no wake-up). With nothing else to run, the offer returns at once.
    fn help(&self, job: u64, deadline: Deadline) -> bool {
        if !self.is_owner() {
            return false;
        }
        let mut completions = Vec::new();
        let (id, signals, replied) = {
            let mut s = lock(&self.shared);
            let Some(i) = s.holder_of(job) else {
                self.settle(s, None);
                return false;
            };
            // If what had arrived finished this worker's part of the job,
            // there is nothing to wait for here.
            if !s.still_holds(i, job) {
                s.dispatch_and_deliver(&self.config, &mut completions);
                self.settle(s, None);
                run_all(completions);
                return true;
            }
            s.dispatch_and_deliver(&self.config, &mut completions);
            let w = &mut s.workers[i];
            w.lent = Lent::Held;
            (w.id, Arc::clone(&w.signals), w.replied)
        };
        // Other jobs' results read on the way are not held up by our wait.
        run_all(std::mem::take(&mut completions));
        let timeout = deadline.remaining();
        if !signals.replied_beyond(replied) && timeout != Some(Duration::ZERO) {
            offer_cpu(&signals);
        }
        if !signals.replied_beyond(replied) {
            wait_for_reply(&signals, timeout);
        }
        let mut s = lock(&self.shared);
        if let Some(i) = s.index_of(id) {
            s.workers[i].lent = Lent::No;
            s.read_replies(i);
            s.dispatch_and_deliver(&self.config, &mut completions);
        }
        // A dead worker is the engine's to reap (it polls every sentinel).
        self.settle(s, None);
        run_all(completions);
        true
    }

    fn help_iter(&self, job: u64, deadline: Deadline, arrivals: &dyn Arrivals) -> bool {
        self.is_owner() && Inner::help_iter(self, job, deadline, arrivals)
    }

    fn stop_helping(&self) {
        if self.is_owner() {
            self.settle(lock(&self.shared), None);
        }
    }

    #[cfg(feature = "async")]
    fn watch(&self, job: u64) -> Watched {
        if !self.is_owner() {
            return Watched::No;
        }
        Inner::watch(self, job)
    }

    #[cfg(feature = "async")]
    fn collect(&self, worker: u64) {
        if self.is_owner() {
            Inner::collect(self, worker);
        }
    }

    fn running(&self, job: u64) -> bool {
        if !self.is_owner() {
            return false;
        }
        let s = lock(&self.shared);
        s.jobs.contains_key(&job)
            && s.workers
                .iter()
                .any(|w| w.inflight.iter().any(|c| c.job == job))
    }

    fn cancel_pending(&self, job: u64) -> bool {
        if !self.is_owner() {
            return false;
        }
        self.update(|s, _, completions| {
            !s.workers
                .iter()
                .any(|w| w.inflight.iter().any(|c| c.job == job))
                && s.cancel(job, false, completions)
        })
    }

    fn cancel(&self, job: u64, kill: bool) -> bool {
        if !self.is_owner() {
            return false;
        }
        let cancelled = self.update(|s, _, completions| s.cancel(job, kill, completions));
        if cancelled && kill {
            // The engine must watch the stopped workers' grace.
            self.wake();
        }
        cancelled
    }
}

/// Offers this CPU to whatever else may run on it (`sched_yield`): above
/// all the worker a waiter just sent its task to, which the request woke
/// and which may share the CPU.
fn offer_cpu(signals: &WorkerSignals) {
    #[cfg(test)]
    tests::AT_OFFER.with(|at| {
        if let Some(worker) = at.borrow_mut().as_mut() {
            worker(signals);
        }
    });
    #[cfg(not(test))]
    let _ = signals;
    std::thread::yield_now();
}

/// Sleeps until the worker's link has bytes to read or it has ended, at
/// most `timeout`.
fn wait_for_reply(signals: &WorkerSignals, timeout: Option<Duration>) {
    #[cfg(test)]
    tests::WAITS.with(|n| n.set(n.get() + 1));
    let _ = mp_sys::fd::poll_readable_into(
        &[signals.reply.as_fd(), signals.sentinel.as_fd()],
        timeout,
        &mut [false; 2],
    );
}

/// A worker as the engine polls it: id, whether the engine reads its replies
/// (else it polls only the sentinel), its fds.
type Watch = (u64, bool, Arc<WorkerSignals>);

/// The engine thread's body.
pub(crate) fn run(inner: Arc<Inner>) {
    let cfg = &inner.config;
    loop {
        let mut timeout = TICK;
        let watch: Vec<Watch> = {
            let mut s = lock(&inner.shared);
            if s.state == RunState::Terminate {
                break;
            }
            let now = Instant::now();
            if let Some(left) = s.watch_deadlines(now) {
                timeout = timeout.min(left);
            }
            if let Some(left) = s.kill_doomed(now) {
                timeout = timeout.min(left);
            }
            if let Some(left) = s.end_leases(now) {
                timeout = timeout.min(left);
            }
            s.engine_wakes_at = now + timeout;
            s.engine_woken = false;
            // A socket is polled only while it has work in flight and no
            // waiting thread or iterator reads it (see `Inner`'s `Help`).
            let watch: Vec<Watch> = s
                .workers
                .iter()
                .map(|w| {
                    let read = !w.eof && w.lent == Lent::No && !w.inflight.is_empty();
                    (w.id, read, Arc::clone(&w.signals))
                })
                .collect();
            s.engine_watch = watch
                .iter()
                .filter(|(_, read, _)| *read)
                .map(|(id, ..)| *id)
                .collect();
            watch
        };
        let mut fds: Vec<BorrowedFd<'_>> = vec![inner.wake.fd()];
        for (_, read, w) in &watch {
            fds.push(if *read {
                w.reply.as_fd()
            } else {
                w.sentinel.as_fd()
            });
            fds.push(w.sentinel.as_fd());
        }
        let ready = match mp_sys::fd::poll_readable_any(&fds, Some(timeout)) {
            Ok(r) => r,
            Err(e) => {
                log::warn!(target: "multiprocess", "pool: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if ready[0] {
            inner.wake.drain();
        }
        let mut completions: Vec<Completion> = Vec::new();
        let mut s = lock(&inner.shared);
        for (k, (id, read, _)) in watch.iter().enumerate() {
            if ready[1 + 2 * k] && *read {
                // Not if a waiting thread has borrowed it since: that thread
                // sleeps until the socket is readable, so it must do the read.
                if let Some(i) = s.index_of(*id).filter(|&i| !s.workers[i].held()) {
                    s.read_replies(i);
                }
            }
        }
        for (k, (id, ..)) in watch.iter().enumerate() {
            if ready[2 + 2 * k] {
                if let Some(i) = s.index_of(*id) {
                    s.reap(i, cfg, &mut completions);
                }
            }
        }
        s.replenish(cfg, &mut completions);
        s.dispatch_and_deliver(cfg, &mut completions);
        let closed = s.state == RunState::Close && s.jobs.is_empty() && s.queue.is_empty();
        let leaving = if closed {
            std::mem::take(&mut s.workers)
        } else {
            Vec::new()
        };
        drop(s);
        for c in completions {
            c();
        }
        if closed {
            stop_gracefully(leaving);
            break;
        }
    }
    // Terminate: stop the workers, abandon every job.
    let (workers, jobs) = {
        let mut s = lock(&inner.shared);
        s.queue.clear();
        (std::mem::take(&mut s.workers), std::mem::take(&mut s.jobs))
    };
    kill_all(workers);
    for (_, sink) in jobs {
        if let Some(c) = sink.abandon() {
            c();
        }
    }
    *lock(&inner.finished) = true;
    inner.finished_cv.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pool;
    use mp_process::{Process, StartMethod};
    use std::cell::{Cell, RefCell};
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    /// What runs in this thread's offer of its CPU, instead of (or before)
    /// a worker that shares the CPU.
    type Offer = Box<dyn FnMut(&WorkerSignals)>;

    thread_local! {
        /// Run at each offer of the CPU (see [`offer_cpu`]).
        pub(super) static AT_OFFER: RefCell<Option<Offer>> = RefCell::new(None);
        /// How many times this thread waited for a reply in `poll`.
        pub(super) static WAITS: Cell<u32> = const { Cell::new(0) };
    }

    /// A task that returns 7 once `path` exists (at most 60 s from now):
    /// the test decides when the worker replies.
    fn seven_once_there(path: String) -> u32 {
        let until = Instant::now() + Duration::from_secs(60);
        while !Path::new(&path).exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        7
    }

    /// A path for one test's go-ahead file (not created).
    fn go_path(test: &str) -> PathBuf {
        std::env::temp_dir().join(format!("mp-pool-{test}-{}", std::process::id()))
    }

    /// Sets what the offer runs, counting the offers; returns the count.
    fn on_offer(mut then: impl FnMut(&WorkerSignals) + 'static) -> Rc<Cell<u32>> {
        let offers = Rc::new(Cell::new(0));
        let counted = Rc::clone(&offers);
        AT_OFFER.with(|at| {
            *at.borrow_mut() = Some(Box::new(move |signals: &WorkerSignals| {
                counted.set(counted.get() + 1);
                then(signals);
            }));
        });
        WAITS.with(|n| n.set(0));
        offers
    }

    fn clear_offer() {
        AT_OFFER.with(|at| at.borrow_mut().take());
    }

    /// A worker that replies while its waiter offers the CPU (as one that
    /// shares the CPU does) is read at once: the waiter never sleeps.
    #[test]
    fn a_reply_made_during_the_offer_is_read_without_sleeping() {
        let pool = Pool::with_processes(1).unwrap();
        let go = go_path("offer-replied");
        let created = go.clone();
        let offers = on_offer(move |signals| {
            std::fs::write(&created, b"").unwrap();
            // The worker runs its task to the end meanwhile (its first
            // reply, counted once it is wholly written).
            let until = Instant::now() + Duration::from_secs(60);
            while !signals.replied_beyond(0) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let path = go.to_string_lossy().into_owned();
        let got = pool.apply_async(seven_once_there, (path,)).unwrap().get();
        clear_offer();
        let _ = std::fs::remove_file(&go);
        assert_eq!(got.unwrap(), 7);
        assert_eq!(offers.get(), 1, "one offer of the CPU");
        assert_eq!(WAITS.with(Cell::get), 0, "no sleep once the reply is there");
    }

    /// A waiter whose worker does not reply during the offer sleeps until
    /// it does, after one offer.
    #[test]
    fn a_waiter_offers_once_then_sleeps() {
        let pool = Pool::with_processes(1).unwrap();
        let go = go_path("offer-then-sleep");
        let offers = on_offer(|_| {});
        let created = go.clone();
        let maker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(&created, b"").unwrap();
        });
        let path = go.to_string_lossy().into_owned();
        let got = pool.apply_async(seven_once_there, (path,)).unwrap().get();
        clear_offer();
        maker.join().unwrap();
        let _ = std::fs::remove_file(&go);
        assert_eq!(got.unwrap(), 7);
        assert_eq!(offers.get(), 1, "one offer of the CPU");
        assert!(WAITS.with(Cell::get) >= 1, "it slept until the reply came");
    }

    /// A look that may not wait (a timeout of zero) offers nothing.
    #[test]
    fn a_look_without_waiting_offers_nothing() {
        let pool = Pool::with_processes(1).unwrap();
        let go = go_path("offer-no-wait");
        let offers = on_offer(|_| {});
        let path = go.to_string_lossy().into_owned();
        let result = pool.apply_async(seven_once_there, (path,)).unwrap();
        let early = result.get_timeout(Duration::ZERO);
        assert_eq!(offers.get(), 0, "no offer for a look");
        clear_offer();
        std::fs::write(&go, b"").unwrap();
        let got = result.get();
        let _ = std::fs::remove_file(&go);
        assert!(matches!(early, Err(crate::PoolError::Timeout)), "{early:?}");
        assert_eq!(got.unwrap(), 7);
    }

    /// A worker leased to an iterator counts as unread only if the engine
    /// sleeps past the lease's end (whoever leases it must then wake the
    /// engine); an ended lease goes back to the engine; for a worker an
    /// iterator sleeps on, the engine looks again after a lease, then after
    /// as long again as the sleep has lasted.
    #[test]
    fn a_lease_wakes_the_engine_only_if_it_would_sleep_past_its_end() {
        let pool = Pool::with_processes(1).unwrap();
        let go = go_path("leases");
        let path = go.to_string_lossy().into_owned();
        // The worker holds a task until the file exists.
        let result = pool.apply_async(seven_once_there, (path,)).unwrap();
        {
            let mut s = lock(&pool.inner.shared);
            assert!(!s.workers[0].inflight.is_empty());
            let now = Instant::now();
            let end = now + imap_help::LEASE;
            s.workers[0].lent = Lent::Until(end);
            s.engine_watch.clear();
            s.engine_wakes_at = now + TICK;
            assert!(s.engine_stale(None), "the engine sleeps past the lease");
            s.engine_wakes_at = end;
            assert!(!s.engine_stale(None), "the engine looks by the lease's end");
            assert_eq!(s.end_leases(now), Some(imap_help::LEASE));
            assert_eq!(s.workers[0].lent, Lent::Until(end));
            assert_eq!(s.end_leases(end), None);
            assert_eq!(s.workers[0].lent, Lent::No, "an ended lease goes back");
            s.workers[0].lent = Lent::Polled(now);
            assert!(!s.engine_stale(None), "an iterator reads it");
            assert_eq!(s.end_leases(now), Some(imap_help::LEASE));
            let long = Duration::from_millis(30);
            assert_eq!(s.end_leases(now + long), Some(long));
            // Back as it was; the engine rebuilds its poll set when woken.
            s.workers[0].lent = Lent::No;
        }
        pool.inner.wake();
        std::fs::write(&go, b"").unwrap();
        let got = result.get();
        let _ = std::fs::remove_file(&go);
        assert_eq!(got.unwrap(), 7);
    }

    /// A forked child's copy of a pool's engine answers what its results and
    /// iterators ask before it takes the engine's lock. Here the lock is
    /// held at the fork (by the forking thread, as any parent thread may
    /// hold it): the child waited for ever on its first lock.
    #[test]
    fn a_forked_copy_answers_before_taking_the_lock() {
        let pool = Pool::with_processes(1).unwrap();
        let copy = Arc::clone(&pool.inner);
        let held = lock(&pool.inner.shared);
        let mut p = Process::from_closure(move || {
            let engine: &dyn Help = &*copy;
            let in_a_minute = Deadline::after(Some(Duration::from_secs(60)));
            assert!(!engine.help(0, in_a_minute));
            let arrivals = crate::imap::ImapShared::<u32>::new(false, 1);
            assert!(!engine.help_iter(0, in_a_minute, &*arrivals));
            engine.stop_helping();
            assert!(!engine.running(0));
            assert!(!engine.cancel_pending(0));
            assert!(!engine.cancel(0, true));
            #[cfg(feature = "async")]
            {
                assert!(matches!(engine.watch(0), Watched::No));
                engine.collect(0);
            }
        })
        .start_method(StartMethod::Fork);
        p.start().unwrap();
        drop(held);
        p.join_timeout(Duration::from_secs(30)).unwrap();
        let code = p.exitcode();
        if code.is_none() {
            let _ = p.kill();
            let _ = p.join();
        }
        assert_eq!(code, Some(0), "the child's copy answered and it ended");
    }
}
