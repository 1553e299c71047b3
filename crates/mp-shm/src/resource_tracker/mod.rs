//! The resource tracker: a small process that unlinks the named blocks
//! whose creator was ended by a signal, as CPython's
//! `multiprocessing.resource_tracker` does.
//!
//! # Life
//! The first [`SharedMemory::create`](crate::SharedMemory::create) of a
//! process starts it ([`mp_sys::bootstrap::spawn_self`], then a wait for
//! its ready byte: a one-time cost of a few milliseconds) and keeps one end
//! of a socket to it. Each name the
//! process creates is *registered* (one small non-blocking write of at most
//! 265 bytes), and *unregistered* when it is unlinked or disowned. The
//! tracker watches every registering process with a pidfd: when one ends
//! with names still registered (killed by `SIGKILL` or `SIGTERM`, `abort`,
//! `_exit`), the tracker unlinks them and prints CPython's warning on its
//! stderr (inherited from the process that started it):
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
//! - **fork**: a child inherits the socket and shares its parent's tracker,
//!   as CPython's do. Messages carry the sender's
//!   [`ProcessIdent`], so a killed child's names are
//!   unlinked when *it* ends, not when the whole tree has.
//! - **spawn / forkserver**: a child does not inherit the socket (it is
//!   close-on-exec; the fork server is spawned); it starts its own tracker
//!   the first time it creates a block. CPython hands its tracker's fd to
//!   spawned children instead; one tracker per creator tree costs one more
//!   process and needs no fd passing through the start protocol.
//!
//! # When the tracker is gone
//! A tracker that died (say, `SIGKILL` sent to it) or could not start
//! changes nothing for `SharedMemory`: the first failed write marks it
//! broken (and reaps it, in the process that started it), no new one is
//! started, and names fall back to the creator's exit-time unlink plus
//! [`cleanup_stale`](crate::cleanup_stale). A tracker too busy to read
//! (its socket buffer full) drops that one message rather than block the
//! creator.

mod message;
mod server;

use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::Duration;

use mp_sys::bootstrap::ChildMain;
use mp_sys::entry::EntryPoint;
use mp_sys::socket::Blocking;

use crate::ident::ProcessIdent;
use message::{encode, Op};

enum State {
    /// No tracker started yet by this process or its fork ancestors.
    Idle,
    /// A thread of process `by` is starting one, without holding the lock
    /// (so that a fork meanwhile cannot leave the child a held lock).
    Starting { by: u32 },
    Running {
        sock: OwnedFd,
        pid: u32,
        /// The pidfd, kept by the process that started the tracker (its
        /// parent, the only one that may reap it).
        pidfd: OwnedFd,
        /// The pid of the process that started it.
        parent: u32,
    },
    /// Could not start, or died: trackerless from now on.
    Broken,
}

static STATE: Mutex<State> = Mutex::new(State::Idle);

/// How long a creator waits, once, for a new tracker to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a tracker and waits for its ready byte. The wait matters: a child
/// started by `spawn_self` refuses to run if its parent has already gone,
/// so a creator that returned at once and was then killed could be left
/// with no tracker.
fn start() -> State {
    if mp_sys::bootstrap::bootstrap_pending() {
        return State::Broken;
    }
    let entry: ChildMain = EntryPoint::of(server::serve);
    let Ok(child) = mp_sys::bootstrap::spawn_self(&entry) else {
        return State::Broken;
    };
    let mut byte = [0u8; 1];
    let ready = mp_sys::socket::poll_readable(&child.control, Some(START_TIMEOUT)).is_ok_and(|r| r)
        && rustix::io::read(&child.control, &mut byte).is_ok_and(|n| n == 1)
        && byte[0] == server::READY;
    if !ready {
        let _ = mp_sys::process::send_signal(&child.pidfd, mp_sys::signal::SIGKILL);
        let _ = mp_sys::process::wait_pidfd(&child.pidfd, true);
        return State::Broken;
    }
    State::Running {
        sock: child.control,
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
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            State::Idle => {}
            // A fork child of a starting process: that start is not ours.
            State::Starting { by } if by != me => {}
            _ => return,
        }
        *state = State::Starting { by: me };
    }
    let started = start();
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = started;
}

/// Sends one message; a tracker found dead is marked broken.
fn send(state: &mut State, op: Op, name: &str) {
    let State::Running { sock, .. } = &*state else {
        return;
    };
    let Some(bytes) = encode(op, ProcessIdent::current().to_bits(), name) else {
        return;
    };
    let sent = mp_sys::socket::send_vectored_with_fds(
        sock,
        &[std::io::IoSlice::new(&bytes)],
        &[],
        Blocking::DontWait,
    );
    match sent {
        Ok(n) if n == bytes.len() => {}
        // Too busy to read: drop this one message, never wait.
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        // Dead (EPIPE), or a partial write that would desynchronise it.
        _ => {
            if let State::Running { pidfd, parent, .. } = &*state {
                if *parent == std::process::id() {
                    let _ = mp_sys::process::wait_pidfd(pidfd, false);
                }
            }
            *state = State::Broken;
        }
    }
}

/// Registers `name`, just created by this process, if a tracker is running
/// (see [`ensure_started`]).
pub(crate) fn register(name: &str) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    send(&mut state, Op::Register, name);
}

/// Unregisters `name` if a tracker is running; starts none. At exit, gives
/// up rather than wait for a lock another thread holds.
pub(crate) fn unregister(name: &str, at_exit: bool) {
    let mut state = if at_exit {
        let Some(state) = crate::at_exit::try_lock_at_exit(&STATE) else {
            return;
        };
        state
    } else {
        STATE.lock().unwrap_or_else(|e| e.into_inner())
    };
    send(&mut state, Op::Unregister, name);
}

/// The pid of the resource tracker this process reports to, if one is
/// running (started by this process or, under fork, by an ancestor); see
/// the [module docs](crate::resource_tracker).
pub fn resource_tracker_pid() -> Option<u32> {
    match &*STATE.lock().unwrap_or_else(|e| e.into_inner()) {
        State::Running { pid, .. } => Some(*pid),
        _ => None,
    }
}
