//! The dispatcher of an MPI pool, on rank 0: one thread owns every MPI call
//! of the pool. It hands each chunk to an idle worker rank (dynamic
//! dispatch: a rank gets its next chunk when it is done with the last, so a
//! slow rank takes fewer) and delivers each reply to its job's [`Sink`].
//!
//! How many chunks a rank holds at a time follows the local pool's
//! prefetch: two (so a rank has its next chunk at hand when it finishes
//! one, without a round trip through rank 0); while more chunks are queued
//! (or still being encoded) than there are ranks, four; and for a rank
//! whose last chunks of the same job took under [`FAST_CHUNK`] each (tiny
//! tasks), at least thirty-two, as many as make [`HELD_TIME`] of its work.
//! Such a fast rank gets its chunks in [`batch`]es of about
//! [`FAST_CHUNK`] of its work (at most [`MAX_BATCH`] chunks or
//! [`MAX_BATCH_BYTES`] of input, at most its share of the queue; while the
//! job's chunks still stream in, the dispatcher waits for a full batch
//! unless the rank is running low), so one message carries many tiny tasks
//! each way; any other rank gets one chunk per message, so
//! slow tasks still go to whichever rank is idle. Sends never wait for a
//! busy rank ([`World::call`]), and a rank takes in calls while it sends a
//! reply, so no depth can deadlock. A call cannot be taken back from a
//! rank, so `terminate` waits for the chunks already sent before the next
//! pool may start.
//!
//! MPI has no way to wait for "a message or a submission" at once, so while
//! calls are in flight the thread polls for replies ([`Backoff`]: without
//! pause just after a message, then sleeping on its command channel for a
//! doubling interval, at most [`MAX_PAUSE`]); with nothing in flight it
//! sleeps on the channel.

use mp_sys::thread_spawn::JoinHandle;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::Mutex;
use std::time::Duration;

use mp_pool::{PoolError, TaskError};
use mp_sys::mpi_job::{Backoff, CallEntry, Reply, World};

use crate::batch::{self, Part};
use crate::sinks::Sink;

/// The longest sleep between two polls for replies.
const MAX_PAUSE: Duration = Duration::from_micros(200);
/// Chunks a rank may hold (sent, not answered) at any time.
const DEPTH: usize = 2;
/// ... while more chunks are queued than there are ranks.
const DEPTH_PLENTY: usize = 4;
/// ... and for a rank whose last chunk took under [`FAST_CHUNK`].
const DEPTH_FAST: usize = 32;
/// A rank that answers a chunk within this time is "fast" (as in the local
/// pool).
const FAST_CHUNK: Duration = Duration::from_micros(200);
/// The most chunks in one message to a fast rank.
const MAX_BATCH: usize = 256;
/// A fast rank may hold this much work (by its last chunks' times) when
/// that is more than [`DEPTH_FAST`] chunks: several times the longest
/// sleep of rank 0's poll ([`MAX_PAUSE`]) and of an idle worker's, so a
/// rank does not run dry while rank 0 sleeps.
const HELD_TIME: Duration = Duration::from_millis(2);
/// ... but never more chunks than this.
const MAX_HELD: usize = 4 * MAX_BATCH;
/// A batch takes no more chunks once its inputs reach this size (large
/// chunks go one or a few per message: nothing to save on them, and a
/// message stays far below rank 0's send buffer).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// One pool at a time drives the job's worker ranks.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Call ids, unique in this process (a late reply to a terminated pool is
/// recognised as stale by the next one).
static NEXT_CALL: AtomicU64 = AtomicU64::new(0);

/// A submitted call: its entry point, a label for diagnostics, its first
/// encoded chunks (the others follow with [`Engine::more`]), the lengths of
/// all its chunks, and where the replies go.
pub(crate) struct Job {
    pub(crate) entry: CallEntry,
    pub(crate) label: String,
    pub(crate) chunks: Vec<Vec<u8>>,
    pub(crate) lens: Vec<usize>,
    pub(crate) sink: Box<dyn Sink>,
}

enum Command {
    Submit(u64, Job),
    /// Chunk `index` of a job, encoded (or why it could not be: then it and
    /// every later chunk fail).
    More {
        job: u64,
        index: usize,
        chunk: Result<Vec<u8>, TaskError>,
    },
    Close,
    Terminate,
}

/// The handle of the dispatcher thread.
pub(crate) struct Engine {
    tx: Mutex<mpsc::Sender<Command>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Disconnects when the dispatcher thread ends (it holds the sender).
    ended: Mutex<mpsc::Receiver<()>>,
    /// The next job's id.
    next_job: AtomicU64,
}

impl Engine {
    /// Runs the initializer (if any) on every worker rank, then starts the
    /// dispatcher over the first `workers` ranks.
    pub(crate) fn start(
        world: World,
        workers: usize,
        init: Option<(CallEntry, Vec<u8>)>,
    ) -> Result<Engine, PoolError> {
        if ACTIVE.swap(true, Ordering::AcqRel) {
            return Err(PoolError::Unsupported(
                "one MPI pool at a time: close and join (or drop) the other first".into(),
            ));
        }
        if let Some((entry, args)) = init {
            if let Err(e) = initialize(&world, workers, &entry, &args) {
                ACTIVE.store(false, Ordering::Release);
                return Err(e);
            }
        }
        let (tx, rx) = mpsc::channel();
        let (alive, ended) = mpsc::channel::<()>();
        let thread = mp_sys::thread_spawn::Builder::new("mp-mpi-dispatcher")
            .spawn(move || {
                Dispatcher::new(world, workers).run(rx);
                ACTIVE.store(false, Ordering::Release);
                drop(alive);
            })
            .map_err(PoolError::Io)?;
        Ok(Engine {
            tx: Mutex::new(tx),
            thread: Mutex::new(Some(thread)),
            ended: Mutex::new(ended),
            next_job: AtomicU64::new(0),
        })
    }

    fn send(&self, cmd: Command) -> bool {
        self.tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(cmd)
            .is_ok()
    }

    /// Submits `job`; its id, for [`more`](Self::more).
    pub(crate) fn submit(&self, job: Job) -> Result<u64, PoolError> {
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        if self.send(Command::Submit(id, job)) {
            Ok(id)
        } else {
            Err(PoolError::NotRunning)
        }
    }

    /// Adds chunk `index` of job `job` (or fails it and the chunks after it).
    pub(crate) fn more(&self, job: u64, index: usize, chunk: Result<Vec<u8>, TaskError>) {
        self.send(Command::More { job, index, chunk });
    }

    pub(crate) fn close(&self) {
        self.send(Command::Close);
    }

    pub(crate) fn terminate(&self) {
        self.send(Command::Terminate);
    }

    /// Waits for the dispatcher to end (after `close`: every job done).
    pub(crate) fn join(&self) {
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// [`join`](Self::join) waiting at most `timeout`; whether it ended.
    pub(crate) fn join_timeout(&self, timeout: Duration) -> bool {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        match ended.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                drop(ended);
                self.join();
                true
            }
        }
    }
}

/// Runs the initializer on ranks 1..=workers and waits for each to finish.
fn initialize(
    world: &World,
    workers: usize,
    entry: &CallEntry,
    args: &[u8],
) -> Result<(), PoolError> {
    let first = NEXT_CALL.fetch_add(workers as u64, Ordering::Relaxed);
    for w in 1..=workers {
        world.call(
            w,
            first + w as u64 - 1,
            entry,
            "the pool initializer",
            args.to_vec(),
        )?;
    }
    let mut left = workers;
    let mut failure = None;
    let mut backoff = Backoff::new(MAX_PAUSE);
    while left > 0 {
        match world.try_reply()? {
            Some(Reply {
                call,
                output,
                worker,
                ..
            }) if (first..first + workers as u64).contains(&call) => {
                left -= 1;
                let why = match output {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => String::from_utf8_lossy(&out).into_owned(),
                    Err(e) => e,
                };
                if failure.is_none() {
                    failure = Some(format!("the initializer on rank {worker}: {why}"));
                }
            }
            Some(_) => {}
            None => {
                pause(&mut backoff, None);
            }
        }
    }
    match failure {
        Some(why) => Err(PoolError::Task(TaskError::Function(why))),
        None => Ok(()),
    }
}

/// Waits a little ([`Backoff`]); with a channel, on it (returning what came).
fn pause(
    backoff: &mut Backoff,
    rx: Option<&mpsc::Receiver<Command>>,
) -> Option<Result<Command, ()>> {
    let d = backoff.next_pause()?;
    match rx {
        None => {
            std::thread::sleep(d);
            None
        }
        Some(rx) => match rx.recv_timeout(d) {
            Ok(cmd) => Some(Ok(cmd)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(())),
        },
    }
}

struct Live {
    entry: CallEntry,
    label: String,
    chunks: Vec<Vec<u8>>,
    starts: Vec<usize>,
    lens: Vec<usize>,
    remaining: usize,
    /// Chunks the caller has not handed over yet (still being encoded).
    unsent: usize,
    sink: Box<dyn Sink>,
}

/// A worker rank as the dispatcher sees it.
#[derive(Default)]
struct Rank {
    /// Chunks sent to it and not answered yet.
    held: usize,
    /// How long each chunk of its last call ran (as the rank measured it).
    per_chunk: Duration,
    /// The job of that call: its time says nothing about another job's
    /// tasks (after a job of tiny tasks, a job of slow ones starts with one
    /// chunk per message again).
    timed_job: Option<u64>,
}

impl Rank {
    /// Whether its chunks of `job` run under [`FAST_CHUNK`] (as far as it
    /// has run any).
    fn fast(&self, job: u64) -> bool {
        self.timed_job == Some(job) && self.per_chunk < FAST_CHUNK
    }

    /// How many more chunks of `job` it may be sent (`plenty`: more chunks
    /// are queued or still to come than there are ranks).
    fn room(&self, job: u64, plenty: bool) -> usize {
        let depth = match (plenty, self.fast(job)) {
            (false, _) => DEPTH,
            (true, false) => DEPTH_PLENTY,
            (true, true) => self.chunks_in(HELD_TIME).clamp(DEPTH_FAST, MAX_HELD),
        };
        depth.saturating_sub(self.held)
    }

    /// How many of its chunks run in `time` (by its last call).
    fn chunks_in(&self, time: Duration) -> usize {
        let per = self.per_chunk.as_nanos().max(1);
        usize::try_from(time.as_nanos() / per).unwrap_or(usize::MAX)
    }

    /// How many chunks of `job` its next message should carry, given its
    /// `room`: one unless it is fast, else about [`FAST_CHUNK`] of its
    /// work, at most [`MAX_BATCH`].
    fn batch(&self, job: u64, room: usize) -> usize {
        if !self.fast(job) {
            return 1;
        }
        self.chunks_in(FAST_CHUNK).min(MAX_BATCH).min(room).max(1)
    }
}

/// A call in flight: its job, the chunks it carries, and its rank.
struct Flight {
    job: u64,
    chunks: Vec<usize>,
    rank: usize,
}

struct Dispatcher {
    world: World,
    /// The worker ranks (index 0, rank 0 itself, unused).
    ranks: Vec<Rank>,
    queue: VecDeque<(u64, usize)>,
    /// The sum of the jobs' [`Live::unsent`].
    unsent: usize,
    jobs: HashMap<u64, Live>,
    /// call id -> what it carries
    flight: HashMap<u64, Flight>,
    closed: bool,
}

impl Dispatcher {
    fn new(world: World, workers: usize) -> Self {
        Dispatcher {
            world,
            ranks: (0..=workers).map(|_| Rank::default()).collect(),
            queue: VecDeque::new(),
            unsent: 0,
            jobs: HashMap::new(),
            flight: HashMap::new(),
            closed: false,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut backoff = Backoff::new(MAX_PAUSE);
        loop {
            self.dispatch();
            if self.flight.is_empty() {
                if self.closed && self.jobs.is_empty() {
                    return;
                }
                let Ok(cmd) = rx.recv() else {
                    return self.terminate();
                };
                if !self.command(cmd) {
                    return;
                }
                continue;
            }
            loop {
                match rx.try_recv() {
                    Ok(cmd) => {
                        if !self.command(cmd) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.terminate(),
                }
            }
            match self.world.try_reply() {
                Ok(Some(reply)) => {
                    self.reply(reply);
                    backoff.reset();
                }
                Ok(None) => {
                    let go_on = match pause(&mut backoff, Some(&rx)) {
                        None => true,
                        Some(Ok(cmd)) => self.command(cmd),
                        Some(Err(())) => {
                            self.terminate();
                            false
                        }
                    };
                    if !go_on {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("mp-mpi: the dispatcher lost MPI ({e}); the pool stops");
                    return self.terminate();
                }
            }
        }
    }

    /// Handles a command; `false` to stop.
    fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Submit(id, job) => {
                let mut starts = Vec::with_capacity(job.lens.len());
                let mut at = 0;
                for len in &job.lens {
                    starts.push(at);
                    at += len;
                }
                let n = job.lens.len();
                if n == 0 {
                    return true;
                }
                self.queue.extend((0..job.chunks.len()).map(|c| (id, c)));
                let unsent = n - job.chunks.len();
                self.unsent += unsent;
                let mut chunks = job.chunks;
                chunks.resize_with(n, Vec::new);
                self.jobs.insert(
                    id,
                    Live {
                        entry: job.entry,
                        label: job.label,
                        chunks,
                        starts,
                        unsent,
                        lens: job.lens,
                        remaining: n,
                        sink: job.sink,
                    },
                );
                true
            }
            Command::More { job, index, chunk } => {
                let Some(live) = self.jobs.get_mut(&job) else {
                    return true; // terminated meanwhile
                };
                let total = live.lens.len();
                match chunk {
                    Ok(bytes) if index < total => {
                        live.chunks[index] = bytes;
                        if live.unsent > 0 {
                            live.unsent -= 1;
                            self.unsent -= 1;
                        }
                        self.queue.push_back((job, index));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.unsent -= std::mem::take(&mut live.unsent);
                        for i in index..total {
                            self.finish_chunk(job, i, Err(e.clone()));
                        }
                    }
                }
                true
            }
            Command::Close => {
                self.closed = true;
                true
            }
            Command::Terminate => {
                self.terminate();
                false
            }
        }
    }

    /// Sends queued chunks to the ranks that can take them, the least
    /// loaded first (to a fast rank, several chunks of a job at once).
    fn dispatch(&mut self) {
        let workers = self.ranks.len() - 1;
        while let Some(&(job, _)) = self.queue.front() {
            // (Chunks still being encoded count: they come in a moment.)
            let plenty = self.queue.len() + self.unsent > workers;
            let Some((rank, room)) = (1..self.ranks.len())
                .map(|r| (r, self.ranks[r].room(job, plenty)))
                .filter(|&(_, room)| room > 0)
                .min_by_key(|&(r, _)| (self.ranks[r].held, r))
            else {
                return;
            };
            // A full batch, or this rank's share of what is queued.
            let want = self.ranks[rank].batch(job, room);
            let most = want.min(self.queue.len().div_ceil(workers));
            let Some(live) = self.jobs.get_mut(&job) else {
                self.queue.pop_front();
                continue;
            };
            if most < want && live.unsent > 0 && self.ranks[rank].held >= want {
                // The job's chunks are still coming in and the least loaded
                // rank has a batch's worth of work: wait for a full batch
                // rather than send a few chunks per message.
                return;
            }
            let mut parts = Vec::with_capacity(most);
            let mut inputs = Vec::with_capacity(most);
            let mut bytes = 0;
            while parts.len() < most && bytes < MAX_BATCH_BYTES {
                match self.queue.front() {
                    Some(&(j, chunk)) if j == job => {
                        self.queue.pop_front();
                        let input = std::mem::take(&mut live.chunks[chunk]);
                        bytes += input.len();
                        inputs.push(input);
                        parts.push(Part {
                            chunk,
                            first: live.starts[chunk],
                            tasks: live.lens[chunk],
                        });
                    }
                    _ => break,
                }
            }
            let label = batch::batch_label(&live.label, &parts);
            let input = batch::encode(&live.label, &parts, inputs);
            let call = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
            let chunks: Vec<usize> = parts.iter().map(|p| p.chunk).collect();
            match self.world.call(rank, call, &live.entry, &label, input) {
                Ok(()) => {
                    self.ranks[rank].held += chunks.len();
                    self.flight.insert(call, Flight { job, chunks, rank });
                }
                Err(e) => {
                    let e = TaskError::NoWorker(e.to_string());
                    for chunk in chunks {
                        self.finish_chunk(job, chunk, Err(e.clone()));
                    }
                }
            }
        }
    }

    fn reply(&mut self, reply: Reply) {
        let Some(Flight { job, chunks, rank }) = self.flight.remove(&reply.call) else {
            return; // a late reply to an earlier pool
        };
        let r = &mut self.ranks[rank];
        r.held -= chunks.len();
        r.per_chunk = reply.busy / chunks.len().max(1) as u32;
        r.timed_job = Some(job);
        let outputs = reply
            .output
            .map_err(TaskError::Function)
            .and_then(|out| batch::decode_reply(out, chunks.len()));
        match outputs {
            Ok(outputs) => {
                for (chunk, out) in chunks.into_iter().zip(outputs) {
                    self.finish_chunk(job, chunk, Ok(out));
                }
            }
            Err(e) => {
                for chunk in chunks {
                    self.finish_chunk(job, chunk, Err(e.clone()));
                }
            }
        }
    }

    fn finish_chunk(&mut self, job: u64, chunk: usize, out: Result<Vec<u8>, TaskError>) {
        let Some(live) = self.jobs.get_mut(&job) else {
            return;
        };
        live.sink.deliver(chunk, out);
        live.remaining -= 1;
        if live.remaining == 0 {
            self.jobs.remove(&job);
        }
    }

    /// Fails every unfinished job with `Terminated`, then waits for the
    /// chunks still running in workers (a rank cannot be stopped mid-call
    /// without aborting the job) and drops their replies, so every rank is
    /// idle again for the next pool.
    fn terminate(&mut self) {
        for (_, mut live) in self.jobs.drain() {
            live.sink.terminate();
        }
        self.queue.clear();
        self.unsent = 0;
        let mut backoff = Backoff::new(MAX_PAUSE);
        while !self.flight.is_empty() {
            match self.world.try_reply() {
                Ok(Some(reply)) => {
                    self.flight.remove(&reply.call);
                }
                Ok(None) => {
                    pause(&mut backoff, None);
                }
                Err(_) => break,
            }
        }
        self.flight.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_batches_only_the_job_it_has_timed() {
        let tiny = Rank {
            held: 0,
            per_chunk: Duration::from_micros(1),
            timed_job: Some(3),
        };
        // About FAST_CHUNK of work per message, HELD_TIME held.
        assert_eq!(tiny.batch(3, MAX_HELD), 200);
        assert_eq!(tiny.room(3, true), MAX_HELD);
        assert_eq!(tiny.batch(3, 7), 7);
        // Another job's tasks may be slow: one chunk, the usual depth.
        assert_eq!(tiny.batch(4, MAX_HELD), 1);
        assert_eq!(tiny.room(4, true), DEPTH_PLENTY);
        assert_eq!(tiny.room(3, false), DEPTH);
        let slow = Rank {
            per_chunk: Duration::from_millis(1),
            ..tiny
        };
        assert_eq!(slow.batch(3, MAX_HELD), 1);
        assert_eq!(slow.room(3, true), DEPTH_PLENTY);
        let busy = Rank { held: 40, ..tiny };
        assert_eq!(busy.room(3, true), MAX_HELD - 40);
    }
}
