//! The parent's side of the fork server: starting it (by spawning), asking
//! it for a child, restarting it if it died, and stopping it at exit
//! (a finalizer registered with `mp_sys::exit` when the server starts).
//! The server itself is in `forkserver_server.rs`.
//!
//! If the server dies, the next start restarts it; children it had started
//! report exit code 255 (Python's behaviour). A request is re-sent only when
//! the server never received it, so a target never runs twice. When the client closes its
//! socket (at exit), the server exits.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mp_sys::bootstrap::{spawn_self, ChildMain};
use mp_sys::process::wait_pidfd;
use mp_wire::{Limits, Message, WireError};

use crate::children::{Child, Reaper};
use crate::error::{ProcessError, Result};
use crate::forkserver_server::{server_main, Reply};
use crate::job::Spec;

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

impl Server {
    fn start() -> Result<Server> {
        let spawned = spawn_self(&ChildMain::of(server_main))?;
        // Stopped at exit, after the children are joined (registered once;
        // a no-op in any process that does not own a server).
        mp_sys::exit::register_finalizer(shutdown);
        log::debug!(target: crate::log::TARGET, "fork server started");
        Ok(Server {
            owner: mp_sys::process::getpid(),
            pidfd: spawned.pidfd,
            sock: spawned.control,
        })
    }

    /// Whether the server is known to have ended (its pidfd is readable).
    fn has_exited(&self) -> bool {
        mp_sys::socket::poll_readable(&self.pidfd, Some(Duration::ZERO)).unwrap_or(true)
    }

    /// Waits for the server's answer to the request just sent: the
    /// reply, and the fds that came with it.
    fn reply(&self) -> Result<(Reply, Vec<OwnedFd>)> {
        // The answer takes a fork: wait for it before reading, rather than
        // try a read that finds nothing first.
        if !mp_sys::socket::poll_readable(&self.sock, Some(REPLY_TIMEOUT))? {
            return Err(WireError::Timeout.into());
        }
        let mut reply = mp_wire::recv(self.sock.as_fd(), &Limits::default(), Some(REPLY_TIMEOUT))?;
        let fds = std::mem::take(&mut reply.fds);
        Ok((mp_wire::decode(reply).map_err(WireError::from)?, fds))
    }
}

/// The child a `Started` reply announces, with the reply's fds: its pidfd
/// and the read end of its status pipe (see [`Reply::Started`]).
fn started_child(pid: u32, fds: Vec<OwnedFd>, spec: &Spec) -> Result<Arc<Child>> {
    let Ok([pidfd, status]) = <[OwnedFd; 2]>::try_from(fds) else {
        return Err(ProcessError::ForkServer(
            "a Started reply without its two fds".into(),
        ));
    };
    Ok(Arc::new(Child::new(
        pid,
        pidfd,
        spec.name.clone(),
        spec.daemon,
        Reaper::Server(Mutex::new(Some(Arc::new(status)))),
    )))
}

/// Asks the fork server (starting it if needed) to start the child described
/// by `msg`. A server known to be dead (as CPython's `ensure_running`
/// checks) is replaced first; one found dead when the request is sent (it
/// never saw it) is replaced and asked once more; one that fails after receiving the
/// request is replaced but not asked again, since it may have started the
/// child already (a target never runs twice).
pub(crate) fn start_child(msg: &Message, spec: &Spec) -> Result<Arc<Child>> {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut guard = lock();
    let mut last_err = None;
    for _attempt in 0..2 {
        if guard
            .as_ref()
            .is_some_and(|s| s.owner == spec.parent_pid && s.has_exited())
        {
            log::debug!(target: crate::log::TARGET, "fork server died; restarting it");
            if let Some(old) = guard.take() {
                stop(old);
            }
        }
        if guard.as_ref().is_none_or(|s| s.owner != spec.parent_pid) {
            *guard = Some(Server::start()?);
        }
        let server = guard
            .as_ref()
            .ok_or_else(|| ProcessError::ForkServer("not running".into()))?;
        if let Err(e) = mp_wire::send(server.sock.as_fd(), msg) {
            log::debug!(target: crate::log::TARGET, "fork server gone ({e}); restarting it");
            if let Some(old) = guard.take() {
                stop(old);
            }
            last_err = Some(e.into());
            continue;
        }
        return match server.reply() {
            Ok((Reply::Started { pid }, fds)) => started_child(pid, fds, spec),
            Ok((Reply::Failed(e), _)) => Err(ProcessError::ForkServer(e)),
            Err(e) => {
                // The server broke mid-request: replace it at the next start.
                log::debug!(target: crate::log::TARGET, "fork server failed ({e}); stopping it");
                if let Some(old) = guard.take() {
                    stop(old);
                }
                Err(e)
            }
        };
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

/// At exit (an `mp_sys::exit` finalizer): close the connection and wait for
/// the server to leave.
fn shutdown() {
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
