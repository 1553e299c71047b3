//! A started child as the parent sees it — pid, pidfd, how to learn its exit
//! status — and the registry of live children behind `active_children()`
//! and the exit-time clean-up.

use std::io;
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
    /// little-endian) to this pipe once it has reaped the child, and the
    /// pipe reads end of file once the server is gone. A waiter polls its
    /// own reference to the pipe, taken under the lock and held without it;
    /// the code is read once, with `status` locked, and the pipe is then
    /// let go (it closes when the last waiter is done with it).
    Server(Mutex<Option<Arc<OwnedFd>>>),
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

/// How long after a fork-server child's end its status is waited for
/// before the server is taken for broken (the child then reports
/// [`UNKNOWN_STATUS`]).
const REPORT_GRACE: Duration = Duration::from_secs(5);

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

    /// The exit code if the child has ended; with `block`, a direct child
    /// known to have ended is reaped with a blocking `waitid`. Called with
    /// `status` locked.
    fn try_reap(&self, block: bool) -> io::Result<Option<i32>> {
        match &self.reaper {
            Reaper::Direct => Ok(wait_pidfd(&self.pidfd, block)?.map(|s| s.code())),
            Reaper::Server(pipe) => {
                let Some(fd) = lock(pipe).clone() else {
                    return Ok(Some(UNKNOWN_STATUS));
                };
                let code = self.server_report(&fd)?;
                if code.is_some() {
                    lock(pipe).take();
                }
                Ok(code)
            }
        }
    }

    /// A fork-server child's exit code if it has ended: what the server
    /// wrote on `pipe` once it reaped it, or [`UNKNOWN_STATUS`] if the
    /// server is gone, or silent for [`REPORT_GRACE`] after the child's
    /// end. Called with `status` locked, so nobody else reads the report.
    fn server_report(&self, pipe: &OwnedFd) -> io::Result<Option<i32>> {
        let ended = |wait| mp_sys::socket::poll_readable(&self.pidfd, Some(wait));
        let mut code = [0u8; 4];
        match mp_sys::fd::read_nowait(pipe, &mut code)? {
            // One write of four bytes to a pipe arrives whole.
            Some(4) => return Ok(Some(i32::from_le_bytes(code))),
            // End of file: the server is gone (the child may still run).
            Some(_) => return Ok(ended(Duration::ZERO)?.then_some(UNKNOWN_STATUS)),
            None => {}
        }
        // No report yet: the child runs, or has just ended and the server
        // is about to report.
        if !ended(Duration::ZERO)? {
            return Ok(None);
        }
        if !mp_sys::socket::poll_readable(pipe, Some(REPORT_GRACE))? {
            return Ok(Some(UNKNOWN_STATUS));
        }
        Ok(Some(match mp_sys::fd::read(pipe, &mut code)? {
            4 => i32::from_le_bytes(code),
            _ => UNKNOWN_STATUS,
        }))
    }

    /// Waits up to `timeout` (forever if `None`) for the child to end.
    ///
    /// A direct child's pidfd turns readable once it has ended, so the wait
    /// is one `poll` and then the reap (a child already reaped answers from
    /// `status` without a system call). A fork-server child's wait is on
    /// its status pipe, which the server writes right after it reaps: one
    /// wake-up, where waiting for the end and then for the report would
    /// take two. The pipe is looked at again every [`REPORT_GRACE`], so a
    /// server that stops reporting is noticed; once the pipe is at end of
    /// file (the server is gone) the wait is on the pidfd.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<Option<i32>> {
        if let Some(code) = *lock(&self.status) {
            return Ok(Some(code));
        }
        let deadline = Deadline::after(timeout);
        let mut server_gone = false;
        loop {
            let pipe = match &self.reaper {
                Reaper::Server(pipe) if !server_gone => lock(pipe).clone(),
                _ => None,
            };
            let (fd, cap) = match &pipe {
                Some(pipe) => (pipe.as_fd(), Some(REPORT_GRACE)),
                None => (self.pidfd.as_fd(), None),
            };
            let left = deadline.remaining();
            let wait = match (left, cap) {
                (Some(left), Some(cap)) => Some(left.min(cap)),
                (left, cap) => left.or(cap),
            };
            let ready = mp_sys::socket::poll_readable(fd, wait)?;
            if ready || cap.is_some() {
                let mut status = lock(&self.status);
                if status.is_none() {
                    *status = self.try_reap(true)?;
                }
                if let Some(code) = *status {
                    return Ok(Some(code));
                }
                // The status pipe was readable without a code: end of file.
                server_gone |= ready && cap.is_some();
            }
            if deadline.passed() || left == Some(Duration::ZERO) {
                return Ok(None);
            }
        }
    }

    /// Waits for the child to end without blocking a thread: the pidfd's
    /// readiness or, for a fork-server child, the status pipe's (and the
    /// pidfd's once the pipe is at end of file: the server is gone) on the
    /// async reactor. Returns the exit code.
    ///
    /// Cancellation-safe: nothing is consumed before the code is read, and
    /// the code is kept in `status` once read.
    #[cfg(feature = "async")]
    pub(crate) async fn wait_async(&self) -> io::Result<i32> {
        use mp_sys::readiness::readable;
        let mut server_gone = false;
        loop {
            if let Some(code) = self.poll()? {
                return Ok(code);
            }
            let pipe = match &self.reaper {
                Reaper::Server(pipe) if !server_gone => lock(pipe).clone(),
                _ => None,
            };
            match pipe {
                Some(pipe) => {
                    readable(pipe.as_fd()).await?;
                    // The next `poll` reads the code; if it finds none, the
                    // pipe is at end of file and the pidfd is waited on.
                    server_gone = true;
                }
                None => readable(self.pidfd.as_fd()).await?,
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
