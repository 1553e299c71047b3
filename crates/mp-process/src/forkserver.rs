//! The fork server: a single-threaded process, started once by spawning, that
//! forks children on request. Requests and fds travel over a socket
//! (`SCM_RIGHTS`); the server answers with the child's pid, a pidfd and a
//! pipe on which it writes the exit code once it has reaped the child.
//!
//! If the server dies, the next start restarts it; children it had started
//! report exit code 255 (Python's behaviour). When the client closes its
//! socket (at exit), the server exits.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mp_sys::bootstrap::{spawn_self, ChildMain};
use mp_sys::process::{exit_now, fork, wait_pidfd, Fork};
use mp_wire::{Limits, Message, SharedFd, WireError};
use serde::{Deserialize, Serialize};

use crate::child::{Child, Reaper};
use crate::error::{ProcessError, Result};
use crate::launch::{self, Launch};
use crate::start::Spec;

/// The server's answer to one request.
#[derive(Serialize, Deserialize)]
enum Reply {
    Started {
        pid: u32,
        pidfd: SharedFd,
        status: SharedFd,
    },
    Failed(String),
}

/// The client's connection to its fork server.
#[derive(Debug)]
pub(crate) struct Server {
    owner: u32,
    pidfd: OwnedFd,
    sock: OwnedFd,
}

static SERVER: Mutex<Option<Server>> = Mutex::new(None);

/// How long the client waits for the server to answer a request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn lock() -> MutexGuard<'static, Option<Server>> {
    SERVER.lock().unwrap_or_else(|e| e.into_inner())
}

/// In a forked child: drop the parent's connection (closing only our copy).
pub(crate) fn forget_locked(mut guard: MutexGuard<'static, Option<Server>>) {
    guard.take();
}

/// In any child: the parent's server is not ours.
pub(crate) fn forget_in_child() {
    let mut guard = lock();
    if guard
        .as_ref()
        .is_some_and(|s| s.owner != mp_sys::process::getpid())
    {
        guard.take();
    }
}

impl Server {
    fn start() -> Result<Server> {
        let spawned = spawn_self(&ChildMain::of(server_main))?;
        log::debug!(target: crate::log::TARGET, "fork server started");
        Ok(Server {
            owner: mp_sys::process::getpid(),
            pidfd: spawned.pidfd,
            sock: spawned.control,
        })
    }

    fn request(&self, msg: &Message) -> Result<Reply> {
        mp_wire::send(self.sock.as_fd(), msg)?;
        let reply = mp_wire::recv(self.sock.as_fd(), &Limits::default(), Some(REPLY_TIMEOUT))?;
        Ok(mp_wire::decode(reply).map_err(WireError::from)?)
    }
}

/// Asks the fork server (starting it if needed, restarting it once if it
/// died) to start the child described by `msg`.
pub(crate) fn start_child(msg: &Message, spec: &Spec) -> Result<Arc<Child>> {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut guard = lock();
    let mut last_err = None;
    for _attempt in 0..2 {
        if guard
            .as_ref()
            .is_none_or(|s| s.owner != mp_sys::process::getpid())
        {
            *guard = Some(Server::start()?);
        }
        let server = guard
            .as_ref()
            .ok_or_else(|| ProcessError::ForkServer("not running".into()))?;
        match server.request(msg) {
            Ok(Reply::Started { pid, pidfd, status }) => {
                let reaper = Reaper::Server(Mutex::new(Some(status.into_inner())));
                return Ok(Arc::new(Child::new(
                    pid,
                    pidfd.into_inner(),
                    spec.name.clone(),
                    spec.daemon,
                    reaper,
                )));
            }
            Ok(Reply::Failed(e)) => return Err(ProcessError::ForkServer(e)),
            Err(e) => {
                // The server died or misbehaved: replace it and try once more.
                log::debug!(target: crate::log::TARGET, "fork server failed ({e}); restarting it");
                if let Some(old) = guard.take() {
                    stop(old);
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| ProcessError::ForkServer("unavailable".into())))
}

fn stop(server: Server) {
    let Server { pidfd, sock, .. } = server;
    drop(sock);
    if !mp_sys::socket::poll_readable(&pidfd, Some(Duration::from_secs(2))).unwrap_or(false) {
        let _ = mp_sys::process::send_signal(&pidfd, mp_sys::signal::SIGKILL);
    }
    let _ = wait_pidfd(&pidfd, true);
}

/// At exit: close the connection and wait for the server to leave.
pub(crate) fn shutdown() {
    let mut guard = lock();
    if guard
        .as_ref()
        .is_some_and(|s| s.owner == mp_sys::process::getpid())
    {
        if let Some(server) = guard.take() {
            log::debug!(target: crate::log::TARGET, "stopping the fork server");
            stop(server);
        }
    }
}

// ---- the server side ----

struct Kid {
    pidfd: OwnedFd,
    status: OwnedFd,
}

struct ServerState {
    control: Option<OwnedFd>,
    kids: Vec<Kid>,
}

/// The fork server's main loop; returns when the client goes away.
fn server_main(control: OwnedFd) -> i32 {
    // Ctrl-C in a terminal reaches the whole foreground group; the server
    // must outlive its children's handling of it.
    let _ = mp_sys::signal::ignore_sigpipe();
    let mut st = ServerState {
        control: Some(control),
        kids: Vec::new(),
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
            let msg = match mp_wire::recv(control.as_fd(), &Limits::default(), Some(REPLY_TIMEOUT))
            {
                Ok(m) => m,
                Err(_) => return 0, // the client closed the connection (or broke it)
            };
            let reply = fork_child(&mut st, msg);
            let Some(control) = st.control.as_ref() else {
                return 0;
            };
            let sent = mp_wire::encode(&reply)
                .map_err(WireError::from)
                .and_then(|m| mp_wire::send(control.as_fd(), &m));
            if sent.is_err() {
                return 0;
            }
        }
    }
}

fn fork_child(st: &mut ServerState, msg: Message) -> Reply {
    let (status_r, status_w) = match mp_sys::fd::pipe() {
        Ok(p) => p,
        Err(e) => return Reply::Failed(format!("pipe: {e}")),
    };
    match fork() {
        Err(e) => Reply::Failed(format!("fork: {e}")),
        Ok(Fork::Child) => {
            // Close the server's descriptors so nothing in the child keeps
            // the client's socket or a sibling's status pipe open.
            st.control.take();
            st.kids.clear();
            drop(status_r);
            drop(status_w);
            let code = match mp_wire::decode::<Launch>(msg) {
                Ok(l) => launch::run_child(l),
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
            drop(msg);
            let reply_pidfd = match mp_sys::fd::dup_cloexec(&pidfd) {
                Ok(fd) => fd,
                Err(e) => return Reply::Failed(format!("dup: {e}")),
            };
            st.kids.push(Kid {
                pidfd,
                status: status_w,
            });
            Reply::Started {
                pid,
                pidfd: SharedFd::from(reply_pidfd),
                status: SharedFd::from(status_r),
            }
        }
    }
}
