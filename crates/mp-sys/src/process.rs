//! Process creation and reaping: `fork`, pidfds, `waitid`, signals to a child, `_exit`.
//!
//! # Safety
//! This module calls `fork(2)`, `_exit(2)` and `pidfd_send_signal(2)` through
//! `libc`, because rustix exposes `fork` only as an unsafe runtime internal and
//! has no way to build a [`rustix::process::Signal`] from an arbitrary number.
//! Each block says why it holds.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};

/// The outcome of [`fork`] in each of the two processes.
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

/// `fork()`—Creates a child process that is a copy of the caller.
///
/// In the parent it also opens a pidfd for the child, race-free because an
/// unreaped child's pid cannot be reused.
///
/// # Why this is a safe function
/// The child is a copy of this process's memory at the moment of the call,
/// containing only the calling thread. Memory stays valid and consistent: a
/// `Mutex` that another thread held at that moment simply stays locked in the
/// child, so using it there deadlocks, which is not undefined behaviour. The
/// allocator (glibc malloc) re-initialises its locks in the child through its
/// `atfork` handlers. Callers in multi-threaded programs should keep the
/// child's work simple and end it with [`exit_now`]; `multiprocess` logs a
/// warning when it forks a multi-threaded parent.
///
/// # References
/// - [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html)
pub fn fork() -> io::Result<Fork> {
    // Parent and child must agree on the process-tree key.
    crate::tree_key::settle();
    // SAFETY: `fork` has no memory-safety preconditions of its own; the
    // consequences for multi-threaded callers are documented above.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
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
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        Pid::from_raw(pid as i32).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
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

/// `_exit(code)`—Ends the process at once: no `atexit` handlers, no
/// destructors, no stdio flushing (flush first).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// Replaces this process's standard input with `/dev/null`, as Python does in
/// every child.
pub fn stdin_to_devnull() -> io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    let fd: OwnedFd = null.into();
    // SAFETY: fd 0 is standard input, which this process owns; `dup2` only
    // replaces what fd 0 refers to.
    let r = unsafe { libc::dup2(fd.as_raw_fd(), 0) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
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
    fn fork_exit_code_and_signal() {
        match fork().unwrap() {
            Fork::Child => exit_now(7),
            Fork::Parent { pidfd, .. } => {
                assert_eq!(
                    wait_pidfd(&pidfd, true).unwrap(),
                    Some(ExitStatus::Exited(7))
                );
            }
        }
        match fork().unwrap() {
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

    #[test]
    fn code_round_trip() {
        for c in [-15, -9, 0, 1, 255] {
            assert_eq!(ExitStatus::from_code(c).code(), c);
        }
    }
}
