//! The dispatcher of an MPI pool, on rank 0: one thread owns every MPI call
//! of the pool. It hands each chunk to an idle worker rank (dynamic
//! dispatch: a rank gets its next chunk when it is done with the last, so a
//! slow rank takes fewer) and delivers each reply to its job's [`Sink`].
//!
//! How many chunks a rank holds at a time follows the local pool's
//! prefetch: two (so a rank has its next chunk at hand when it finishes
//! one, without a round trip through rank 0); while more chunks are queued
//! than there are ranks, four, and thirty-two for a rank whose chunks take
//! under [`FAST_CHUNK`] (tiny tasks: each poll of rank 0 then takes in many
//! replies, and each rank always has work). Sends never wait for a busy
//! rank ([`World::call`]), and a rank takes in calls while it sends a
//! reply, so no depth can deadlock. A call cannot be taken back from a rank,
//! so `terminate` waits for the chunks already sent before the next pool
//! may start.
//!
//! MPI has no way to wait for "a message or a submission" at once, so while
//! calls are in flight the thread polls for replies ([`Backoff`]: without
//! pause just after a message, then sleeping on its command channel for a
//! doubling interval, at most [`MAX_PAUSE`]); with nothing in flight it
//! sleeps on the channel.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use mp_pool::{PoolError, TaskError};
use mp_sys::mpi_job::{Backoff, CallEntry, Reply, World};

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
        let thread = std::thread::Builder::new()
            .name("mp-mpi-dispatcher".into())
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
    sink: Box<dyn Sink>,
}

/// A worker rank as the dispatcher sees it.
#[derive(Default)]
struct Rank {
    /// Chunks sent to it and not answered yet.
    held: usize,
    /// Its last chunk ran under [`FAST_CHUNK`] (as the rank measured it).
    fast: bool,
}

impl Rank {
    /// Whether it may be sent one more chunk (`plenty`: more chunks are
    /// queued than there are ranks).
    fn can_take(&self, plenty: bool) -> bool {
        let depth = match (plenty, self.fast) {
            (false, _) => DEPTH,
            (true, false) => DEPTH_PLENTY,
            (true, true) => DEPTH_FAST,
        };
        self.held < depth
    }
}

struct Dispatcher {
    world: World,
    /// The worker ranks (index 0, rank 0 itself, unused).
    ranks: Vec<Rank>,
    queue: VecDeque<(u64, usize)>,
    jobs: HashMap<u64, Live>,
    /// call id -> (job, chunk, rank)
    flight: HashMap<u64, (u64, usize, usize)>,
    closed: bool,
}

impl Dispatcher {
    fn new(world: World, workers: usize) -> Self {
        Dispatcher {
            world,
            ranks: (0..=workers).map(|_| Rank::default()).collect(),
            queue: VecDeque::new(),
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
                let mut chunks = job.chunks;
                chunks.resize_with(n, Vec::new);
                self.jobs.insert(
                    id,
                    Live {
                        entry: job.entry,
                        label: job.label,
                        chunks,
                        starts,
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
                        self.queue.push_back((job, index));
                    }
                    Ok(_) => {}
                    Err(e) => {
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
    /// loaded first.
    fn dispatch(&mut self) {
        while let Some(&(job, chunk)) = self.queue.front() {
            let plenty = self.queue.len() > self.ranks.len() - 1;
            let Some(rank) = (1..self.ranks.len())
                .filter(|&r| self.ranks[r].can_take(plenty))
                .min_by_key(|&r| (self.ranks[r].held, r))
            else {
                return;
            };
            self.queue.pop_front();
            let Some(live) = self.jobs.get_mut(&job) else {
                continue;
            };
            let input = std::mem::take(&mut live.chunks[chunk]);
            let (start, len) = (live.starts[chunk], live.lens[chunk]);
            let label = format!(
                "{}, chunk {chunk} (tasks {start}..{})",
                live.label,
                start + len
            );
            let call = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
            match self.world.call(rank, call, &live.entry, &label, input) {
                Ok(()) => {
                    self.ranks[rank].held += 1;
                    self.flight.insert(call, (job, chunk, rank));
                }
                Err(e) => self.finish_chunk(job, chunk, Err(TaskError::NoWorker(e.to_string()))),
            }
        }
    }

    fn reply(&mut self, reply: Reply) {
        let Some((job, chunk, rank)) = self.flight.remove(&reply.call) else {
            return; // a late reply to an earlier pool
        };
        let r = &mut self.ranks[rank];
        r.held -= 1;
        r.fast = reply.busy < FAST_CHUNK;
        self.finish_chunk(job, chunk, reply.output.map_err(TaskError::Function));
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
