//! The fork server: a single-threaded process, started once by spawning
//! (`forkserver_client.rs`), that forks children on request. Requests and
//! fds travel over a socket (`SCM_RIGHTS`); the server answers with the
//! child's pid, a pidfd and a pipe on which it writes the exit code once it
//! has reaped the child. It exits when the client closes its socket.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use mp_sys::process::{exit_now, fork, fork_counted, wait_pidfd, Fork};
use mp_sys::thread::ThreadCounter;
use mp_wire::{DecodeError, Limits, Message, SharedFd, WireError};
use serde::{Deserialize, Serialize};

use crate::child_main::{self, Launch};

/// Bytes kept for a start's answer: a `Reply::Started` takes at most 6.
const REPLY_CAPACITY: usize = 16;

/// How long the server waits for the rest of a request that has begun.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's answer to one request.
#[derive(Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The child was forked. The frame carries two fds, in this order: a
    /// pidfd of the child and the read end of its status pipe. They are
    /// the frame's own (not `SharedFd` fields, which `encode` would
    /// duplicate): the server sends its pidfd and keeps it.
    Started { pid: u32 },
    /// Forking failed; the reason.
    Failed(String),
}

/// A child just forked, before the client knows of it.
struct Forked {
    pid: u32,
    pidfd: OwnedFd,
    status_r: OwnedFd,
    status_w: OwnedFd,
}

struct Kid {
    pidfd: OwnedFd,
    status: OwnedFd,
}

struct ServerState {
    control: Option<OwnedFd>,
    kids: Vec<Kid>,
    /// The client (the server's parent): its pid and a pidfd opened once,
    /// which each child inherits and keeps as its parent's (so the client
    /// sends none with each request).
    client: Option<(u32, OwnedFd)>,
    /// The last request, decoded, freed only once its answer is sent: each
    /// heap page written after a fork (and `free` writes some) is a
    /// copy-on-write fault, which before the answer the client waits for.
    spent: Option<Launched>,
    /// The answer to a start, encoded in place (see [`answer`]).
    reply: Message,
    /// Counts the server's threads before each fork (it forks only with
    /// one) through a handle kept open, not a walk of `/proc/self/task`
    /// per fork; `None` if it could not be opened (then `fork` walks).
    threads: Option<ThreadCounter>,
}

/// A request decoded, with its target checked (or why either failed).
type Launched = Result<(Launch, child_main::Target), DecodeError>;

/// A pidfd for this process's parent, the client that spawned it.
fn open_client() -> Option<(u32, OwnedFd)> {
    let pid = mp_sys::process::getppid();
    let fd = mp_sys::process::pidfd_open(pid).ok()?;
    // The parent may have died before the open (then `getppid` names the
    // reaper that adopted this process): keep the fd only if it is still
    // the parent now, so the fd names the process that spawned us.
    (mp_sys::process::getppid() == pid).then_some((pid, fd))
}

/// The fork server's main loop; returns when the client goes away.
pub(crate) fn server_main(control: OwnedFd) -> i32 {
    // Ctrl-C in a terminal reaches the whole foreground group; the server
    // must outlive its children's handling of it, so it ignores SIGINT as
    // CPython's does (each child restores the default in `become_child`).
    let _ = mp_sys::signal::ignore_sigpipe();
    let _ = mp_sys::signal::ignore(mp_sys::signal::SIGINT);
    // What each child would otherwise set up for itself after the fork, done
    // once here and inherited: the panic report hook, the exit hook (the
    // server itself leaves with `_exit`, so its exit hook never runs) and
    // std's stdout with its buffer (each child flushes it at the end). In
    // the child these are then reads of a flag, not allocations, locks and
    // the copy-on-write faults they cost.
    crate::child_main::install_panic_report();
    crate::exit::arm();
    let _ = std::io::stdout().flush();
    let mut st = ServerState {
        control: Some(control),
        kids: Vec::new(),
        client: open_client(),
        spent: None,
        reply: Message {
            bytes: Vec::with_capacity(REPLY_CAPACITY),
            fds: Vec::with_capacity(2),
        },
        threads: ThreadCounter::new().ok(),
    };
    loop {
        let Some(control) = st.control.as_ref() else {
            return 0;
        };
        let (control_ready, ready_kids) = {
            let mut fds = Vec::with_capacity(st.kids.len() + 1);
            fds.push(control.as_fd());
            fds.extend(st.kids.iter().map(|k| k.pidfd.as_fd()));
            match mp_sys::fd::poll_readable_any(&fds, None) {
                Ok(ready) => (ready[0], ready[1..].to_vec()),
                Err(_) => return 1,
            }
        };
        // Report and forget finished children (highest index first).
        for i in (0..ready_kids.len()).rev() {
            if ready_kids[i] {
                if let Ok(Some(status)) = wait_pidfd(&st.kids[i].pidfd, false) {
                    let kid = st.kids.swap_remove(i);
                    let _ = mp_sys::fd::write_all(&kid.status, &status.code().to_le_bytes());
                }
            }
        }
        if control_ready {
            let msg =
                match mp_wire::recv(control.as_fd(), &Limits::default(), Some(REQUEST_TIMEOUT)) {
                    Ok(m) => m,
                    Err(_) => return 0, // the client closed the connection (or broke it)
                };
            let forked = fork_child(&mut st, msg);
            let Some(control) = st.control.as_ref() else {
                return 0;
            };
            if !answer(control, forked, &mut st.kids, &mut st.reply) {
                return 0;
            }
            drop(st.spent.take());
        }
    }
}

/// Tells the client about the child just forked (or why there is none)
/// and, once it knows, supervises the child. Returns false if the client
/// is gone: then the child, which nobody would ever learn of, was killed
/// and reaped rather than left running unsupervised.
///
/// A start's answer is encoded into `reply`, the server's one reply
/// message, whose allocations are made before any fork and kept: an
/// allocation between the fork and the answer writes the allocator's pages,
/// copy-on-write faults the client waits for.
fn answer(
    control: &OwnedFd,
    forked: Result<Forked, String>,
    kids: &mut Vec<Kid>,
    reply: &mut Message,
) -> bool {
    reply.bytes.clear();
    let started = Reply::Started {
        pid: forked.as_ref().map_or(0, |f| f.pid),
    };
    // A `Reply` carries no fds: the empty list `encode_to_sink` returns
    // allocates nothing.
    let forked = forked.and_then(
        |f| match mp_wire::encode_to_sink(&started, &mut reply.bytes) {
            Ok(_) => Ok(f),
            Err(e) => {
                kill_and_reap(&f.pidfd);
                Err(format!("reply: {e}"))
            }
        },
    );
    let forked = match forked {
        Ok(forked) => forked,
        Err(why) => {
            return mp_wire::encode(&Reply::Failed(why))
                .map_err(WireError::from)
                .and_then(|m| mp_wire::send(control.as_fd(), &m))
                .is_ok()
        }
    };
    // The pidfd travels in the frame and comes back; the read end of the
    // status pipe is the client's, and closes here once sent.
    reply.fds.push(forked.pidfd);
    reply.fds.push(forked.status_r);
    let sent = mp_wire::send(control.as_fd(), reply);
    let pidfd = reply.fds.swap_remove(0);
    reply.fds.clear();
    if sent.is_err() {
        kill_and_reap(&pidfd);
        return false;
    }
    kids.push(Kid {
        pidfd,
        status: forked.status_w,
    });
    true
}

/// Forks the child `msg` describes, or says why it could not.
fn fork_child(st: &mut ServerState, msg: Message) -> Result<Forked, String> {
    let (status_r, status_w) = mp_sys::fd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // Decoded here, before the fork: its allocations land on the server's
    // warm heap, not on the child's, where the first write to each page
    // after `fork` is a copy-on-write fault. (A message that does not
    // decode still gets its child, which reports it and exits 255.)
    // Its entry point is checked here too, once, rather than in the child.
    let launch: Launched = mp_wire::decode::<Launch>(msg).map(|l| {
        let target = child_main::resolve(&l);
        (l, target)
    });
    let forked = match &st.threads {
        Some(threads) => fork_counted(threads),
        None => fork(),
    };
    match forked {
        Err(e) => Err(format!("fork: {e}")),
        Ok(Fork::Child) => {
            // Close the server's descriptors so nothing in the child keeps
            // the client's socket, a sibling's status pipe or the server's
            // task directory open. Closed in place (`fd::close`), not
            // dropped: a drop's `close` is libc's, code the child would take
            // a page fault to run.
            if let Some(control) = st.control.take() {
                mp_sys::fd::close(control);
            }
            for kid in st.kids.drain(..) {
                mp_sys::fd::close(kid.pidfd);
                mp_sys::fd::close(kid.status);
            }
            if let Some(threads) = st.threads.take() {
                threads.close();
            }
            mp_sys::fd::close(status_r);
            mp_sys::fd::close(status_w);
            let client = st.client.take();
            let code = match launch {
                Ok((mut l, target)) => {
                    // The client's pidfd, inherited, is the child's parent's
                    // (the launch names the client as the parent).
                    if l.parent_pidfd.is_none() {
                        l.parent_pidfd = client
                            .filter(|(pid, _)| *pid == l.parent.pid)
                            .map(|(_, fd)| SharedFd::from(fd));
                    }
                    child_main::run_child(l, target)
                }
                Err(e) => {
                    eprintln!(
                        "multiprocess: fork server child cannot decode its launch message: {e}"
                    );
                    255
                }
            };
            exit_now(code)
        }
        Ok(Fork::Parent { pid, pidfd }) => {
            st.spent = Some(launch);
            Ok(Forked {
                pid,
                pidfd,
                status_r,
                status_w,
            })
        }
    }
}

/// Ends a child the client cannot be told about and reaps it.
fn kill_and_reap(pidfd: &OwnedFd) {
    let _ = mp_sys::process::send_signal(pidfd, mp_sys::signal::SIGKILL);
    let _ = wait_pidfd(pidfd, true);
}
