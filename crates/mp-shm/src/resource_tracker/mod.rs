//! The resource tracker: a small process that unlinks the named blocks
//! whose creator was ended by a signal, as CPython's
//! `multiprocessing.resource_tracker` does.
//!
//! # Life
//! The first [`SharedMemory::create`](crate::SharedMemory::create) of a
//! process starts it ([`mp_sys::bootstrap::spawn_self`], a wait for its
//! ready byte, and the hand-over of a registration table: a one-time cost
//! of about a millisecond) and keeps one end of a socket to it. Each name
//! the process creates is *registered* in the table, a sealed shared region
//! (a few atomic stores: no system call, and the tracker is not woken), and
//! *unregistered* when it is unlinked or disowned. Each registering process
//! tells the tracker once, over the socket, to watch it; the tracker holds
//! a pidfd per such process. When one ends with names still registered
//! (killed by `SIGKILL` or `SIGTERM`, `abort`, `_exit`), the tracker
//! unlinks them and prints CPython's warning on its stderr (inherited from
//! the process that started it):
//!
//! ```text
//! resource_tracker: There appear to be 1 leaked shared_memory objects to clean up after process 4242 ended: ["mp-4242-…"]
//! ```
//!
//! A normal exit unregisters everything first (the exit hook unlinks the
//! names the process owns), so it prints nothing. The tracker ends when
//! every holder of the socket is gone, after unlinking what is left; it
//! ignores `SIGINT` and `SIGTERM`, so a Ctrl-C reaching the whole process
//! group ends its clients, not it.
//!
//! # Process trees
//! - **fork**: a child inherits the socket and the table's mapping and
//!   shares its parent's tracker, as CPython's do. Entries carry their
//!   creator's [`ProcessIdent`] and the child asks to
//!   be watched itself, so a killed child's names are unlinked when *it*
//!   ends, not when the whole tree has.
//! - **spawn / forkserver**: a child does not inherit the socket (it is
//!   close-on-exec; the fork server is spawned); it starts its own tracker
//!   the first time it creates a block. CPython hands its tracker's fd to
//!   spawned children instead; one tracker per creator tree costs one more
//!   process and needs no fd passing through the start protocol.
//!
//! # Limits and failures
//! The table holds 16,384 names at once; names beyond that, or longer than
//! 255 bytes, go untracked. A tracker that died (say, `SIGKILL` sent to
//! it) or could not start changes nothing for `SharedMemory`: names fall
//! back to the creator's exit-time unlink plus
//! [`cleanup_stale`](crate::cleanup_stale). A process that finds it dead
//! when it asks to be watched marks it broken (and reaps it, in the process
//! that started it) and no new one is started. Nothing here ever blocks a
//! creator: the one socket write per process is non-blocking.

mod message;
mod server;
mod table;

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mp_sys::bootstrap::ChildMain;
use mp_sys::entry::EntryPoint;
use mp_sys::socket::Blocking;

use crate::ident::ProcessIdent;
use message::encode_watch;
use table::Table;

pub(crate) enum State {
    /// No tracker started yet by this process or its fork ancestors.
    Idle,
    /// A thread of process `by` is starting one, without holding the lock
    /// (so that a fork meanwhile cannot leave the child a held lock).
    Starting { by: u32 },
    Running {
        sock: OwnedFd,
        table: Table,
        pid: u32,
        /// The pidfd, kept by the process that started the tracker (its
        /// parent, the only one that may reap it).
        pidfd: OwnedFd,
        /// The pid of the process that started it.
        parent: u32,
    },
    /// Could not start, or found dead: trackerless from now on.
    Broken,
}

static STATE: Mutex<State> = Mutex::new(State::Idle);

/// The state, locked (and mp-shm's fork hooks registered, which take it
/// across every fork: see `fork_safety`).
fn state() -> MutexGuard<'static, State> {
    crate::fork_safety::ensure_registered();
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The state, locked by a forking thread across the fork (`fork_safety`).
pub(crate) fn hold_for_fork() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}
/// The pid of the process that last told the tracker to watch it (a fork
/// child has another pid, so it announces itself too).
static ANNOUNCED: AtomicU32 = AtomicU32::new(0);

/// How long a creator waits, once, for a new tracker to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a tracker, waits for its ready byte and hands it the table. The
/// wait matters: a child started by `spawn_self` refuses to run if its
/// parent has already gone, so a creator that returned at once and was
/// then killed could be left with no tracker.
fn start() -> State {
    if mp_sys::bootstrap::bootstrap_pending() {
        return State::Broken;
    }
    let Ok(table) = Table::create() else {
        return State::Broken;
    };
    let entry: ChildMain = EntryPoint::of(server::serve);
    let Ok(child) = mp_sys::bootstrap::spawn_self(&entry) else {
        return State::Broken;
    };
    let mut byte = [0u8; 1];
    let ready = mp_sys::socket::poll_readable(&child.control, Some(START_TIMEOUT)).is_ok_and(|r| r)
        && mp_sys::fd::read(&child.control, &mut byte).is_ok_and(|n| n == 1)
        && byte[0] == server::READY
        && mp_sys::socket::send_with_fds(&child.control, b"T", &[table.region().as_fd()])
            .is_ok_and(|n| n == 1);
    if !ready {
        let _ = mp_sys::process::send_signal(&child.pidfd, mp_sys::signal::SIGKILL);
        let _ = mp_sys::process::wait_pidfd(&child.pidfd, true);
        return State::Broken;
    }
    State::Running {
        sock: child.control,
        table,
        pid: child.pid,
        pidfd: child.pidfd,
        parent: std::process::id(),
    }
}

/// Starts the tracker if this process (or its fork ancestors) has none yet
/// and none failed. Called before a name is created, so that a creator
/// killed while the tracker starts leaves no name behind.
///
/// Other threads do not wait for a start in progress: their names go
/// untracked (the exit hook still unlinks them).
pub(crate) fn ensure_started() {
    let me = std::process::id();
    {
        let mut state = state();
        match *state {
            State::Idle => {}
            // A fork child of a starting process: that start is not ours.
            State::Starting { by } if by != me => {}
            _ => return,
        }
        *state = State::Starting { by: me };
    }
    let started = start();
    *state() = started;
}

/// Tells the tracker to watch this process, once per process. A tracker
/// found dead is marked broken (and reaped by its parent); a full socket
/// buffer is tried again at the next registration.
fn announce(state: &mut State) {
    let me = std::process::id();
    let State::Running {
        sock,
        pidfd,
        parent,
        ..
    } = &*state
    else {
        return;
    };
    if ANNOUNCED.load(Ordering::Relaxed) == me {
        return;
    }
    let message = encode_watch(ProcessIdent::current().to_bits());
    let sent = mp_sys::socket::send_vectored_with_fds(
        sock,
        &[std::io::IoSlice::new(&message)],
        &[],
        Blocking::DontWait,
    );
    match sent {
        Ok(n) if n == message.len() => ANNOUNCED.store(me, Ordering::Relaxed),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        // Dead (EPIPE), or a partial write that would desynchronise it.
        _ => {
            if *parent == me {
                let _ = mp_sys::process::wait_pidfd(pidfd, false);
            }
            *state = State::Broken;
        }
    }
}

/// Registers `name`, just created by this process, if a tracker is running
/// (see [`ensure_started`]); returns its slot for [`unregister`].
pub(crate) fn register(name: &str) -> Option<u32> {
    let mut state = state();
    announce(&mut state);
    match &*state {
        State::Running { table, .. } => table.register(ProcessIdent::current().to_bits(), name),
        _ => None,
    }
}

/// Unregisters a name: by its `slot` if this process registered it, else
/// by looking `name` up. Starts nothing. At exit, gives up rather than wait
/// for a lock another thread holds.
pub(crate) fn unregister(name: &str, slot: Option<u32>, at_exit: bool) {
    let state = if at_exit {
        let Some(state) = crate::at_exit::try_lock_at_exit(&STATE) else {
            return;
        };
        state
    } else {
        state()
    };
    if let State::Running { table, .. } = &*state {
        match slot {
            Some(slot) => table.release(slot),
            None => {
                table.take(|_, n| n == name);
            }
        }
    }
}

/// The pid of the resource tracker this process reports to, if one was
/// started (by this process or, under fork, by an ancestor) and not found
/// dead; see the [module docs](crate::resource_tracker).
pub fn resource_tracker_pid() -> Option<u32> {
    match &*state() {
        State::Running { pid, .. } => Some(*pid),
        _ => None,
    }
}
