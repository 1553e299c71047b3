//! The ranks of one MPI job (`mpirun -n N ./prog`, `srun --mpi=pmix ./prog`)
//! as one process tree: rank 0 runs `main`, every other rank is taken over
//! before `main` and serves calls named by [`EntryPoint`]s (feature `mpi`).
//!
//! # Start-up
//! The start-up constructor (see [`bootstrap`](crate::bootstrap)) calls this
//! module after the spawn-child check. If the launcher marked the process as
//! an MPI rank (`OMPI_COMM_WORLD_RANK`, `PMIX_RANK` or `PMI_RANK` is set) and
//! [`OPT_OUT_ENV`] is not `0`, it initialises MPI, and rank 0 broadcasts its
//! process-tree key to the others over the job's communicator. This is the
//! MPI counterpart of the spawn child's bootstrap record: the job's
//! communicator is trusted as the private launch channel (MPI authenticates
//! nothing itself; a job's ranks trust their fabric, and so does this). Rank 0
//! then runs `main`; the other ranks serve calls until rank 0 stops them, and
//! end with `_exit(0)` without running `main`.
//!
//! # Wire
//! A call: `input | label | label length (u32) | build-id (20) | tag (u64)
//! | offset (i64) | call id (u64)`. A reply: `bytes | status (u8: 0 output,
//! 1 error text) | busy (u32: microseconds the call ran) | call id (u64)`.
//! Every integer little-endian. The fixed fields come last, so the body is
//! taken by truncating the message, never by moving it. The
//! callee resolves the entry point under the key it received; a call that
//! does not resolve gets an error reply and runs nothing.
//!
//! # Failure
//! MPI is fail-stop: a rank that ends without MPI's consent aborts the whole
//! job, rank 0 included. A worker rank that is about to end that way while it
//! runs a call (the task calls `exit`, or a panic escapes the call) first
//! prints the call's label on stderr, so the log says which task killed it.

#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use crate::entry::{EntryParts, EntryPoint};
use crate::tree_key;

/// Set to `0` to keep a program built with the `mpi` feature from taking
/// part as a multiprocess job under an MPI launcher (for a program that uses
/// MPI on its own).
pub const OPT_OUT_ENV: &str = "MULTIPROCESS_MPI";

/// The variables by which Open MPI, PMIx (Slurm's `srun --mpi=pmix`) and
/// MPICH's Hydra tell a process its rank.
const RANK_VARS: [&str; 3] = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"];

/// The entry point of a call: encoded input in, encoded output out.
pub type CallEntry = EntryPoint<Vec<u8>, Vec<u8>>;

/// A [`CallEntry`]'s parts as a worker rank receives them (checked when resolved).
type CallParts = EntryParts<Vec<u8>, Vec<u8>>;

const TAG_CALL: i32 = 1;
const TAG_REPLY: i32 = 2;
const TAG_STOP: i32 = 3;
const TAG_STOPPED: i32 = 4;
const TAG_KEY: i32 = 5;
const TAG_WHO: i32 = 6;

/// Rank 0's MPI state (finalized at exit), with the lock that keeps MPI
/// calls of this process one at a time.
static UNIVERSE: Mutex<Option<RootState>> = Mutex::new(None);

/// The size of rank 0's buffer for buffered sends of calls (attached at
/// start-up; its pages are touched only as far as calls fill it).
const SEND_BUFFER: usize = 64 << 20;
/// How much of [`SEND_BUFFER`] calls in flight may take: half, as a margin,
/// because the library frees a message's space when its transfer completes,
/// which it may notice a little after the worker's reply has arrived.
const SEND_BUDGET: usize = SEND_BUFFER / 2;
/// The library's overhead per buffered message (`MPI_BSEND_OVERHEAD` is 128
/// in Open MPI 4.1; with a margin for others).
const SEND_OVERHEAD: usize = 1024;

/// Rank 0's MPI universe, its worker ranks, and the calls whose bytes sit
/// in its send buffer.
struct RootState {
    universe: Universe,
    peers: Peers,
    /// call id -> bytes it takes in the send buffer, until its reply.
    buffered: std::collections::HashMap<u64, usize>,
    /// The sum of `buffered`.
    used: usize,
    /// Singleton mode: the watch on the spawned ranks.
    watchdog: Option<Watchdog>,
}

/// How long rank 0 waits, once, for its spawned ranks' introductions.
const INTRO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Singleton mode's dead-worker watch. A launcher (`mpirun`, `srun`) ends
/// the whole job when a rank dies; ranks spawned with `MPI_Comm_spawn` are
/// another job, whose death Open MPI does not report to the spawning
/// process: it would poll for their replies for ever, or block for ever in
/// a send to one (seen in `MPI_Bsend`). So each spawned rank introduces
/// itself (pid, start time, and where its pids mean something:
/// [`crate::process::pid_space`]), and a thread of rank 0 waits on the
/// pidfd of every one that runs in rank 0's pid space. A worker that ends
/// before it has answered `shutdown`'s stop ends rank 0 too, as a launcher
/// would (MPI's fail-stop rule), from that thread: MPI itself cannot be
/// called there, since the thread that serves the pool may be inside a
/// blocking MPI call. A spawned rank on another machine is not watched.
struct Watchdog {
    /// Per worker (index `worker - 1`): it has answered the stop, so its
    /// end is expected.
    stopped: std::sync::Arc<[AtomicBool]>,
}

/// A spawned rank's introduction: its pid, start time and pid space.
fn introduction() -> Vec<u8> {
    let pid = crate::process::getpid();
    let start = crate::process::stat(pid).map_or(0, |s| s.start_time);
    let space = crate::process::pid_space().unwrap_or_default();
    let mut bytes = Vec::with_capacity(12 + space.len());
    bytes.extend_from_slice(&pid.to_le_bytes());
    bytes.extend_from_slice(&start.to_le_bytes());
    bytes.extend_from_slice(space.as_bytes());
    bytes
}

/// What rank 0 learns from an introduction: a pidfd for the worker if it
/// runs in this process's pid space (`Ok(None)` if it does not), or
/// `Err(pid)` if it has already ended.
fn watch_introduced(bytes: &[u8]) -> Result<Option<(u32, OwnedFd)>, u32> {
    if bytes.len() < 12 {
        return Ok(None);
    }
    let pid = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default());
    let start = u64::from_le_bytes(bytes[4..12].try_into().unwrap_or_default());
    let ours = crate::process::pid_space().ok();
    if ours.as_deref().map(str::as_bytes) != Some(&bytes[12..]) {
        return Ok(None); // another machine or pid namespace: not ours to watch
    }
    let pidfd = crate::process::pidfd_open(pid).map_err(|_| pid)?;
    // Opened after the introduction: the pid may have been reused since.
    match crate::process::stat(pid) {
        Ok(st) if st.start_time == start && !st.zombie => Ok(Some((pid, pidfd))),
        _ => Err(pid),
    }
}

/// Says which spawned worker died and ends this process (MPI's fail-stop
/// rule, as a launcher applies it to a job).
fn end_for_dead(worker: usize, pid: u32) -> ! {
    eprintln!(
        "multiprocess: spawned MPI worker rank {worker} (pid {pid}) ended during the job; \
         MPI's rule: the whole job aborts (no retries)"
    );
    crate::process::exit_now(1)
}

impl Watchdog {
    /// Takes the introductions of the `workers` ranks spawned on `inter`
    /// (waiting at most [`INTRO_TIMEOUT`]) and starts the thread that
    /// watches those in this pid space. Ends this process if one has
    /// already died.
    fn start(inter: &mpi::topology::InterCommunicator, workers: usize) -> Watchdog {
        let stopped: std::sync::Arc<[AtomicBool]> =
            (0..workers).map(|_| AtomicBool::new(false)).collect();
        let watched = take_introductions(inter, workers);
        let flags = std::sync::Arc::clone(&stopped);
        let thread = crate::thread_spawn::Builder::new("mp-mpi-watchdog")
            .spawn(move || watch(watched, &flags));
        if let Err(e) = thread {
            eprintln!("multiprocess: no thread to watch the spawned MPI ranks ({e})");
        }
        Watchdog { stopped }
    }
}

/// Receives the `workers` spawned ranks' introductions (waiting at most
/// [`INTRO_TIMEOUT`]): `(worker, pid, pidfd)` of those to watch. Ends this
/// process if one has already died.
fn take_introductions(
    inter: &mpi::topology::InterCommunicator,
    workers: usize,
) -> Vec<(usize, u32, OwnedFd)> {
    let mut watched = Vec::new();
    let deadline = std::time::Instant::now() + INTRO_TIMEOUT;
    let mut heard = 0;
    let mut backoff = Backoff::new(WORKER_PAUSE);
    while heard < workers && std::time::Instant::now() < deadline {
        let Some(probed) = inter
            .any_process()
            .immediate_matched_probe_with_tag(TAG_WHO)
        else {
            if let Some(d) = backoff.next_pause() {
                std::thread::sleep(d);
            }
            continue;
        };
        let (bytes, status) = probed.matched_receive_vec::<u8>();
        let worker = status.source_rank() as usize + 1;
        heard += 1;
        match watch_introduced(&bytes) {
            Ok(Some((pid, pidfd))) => watched.push((worker, pid, pidfd)),
            Ok(None) => {}
            Err(pid) => end_for_dead(worker, pid),
        }
    }
    if heard < workers {
        eprintln!(
            "multiprocess: {} of {workers} spawned MPI ranks did not introduce themselves \
             within {INTRO_TIMEOUT:?}; their death will not be noticed",
            workers - heard
        );
    }
    watched
}

/// The watchdog thread: waits on the pidfds of `watched` and ends this
/// process when one ends before its worker's `stopped` flag is set.
fn watch(mut watched: Vec<(usize, u32, OwnedFd)>, stopped: &[AtomicBool]) {
    while !watched.is_empty() {
        let fds: Vec<_> = watched.iter().map(|(_, _, fd)| fd.as_fd()).collect();
        let Ok(ready) = crate::fd::poll_readable_any(&fds, None) else {
            return;
        };
        drop(fds);
        let mut ended = ready.into_iter();
        watched.retain(|(worker, pid, _)| {
            let ended = ended.next().unwrap_or(false);
            if ended && !stopped[worker - 1].load(Ordering::SeqCst) {
                end_for_dead(*worker, *pid);
            }
            !ended
        });
    }
}

/// The id of the process that is rank 0 of a job, with MPI up and not yet
/// finalized (0: none). A process forked from rank 0 is not rank 0: MPI,
/// its lock and its ranks stay the parent's (a parent thread may hold the
/// lock at the fork, and a child's calls or exit-time shutdown would drive
/// the parent's ranks), so it sees no world and shuts nothing down.
static ROOT: AtomicU32 = AtomicU32::new(0);

/// Whether this process is rank 0 with MPI up (see [`ROOT`]).
fn is_root() -> bool {
    let root = ROOT.load(Ordering::Acquire);
    root != 0 && root == crate::process::getpid()
}

/// Why this process may not make MPI calls as rank 0: MPI was finalized,
/// or this process was forked from rank 0.
fn not_root() -> io::Error {
    if ROOT.load(Ordering::Acquire) == 0 {
        closed()
    } else {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "MPI belongs to rank 0's own process; this one was forked from it",
        )
    }
}
/// The longest sleep of an idle worker rank between two polls for calls.
const WORKER_PAUSE: std::time::Duration = std::time::Duration::from_micros(500);

/// The worker ranks rank 0 talks to.
enum Peers {
    /// Ranks 1.. of the job's communicator (started by a launcher).
    Job,
    /// The ranks this process spawned (singleton mode): worker `w` is rank
    /// `w - 1` of the intercommunicator's remote group.
    Spawned(Spawned),
}

/// The intercommunicator to spawned worker ranks.
struct Spawned(mpi::topology::InterCommunicator);

// SAFETY: the handle is an opaque MPI object that MPI lets any thread use
// when the library grants MPI_THREAD_SERIALIZED (asked for at
// initialisation), provided calls are never concurrent; it lives only
// inside `UNIVERSE`, whose lock every MPI call of this process holds.
unsafe impl Send for Spawned {}

/// Runs `$body` with `$comm` bound to the communicator of `$peers` and
/// `$first` to the rank of worker 1 in it.
macro_rules! with_peers {
    ($peers:expr, |$comm:ident, $first:ident| $body:expr) => {
        match $peers {
            Peers::Job => {
                let $comm = SimpleCommunicator::world();
                let $first: i32 = 1;
                $body
            }
            Peers::Spawned(Spawned(inter)) => {
                let $comm = inter;
                let $first: i32 = 0;
                $body
            }
        }
    };
}

/// A reply from a worker rank.
#[derive(Debug)]
pub struct Reply {
    /// The worker's rank (1 ..= [`World::workers`]).
    pub worker: usize,
    /// The call id given to [`World::call`].
    pub call: u64,
    /// The call's output, or why it could not run (its entry point did not
    /// resolve in the worker).
    pub output: Result<Vec<u8>, String>,
    /// How long the call ran in the worker (not counting its trip there and
    /// back, nor the time it waited behind other calls).
    pub busy: std::time::Duration,
}

/// The fixed bytes at the end of a reply, after its output.
const REPLY_TRAILER: usize = 1 + 4 + 8;
/// The fixed bytes at the end of a call, after its label.
const CALL_TRAILER: usize = 4 + 20 + 8 + 8 + 8;

/// Rank 0's view of the job: how many worker ranks, and the calls to them.
/// Obtained from [`world`]; every method takes this process's MPI lock.
#[derive(Debug, Clone, Copy)]
pub struct World {
    workers: usize,
}

/// Rank 0's [`World`], if this process is rank 0 of an MPI job (and MPI has
/// not been finalized); `None` for a process started without an MPI launcher.
pub fn world() -> Option<World> {
    if !is_root() {
        return None;
    }
    let guard = lock();
    let root = guard.as_ref()?;
    let workers = match &root.peers {
        Peers::Job => (SimpleCommunicator::world().size() as usize).saturating_sub(1),
        Peers::Spawned(Spawned(inter)) => inter.remote_size() as usize,
    };
    Some(World { workers })
}

/// Singleton mode: in a process not started by an MPI launcher, initialises
/// MPI and spawns `workers` ranks running this program (`MPI_Comm_spawn`),
/// which serve calls as a launcher's ranks do; then rank 0's [`World`] is
/// theirs. An error if MPI cannot start or spawn, or if this process is
/// already part of a job. Once per process.
pub fn spawn_world(workers: usize) -> io::Result<World> {
    static SPAWNED: AtomicBool = AtomicBool::new(false);
    let refuse = |why: &str| io::Error::new(io::ErrorKind::Unsupported, why.to_owned());
    if launched_rank().is_some() || ROOT.load(Ordering::Acquire) != 0 {
        return Err(refuse(
            "this process is already a rank of an MPI job, or was forked from one",
        ));
    }
    if workers == 0 || SPAWNED.swap(true, Ordering::AcqRel) {
        return Err(refuse(
            "MPI worker ranks are spawned once per process, at least one",
        ));
    }
    let key = tree_key::get()?;
    let exe = std::env::current_exe()?;
    let Some((mut universe, _)) = mpi::initialize_with_threading(Threading::Serialized) else {
        return Err(refuse("MPI is already initialised"));
    };
    let inter = universe
        .world()
        .process_at_rank(0)
        .spawn(&std::process::Command::new(exe), workers as i32)
        .map_err(|e| io::Error::other(format!("MPI_Comm_spawn: {e}")))?;
    for r in 0..workers as i32 {
        inter.process_at_rank(r).send_with_tag(key.bytes(), TAG_KEY);
    }
    let watchdog = Watchdog::start(&inter, workers);
    universe.set_buffer_size(SEND_BUFFER);
    *lock() = Some(RootState {
        universe,
        peers: Peers::Spawned(Spawned(inter)),
        buffered: std::collections::HashMap::new(),
        used: 0,
        watchdog: Some(watchdog),
    });
    ROOT.store(crate::process::getpid(), Ordering::Release);
    let _ = crate::exit::at_exit(shutdown_at_exit);
    Ok(World { workers })
}

/// True if the launcher started this process as an MPI rank (whether or not
/// MPI took it over: see [`OPT_OUT_ENV`]).
pub fn launched_by_mpi() -> bool {
    launched_rank().is_some()
}

fn launched_rank() -> Option<u32> {
    RANK_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

fn lock() -> MutexGuard<'static, Option<RootState>> {
    UNIVERSE.lock().unwrap_or_else(|e| e.into_inner())
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "MPI has been finalized")
}

impl World {
    /// How many worker ranks the job has (its size minus rank 0).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Sends call `call` of `entry` with `input` to worker rank `worker`
    /// (1 ..= [`workers`](Self::workers)); `label` is what the worker prints
    /// if the call kills it.
    ///
    /// A buffered send: it returns once the call is copied into rank 0's
    /// send buffer, without waiting for the worker to take it (a busy
    /// worker takes it when its current call is done), so rank 0 goes on
    /// serving the other workers. A call too large for what is left of the
    /// buffer is sent with a blocking send instead (workers always take in
    /// calls while they send a reply, so it completes).
    pub fn call(
        &self,
        worker: usize,
        call: u64,
        entry: &CallEntry,
        label: &str,
        input: Vec<u8>,
    ) -> io::Result<()> {
        if worker == 0 || worker > self.workers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no worker rank {worker} (the job has {})", self.workers),
            ));
        }
        if !is_root() {
            return Err(not_root());
        }
        let msg = encode_call(call, entry, label, input);
        let mut guard = lock();
        let root = guard.as_mut().ok_or_else(closed)?;
        let need = msg.len() + SEND_OVERHEAD;
        let buffered = root.used + need <= SEND_BUDGET;
        with_peers!(&root.peers, |comm, first| {
            let to = comm.process_at_rank(first + worker as i32 - 1);
            if buffered {
                to.buffered_send_with_tag(&msg[..], TAG_CALL);
            } else {
                to.send_with_tag(&msg[..], TAG_CALL);
            }
        });
        if buffered {
            root.used += need;
            root.buffered.insert(call, need);
        }
        Ok(())
    }

    /// A reply that has arrived, without waiting; `Ok(None)` if none has.
    /// A malformed reply is an `InvalidData` error.
    pub fn try_reply(&self) -> io::Result<Option<Reply>> {
        if !is_root() {
            return Err(not_root());
        }
        let mut guard = lock();
        let root = guard.as_mut().ok_or_else(closed)?;
        let received = with_peers!(&root.peers, |comm, first| {
            comm.any_process()
                .immediate_matched_probe_with_tag(TAG_REPLY)
                .map(|probed| {
                    let (bytes, status) = probed.matched_receive_vec::<u8>();
                    (bytes, (status.source_rank() - first + 1) as usize)
                })
        });
        let Some((bytes, worker)) = received else {
            return Ok(None);
        };
        let reply = decode_reply(worker, bytes)?;
        // The worker has taken the call: its buffer space is free again.
        if let Some(n) = root.buffered.remove(&reply.call) {
            root.used -= n;
        }
        drop(guard);
        Ok(Some(reply))
    }
}

/// A call's message: `input` with the label and the fixed fields appended.
fn encode_call(call: u64, entry: &CallEntry, label: &str, mut input: Vec<u8>) -> Vec<u8> {
    let (offset, tag, binary) = entry.to_parts();
    input.reserve(label.len() + CALL_TRAILER);
    input.extend_from_slice(label.as_bytes());
    input.extend_from_slice(&(label.len() as u32).to_le_bytes());
    input.extend_from_slice(&binary);
    input.extend_from_slice(&tag.to_le_bytes());
    input.extend_from_slice(&offset.to_le_bytes());
    input.extend_from_slice(&call.to_le_bytes());
    input
}

fn decode_reply(worker: usize, mut bytes: Vec<u8>) -> io::Result<Reply> {
    if bytes.len() < REPLY_TRAILER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a reply of {} bytes from rank {worker}", bytes.len()),
        ));
    }
    let t = bytes.len() - REPLY_TRAILER;
    let status = bytes[t];
    let busy = u32::from_le_bytes(bytes[t + 1..t + 5].try_into().expect("4 bytes"));
    let call = u64::from_le_bytes(bytes[t + 5..].try_into().expect("8 bytes"));
    bytes.truncate(t);
    let output = match status {
        0 => Ok(bytes),
        _ => Err(String::from_utf8_lossy(&bytes).into_owned()),
    };
    Ok(Reply {
        worker,
        call,
        output,
        busy: std::time::Duration::from_micros(busy.into()),
    })
}

/// Called by the start-up constructor: takes part in the job if the process
/// is an MPI rank. Returns only on rank 0 (and in a process that is not a
/// rank); a worker rank serves and exits here.
pub(crate) fn on_load() {
    if launched_rank().is_none() || std::env::var(OPT_OUT_ENV).is_ok_and(|v| v == "0") {
        return;
    }
    // Serialized: rank 0's pool calls MPI from its dispatcher thread (and
    // its exit hook from the main thread), one at a time under one lock.
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Serialized) else {
        eprintln!("multiprocess: MPI was already initialised before the start-up constructor");
        crate::process::exit_now(255);
    };
    if threading < Threading::Serialized {
        eprintln!("multiprocess: the MPI library grants {threading:?}; a pool needs Serialized");
    }
    let world = universe.world();
    let rank = world.rank();
    if let Some(parent) = world.parent() {
        serve_parent(universe, &parent, rank);
    }
    // Rank 0's key (or all zeros and a flag if it has none), to every rank.
    let mut record = [0u8; tree_key::KEY_LEN + 1];
    if rank == 0 {
        match tree_key::get() {
            Ok(key) => {
                record[..tree_key::KEY_LEN].copy_from_slice(key.bytes());
                record[tree_key::KEY_LEN] = 1;
            }
            Err(e) => eprintln!("multiprocess: rank 0 has no process-tree key ({e})"),
        }
    }
    world.process_at_rank(0).broadcast_into(&mut record[..]);
    if record[tree_key::KEY_LEN] != 1 {
        // Every rank saw the flag: no rank can resolve a call.
        eprintln!("multiprocess: rank {rank}: no process-tree key; aborting the MPI job");
        world.abort(255);
    }
    if rank == 0 {
        let mut universe = universe;
        universe.set_buffer_size(SEND_BUFFER);
        *lock() = Some(RootState {
            universe,
            peers: Peers::Job,
            buffered: std::collections::HashMap::new(),
            used: 0,
            watchdog: None,
        });
        ROOT.store(crate::process::getpid(), Ordering::Release);
        // Registered after the finalizers' hook, so it runs before them
        // (`atexit` runs in reverse order) and after every hook a pool
        // registers later (a pool stops its own MPI use first).
        let _ = crate::exit::at_exit(shutdown_at_exit);
        return;
    }
    let mut key = [0u8; tree_key::KEY_LEN];
    key.copy_from_slice(&record[..tree_key::KEY_LEN]);
    if !tree_key::install(key) {
        eprintln!("multiprocess: rank {rank} already has a process-tree key");
        world.abort(255);
    }
    let code = serve(&world, rank);
    drop(universe);
    crate::process::exit_now(code);
}

/// A rank spawned by a singleton ([`spawn_world`]): takes the parent's key,
/// serves it, disconnects from it (collective with the parent's disconnect
/// in `shutdown`) and exits.
fn serve_parent(universe: Universe, parent: &mpi::topology::InterCommunicator, rank: i32) -> ! {
    let (bytes, _) = parent
        .process_at_rank(0)
        .receive_vec_with_tag::<u8>(TAG_KEY);
    let Ok(key) = <[u8; tree_key::KEY_LEN]>::try_from(&bytes[..]) else {
        eprintln!(
            "multiprocess: spawned MPI rank {rank}: a key of {} bytes",
            bytes.len()
        );
        crate::process::exit_now(255);
    };
    if !tree_key::install(key) {
        eprintln!("multiprocess: spawned MPI rank {rank} already has a process-tree key");
        crate::process::exit_now(255);
    }
    // So that rank 0 can tell if this rank dies (see `Watchdog`).
    parent
        .process_at_rank(0)
        .send_with_tag(&introduction()[..], TAG_WHO);
    let code = serve(parent, rank + 1);
    // Not rsmpi's `Universe::disconnect_parent`: with it, Open MPI 4.1.4
    // crashed in ompi_dpm_disconnect (SIGSEGV at address 0x10); the plain
    // call, as a C program makes it, completes.
    let mut raw = parent.as_raw();
    // SAFETY: `raw` is a copy of the live handle of the parent
    // intercommunicator (MPI_Comm_get_parent's); MPI_Comm_disconnect takes a
    // pointer to it and sets the copy to MPI_COMM_NULL. `parent`, whose drop
    // does nothing for the parent communicator, is not used after this.
    unsafe { mpi::ffi::MPI_Comm_disconnect(&mut raw) };
    drop(universe);
    crate::process::exit_now(code);
}

/// The call a worker rank runs now (`u64::MAX`: none), and its label.
static RUNNING: AtomicU64 = AtomicU64::new(u64::MAX);
static RUNNING_LABEL: Mutex<String> = Mutex::new(String::new());

/// In a worker rank's call that runs several tasks one after the other:
/// names the one it starts now (the message printed if the rank dies).
pub fn running(label: String) {
    *RUNNING_LABEL.lock().unwrap_or_else(|e| e.into_inner()) = label;
}

/// Prints which call this worker was running, if any, when it is about to
/// die outside MPI's control.
fn report_running(rank: i32, how: &str) {
    if RUNNING.load(Ordering::SeqCst) != u64::MAX {
        let label = RUNNING_LABEL
            .lock()
            .map(|l| l.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        eprintln!(
            "multiprocess: MPI worker rank {rank} (pid {}) {how} while running {label}; \
             MPI aborts the whole job (no retries)",
            crate::process::getpid()
        );
    }
}

static WORKER_RANK: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn report_at_exit() {
    report_running(WORKER_RANK.load(Ordering::SeqCst), "is exiting");
}

/// A worker rank's loop: runs calls from rank 0 until told to stop; returns
/// the exit code.
///
/// One thread, and no blocking send of anything large: a reply goes out as
/// a nonblocking send ([`PendingSend`]) and the rank goes on with its next
/// call while it is under way; whenever it polls, it takes in rank 0's
/// next calls (into `inbox`, in arrival order) and completes the sends that
/// are done. So rank 0's blocking send of a large call always completes,
/// however many calls it keeps in flight here, and neither side ever waits
/// on the other's progress.
fn serve<C: Communicator>(world: &C, rank: i32) -> i32 {
    WORKER_RANK.store(rank, Ordering::SeqCst);
    let _ = crate::exit::at_exit(report_at_exit);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report_running(rank, "panicked");
        previous(info);
    }));
    let root = world.process_at_rank(0);
    let mut inbox = VecDeque::new();
    let mut outbox = VecDeque::new();
    loop {
        complete_sends(&mut outbox);
        let (tag, bytes) = match inbox.pop_front() {
            Some(message) => message,
            None => next_message(world, &mut outbox),
        };
        match tag {
            TAG_STOP => {
                while !outbox.is_empty() {
                    complete_sends(&mut outbox);
                    std::thread::yield_now();
                }
                root.send_with_tag(&[0u8][..], TAG_STOPPED);
                return 0;
            }
            TAG_CALL => {
                // Take in what has come, so a large call rank 0 is sending
                // completes before this one runs.
                while let Some(message) = try_message(world) {
                    inbox.push_back(message);
                }
                let Ok(reply) = std::panic::catch_unwind(|| run_call(bytes)) else {
                    return 101;
                };
                outbox.push_back(PendingSend::start(&root, reply, TAG_REPLY));
            }
            other => {
                eprintln!("multiprocess: MPI worker rank {rank}: unexpected tag {other}");
                return 255;
            }
        }
    }
}

/// A message from rank 0 that has arrived, without waiting: its tag and bytes.
fn try_message<C: Communicator>(world: &C) -> Option<(i32, Vec<u8>)> {
    let (bytes, status) = world
        .process_at_rank(0)
        .immediate_matched_probe()?
        .matched_receive_vec::<u8>();
    Some((status.tag(), bytes))
}

/// Waits for the next message from rank 0 (completing the sends of
/// `outbox` that are done meanwhile); its tag and bytes.
fn next_message<C: Communicator>(world: &C, outbox: &mut VecDeque<PendingSend>) -> (i32, Vec<u8>) {
    let mut backoff = Backoff::new(WORKER_PAUSE);
    loop {
        complete_sends(outbox);
        // Not MPI's blocking probe: Open MPI spins in it, and an idle rank
        // that spins takes the CPU from the ranks that work (oversubscribed
        // nodes, other jobs).
        if let Some(message) = try_message(world) {
            return message;
        }
        if let Some(d) = backoff.next_pause() {
            std::thread::sleep(d);
        }
    }
}

/// Completes the sends at the head of `outbox` that are done (in order: a
/// later one is tested only once the ones before it are done).
fn complete_sends(outbox: &mut VecDeque<PendingSend>) {
    while let Some(send) = outbox.pop_front() {
        if let Err(pending) = send.try_complete() {
            outbox.push_front(pending);
            return;
        }
    }
}

/// A nonblocking send under way, owning its buffer until the send is done.
///
/// rsmpi lends a nonblocking send its buffer for the lifetime of a scope;
/// a worker's replies must outlive any scope of the loop that makes them,
/// so the buffer is leaked for the send and taken back once MPI reports
/// the send complete.
struct PendingSend {
    request: mpi::request::Request<'static, [u8]>,
    /// The leaked buffer the request reads.
    buffer: *mut [u8],
}

impl PendingSend {
    /// Starts sending `bytes` to `to` with `tag`.
    fn start(to: &mpi::topology::Process<'_>, bytes: Vec<u8>, tag: i32) -> PendingSend {
        let leaked: &'static mut [u8] = Box::leak(bytes.into_boxed_slice());
        let buffer: *mut [u8] = leaked;
        // SAFETY: `buffer` comes from `Box::leak` just above and stays valid
        // until `try_complete` frees it, which it does only after MPI has
        // reported the send complete (no further access to the buffer).
        let data: &'static [u8] = unsafe { &*buffer };
        let request = to.immediate_send_with_tag(mpi::request::StaticScope, data, tag);
        PendingSend { request, buffer }
    }

    /// Frees the buffer if the send is done; else gives the send back.
    fn try_complete(self) -> Result<(), PendingSend> {
        let PendingSend { request, buffer } = self;
        match request.test() {
            Ok(_) => {
                // SAFETY: `buffer` was made by `Box::leak` in `start` and is
                // freed only here, once; the request that read it has
                // completed and been consumed by `test`, so nothing refers to
                // the buffer any more.
                drop(unsafe { Box::from_raw(buffer) });
                Ok(())
            }
            Err(request) => Err(PendingSend { request, buffer }),
        }
    }
}

/// How a rank waits for MPI messages without spinning for long: MPI has no
/// blocking wait that sleeps (Open MPI's blocking calls spin, and yielding
/// on a loaded machine hands the core to every other runnable process for a
/// time slice), so a waiter polls without pause for [`Backoff::SPIN`] after
/// the last message, then sleeps between polls for a doubling time, from
/// 20 µs up to its cap — but no longer than [`Backoff::WARM_CAP`] while
/// the last message is under [`Backoff::WARM`] old: work tends to come in
/// runs (the next `map` of a loop), and a rank asleep for the full cap when
/// it comes starts that much late, while a rank idle for long polls as
/// seldom as before.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    since: std::time::Instant,
    sleep: std::time::Duration,
    cap: std::time::Duration,
}

impl Backoff {
    /// How long a waiter polls without pause after the last message.
    pub const SPIN: std::time::Duration = std::time::Duration::from_micros(50);
    const FIRST_SLEEP: std::time::Duration = std::time::Duration::from_micros(20);
    /// How long after the last message sleeps stay short.
    pub const WARM: std::time::Duration = std::time::Duration::from_millis(10);
    /// The longest sleep while the last message is under [`WARM`](Self::WARM) old.
    pub const WARM_CAP: std::time::Duration = std::time::Duration::from_micros(50);

    /// A backoff whose sleeps grow to at most `cap`.
    pub fn new(cap: std::time::Duration) -> Backoff {
        Backoff {
            since: std::time::Instant::now(),
            sleep: std::time::Duration::ZERO,
            cap,
        }
    }

    /// A message came: poll without pause again.
    pub fn reset(&mut self) {
        self.since = std::time::Instant::now();
        self.sleep = std::time::Duration::ZERO;
    }

    /// How long to wait before the next poll: `None` to poll at once.
    pub fn next_pause(&mut self) -> Option<std::time::Duration> {
        let idle = self.since.elapsed();
        if idle < Self::SPIN {
            std::hint::spin_loop();
            return None;
        }
        let cap = if idle < Self::WARM {
            self.cap.min(Self::WARM_CAP)
        } else {
            self.cap
        };
        self.sleep = (self.sleep * 2).clamp(Self::FIRST_SLEEP.min(cap), cap);
        Some(self.sleep)
    }
}

/// Decodes and runs one call; the encoded reply.
fn run_call(mut bytes: Vec<u8>) -> Vec<u8> {
    let call = bytes.len().checked_sub(8).map_or(u64::MAX, |at| {
        u64::from_le_bytes(bytes[at..].try_into().expect("8 bytes"))
    });
    let (mut reply, status, busy) = match decode_call(&bytes) {
        Ok((entry, label, input_len)) => match entry.resolve() {
            Ok(f) => {
                *RUNNING_LABEL.lock().unwrap_or_else(|e| e.into_inner()) = label;
                RUNNING.store(call, Ordering::SeqCst);
                let start = std::time::Instant::now();
                bytes.truncate(input_len);
                let out = f(bytes);
                let busy = u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX);
                RUNNING.store(u64::MAX, Ordering::SeqCst);
                (out, 0, busy)
            }
            Err(e) => (format!("the call's function: {e}").into_bytes(), 1, 0),
        },
        Err(why) => (why.into_bytes(), 1, 0),
    };
    reply.reserve(REPLY_TRAILER);
    reply.push(status);
    reply.extend_from_slice(&busy.to_le_bytes());
    reply.extend_from_slice(&call.to_le_bytes());
    reply
}

/// Splits a call into its entry point, label and the length of its input
/// (its first bytes).
fn decode_call(bytes: &[u8]) -> Result<(CallParts, String, usize), String> {
    let Some(t) = bytes.len().checked_sub(CALL_TRAILER) else {
        return Err(format!("a call of {} bytes", bytes.len()));
    };
    let trailer = &bytes[t..];
    let word = |at: usize| -> [u8; 8] { trailer[at..at + 8].try_into().expect("8 bytes") };
    let label_len = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")) as usize;
    let binary: [u8; 20] = trailer[4..24].try_into().expect("20 bytes");
    let tag = u64::from_le_bytes(word(24));
    let offset = i64::from_le_bytes(word(32));
    let Some(input_len) = t.checked_sub(label_len) else {
        return Err("a call whose label runs past its start".into());
    };
    let label = String::from_utf8_lossy(&bytes[input_len..t]).into_owned();
    Ok((EntryParts::new(offset, tag, binary), label, input_len))
}

/// Rank 0 at exit: stops every worker rank (taking in the replies of calls
/// still under way, so none is left blocked in a send), then finalizes MPI.
extern "C" fn shutdown_at_exit() {
    shutdown();
}

/// Stops the worker ranks and finalizes MPI (once; rank 0 only). Waits for
/// the calls still running in workers to end.
fn shutdown() {
    let me = crate::process::getpid();
    if ROOT
        .compare_exchange(me, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return; // not rank 0 (finalized, never up, or a forked child)
    }
    let mut guard = lock();
    let Some(RootState {
        universe,
        peers,
        watchdog,
        ..
    }) = guard.take()
    else {
        return;
    };
    with_peers!(&peers, |comm, first| {
        let workers = comm.target_size() - first;
        for r in 0..workers {
            comm.process_at_rank(first + r)
                .send_with_tag(&[0u8][..], TAG_STOP);
        }
        // A spawned worker that dies before it answers ends this process
        // (see `Watchdog`); one that answered may end.
        let mut stopped = 0;
        while stopped < workers {
            let (_, status) = comm
                .any_process()
                .matched_probe()
                .matched_receive_vec::<u8>();
            if status.tag() == TAG_STOPPED {
                stopped += 1;
                if let Some(w) = &watchdog {
                    let worker = (status.source_rank() - first) as usize;
                    if let Some(flag) = w.stopped.get(worker) {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    });
    // Spawned ranks: dropping the intercommunicator disconnects from them
    // (collective: they disconnect too, in `serve_parent`) before MPI is
    // finalized. Without both disconnects, the spawned ranks' finalize
    // fails once this process is gone ("Server not available").
    drop(peers);
    drop(universe);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_replies_decode() {
        let entry: CallEntry = EntryPoint::of(|v: Vec<u8>| v);
        let msg = encode_call(7, &entry, "abc", b"xyz".to_vec());
        let (e, label, input_len) = decode_call(&msg).unwrap();
        assert_eq!((label.as_str(), &msg[..input_len]), ("abc", &b"xyz"[..]));
        assert_eq!(e.get(), entry.to_parts());
        // Runs through the same path a worker takes.
        let reply = decode_reply(1, run_call(msg.clone())).unwrap();
        assert_eq!((reply.call, reply.output.unwrap()), (7, b"xyz".to_vec()));
        // Truncated: an error reply, nothing run.
        assert!(decode_call(&msg[..20]).is_err());
        let reply = decode_reply(2, run_call(msg[..msg.len() - 1].to_vec())).unwrap();
        assert!(reply.output.is_err());
        // A label longer than what precedes it: an error, nothing run.
        let mut bad = encode_call(8, &entry, "abc", Vec::new());
        let at = bad.len() - CALL_TRAILER;
        bad[at..at + 4].copy_from_slice(&9u32.to_le_bytes());
        assert!(decode_call(&bad).is_err());
        let reply = decode_reply(1, run_call(bad)).unwrap();
        assert_eq!(reply.call, 8);
        assert!(reply.output.unwrap_err().contains("label"));
        // A forged tag does not resolve.
        let mut forged = msg;
        let at = forged.len() - CALL_TRAILER + 24;
        forged[at] ^= 1;
        let reply = decode_reply(1, run_call(forged)).unwrap();
        assert!(reply.output.unwrap_err().contains("authenticate"));
        assert!(decode_reply(1, vec![1, 2]).is_err());
    }

    #[test]
    fn backoff_spins_then_sleeps_longer_up_to_its_cap() {
        let cap = std::time::Duration::from_micros(100);
        let mut b = Backoff::new(cap);
        std::thread::sleep(Backoff::SPIN);
        let pauses: Vec<_> = (0..4)
            .map(|_| b.next_pause().unwrap().as_micros())
            .collect();
        // Under WARM since the last message: no sleep above WARM_CAP.
        assert_eq!(pauses, [20, 40, 50, 50]);
        std::thread::sleep(Backoff::WARM);
        let pauses: Vec<_> = (0..3)
            .map(|_| b.next_pause().unwrap().as_micros())
            .collect();
        assert_eq!(pauses, [100, 100, 100]);
        b.reset();
        assert_eq!(b.sleep, std::time::Duration::ZERO);
        std::thread::sleep(Backoff::SPIN);
        assert_eq!(b.next_pause().map(|d| d.as_micros()), Some(20));
    }

    #[test]
    fn no_world_without_a_launcher() {
        assert!(world().is_none());
    }
}
