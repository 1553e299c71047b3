//! Signal names and dispositions.
//!
//! # Safety
//! `signal(2)` is called through `libc`; each block says why
//! it holds.
#![allow(unsafe_code)]

use std::io;

/// The conventional name of signal `sig` (`"SIGTERM"` for 15), as Python's
/// `signal.Signals(sig).name` gives it.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// `SIGTERM`, the signal `Process::terminate` sends.
pub const SIGTERM: i32 = libc::SIGTERM;
/// `SIGKILL`, the signal `Process::kill` sends.
pub const SIGKILL: i32 = libc::SIGKILL;
/// `SIGINT`, the signal `Process::interrupt` sends.
pub const SIGINT: i32 = libc::SIGINT;

/// Installs `SIG_IGN` (if `ignore`) or `SIG_DFL` for `sig`.
fn set_disposition(sig: i32, ignore: bool) -> io::Result<()> {
    let disposition = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: `SIG_DFL` and `SIG_IGN` install no handler function, so no
    // code of ours runs in signal context.
    let r = unsafe { libc::signal(sig, disposition) };
    if r == libc::SIG_ERR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Restores the default disposition of `sig` (used in children, which must
/// not inherit a parent's "ignore" of `SIGTERM` or `SIGINT`).
pub fn set_default(sig: i32) -> io::Result<()> {
    set_disposition(sig, false)
}

/// Ignores `sig` (`SIG_IGN`): a helper process that must outlive a Ctrl-C
/// or a `SIGTERM` sent to its process group (the shared-memory resource
/// tracker) uses it. `SIGKILL` and `SIGSTOP` cannot be ignored (`EINVAL`).
pub fn ignore(sig: i32) -> io::Result<()> {
    set_disposition(sig, true)
}

/// Ignores `SIGPIPE`, as Rust's runtime does before `main`, so a write to a
/// closed pipe is an `EPIPE` error rather than death.
pub fn ignore_sigpipe() -> io::Result<()> {
    ignore(libc::SIGPIPE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::signal_name(15), Some("SIGTERM"));
        assert_eq!(super::signal_name(9), Some("SIGKILL"));
        assert_eq!(super::signal_name(1000), None);
    }

    #[test]
    fn sigkill_cannot_be_ignored() {
        assert!(super::ignore(super::SIGKILL).is_err());
    }
}
