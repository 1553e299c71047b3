//! The parent's side of each worker: its process, connection, sentinel and
//! the chunks in flight to it; starting workers and stopping them
//! (gracefully, or at once).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_channel::{ExclusiveConnection, RecvError};
use mp_process::Process;
use mp_wire::{Message, SharedFd};

use crate::config::Config;
use crate::error::{PoolError, TaskError};
use crate::func::EntryParts;
use crate::request::{self, RunRareRef};
use crate::task_word::TaskWord;
use crate::worker_main::{worker_main, InitSpec, WorkerConfig};

/// A chunk this small may be queued behind other small chunks on a busy
/// worker (prefetch).
const PREFETCH_MAX_BYTES: usize = 16 * 1024;
/// At most this many chunks in flight per worker when prefetching.
const PREFETCH_DEPTH: usize = 4;
/// ... and this many for a worker whose chunks take under [`FAST_CHUNK`]:
/// for tiny tasks, deep pipelining lets each write and each read carry many
/// frames, while a slow task can hold back at most `PREFETCH_DEPTH` others.
const PREFETCH_DEPTH_FAST: usize = 32;
/// A worker that answers a chunk within this time is "fast".
pub(crate) const FAST_CHUNK: Duration = Duration::from_micros(200);
/// How long a worker whose link failed may take to end by itself before it
/// is killed: a worker ending with `exit(n)` closes its link while it
/// unwinds, then runs its exit clean-up; killing it at once would report
/// `SIGKILL` instead of its real status.
pub(crate) const LINK_GRACE: Duration = Duration::from_secs(2);
/// How long a worker stopped in a task (timed out, cancelled with a kill)
/// has after `SIGTERM` before `SIGKILL`.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(1);
/// At most this many bytes in flight per worker when prefetching.
const PREFETCH_MAX_INFLIGHT: usize = 64 * 1024;
/// The buffer asked for each pipe of a worker's link: room for
/// [`PREFETCH_MAX_INFLIGHT`] plus a page per frame at full prefetch depth.
const LINK_CAPACITY: usize = 256 * 1024;
/// The buffer a pipe has if the system refuses to grow it (Linux's default).
const PIPE_DEFAULT: usize = 64 * 1024;
/// A pipe buffer's unit: a write that does not fit in the last page's free
/// room starts a new one, so each request may waste up to one.
const PIPE_PAGE: usize = 4096;
/// What a request adds to its chunk's bytes on the wire (frame header,
/// entry point, lengths), rounded up.
const REQUEST_OVERHEAD: usize = 128;

/// One chunk of one job: encoded inputs plus the entry that runs them.
pub(crate) struct Chunk {
    pub(crate) job: u64,
    pub(crate) index: usize,
    pub(crate) entry: EntryParts,
    pub(crate) bytes: Vec<u8>,
    /// How many tasks it holds.
    pub(crate) len: usize,
    /// The tasks before this index are settled (a worker died running the
    /// chunk); the worker runs the rest.
    pub(crate) skip: usize,
    /// Part of a map-style job (may be prefetched), not an `apply`.
    pub(crate) bulk: bool,
    /// When it was last sent to a worker (a map's chunks only).
    pub(crate) sent_at: Option<Instant>,
    /// What few chunks have (boxed: a chunk is moved from the queue to its
    /// worker's flight and out again, and without these it is small enough
    /// to be moved without a call to `memcpy`).
    pub(crate) rare: Option<Box<ChunkRare>>,
}

/// The parts of a [`Chunk`] most chunks do not have.
#[derive(Default)]
pub(crate) struct ChunkRare {
    pub(crate) fds: Vec<SharedFd>,
    /// Tasks not to run (they timed out), with the error each reports.
    pub(crate) holes: Vec<(usize, TaskError)>,
    /// How many workers died holding it after one of its tasks started.
    pub(crate) attempts: u32,
    /// How many workers died holding it before any of its tasks started.
    pub(crate) unstarted_losses: u32,
}

impl Chunk {
    fn prefetchable(&self) -> bool {
        self.bulk && self.bytes.len() <= PREFETCH_MAX_BYTES
    }

    /// How many workers died holding it before any of its tasks started.
    pub(crate) fn unstarted_losses(&self) -> u32 {
        self.rare.as_ref().map_or(0, |r| r.unstarted_losses)
    }

    /// How many workers died holding it after one of its tasks started.
    pub(crate) fn attempts(&self) -> u32 {
        self.rare.as_ref().map_or(0, |r| r.attempts)
    }

    /// Its rare parts, made on first use.
    pub(crate) fn rare_mut(&mut self) -> &mut ChunkRare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// What its request carries beyond the inputs' bytes (`None`: no fds,
    /// no holes).
    pub(crate) fn request_rare(&self) -> Option<RunRareRef<'_>> {
        let rare = self.rare.as_deref()?;
        (!rare.fds.is_empty() || !rare.holes.is_empty()).then_some(RunRareRef {
            fds: &rare.fds,
            holes: &rare.holes,
        })
    }
}

/// What a worker's progress shows in, for threads that watch it without
/// the pool's lock (one shared allocation: a waiter takes it all with one
/// reference-count change; it stays valid while they do, even if the
/// worker is reaped meanwhile).
pub(crate) struct WorkerSignals {
    /// A duplicate of the fd that shows replies arriving on its link.
    pub(crate) reply: OwnedFd,
    /// Readable once the worker has ended.
    pub(crate) sentinel: OwnedFd,
    /// Which task it is on, and the counts of messages written each way.
    pub(crate) task_word: TaskWord,
}

impl WorkerSignals {
    /// Whether the worker has written a whole reply beyond the first
    /// `replied` (no system call: the task word's count).
    pub(crate) fn replied_beyond(&self, replied: u64) -> bool {
        self.task_word.replies_written() > replied
    }
}

/// A live worker as the parent sees it.
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) process: Process,
    /// The connection to the worker (a pipe each way, see
    /// [`mp_channel::pipe`]); replies that one read
    /// took in beyond the first wait in its buffer. Exclusive: it is used
    /// only under the pool's lock, which makes the connection's own locks
    /// (two locked instructions per send and per receive) redundant.
    pub(crate) conn: ExclusiveConnection,
    /// Its reply fd, sentinel and task word, for threads that watch it
    /// without the pool's lock.
    pub(crate) signals: Arc<WorkerSignals>,
    /// The bytes its request pipe buffers: prefetched requests must fit, so
    /// that a prefetch send never blocks (a blocked send could deadlock with
    /// a worker blocked writing a large result).
    link_room: usize,
    /// How many replies were read from it.
    pub(crate) replied: u64,
    pub(crate) inflight: VecDeque<Chunk>,
    /// Small requests (without fds) waiting to go out in one write; they
    /// hold the last chunks of `inflight`.
    outq: Vec<Message>,
    /// Buffers of requests written, for the next ones to be encoded into
    /// ([`request_buffer`](Self::request_buffer)): a request encoded into a
    /// fresh `Vec` cost a small task four allocations as it grew.
    spare_requests: Vec<Vec<u8>>,
    pub(crate) sent: u64,
    pub(crate) eof: bool,
    pub(crate) broken: bool,
    /// Who reads its replies besides the engine thread.
    pub(crate) lent: Lent,
    /// Its chunks come back within [`FAST_CHUNK`] (deeper prefetch).
    pub(crate) fast: bool,
    /// Run requests wholly written to it (its count in the task word).
    written: u64,
    /// When a reply to a map chunk was last read from it.
    pub(crate) last_reply: Instant,
    /// Its link failed, or it is being stopped: it is killed if it has not
    /// ended by this time.
    pub(crate) doomed: Option<Instant>,
    /// The task it was stopped in (timed out or cancelled), if it was.
    pub(crate) stopped: Option<Stopped>,
    /// The task of its first chunk in flight it was last seen running:
    /// (replies read then, task index in the chunk, first seen at).
    pub(crate) seen: Option<(u64, usize, Instant)>,
    /// Its socket's registration with the async reactor, made when a result
    /// future first awaits it (see `engine_async.rs`).
    #[cfg(feature = "async")]
    pub(crate) registration: Option<Arc<mp_sys::readiness::Registration>>,
}

/// Who reads a worker's replies besides the engine thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lent {
    /// Nobody: the engine thread polls its link while it has work in flight.
    No,
    /// A waiting thread that sleeps on its link (and reads it when it
    /// wakes): the engine thread does not poll the link meanwhile.
    Held,
    /// As `Held`, by the iterator of the only job it has work of, since this
    /// time: the iterator leases the worker when it wakes (`Until`), so the
    /// engine thread looks again after a lease's time (or, the longer the
    /// sleep lasts, after as long again as it has lasted).
    Polled(Instant),
    /// The iterator of the only job it has work of, which read it last and
    /// is likely back for the next replies before this time: until then the
    /// engine thread does not poll the link (the pool thread and the
    /// iterator's thread would both wake for every reply); after it, the
    /// engine reads it again. Anyone may read it meanwhile.
    Until(Instant),
}

/// Why the parent stopped a worker in a task.
pub(crate) struct Stopped {
    /// Replies read from it when it was stopped (identifies the chunk).
    pub(crate) replied: u64,
    /// The task's index in its chunk.
    pub(crate) task: usize,
    /// What the task reports: [`TaskError::Timeout`] (with the index in the
    /// chunk), or `None` when its job was cancelled.
    pub(crate) error: Option<TaskError>,
}

impl Worker {
    /// Whether this worker may be sent `chunk` now; `plenty` says the queue
    /// holds more chunks than there are workers, so queueing one behind a
    /// running chunk cannot starve the end of a job.
    pub(crate) fn can_take(&self, chunk: &Chunk, maxtasks: Option<u64>, plenty: bool) -> bool {
        if self.broken || self.eof || maxtasks.is_some_and(|m| self.sent >= m) {
            return false;
        }
        if self.inflight.is_empty() {
            return true;
        }
        let depth = if self.fast {
            PREFETCH_DEPTH_FAST
        } else {
            PREFETCH_DEPTH
        };
        let bytes = self.inflight.iter().map(|c| c.bytes.len()).sum::<usize>() + chunk.bytes.len();
        let frames = self.inflight.len() + 1;
        plenty
            && self.inflight.len() < depth
            && chunk.prefetchable()
            && self.inflight.iter().all(Chunk::prefetchable)
            && bytes <= PREFETCH_MAX_INFLIGHT
            && bytes + frames * (REQUEST_OVERHEAD + PIPE_PAGE) <= self.link_room
    }
}

impl Worker {
    /// An empty buffer to encode this worker's next request into (one a
    /// written request left, if any), for [`send`](Self::send).
    pub(crate) fn request_buffer(&mut self) -> Vec<u8> {
        self.spare_requests.pop().unwrap_or_default()
    }

    /// Keeps a written request's buffer for [`request_buffer`](Self::request_buffer)
    /// (at most as many as a full prefetch holds, none larger than a
    /// prefetched request may be).
    fn keep_request_buffer(&mut self, mut bytes: Vec<u8>) {
        if self.spare_requests.len() < PREFETCH_DEPTH_FAST
            && bytes.capacity() <= PREFETCH_MAX_BYTES + REQUEST_OVERHEAD
        {
            bytes.clear();
            self.spare_requests.push(bytes);
        }
    }

    /// Queues an encoded request for `chunk` (sent by
    /// [`flush_or_return`](Self::flush_or_return) or before the next request
    /// that must go alone) and counts it in flight. If a write fails, the
    /// worker is broken and every chunk not yet sent comes back, in order,
    /// to be queued again.
    pub(crate) fn send(
        &mut self,
        mut chunk: Chunk,
        msg: Message,
        sent_at: Option<Instant>,
    ) -> Vec<Chunk> {
        chunk.sent_at = sent_at;
        if msg.fds.is_empty() && msg.bytes.len() <= PREFETCH_MAX_BYTES {
            self.outq.push(msg);
        } else {
            let sent = self.flush().and_then(|()| {
                self.conn
                    .send_message(&msg, None)
                    .map_err(|e| e.to_string())?;
                self.count_written(1);
                Ok(())
            });
            self.keep_request_buffer(msg.bytes);
            if let Err(e) = sent {
                let mut back = self.take_unsent(&e);
                back.push(chunk);
                return back;
            }
        }
        self.inflight.push_back(chunk);
        self.sent += 1;
        Vec::new()
    }

    /// Whether requests wait in this worker's queue for [`flush_or_return`](Self::flush_or_return).
    pub(crate) fn has_unsent(&self) -> bool {
        !self.outq.is_empty()
    }

    /// Writes the queued requests; if that fails the worker is broken and
    /// the chunks they held come back, in order.
    pub(crate) fn flush_or_return(&mut self) -> Vec<Chunk> {
        match self.flush() {
            Ok(()) => Vec::new(),
            Err(e) => self.take_unsent(&e),
        }
    }

    /// A write failed with `e`: the worker is broken; the queued requests'
    /// chunks leave `inflight`.
    fn take_unsent(&mut self, e: &str) -> Vec<Chunk> {
        log::debug!(target: "multiprocess", "cannot send a task to {}: {e}", self.name);
        self.doom();
        let n = self.outq.len().min(self.inflight.len());
        self.outq.clear();
        self.sent = self.sent.saturating_sub(n as u64);
        self.inflight.split_off(self.inflight.len() - n).into()
    }

    /// Writes the queued requests together (one write).
    fn flush(&mut self) -> Result<(), String> {
        if self.outq.is_empty() {
            return Ok(());
        }
        self.conn.send_many(&self.outq).map_err(|e| e.to_string())?;
        self.count_written(self.outq.len());
        let mut written = std::mem::take(&mut self.outq);
        for msg in written.drain(..) {
            self.keep_request_buffer(msg.bytes);
        }
        // The queue keeps its allocation too.
        self.outq = written;
        Ok(())
    }

    /// `n` more run requests are wholly in the link: tell the worker
    /// through the task word (so it reads them without polling first).
    fn count_written(&mut self, n: usize) {
        self.written += n as u64;
        self.signals.task_word.set_requests_written(self.written);
    }

    /// Whether a waiting thread sleeps on its link (only that thread may
    /// read it).
    pub(crate) fn held(&self) -> bool {
        matches!(self.lent, Lent::Held | Lent::Polled(_))
    }

    /// Whether a whole reply is there to read (written by the worker, or
    /// already in the connection's buffer), without a system call.
    pub(crate) fn reply_waiting(&self) -> bool {
        self.signals.replied_beyond(self.replied) || self.conn.has_buffered()
    }

    /// Stops the worker in task `task` of its first chunk in flight:
    /// `SIGTERM` now, `SIGKILL` after [`STOP_GRACE`]; no more work goes to it.
    pub(crate) fn stop_in(&mut self, task: usize, error: Option<TaskError>, now: Instant) {
        if self.stopped.is_some() {
            return;
        }
        log::info!(target: "multiprocess", "stopping {} in task {task}", self.name);
        self.stopped = Some(Stopped {
            replied: self.replied,
            task,
            error,
        });
        self.broken = true;
        let _ = self.process.terminate();
        self.doomed = Some(now + STOP_GRACE);
    }

    /// The worker's stream cannot be trusted any more: stop reading it and
    /// let it end (its in-flight chunks are settled when it is reaped).
    pub(crate) fn fail(&mut self, e: &RecvError) {
        log::warn!(target: "multiprocess", "cannot read a result from {}: {e}", self.name);
        self.eof = true;
        self.doom();
    }

    /// Its link failed: no more work goes to it, and it gets
    /// [`LINK_GRACE`] to end by itself (so its real exit status is
    /// reported) before the engine kills it.
    fn doom(&mut self) {
        self.broken = true;
        self.doomed
            .get_or_insert_with(|| Instant::now() + LINK_GRACE);
    }
}

/// Starts one worker process with its link.
pub(crate) fn start_worker(cfg: &Config, id: u64) -> Result<Worker, PoolError> {
    let (task_word, word_fd) = TaskWord::create()?;
    let (ours, theirs) = mp_channel::pipe_with_capacity(true, LINK_CAPACITY)?;
    let init = cfg
        .init
        .as_ref()
        .map(|(entry, msg)| InitSpec::new(*entry, msg))
        .transpose()?;
    let state = cfg
        .state
        .as_ref()
        .map(|(entry, msg, _)| InitSpec::new(*entry, msg))
        .transpose()?;
    let wc = WorkerConfig {
        conn: theirs,
        init,
        maxtasks: cfg.maxtasks,
        task_word: SharedFd::from(word_fd),
        state,
        max_memory: cfg.max_memory,
    };
    let class = format!("{}PoolWorker", cfg.method.class_prefix());
    let mut process =
        Process::with_class(&class, Some(cfg.method), worker_main, (wc,)).daemon(true);
    process.start()?;
    let sentinel = match process
        .sentinel()
        .map_err(PoolError::from)
        .and_then(|fd| Ok(mp_sys::fd::dup_cloexec(fd)?))
    {
        Ok(fd) => fd,
        Err(e) => {
            // The child exists: it must not outlive this error (under fork
            // it is a copy of this process holding every fd it had).
            abandon(process);
            return Err(e);
        }
    };
    let link_room = ours.send_capacity().unwrap_or(PIPE_DEFAULT);
    let link = match mp_sys::fd::dup_cloexec(ours.as_fd()).map(|fd| (ours.into_exclusive(), fd)) {
        Ok((Ok(conn), fd)) => (conn, fd),
        Ok((Err(_), _)) => {
            // Not expected: the end was made above and never cloned.
            abandon(process);
            return Err(PoolError::Io(std::io::Error::other(
                "the worker's link is shared",
            )));
        }
        Err(e) => {
            abandon(process);
            return Err(e.into());
        }
    };
    Ok(Worker {
        id,
        name: process.get_name().to_string(),
        process,
        link_room,
        conn: link.0,
        signals: Arc::new(WorkerSignals {
            reply: link.1,
            sentinel,
            task_word,
        }),
        replied: 0,
        inflight: VecDeque::new(),
        outq: Vec::new(),
        spare_requests: Vec::new(),
        sent: 0,
        eof: false,
        broken: false,
        lent: Lent::No,
        fast: false,
        written: 0,
        last_reply: Instant::now(),
        doomed: None,
        stopped: None,
        seen: None,
        #[cfg(feature = "async")]
        registration: None,
    })
}

/// Asks every worker to exit after its current work, then waits (bounded)
/// and kills any that does not.
pub(crate) fn stop_gracefully(mut workers: Vec<Worker>) {
    for w in &mut workers {
        let _ = w
            .conn
            .send_message(&request::exit(), Some(Duration::from_secs(1)));
    }
    reap_all(workers, Duration::from_secs(10));
}

/// Sends `SIGTERM` to every worker, waits (bounded), then `SIGKILL`s any
/// survivor.
pub(crate) fn kill_all(workers: Vec<Worker>) {
    for w in &workers {
        let _ = w.process.terminate();
    }
    reap_all(workers, Duration::from_secs(2));
}

/// Kills a worker process that will never be used and waits for it.
fn abandon(mut process: Process) {
    let _ = process.kill();
    let _ = process.join_timeout(Duration::from_secs(5));
}

fn reap_all(workers: Vec<Worker>, grace: Duration) {
    let deadline = Instant::now() + grace;
    for mut w in workers {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = w.process.join_timeout(left);
        if w.process.exitcode().is_none() {
            let _ = w.process.kill();
            let _ = w.process.join_timeout(Duration::from_secs(5));
        }
    }
}
