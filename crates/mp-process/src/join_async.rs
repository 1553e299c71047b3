//! [`Process::join_async`]: `join` as a future, on any async runtime (the
//! `async` feature).

use crate::children;
use crate::error::Result;
use crate::process::Process;

impl Process {
    /// Waits for the child to end without blocking a thread, and returns its
    /// exit code (as [`exitcode`](Self::exitcode) then reports it: `0`, `N`
    /// after `exit(N)`, `1` after a panic, `-SIG` when killed by a signal).
    ///
    /// The wait is the child's pidfd turning readable, on `async-io`'s
    /// reactor: it works under tokio, smol or any executor, and a thousand
    /// pending joins cost a thousand registrations, not a thousand threads.
    /// Several joins of one process may be pending at once.
    ///
    /// Cancellation-safe: dropping the future leaves the process as it was
    /// (still running, or ended with its code kept). There is no timeout
    /// argument; compose with the runtime's (`tokio::time::timeout`,
    /// smol's `future::or` with a `Timer`).
    ///
    /// ```
    /// use mp_process::Process;
    ///
    /// fn three() -> mp_process::ExitCode { mp_process::ExitCode(3) }
    ///
    /// let mut p = Process::new(three, ());
    /// p.start().unwrap();
    /// let code = smol::block_on(p.join_async()).unwrap();
    /// assert_eq!(code, 3);
    /// ```
    ///
    /// # Errors
    /// [`ProcessError::NotStarted`](crate::ProcessError::NotStarted),
    /// [`Closed`](crate::ProcessError::Closed),
    /// [`NotCreator`](crate::ProcessError::NotCreator) as for
    /// [`join`](Self::join); OS errors (the pidfd cannot be registered).
    pub async fn join_async(&self) -> Result<i32> {
        self.check_creator("join")?;
        let child = self.child("join")?.clone();
        let code = child.wait_async().await?;
        children::forget(&child);
        Ok(code)
    }
}
