//! The parent's side of each worker: its process, socket, sentinel and the
//! chunks in flight to it; starting workers and stopping them (gracefully,
//! or at once).

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_process::Process;
use mp_wire::SharedFd;

use crate::dispatch::Config;
use crate::error::PoolError;
use crate::func::EntryParts;
use crate::worker::{worker_main, InitSpec, RequestRef, WorkerConfig};

/// A chunk this small may be queued behind other small chunks on a busy
/// worker (prefetch).
const PREFETCH_MAX_BYTES: usize = 16 * 1024;
/// At most this many chunks in flight per worker when prefetching.
const PREFETCH_DEPTH: usize = 4;
/// At most this many bytes in flight per worker when prefetching: well
/// under a Unix socket's buffer, so a prefetch send never blocks (a blocked
/// send could deadlock with a worker blocked writing a large result).
const PREFETCH_MAX_INFLIGHT: usize = 64 * 1024;

/// One chunk of one job: encoded inputs plus the entry that runs them.
pub(crate) struct Chunk {
    pub(crate) job: u64,
    pub(crate) index: usize,
    pub(crate) entry: EntryParts,
    pub(crate) bytes: Vec<u8>,
    pub(crate) fds: Vec<SharedFd>,
    /// Part of a map-style job (may be prefetched), not an `apply`.
    pub(crate) bulk: bool,
    pub(crate) attempts: u32,
}

impl Chunk {
    fn prefetchable(&self) -> bool {
        self.bulk && self.bytes.len() <= PREFETCH_MAX_BYTES
    }
}

/// A live worker as the parent sees it.
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) process: Process,
    pub(crate) sock: Arc<OwnedFd>,
    pub(crate) sentinel: Arc<OwnedFd>,
    pub(crate) inflight: VecDeque<Chunk>,
    pub(crate) sent: u64,
    pub(crate) eof: bool,
    pub(crate) broken: bool,
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
        plenty
            && self.inflight.len() < PREFETCH_DEPTH
            && chunk.prefetchable()
            && self.inflight.iter().all(Chunk::prefetchable)
            && self.inflight.iter().map(|c| c.bytes.len()).sum::<usize>() + chunk.bytes.len()
                <= PREFETCH_MAX_INFLIGHT
    }
}

/// Starts one worker process with its socket.
pub(crate) fn start_worker(cfg: &Config, id: u64) -> Result<Worker, PoolError> {
    let (ours, theirs) = mp_sys::socket::socketpair()?;
    let init = match &cfg.init {
        None => None,
        Some((entry, msg)) => {
            let msg = msg.try_clone()?;
            Some(InitSpec {
                entry: *entry,
                args: msg.bytes,
                fds: msg.fds.into_iter().map(SharedFd::from).collect(),
            })
        }
    };
    let wc = WorkerConfig {
        sock: SharedFd::from(theirs),
        init,
        maxtasks: cfg.maxtasks,
    };
    let class = format!("{}PoolWorker", cfg.method.class_prefix());
    let mut process =
        Process::with_class(&class, Some(cfg.method), worker_main, (wc,)).daemon(true);
    // Constructing the Process installed mp-process's child panic report;
    // install the task hook over it now, in the parent, before the fork: a
    // forked worker then never calls `panic::set_hook` (whose lock another
    // parent thread may hold at fork time), and the task hook is outermost,
    // so a task's panic is recorded quietly instead of reported.
    crate::func::install_panic_hook();
    process.start()?;
    let sentinel = mp_sys::fd::dup_cloexec(process.sentinel()?)?;
    Ok(Worker {
        id,
        name: process.get_name().to_string(),
        process,
        sock: Arc::new(ours),
        sentinel: Arc::new(sentinel),
        inflight: VecDeque::new(),
        sent: 0,
        eof: false,
        broken: false,
    })
}

/// Asks every worker to exit after its current work, then waits (bounded)
/// and kills any that does not.
pub(crate) fn stop_gracefully(workers: Vec<Worker>) {
    if let Ok(msg) = mp_wire::encode(&RequestRef::Exit) {
        for w in &workers {
            let _ = mp_wire::send_timeout(w.sock.as_fd(), &msg, Some(Duration::from_secs(1)));
        }
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
