//! The bootstrap message a parent gives a child, and what every child does
//! with it whatever the start method: become itself, run the target, shut
//! down like Python (log, clean up its own children, flush) and return the
//! exit code.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use mp_sys::entry::{EntryError, EntryFn, EntryParts};
use mp_wire::{Message, SharedFd};
use serde::{Deserialize, Serialize};

use crate::current::{self, ChildIdentity, ParentInfo};
use crate::method::StartMethod;
use crate::panic_capture::PanicReport;
use crate::target::ExitRequest;

/// Everything a child needs, sent over its control channel.
#[derive(Serialize, Deserialize)]
pub(crate) struct Launch {
    pub(crate) entry: (i64, u64, [u8; 20]),
    #[serde(with = "serde_bytes")]
    pub(crate) args: Vec<u8>,
    pub(crate) args_fds: Vec<SharedFd>,
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) parent: ParentInfo,
    pub(crate) parent_pidfd: Option<SharedFd>,
    pub(crate) method: StartMethod,
    pub(crate) log: crate::log::Inherited,
    pub(crate) authkey: crate::authkey::AuthKey,
}

/// How long a spawned child waits for its bootstrap message.
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(60);

/// The entry point of a spawned child: read the launch message from the
/// control socket, then run it.
pub(crate) fn spawn_main(control: OwnedFd) -> i32 {
    let limits = mp_wire::Limits::default();
    let msg = match mp_wire::recv(
        std::os::fd::AsFd::as_fd(&control),
        &limits,
        Some(BOOTSTRAP_TIMEOUT),
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("multiprocess: child could not read its bootstrap message: {e}");
            return 255;
        }
    };
    drop(control);
    match mp_wire::decode::<Launch>(msg) {
        Ok(launch) => {
            let target = resolve(&launch);
            run_child(launch, target)
        }
        Err(e) => {
            eprintln!("multiprocess: child could not decode its bootstrap message: {e}");
            255
        }
    }
}

/// A launch's target, checked: the function its entry point names, or why
/// it names none.
pub(crate) type Target = Result<EntryFn<Message, i32>, EntryError>;

/// Checks `launch`'s entry point (see `EntryParts::verify`). The forking
/// process (the parent under `fork`, the fork server) does it before the
/// fork, where its answer is the child's (the child is a copy): each child
/// then skips a keyed hash and the first touches of the code and data
/// pages the check reads, which after a fork are page faults.
pub(crate) fn resolve(launch: &Launch) -> Target {
    let (offset, tag, binary) = launch.entry;
    EntryParts::new(offset, tag, binary).resolve()
}

/// Becomes the child described by `launch`: identity, signals, logging,
/// panic report. Returns the target's arguments.
fn become_child(launch: Launch) -> Message {
    let _ = mp_sys::signal::set_default(mp_sys::signal::SIGINT);
    let _ = mp_sys::signal::set_default(mp_sys::signal::SIGTERM);
    let _ = mp_sys::signal::ignore_sigpipe();
    // The child registry needs no clearing here: a spawned child and the
    // fork server never had children, and the fork start's child cleared its
    // copy of the parent's under the lock held across the fork. (Locking it
    // again would cost a fork-server child a copy-on-write fault.)
    crate::method::force_in_child(launch.method);
    current::become_child(ChildIdentity {
        name: launch.name,
        identity: launch.identity,
        daemon: launch.daemon,
        authkey: launch.authkey,
        parent: launch.parent,
        parent_pidfd: launch.parent_pidfd.map(SharedFd::into_inner),
    });
    crate::log::inherit(launch.log);
    install_panic_report();
    crate::exit::arm();
    Message {
        bytes: launch.args,
        fds: launch
            .args_fds
            .into_iter()
            .map(SharedFd::into_inner)
            .collect(),
    }
}

/// Becomes the child described by `launch`, runs its target (checked by
/// [`resolve`]) and shuts down.
pub(crate) fn run_child(launch: Launch, target: Target) -> i32 {
    let args = become_child(launch);
    log::info!(target: crate::log::TARGET, "child process calling self.run()");
    let code = match target {
        Ok(run) => run_guarded(|| run(args)),
        Err(e) => {
            eprintln!("Process {}:\n{e}", current::name());
            1
        }
    };
    finish(code)
}

/// Like [`run_child`], for a capturing closure in a forked child.
pub(crate) fn run_closure(launch: Launch, f: Box<dyn FnOnce() + Send>) -> i32 {
    let _ = become_child(launch);
    log::info!(target: crate::log::TARGET, "child process calling self.run()");
    let code = run_guarded(|| {
        f();
        0
    });
    finish(code)
}

/// Runs a target, turning a panic into exit code 1 (the panic hook already
/// printed the report) and [`crate::exit()`] into its code.
pub(crate) fn run_guarded(f: impl FnOnce() -> i32) -> i32 {
    current::set_in_child_target(true);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    current::set_in_child_target(false);
    match r {
        Ok(code) => code,
        Err(payload) => match payload.downcast::<ExitRequest>() {
            Ok(req) => req.0,
            Err(_) => 1,
        },
    }
}

/// Python's child shutdown: log, clean up this process's own children,
/// flush, return the code.
///
/// Only stdout is flushed: std's stderr is unbuffered, so its `flush` only
/// takes and releases its lock, whose first write in a forked child is a
/// copy-on-write fault (docs/performance.md, "A forked child's first
/// touches").
pub(crate) fn finish(code: i32) -> i32 {
    crate::exit::run_exit_cleanup();
    log::info!(target: crate::log::TARGET, "process exiting with exitcode {code}");
    let _ = std::io::stdout().flush();
    code
}

/// How long [`backtraces_answer`] waits for its probe.
const BACKTRACE_PROBE: Duration = Duration::from_secs(2);

/// What a report says instead of the backtrace when the probe got no answer.
const BACKTRACE_SKIPPED: &str = "(backtrace skipped: std's backtrace machinery did not answer \
within 2 s; a thread of the parent may have held its lock when this child was forked)\n";

/// Whether std's backtrace capture can be used in this process: a probe
/// thread captures one (and reads `RUST_BACKTRACE`) and must answer within
/// [`BACKTRACE_PROBE`].
///
/// Both take process-wide locks (std's backtrace lock, the environment
/// lock). A forked child inherits them as the parent's threads held them at
/// the fork: held by a thread that was printing a panic or a backtrace,
/// they stay held for ever in the child, and a capture on the panicking
/// thread would never return. A lock this process's own threads hold is
/// released in time; one held at the fork never is, and then the probe
/// thread stays blocked while the report goes on without a backtrace.
fn backtraces_answer() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let probe = mp_sys::thread_spawn::Builder::new("backtrace-probe").spawn(move || {
        let _ = std::backtrace::Backtrace::capture();
        let _ = tx.send(());
    });
    probe.is_ok() && rx.recv_timeout(BACKTRACE_PROBE).is_ok()
}

/// Installs, once per process image, the panic hook that prints
/// `Process NAME:` and the panic message and location on stderr (the
/// counterpart of Python's traceback report) for panics inside a child's
/// target, and records quietly those under
/// [`catch_quietly`](crate::catch_quietly); other panics go to the previous
/// hook. It is the only hook the workspace installs.
///
/// It is installed in the parent before any fork (from `Process`
/// construction), so a forked child inherits it and never calls
/// `std::panic::set_hook` — whose lock may have been held at fork time by a
/// parent thread that was panicking. Spawned and fork-server children are
/// single-threaded when they install it. The report is written to fd 2
/// directly, not through `std::io::stderr()`'s lock, and the backtrace
/// (with `RUST_BACKTRACE` set) only after [`backtraces_answer`] showed that
/// std's backtrace lock was not left held by the fork.
pub(crate) fn install_panic_report() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if crate::panic_capture::record(info) {
                return;
            }
            if !current::in_child_target() {
                return previous(info);
            }
            if info.payload().is::<ExitRequest>() {
                return;
            }
            let PanicReport { message, location } = PanicReport::of(info);
            let mut report = format!(
                "Process {}:\npanicked at {location}:\n{message}\n",
                current::name()
            );
            if backtraces_answer() {
                let backtrace = std::backtrace::Backtrace::capture();
                if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                    report.push_str(&format!("{backtrace}\n"));
                }
            } else {
                report.push_str(BACKTRACE_SKIPPED);
            }
            // Straight to fd 2: `std::io::stderr()`'s lock may have been held
            // by another parent thread when this (forked) child was made.
            let _ = mp_sys::fd::write_all(std::io::stderr().as_fd(), report.as_bytes());
        }));
    });
}
