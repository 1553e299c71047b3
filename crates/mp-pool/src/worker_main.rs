//! The worker process: run the initializer once and make the worker state,
//! then read chunks from the
//! long-lived link, run them, write each output back; retire after
//! `maxtasksperchild` chunks or past `max_memory_per_child`, on an `Exit`
//! request, at end of stream, or when the parent dies (which a watch thread
//! notices, see [`parent_watch`], so the wait for a
//! request is one blocking read).

use std::os::fd::BorrowedFd;

use mp_channel::{Connection, ExclusiveConnection, RecvError};
use mp_process::ExitCode;
use mp_wire::{Message, SharedFd};
use serde::{Deserialize, Serialize};

use crate::func::{self, ChunkInput, EntryParts};
use crate::parent_watch;
use crate::request::{self, Request};
use crate::spare;
use crate::task_word::{self, TaskWord};
use crate::worker_state::{self, StateParts};
use crate::TaskError;

/// A resolved chunk entry.
type ChunkFn = fn(ChunkInput) -> Message;

/// What a worker is started with (its process argument).
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerConfig {
    /// The worker's end of its connection to the parent.
    pub(crate) conn: Connection,
    /// The initializer and its encoded arguments.
    pub(crate) init: Option<InitSpec>,
    /// Chunks to run before retiring (`maxtasksperchild`).
    pub(crate) maxtasks: Option<u64>,
    /// The memfd of the word that tells the parent which task it is on.
    pub(crate) task_word: SharedFd,
    /// What makes the worker's state and its encoded arguments.
    pub(crate) state: Option<InitSpec>,
    /// Retire when the resident memory exceeds this after a chunk.
    pub(crate) max_memory: Option<u64>,
}

/// An initializer (or worker-state maker): entry point plus encoded
/// `initargs`.
#[derive(Serialize, Deserialize)]
pub(crate) struct InitSpec {
    pub(crate) entry: EntryParts,
    #[serde(with = "mp_wire::serde_bytes")]
    pub(crate) args: Vec<u8>,
    pub(crate) fds: Vec<SharedFd>,
}

impl InitSpec {
    /// The spec of `entry` called with the encoded arguments `msg` (in the
    /// parent; the fds are shared, not moved).
    pub(crate) fn new(entry: EntryParts, msg: &Message) -> std::io::Result<InitSpec> {
        let msg = msg.try_clone()?;
        Ok(InitSpec {
            entry,
            args: msg.bytes,
            fds: msg.fds.into_iter().map(SharedFd::from).collect(),
        })
    }

    /// The entry's parts and its arguments as a message (in the worker).
    fn into_parts(self) -> (EntryParts, Message) {
        let msg = Message {
            bytes: self.args,
            fds: self.fds.into_iter().map(SharedFd::into_inner).collect(),
        };
        (self.entry, msg)
    }
}

/// How the worker learns of its parent's death while it waits for a
/// request.
#[derive(Clone, Copy)]
enum Orphaning<'a> {
    /// The parent watch ends the worker (see [`parent_watch`]): wait in a
    /// blocking read.
    Watched,
    /// Poll the parent's sentinel beside the link (no watch thread).
    Polled(BorrowedFd<'a>),
    /// No parent to watch.
    Unwatched,
}

/// The next request (from the buffer if one is there), or `None` at end of
/// stream or once the parent died. With the parent watched or unwatched the
/// wait is one blocking read; with it polled, see [`poll_request`].
fn next_request(
    conn: &mut ExclusiveConnection,
    orphaning: Orphaning<'_>,
    taken: u64,
    buf: &mut Vec<u8>,
) -> Result<Option<Message>, String> {
    let got = match orphaning {
        Orphaning::Polled(sentinel) => return poll_request(conn, sentinel, taken),
        Orphaning::Watched => match parent_watch::waiting(|| conn.recv_message_in(buf, None)) {
            Some(got) => got,
            // The parent died: what it wrote before is still run, as when
            // the worker polled the link beside the sentinel.
            None => match conn.try_recv_message() {
                Ok(Some(m)) => Ok(m),
                Ok(None) => return Ok(None),
                Err(e) => Err(e),
            },
        },
        Orphaning::Unwatched => conn.recv_message_in(buf, None),
    };
    match got {
        Ok(m) => Ok(Some(m)),
        Err(RecvError::Eof) => Ok(None),
        Err(e) => Err(format!("cannot read a task: {e}")),
    }
}

/// The next request when the worker polls its parent's sentinel itself:
/// from the buffer if one is there, else read at once when the parent has
/// written more run requests than the `taken` ones (its count in the task
/// word says so: no `poll`), else after polling the link and the sentinel
/// (the parent's death: `None`).
fn poll_request(
    conn: &mut ExclusiveConnection,
    parent_sentinel: BorrowedFd<'_>,
    taken: u64,
) -> Result<Option<Message>, String> {
    // `syscall`: read the link too, not only what is buffered.
    let read = |conn: &mut ExclusiveConnection, syscall: bool| match if syscall {
        conn.try_recv_message()
    } else {
        conn.try_recv_buffered()
    } {
        Ok(m) => Ok(m),
        Err(RecvError::Eof) => Err(None),
        Err(e) => Err(Some(format!("cannot read a task: {e}"))),
    };
    let ended = |e: Option<String>| e.map_or(Ok(None), Err);
    match read(conn, false) {
        Ok(Some(m)) => return Ok(Some(m)),
        Ok(None) => {}
        Err(e) => return ended(e),
    }
    if task_word::requests_waiting(taken) {
        match read(conn, true) {
            Ok(Some(m)) => return Ok(Some(m)),
            Ok(None) => {}
            Err(e) => return ended(e),
        }
    }
    let mut ready = [false; 2];
    loop {
        let fds = [conn.as_fd(), parent_sentinel];
        match mp_sys::fd::poll_readable_into(&fds, None, &mut ready) {
            Ok(_) if !ready[0] && ready[1] => return Ok(None),
            Ok(_) => {} // readable, or EINTR: read again
            Err(e) => return Err(format!("cannot wait for a task: {e}")),
        }
        match read(conn, true) {
            Ok(Some(m)) => return Ok(Some(m)),
            Ok(None) => {}
            Err(e) => return ended(e),
        }
    }
}

/// Whether this process's resident memory exceeds `limit` bytes (if it
/// cannot be read, it does not).
fn over_memory(limit: u64) -> bool {
    match mp_sys::process::resident_memory() {
        Ok(rss) => rss > limit,
        Err(e) => {
            log::debug!(target: "multiprocess", "cannot read the resident memory: {e}");
            false
        }
    }
}

/// The body of every pool worker.
pub(crate) fn worker_main(cfg: WorkerConfig) -> ExitCode {
    let name = mp_process::current_process().name().to_string();
    // Exclusive: this thread alone reads and writes the link, so the
    // connection's own locks would only cost two locked instructions per
    // request and per reply.
    let mut conn = match cfg.conn.into_exclusive() {
        Ok(conn) => conn,
        Err(_) => {
            eprintln!("Process {name}:\nthe link to the parent is shared");
            return ExitCode(1);
        }
    };
    match TaskWord::attach(&cfg.task_word.into_inner()) {
        Ok(word) => task_word::install(word),
        Err(e) => {
            eprintln!("Process {name}:\ncannot map the task word: {e}");
            return ExitCode(1);
        }
    }
    if let Some(init) = cfg.init {
        let ((o, s, b), msg) = init.into_parts();
        let result = mp_sys::entry::EntryParts::<Message, Result<(), String>>::new(o, s, b)
            .resolve()
            .map_err(|e| e.to_string())
            .and_then(|run| run(msg));
        if let Err(e) = result {
            eprintln!("Process {name}:\ninitializer failed: {e}");
            return ExitCode(1);
        }
    }
    if let Some(spec) = cfg.state {
        let ((o, s, b), msg) = spec.into_parts();
        let made = StateParts::new(o, s, b)
            .resolve()
            .map_err(|e| e.to_string())
            .and_then(|make| make(msg));
        match made {
            Ok(state) => worker_state::install(state),
            Err(e) => {
                eprintln!(
                    "Process {name}:
worker state failed: {e}"
                );
                return ExitCode(1);
            }
        }
    }
    let parent = mp_process::parent_process();
    let watched = parent.clone().is_some_and(parent_watch::start);
    let orphaning = match parent.as_ref().and_then(|p| p.sentinel()) {
        Some(_) if watched => Orphaning::Watched,
        Some(s) => Orphaning::Polled(s),
        None => Orphaning::Unwatched,
    };
    let mut done: u64 = 0;
    // The number of run requests taken, as the task word counts them.
    let mut number: u32 = 0;
    let mut cached: Option<(EntryParts, ChunkFn)> = None;
    // Run requests taken and replies written, as the task word counts them.
    let mut taken: u64 = 0;
    let mut replies: u64 = 0;
    // The last reply's bytes, which the next request is read into (a
    // request read into a fresh allocation cost each task an allocation
    // and a free); not kept past 64 KiB, which would stay resident in an
    // idle worker.
    let mut spare: Vec<u8> = Vec::new();
    loop {
        let msg = match next_request(&mut conn, orphaning, taken, &mut spare) {
            Ok(Some(m)) => m,
            Ok(None) => break, // end of stream, or the parent died
            Err(e) => {
                eprintln!("Process {name}:\n{e}");
                return ExitCode(1);
            }
        };
        let Message { bytes, fds } = msg;
        let (entry, inputs, fds) = match request::decode(&bytes, fds) {
            Ok(Request::Run {
                entry,
                inputs,
                skip,
                rare,
            }) => {
                number = number.wrapping_add(1);
                taken += 1;
                let (fds, holes) = rare.map_or_else(Default::default, |r| (r.fds, r.holes));
                task_word::chunk_begins(number, skip, holes);
                (entry, inputs, fds)
            }
            Ok(Request::Exit) => break,
            Err(e) => {
                eprintln!("Process {name}:\ncannot decode a task: {e}");
                return ExitCode(1);
            }
        };
        let run = match cached {
            Some((parts, run)) if parts == entry => Ok(run),
            _ => mp_sys::entry::EntryParts::<ChunkInput, Message>::new(entry.0, entry.1, entry.2)
                .resolve(),
        };
        let out = match run {
            Ok(run) => {
                cached = Some((entry, run));
                run(ChunkInput {
                    bytes,
                    inputs,
                    fds: fds.into_iter().map(SharedFd::into_inner).collect(),
                })
            }
            Err(e) => func::chunk_error(TaskError::Function(e.to_string())),
        };
        if conn.send_message(&out, None).is_err() {
            break; // the parent is gone
        }
        if out.bytes.capacity() <= spare::BYTES_KEEP_MAX {
            spare = out.bytes;
        }
        replies += 1;
        task_word::set_replies_written(replies);
        done += 1;
        if cfg.maxtasks.is_some_and(|m| done >= m) {
            break;
        }
        if cfg.max_memory.is_some_and(over_memory) {
            // Retire (exit code 0): the parent sends what was queued to this
            // worker to another.
            break;
        }
    }
    ExitCode(0)
}
