//! A started child as the parent sees it — pid, pidfd, how to learn its exit
//! status — and the registry of live children behind `active_children()`
//! and the exit-time clean-up.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mp_sys::process::{send_signal, wait_pidfd};
use mp_sys::time::Deadline;

/// How the parent learns a child's exit status.
#[derive(Debug)]
pub(crate) enum Reaper {
    /// The child is ours: `waitid` on its pidfd.
    Direct,
    /// The fork server is the real parent; it writes the exit code (an `i32`,
    /// little-endian) to this pipe once it has reaped the child.
    Server(Mutex<Option<OwnedFd>>),
}

/// A started child process.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) pid: u32,
    pub(crate) pidfd: OwnedFd,
    pub(crate) name: String,
    pub(crate) daemon: bool,
    pub(crate) reaper: Reaper,
    status: Mutex<Option<i32>>,
}

/// Python's exit code for a forkserver child whose status cannot be read
/// (the fork server died).
const UNKNOWN_STATUS: i32 = 255;

impl Child {
    pub(crate) fn new(
        pid: u32,
        pidfd: OwnedFd,
        name: String,
        daemon: bool,
        reaper: Reaper,
    ) -> Self {
        Child {
            pid,
            pidfd,
            name,
            daemon,
            reaper,
            status: Mutex::new(None),
        }
    }

    /// The exit code if the child has ended (reaping it), else `None`.
    pub(crate) fn poll(&self) -> io::Result<Option<i32>> {
        let mut status = lock(&self.status);
        if status.is_none() {
            *status = self.try_reap(false)?;
        }
        Ok(*status)
    }

    fn try_reap(&self, block: bool) -> io::Result<Option<i32>> {
        match &self.reaper {
            Reaper::Direct => Ok(wait_pidfd(&self.pidfd, block)?.map(|s| s.code())),
            Reaper::Server(fd) => {
                // The pidfd turns readable when the child exits; the server
                // reports the status right after it reaps.
                if !block && !mp_sys::socket::poll_readable(&self.pidfd, Some(Duration::ZERO))? {
                    return Ok(None);
                }
                let mut guard = lock(fd);
                let Some(pipe) = guard.take() else {
                    return Ok(Some(UNKNOWN_STATUS));
                };
                let ready = mp_sys::socket::poll_readable(&pipe, Some(Duration::from_secs(5)))?;
                let mut buf = [0u8; 4];
                let mut file = std::fs::File::from(pipe);
                if ready && file.read_exact(&mut buf).is_ok() {
                    Ok(Some(i32::from_le_bytes(buf)))
                } else {
                    Ok(Some(UNKNOWN_STATUS))
                }
            }
        }
    }

    /// Waits up to `timeout` (forever if `None`) for the child to end.
    ///
    /// The pidfd turns readable once the child has ended, so the wait is one
    /// `poll` and then the reap (a child already reaped answers from
    /// `status` without a system call).
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<Option<i32>> {
        if let Some(code) = *lock(&self.status) {
            return Ok(Some(code));
        }
        let deadline = Deadline::after(timeout);
        loop {
            let left = deadline.remaining();
            if mp_sys::socket::poll_readable(&self.pidfd, left)? {
                let mut status = lock(&self.status);
                if status.is_none() {
                    *status = self.try_reap(true)?;
                }
                return Ok(*status);
            }
            if deadline.passed() || left == Some(Duration::ZERO) {
                return Ok(None);
            }
        }
    }

    /// Waits for the child to end without blocking a thread: the pidfd's
    /// readiness (and, for a fork-server child, the status pipe's) on the
    /// async reactor. Returns the exit code.
    ///
    /// Cancellation-safe: nothing is consumed before the code is read, and
    /// the code is kept in `status` once read.
    #[cfg(feature = "async")]
    pub(crate) async fn wait_async(&self) -> io::Result<i32> {
        use mp_sys::readiness::readable;
        loop {
            if let Some(code) = self.poll()? {
                return Ok(code);
            }
            readable(self.pidfd.as_fd()).await?;
            // A fork-server child: the server writes the status right after
            // it reaps (or the pipe reads end of file if the server died);
            // wait for that too rather than block in `poll`.
            if let Reaper::Server(pipe) = &self.reaper {
                let pipe = lock(pipe).as_ref().map(OwnedFd::try_clone).transpose()?;
                if let Some(pipe) = pipe {
                    readable(pipe.as_fd()).await?;
                }
            }
        }
    }

    /// Sends `sig` unless the child is known to have ended.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        if lock(&self.status).is_some() {
            return Ok(());
        }
        match send_signal(&self.pidfd, sig) {
            Err(e) if e.raw_os_error() == Some(ESRCH) => Ok(()),
            other => other,
        }
    }

    pub(crate) fn sentinel(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

/// `ESRCH` on Linux: the process no longer exists.
const ESRCH: i32 = 3;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Children started by this process and not yet seen to end.
static CHILDREN: Mutex<Vec<Arc<Child>>> = Mutex::new(Vec::new());

pub(crate) fn register(child: Arc<Child>) {
    lock(&CHILDREN).push(child);
}

/// Holds the registry lock (across `fork`, so the child never sees it held by
/// a thread that does not exist there).
pub(crate) fn registry() -> MutexGuard<'static, Vec<Arc<Child>>> {
    lock(&CHILDREN)
}

/// Reaps finished children and returns the live ones.
pub(crate) fn live_children() -> Vec<Arc<Child>> {
    let mut all = lock(&CHILDREN);
    all.retain(|c| matches!(c.poll(), Ok(None)));
    all.clone()
}

/// Removes a child from the registry (after it was joined).
pub(crate) fn forget(child: &Arc<Child>) {
    lock(&CHILDREN).retain(|c| !Arc::ptr_eq(c, child));
}
