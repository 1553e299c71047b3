//! Starting a child with each start method: build the launch message, then
//! fork, spawn (fork + exec of our own binary) or ask the fork server.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use mp_sys::bootstrap::{spawn_self, ChildMain, Spawned};
use mp_sys::process::{exit_now, Fork};
use mp_wire::{Message, SharedFd};

use crate::child_main::{self, Launch};
use crate::children::{Child, Reaper};
use crate::current::{self, ParentInfo};
use crate::error::{ProcessError, Result};
use crate::job::{Job, Spec, TargetEntry};
use crate::method::StartMethod;

/// This process's own pidfd, opened once per process: `(pid, fd)`.
static SELF_PIDFD: Mutex<Option<(u32, OwnedFd)>> = Mutex::new(None);

/// [`SELF_PIDFD`], locked and opened for this process if it is not yet
/// (or was opened by the parent this process was forked from); `pid` is
/// this process's.
fn own_pidfd(pid: u32) -> MutexGuard<'static, Option<(u32, OwnedFd)>> {
    let mut guard = SELF_PIDFD.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|(p, _)| *p != pid) {
        *guard = mp_sys::process::pidfd_open(pid).ok().map(|fd| (pid, fd));
    }
    guard
}

/// A pidfd for this process to give a spawned child, so it can tell when
/// its parent dies (a forked child takes the parent's own copy instead: see
/// [`start_fork`]; a fork-server child the server's pidfd of its client).
fn self_pidfd(pid: u32) -> Option<OwnedFd> {
    own_pidfd(pid)
        .as_ref()
        .and_then(|(_, fd)| mp_sys::fd::dup_cloexec(fd).ok())
}

fn nothing(_: Message) -> i32 {
    0
}

/// A capturing closure to run in a forked child.
type Closure = Box<dyn FnOnce() + Send>;

/// Builds the launch description; the closure (fork only) is returned apart.
fn build_launch(
    spec: &Spec,
    job: Job,
) -> std::result::Result<(Launch, Option<Closure>), (Job, ProcessError)> {
    let (entry, args, closure) = match job {
        Job::Nothing => (
            TargetEntry::of(nothing),
            Message {
                bytes: Vec::new(),
                fds: Vec::new(),
            },
            None,
        ),
        Job::Entry { entry, args } => match args() {
            Ok(m) => (entry, m, None),
            // The arguments were consumed; the job cannot be retried.
            Err(e) => return Err((Job::Nothing, e.into())),
        },
        Job::Closure(f) => {
            if spec.method != StartMethod::Fork {
                return Err((
                    Job::Closure(f),
                    ProcessError::ClosureNeedsFork(spec.method.name()),
                ));
            }
            (
                TargetEntry::of(nothing),
                Message {
                    bytes: Vec::new(),
                    fds: Vec::new(),
                },
                Some(f),
            )
        }
    };
    let launch = Launch {
        entry: entry.to_parts(),
        args: args.bytes,
        args_fds: args.fds.into_iter().map(SharedFd::from).collect(),
        name: spec.name.clone(),
        identity: spec.identity.clone(),
        daemon: spec.daemon,
        parent: ParentInfo {
            name: current::name(),
            pid: spec.parent_pid,
        },
        // A forked child inherits the parent's own pidfd, a fork server's
        // child the pidfd the server holds for its client (this process):
        // no copy to make and send per start.
        parent_pidfd: if spec.method == StartMethod::Spawn {
            self_pidfd(spec.parent_pid).map(SharedFd::from)
        } else {
            None
        },
        method: spec.method,
        log: crate::log::for_child(),
        authkey: spec.authkey.clone(),
    };
    Ok((launch, closure))
}

/// Starts the child; on failure gives the job back (when it can be retried).
pub(crate) fn start(spec: Spec, job: Job) -> std::result::Result<Arc<Child>, (Job, ProcessError)> {
    let (launch, closure) = build_launch(&spec, job)?;
    let fail = |e: ProcessError| (Job::Nothing, e);
    match spec.method {
        StartMethod::Fork => start_fork(&spec, launch, closure).map_err(fail),
        StartMethod::Spawn => {
            let msg = mp_wire::encode(&launch).map_err(|e| fail(e.into()))?;
            start_spawn(&spec, &msg).map_err(fail)
        }
        StartMethod::ForkServer => {
            let msg = mp_wire::encode(&launch).map_err(|e| fail(e.into()))?;
            crate::forkserver_client::start_child(&msg, &spec).map_err(fail)
        }
    }
}

fn start_fork(spec: &Spec, mut launch: Launch, closure: Option<Closure>) -> Result<Arc<Child>> {
    // Counting threads is a `statx` of `/proc/self/task` (a path walk in
    // procfs, about 2 µs): done only when the warning would go somewhere.
    let warn = log::log_enabled!(target: crate::log::TARGET, log::Level::Warn);
    if let Some(n) = warn.then(mp_sys::thread::thread_count).and_then(|n| n.ok()) {
        if n > 1 {
            log::warn!(
                target: crate::log::TARGET,
                "this process (pid={}) is multi-threaded ({n} threads), use of fork() may lead to deadlocks in the child",
                mp_sys::process::getpid()
            );
        }
    }
    // Checked here, before the fork, once (see `child_main::resolve`).
    let target = child_main::resolve(&launch);
    // Hold every lock the child will touch, so none is held by a thread that
    // does not exist in the child; flush so no buffered line is printed twice.
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let _ = out.flush();
    let _ = err.flush();
    let mut registry = crate::children::registry();
    let server = crate::forkserver_client::lock();
    let state = crate::current::hold_for_fork();
    let chosen = crate::method::hold_for_fork();
    // The child takes this process's own pidfd as its parent's (the fd is
    // inherited), so the parent makes no copy per start.
    let mut own = own_pidfd(spec.parent_pid);
    let forked = crate::unchecked_fork::fork_for_start_method();
    // Released in both processes; in the child this thread is the holder.
    drop(chosen);
    drop(state);
    match forked? {
        Fork::Child => {
            launch.parent_pidfd = own.take().map(|(_, fd)| SharedFd::from(fd));
            drop(own);
            registry.clear();
            drop(registry);
            crate::forkserver_client::forget_locked(server);
            drop(err);
            drop(out);
            let _ = mp_sys::process::stdin_to_devnull();
            let code = match closure {
                Some(f) => child_main::run_closure(launch, f),
                None => child_main::run_child(launch, target),
            };
            exit_now(code)
        }
        Fork::Parent { pid, pidfd } => {
            drop(own);
            Ok(Arc::new(Child::new(
                pid,
                pidfd,
                spec.name.clone(),
                spec.daemon,
                Reaper::Direct,
            )))
        }
    }
}

fn start_spawn(spec: &Spec, msg: &Message) -> Result<Arc<Child>> {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let Spawned {
        pid,
        pidfd,
        control: ours,
    } = spawn_self(&ChildMain::of(child_main::spawn_main))?;
    let child = Arc::new(Child::new(
        pid,
        pidfd,
        spec.name.clone(),
        spec.daemon,
        Reaper::Direct,
    ));
    if let Err(e) = mp_wire::send(ours.as_fd(), msg) {
        let _ = child.signal(mp_sys::signal::SIGKILL);
        let _ = child.wait(None);
        return Err(e.into());
    }
    Ok(child)
}
