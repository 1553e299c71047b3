//! The worker process: run the initializer once, then read chunks from the
//! long-lived socket, run them, write each output back; retire after
//! `maxtasksperchild` chunks, on an `Exit` request, at end of stream, or when
//! the parent dies.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use mp_process::ExitCode;
use mp_sys::socket::Blocking;
use mp_wire::{Limits, Message, SharedFd};
use serde::{Deserialize, Serialize};

use crate::func::{self, ChunkEntry, EntryParts, InitEntry};
use crate::reader::{Fill, FrameReader};
use crate::TaskError;

/// A resolved chunk entry.
type ChunkFn = fn(Message) -> Message;

/// What a worker is started with (its process argument).
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerConfig {
    /// The worker's end of its socket to the parent.
    pub(crate) sock: SharedFd,
    /// The initializer and its encoded arguments.
    pub(crate) init: Option<InitSpec>,
    /// Chunks to run before retiring (`maxtasksperchild`).
    pub(crate) maxtasks: Option<u64>,
}

/// An initializer: entry point plus encoded `initargs`.
#[derive(Serialize, Deserialize)]
pub(crate) struct InitSpec {
    pub(crate) entry: EntryParts,
    #[serde(with = "mp_wire::serde_bytes")]
    pub(crate) args: Vec<u8>,
    pub(crate) fds: Vec<SharedFd>,
}

/// A request from the parent, as the worker decodes it.
#[derive(Deserialize)]
enum Request {
    /// Run a chunk: the chunk entry and its encoded inputs.
    Run {
        entry: EntryParts,
        #[serde(with = "mp_wire::serde_bytes")]
        payload: Vec<u8>,
        fds: Vec<SharedFd>,
    },
    /// Finish and exit with code 0.
    Exit,
}

/// A request as the parent encodes it (borrowing the chunk).
#[derive(Serialize)]
pub(crate) enum RequestRef<'a> {
    /// See [`Request::Run`].
    Run {
        entry: EntryParts,
        #[serde(with = "mp_wire::serde_bytes")]
        payload: &'a [u8],
        fds: &'a [SharedFd],
    },
    /// See [`Request::Exit`].
    Exit,
}

/// The next request: from the buffer if one is there, else after waiting
/// for the socket (or the parent's death: `None`, as at end of stream).
fn next_request(
    reader: &mut FrameReader,
    sock: BorrowedFd<'_>,
    parent_sentinel: Option<BorrowedFd<'_>>,
    limits: &Limits,
) -> Result<Option<Message>, String> {
    loop {
        if let Some(m) = reader
            .next_frame(limits)
            .map_err(|e| format!("cannot read a task: {e}"))?
        {
            return Ok(Some(m));
        }
        match reader.fill(sock, limits, Blocking::DontWait) {
            Ok(Fill::Data) => continue,
            Ok(Fill::Eof) => return Ok(None),
            Ok(Fill::WouldBlock) => {}
            Err(e) => return Err(format!("cannot read a task: {e}")),
        }
        let mut fds = vec![sock];
        fds.extend(parent_sentinel);
        match mp_sys::fd::poll_readable_any(&fds, None) {
            Ok(ready) if !ready[0] && ready.get(1) == Some(&true) => return Ok(None),
            Ok(_) => {} // readable, or EINTR: read again
            Err(e) => return Err(format!("cannot wait for a task: {e}")),
        }
    }
}

/// The body of every pool worker.
pub(crate) fn worker_main(cfg: WorkerConfig) -> ExitCode {
    func::install_panic_hook();
    let name = mp_process::current_process().name().to_string();
    let sock: OwnedFd = cfg.sock.into_inner();
    if let Some(init) = cfg.init {
        let (o, s, b) = init.entry;
        let msg = Message {
            bytes: init.args,
            fds: init.fds.into_iter().map(SharedFd::into_inner).collect(),
        };
        let result = InitEntry::from_parts(o, s, b)
            .resolve()
            .map_err(|e| e.to_string())
            .and_then(|run| run(msg));
        if let Err(e) = result {
            eprintln!("Process {name}:\ninitializer failed: {e}");
            return ExitCode(1);
        }
    }
    let parent = mp_process::parent_process();
    let parent_sentinel = parent.as_ref().and_then(|p| p.sentinel());
    let limits = Limits::default();
    let mut done: u64 = 0;
    let mut cached: Option<(EntryParts, ChunkFn)> = None;
    let mut reader = FrameReader::new();
    loop {
        let msg = match next_request(&mut reader, sock.as_fd(), parent_sentinel, &limits) {
            Ok(Some(m)) => m,
            Ok(None) => break, // end of stream, or the parent died
            Err(e) => {
                eprintln!("Process {name}:\n{e}");
                return ExitCode(1);
            }
        };
        let (entry, payload, fds) = match mp_wire::decode::<Request>(msg) {
            Ok(Request::Run {
                entry,
                payload,
                fds,
            }) => (entry, payload, fds),
            Ok(Request::Exit) => break,
            Err(e) => {
                eprintln!("Process {name}:\ncannot decode a task: {e}");
                return ExitCode(1);
            }
        };
        let run = match cached {
            Some((parts, run)) if parts == entry => Ok(run),
            _ => ChunkEntry::from_parts(entry.0, entry.1, entry.2).resolve(),
        };
        let out = match run {
            Ok(run) => {
                cached = Some((entry, run));
                run(Message {
                    bytes: payload,
                    fds: fds.into_iter().map(SharedFd::into_inner).collect(),
                })
            }
            Err(e) => func::chunk_error(TaskError::Function(e.to_string())),
        };
        if mp_wire::send(sock.as_fd(), &out).is_err() {
            break; // the parent is gone
        }
        done += 1;
        if cfg.maxtasks.is_some_and(|m| done >= m) {
            break;
        }
    }
    ExitCode(0)
}
