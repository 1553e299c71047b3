//! Process creation and reaping: `fork`, pidfds, `waitid`, signals to a child, `_exit`;
//! this process's resident memory.
//!
//! # Safety
//! This module calls `fork(2)`, `_exit(2)` and `pidfd_send_signal(2)` through
//! `libc`, because rustix exposes `fork` only as an unsafe runtime internal and
//! has no way to build a [`rustix::process::Signal`] from an arbitrary number.
//! Each block says why it holds.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};

/// The outcome of [`fork`] (or [`fork_unchecked`]) in each of the two
/// processes.
#[derive(Debug)]
pub enum Fork {
    /// In the parent: the new child's pid and a pidfd referring to it.
    Parent {
        /// The child's process id.
        pid: u32,
        /// A pidfd for the child (`pidfd_open`), pollable for its exit.
        pidfd: OwnedFd,
    },
    /// In the child.
    Child,
}

/// Why [`fork`] did not fork.
#[derive(Debug)]
pub enum ForkError {
    /// The process has more than one thread, so the child could inherit a
    /// lock or state that a thread which does not exist in the child was
    /// changing; use [`fork_unchecked`] and keep its contract.
    MultiThreaded {
        /// How many threads the process had.
        threads: usize,
    },
    /// The thread count could not be read, or `fork`/`pidfd_open` failed.
    Os(io::Error),
}

impl std::fmt::Display for ForkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForkError::MultiThreaded { threads } => write!(
                f,
                "refusing to fork a multi-threaded process ({threads} threads): \
                 the child may only call async-signal-safe functions"
            ),
            ForkError::Os(e) => write!(f, "fork: {e}"),
        }
    }
}

impl std::error::Error for ForkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ForkError::MultiThreaded { .. } => None,
            ForkError::Os(e) => Some(e),
        }
    }
}

impl From<ForkError> for io::Error {
    fn from(e: ForkError) -> io::Error {
        match e {
            ForkError::Os(e) => e,
            e @ ForkError::MultiThreaded { .. } => io::Error::other(e),
        }
    }
}

/// `fork()`, for a single-threaded process: creates a child process that is
/// a copy of the caller.
///
/// Refuses with [`ForkError::MultiThreaded`] unless this process has exactly
/// one thread. The check cannot go stale before the call: only the calling
/// thread could start another one. With one thread, the child is an exact
/// copy of the whole process, and every Rust and libc facility stays usable
/// in it.
///
/// In the parent it also opens a pidfd for the child, race-free because an
/// unreaped child's pid cannot be reused.
///
/// # References
/// - [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html)
pub fn fork() -> Result<Fork, ForkError> {
    fork_if_alone(crate::thread::thread_count())
}

/// [`fork`], counting the threads with `threads` (a handle on this
/// process's task directory kept open, for a process that forks often: a
/// fork server) instead of a walk of `/proc/self/task`.
pub fn fork_counted(threads: &crate::thread::ThreadCounter) -> Result<Fork, ForkError> {
    fork_if_alone(threads.count())
}

/// Forks if `threads`, this process's thread count just read, is 1.
fn fork_if_alone(threads: io::Result<usize>) -> Result<Fork, ForkError> {
    let threads = threads.map_err(ForkError::Os)?;
    if threads != 1 {
        return Err(ForkError::MultiThreaded { threads });
    }
    // SAFETY: the process has one thread (counted just before the call, and
    // only this thread could have started another since), which is the
    // case in which `fork_unchecked`'s contract holds unconditionally.
    unsafe { fork_with_hooks(true) }.map_err(ForkError::Os)
}

/// `fork()` without the single-thread check: creates a child process that
/// is a copy of the caller, containing only the calling thread.
///
/// In the parent it also opens a pidfd for the child.
///
/// # Safety
/// If the process has other threads, the child is a copy of memory that
/// those threads may have been changing at the moment of the call, and
/// POSIX allows the child to call only async-signal-safe functions until it
/// calls `exec`. The caller must ensure that the code the child runs does
/// not depend on state that another thread could have been holding or
/// mutating at the moment of the fork:
/// - a `Mutex`, `RwLock`, `Once` or `OnceLock` that another thread held or
///   was initialising stays locked (or half-initialised) forever in the
///   child: the child must not touch it, or the caller must hold it itself
///   across the fork;
/// - memory that another thread was writing without a lock held across the
///   fork (including data behind an `UnsafeCell` that relies on a
///   thread's exclusive access, thread-local destructors and thread ids
///   that the runtime caches) may be inconsistent in the child;
/// - libc state beyond what its `atfork` handlers repair (glibc repairs
///   `malloc` and stdio's locks) is in the same position, as is every
///   `MAP_SHARED` mapping, which the parent's threads go on changing.
///
/// With one thread in the process the contract holds trivially; [`fork`]
/// checks that case.
pub unsafe fn fork_unchecked() -> io::Result<Fork> {
    // SAFETY: the caller keeps this function's contract, which is
    // `fork_with_hooks`'s.
    unsafe { fork_with_hooks(false) }
}

/// [`fork_unchecked`], told whether the caller knows it is the process's
/// only thread (`one_thread`, see `fork_hooks::around`).
///
/// # Safety
/// [`fork_unchecked`]'s contract; and `one_thread` only if the process has
/// one thread.
unsafe fn fork_with_hooks(one_thread: bool) -> io::Result<Fork> {
    // Parent and child must agree on the process-tree key.
    crate::tree_key::settle();
    // The child's start time lies between this reading and the child's
    // first (see `fork_start_time`).
    let before = crate::fork_start_time::boottime_ns();
    // The child inherits the wipe-on-fork page zeroed instead of mapping
    // one on its first lock (see `wipe_on_fork`).
    crate::wipe_on_fork::ensure();
    // Locks registered by the crates above are taken just before the fork
    // and released on both sides (see `fork_hooks`).
    let pid = crate::fork_hooks::around(
        // SAFETY: the call itself only duplicates the process; what the child
        // may then do is the caller's contract above.
        || unsafe { libc::fork() },
        |pid| *pid == 0,
        one_thread,
    );
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            crate::fork_start_time::record_in_child(before);
            crate::fork_hooks::mark_forked();
            Ok(Fork::Child)
        }
        pid => {
            let pidfd = pidfd_or_reap(pid as u32)?;
            Ok(Fork::Parent {
                pid: pid as u32,
                pidfd,
            })
        }
    }
}

/// `pidfd_open(pid, 0)`—Opens a file descriptor that refers to process `pid`.
///
/// It becomes readable when the process exits, and can be used with
/// [`send_signal`] without any risk of hitting a recycled pid.
///
/// # Errors
/// The OS error; where the call itself is refused (`ENOSYS`: a kernel
/// older than 5.3, or a tool or sandbox that does not know the call, such
/// as valgrind 3.19; `EPERM`, which the call never returns of itself: a
/// seccomp filter), an [`Unsupported`](io::ErrorKind::Unsupported) error
/// that says so.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        Pid::from_raw(pid as i32).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).map_err(pidfd_refused)
}

/// `pidfd_open`'s error as the caller reports it: the bare `ENOSYS`
/// ("Function not implemented") of a process start told users nothing
/// about what is missing.
#[cold]
fn pidfd_refused(e: rustix::io::Errno) -> io::Error {
    match e {
        rustix::io::Errno::NOSYS | rustix::io::Errno::PERM => io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "pidfd_open is refused here ({}): multiprocess watches its processes \
                 through pidfds and needs Linux 5.4 or later, without a seccomp \
                 filter or tool (valgrind 3.19, for one) that refuses the \
                 pidfd calls",
                io::Error::from(e)
            ),
        ),
        other => other.into(),
    }
}

/// [`pidfd_open`] for a child just created; if that fails (out of file
/// descriptors, say), the child is killed and reaped before the error is
/// returned, so no copy of the caller or zombie is left behind.
pub(crate) fn pidfd_or_reap(pid: u32) -> io::Result<OwnedFd> {
    pidfd_open(pid).inspect_err(|_| {
        let _ = kill(pid, libc::SIGKILL);
        if let Some(pid) = Pid::from_raw(pid as i32) {
            // Our own child, killed just now: this wait ends (no fd needed).
            while let Err(rustix::io::Errno::INTR) =
                rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
            {
            }
        }
    })
}

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It called `exit(code)` (or returned from `main`).
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// Python's `exitcode`: the exit code, or minus the signal number.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => -s,
        }
    }

    /// The inverse of [`code`](Self::code).
    pub fn from_code(code: i32) -> ExitStatus {
        if code < 0 {
            ExitStatus::Signaled(-code)
        } else {
            ExitStatus::Exited(code)
        }
    }
}

/// `waitid(P_PIDFD, pidfd, WEXITED)`—Reaps the child behind `pidfd`.
///
/// With `block == false` it returns `Ok(None)` while the child still runs.
/// Interrupted calls are retried. Only the child's real parent may reap it.
pub fn wait_pidfd(pidfd: impl AsFd, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut opts = WaitIdOptions::EXITED;
    if !block {
        opts |= WaitIdOptions::NOHANG;
    }
    loop {
        match rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), opts) {
            Ok(None) => return Ok(None),
            Ok(Some(st)) => {
                if let Some(code) = st.exit_status() {
                    return Ok(Some(ExitStatus::Exited(code)));
                }
                if let Some(sig) = st.terminating_signal() {
                    return Ok(Some(ExitStatus::Signaled(sig)));
                }
                // A NOHANG waitid with nothing to report may return a zeroed
                // siginfo: the child is still running.
                if !block {
                    return Ok(None);
                }
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`—Sends signal `sig` to the process
/// behind `pidfd`. Sending to a process that already exited (but was not yet
/// reaped) succeeds; one that was reaped gives `ESRCH`.
pub fn send_signal(pidfd: impl AsFd, sig: i32) -> io::Result<()> {
    let fd = pidfd.as_fd().as_raw_fd();
    // SAFETY: the syscall takes an fd we borrow for the duration of the call,
    // a signal number, a null siginfo pointer (allowed) and flags 0; it does
    // not retain any pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `kill(pid, sig)`—Sends a signal by pid (prefer [`send_signal`]).
pub fn kill(pid: u32, sig: i32) -> io::Result<()> {
    // SAFETY: `kill` takes two integers and touches no memory of ours.
    let r = unsafe { libc::kill(pid as libc::pid_t, sig) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `getpid()`—This process's id.
pub fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// `getppid()`—The parent's process id (0 if there is none).
pub fn getppid() -> u32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32)
}

/// `gettid()`—The calling thread's id.
pub fn gettid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its start time in clock ticks since boot (field 22): with the pid,
    /// a name for the process that a reused pid does not share.
    pub start_time: u64,
    /// Whether it has ended and waits to be reaped (state `Z`, `X` or `x`).
    pub zombie: bool,
}

/// Reads `/proc/<pid>/stat`.
///
/// # Errors
/// `NotFound` if no such process exists; `InvalidData` if the file is not
/// as `proc(5)` documents it.
pub fn stat(pid: u32) -> io::Result<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

fn parse_stat(text: &str) -> io::Result<ProcStat> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat");
    // The command name (field 2) is in parentheses and may contain anything,
    // so fields are counted from the last ')'.
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(malformed)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next().ok_or_else(malformed)?;
    // Field 3 is the state; field 22 (starttime) is 19 fields later.
    let start_time = fields
        .nth(18)
        .and_then(|f| f.parse::<u64>().ok())
        .ok_or_else(malformed)?;
    Ok(ProcStat {
        start_time,
        zombie: matches!(state, "Z" | "X" | "x"),
    })
}

/// Where this process's pids mean something: the machine's boot id
/// (`/proc/sys/kernel/random/boot_id`) and the pid namespace's inode
/// (`/proc/self/ns/pid`). Two processes whose `pid_space` is equal name
/// each other's processes by the same pids.
pub fn pid_space() -> io::Result<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?;
    let ns = std::fs::read_link("/proc/self/ns/pid")?;
    Ok(format!("{} {}", boot.trim(), ns.display()))
}

/// This process's resident memory in bytes (the second field of
/// `/proc/self/statm`, in pages, times the page size). Fails if procfs is
/// not mounted or the file is not as documented in `proc(5)`.
pub fn resident_memory() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    resident_from_statm(&statm, rustix::param::page_size() as u64)
}

/// The resident bytes a `/proc/<pid>/statm` line gives, with pages of
/// `page` bytes.
fn resident_from_statm(statm: &str, page: u64) -> io::Result<u64> {
    statm
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .map(|pages| pages.saturating_mul(page))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/statm"))
}

/// `_exit(code)`—Ends the process at once: no `atexit` handlers, no
/// destructors, no stdio flushing (flush first).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// Replaces this process's standard input with `/dev/null`, as Python does in
/// every child (`os.close(0)`, then `open(os.devnull)`, which gets fd 0).
///
/// System calls straight from rustix, not `std::fs::File::open`, libc's
/// `dup2` and `close`: a forked child runs this right after `fork`, where
/// every code page it touches for the first time is a page fault, and the
/// first call of a libc function the parent never called is a symbol lookup
/// plus a copy-on-write fault on the GOT. If the open fails, standard input
/// stays closed (as in Python).
pub fn stdin_to_devnull() -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    // SAFETY: fd 0 is standard input, which this process owns. It is open
    // again before this returns (the open below takes the lowest free
    // number, checked; else `dup2` fills it), so whatever holds fd 0 (std's
    // `Stdin` borrows it) still holds an open descriptor afterwards.
    unsafe { rustix::io::close(0) };
    let fd: OwnedFd = rustix::fs::open(c"/dev/null", OFlags::RDONLY, Mode::empty())?;
    if fd.as_raw_fd() != 0 {
        // Another thread took fd 0 between the close and the open.
        // SAFETY: wrapped only as `dup2`'s target and never dropped (so
        // never closed here), as `ManuallyDrop` guarantees.
        let mut stdin = std::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(0) });
        rustix::io::dup2(&fd, &mut stdin)?;
        return Ok(());
    }
    // fd 0 is now `/dev/null`, standard input for good: not closed here.
    let _ = fd.into_raw_fd();
    Ok(())
}

/// Takes ownership of fd number `raw`, which this process received through
/// `exec` by prior agreement (an environment variable naming it).
///
/// Returns an error if `raw` is not an open descriptor. Only the bootstrap
/// code calls this, once, for the fd its parent placed there.
pub(crate) fn adopt_inherited_fd(raw: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is open (checked above) and, by the bootstrap protocol,
    // was placed there for this process alone; nothing else in the process
    // knows its number, so this is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_grows_with_touched_pages() {
        assert_eq!(
            resident_from_statm("100 25 3 1 0 40 0\n", 4096).unwrap(),
            25 * 4096
        );
        assert!(resident_from_statm("100", 4096).is_err());
        assert!(resident_from_statm("100 x 3", 4096).is_err());
        let before = resident_memory().unwrap();
        assert!(before > 0);
        // 64 MiB, every page written.
        let block = vec![1u8; 64 << 20];
        let after = resident_memory().unwrap();
        assert!(after >= before + (48 << 20), "{before} -> {after}");
        drop(block);
    }

    #[test]
    fn stat_parses_odd_names_and_states() {
        let line = "42 (a (b) c) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12345 20";
        assert_eq!(
            parse_stat(line).unwrap(),
            ProcStat {
                start_time: 12345,
                zombie: true
            }
        );
        assert!(parse_stat("42 (x) S 1").is_err());
        let me = stat(getpid()).unwrap();
        assert!(!me.zombie && me.start_time > 0);
        assert!(pid_space().unwrap().contains("pid:["));
    }

    #[test]
    fn fork_refuses_a_multi_threaded_process() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        match fork() {
            Err(ForkError::MultiThreaded { threads }) => assert!(threads > 1),
            Ok(Fork::Child) => exit_now(0),
            other => panic!("fork in a multi-threaded process: {other:?}"),
        }
        drop(tx);
        let _ = other.join();
    }

    #[test]
    fn fork_counted_refuses_a_multi_threaded_process() {
        let counter = crate::thread::ThreadCounter::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        match fork_counted(&counter) {
            Err(ForkError::MultiThreaded { threads }) => assert!(threads > 1),
            Ok(Fork::Child) => exit_now(0),
            other => panic!("fork in a multi-threaded process: {other:?}"),
        }
        drop(tx);
        let _ = other.join();
    }

    #[test]
    fn a_refused_pidfd_open_says_what_is_missing() {
        for refused in [rustix::io::Errno::NOSYS, rustix::io::Errno::PERM] {
            let e = super::pidfd_refused(refused);
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            let text = e.to_string();
            assert!(text.contains("Linux 5.4"), "{text}");
            assert!(text.contains("seccomp"), "{text}");
        }
        let other = super::pidfd_refused(rustix::io::Errno::SRCH);
        assert_eq!(
            other.raw_os_error(),
            Some(libc::ESRCH),
            "other errors pass as they are"
        );
    }

    #[test]
    fn fork_exit_code_and_signal() {
        // SAFETY: the child only calls `_exit` or sleeps and then dies of a
        // signal: nothing that another thread of the harness may hold.
        match unsafe { fork_unchecked() }.unwrap() {
            Fork::Child => exit_now(7),
            Fork::Parent { pidfd, .. } => {
                assert_eq!(
                    wait_pidfd(&pidfd, true).unwrap(),
                    Some(ExitStatus::Exited(7))
                );
            }
        }
        // SAFETY: as above.
        match unsafe { fork_unchecked() }.unwrap() {
            Fork::Child => {
                std::thread::sleep(std::time::Duration::from_secs(10));
                exit_now(0)
            }
            Fork::Parent { pidfd, .. } => {
                assert_eq!(wait_pidfd(&pidfd, false).unwrap(), None);
                send_signal(&pidfd, libc::SIGKILL).unwrap();
                let st = wait_pidfd(&pidfd, true).unwrap().unwrap();
                assert_eq!(st, ExitStatus::Signaled(libc::SIGKILL));
                assert_eq!(st.code(), -9);
            }
        }
    }

    /// What a forked child compares: 0 its record matches `/proc`, 1 no
    /// record, 2 they differ, 3 `/proc` unreadable.
    fn start_time_check() -> i32 {
        let pid = getpid();
        match (crate::fork_start_time::own_start_time(pid), stat(pid)) {
            (_, Err(_)) => 3,
            (None, _) => 1,
            (Some(t), Ok(s)) if t == s.start_time => 0,
            (Some(_), Ok(_)) => 2,
        }
    }

    #[test]
    fn a_forked_child_knows_its_start_time_as_proc_shows_it() {
        let mut recorded = 0;
        for _ in 0..100 {
            // SAFETY: the child reads `/proc` (glibc's malloc is repaired
            // by its own fork handlers) and calls `_exit`: nothing that
            // another thread of the harness may hold.
            match unsafe { fork_unchecked() }.unwrap() {
                Fork::Child => exit_now(start_time_check()),
                Fork::Parent { pidfd, .. } => match wait_pidfd(&pidfd, true).unwrap() {
                    Some(ExitStatus::Exited(0)) => recorded += 1,
                    // A fork across a tick's edge: no record, /proc read.
                    Some(ExitStatus::Exited(1)) => {}
                    other => panic!("child's start time check: {other:?}"),
                },
            }
        }
        // About one fork in a hundred straddles a tick.
        assert!(recorded >= 50, "only {recorded} of 100 children knew");
    }

    #[test]
    fn a_record_is_not_inherited_by_a_fork_made_elsewhere() {
        // SAFETY: as above; the grandchild is forked by libc directly and
        // only reads `/proc` and calls `_exit`.
        match unsafe { fork_unchecked() }.unwrap() {
            Fork::Child => {
                // SAFETY: the child has one thread, this one.
                let grandchild = unsafe { libc::fork() };
                if grandchild == 0 {
                    exit_now(start_time_check());
                }
                let mut status = 0;
                // SAFETY: `status` is a valid place for the status word.
                let reaped = unsafe { libc::waitpid(grandchild, &mut status, 0) };
                let code = if reaped == grandchild && libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    4
                };
                exit_now(code)
            }
            Fork::Parent { pidfd, .. } => assert_eq!(
                wait_pidfd(&pidfd, true).unwrap(),
                Some(ExitStatus::Exited(1)),
                "the grandchild must find no record of its own and read /proc"
            ),
        }
    }

    #[test]
    fn code_round_trip() {
        for c in [-15, -9, 0, 1, 255] {
            assert_eq!(ExitStatus::from_code(c).code(), c);
        }
    }
}
