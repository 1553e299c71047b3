//! The readiness waits of a forked child (whose copy of async-io's reactor
//! may be its parent's): a thread of the wait's own sleeps in `poll(2)` on
//! the fds and wakes the task.
//!
//! After a fork, the child's copy of async-io's reactor is the parent's
//! `epoll` instance and notifier (one kernel object for both processes, so
//! either could take the other's events) and its driver thread is gone (so
//! nothing in the child turns the reactor unless the child's executor is
//! async-io's). [`readiness`](crate::readiness) therefore serves such a
//! child's waits here: correct on any executor, at the price of a thread
//! per pending wait, for the few waits a forked child makes outside tokio.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use crate::fork_hooks;
use crate::thread_spawn;

/// Whether this process was forked ([`fork_hooks::forked`]): then it
/// must not use async-io's reactor. Its copy of the reactor may be the
/// parent's, whenever anything in the parent started it — this crate's
/// waits, or an `async_io`/`smol` `block_on` of the user's that this crate
/// cannot see (a forked child whose parent had only run `smol::block_on` on
/// a join that was already done waited for ever on the copy: test
/// `a_child_awaits_a_join_after_its_parent_used_the_reactor`, about one
/// run in a hundred) — so a forked child never uses it.
pub(crate) fn reactor_inherited() -> bool {
    fork_hooks::forked()
}

/// What a thread wait's thread found.
#[derive(Debug, Default)]
struct Outcome {
    /// `Some(true)`: an fd was ready; `Some(false)`: the timeout passed.
    ready: Option<io::Result<bool>>,
    waker: Option<Waker>,
}

/// A pending wait served by its own thread; dropping it ends the thread.
#[derive(Debug)]
pub(crate) struct ThreadWait {
    outcome: Arc<Mutex<Outcome>>,
    /// Dropped with the wait: the thread's `poll` sees it hang up and ends.
    _cancel: OwnedFd,
}

impl ThreadWait {
    /// Starts a thread that waits until one of `fds` is ready for `events`
    /// (`POLLIN` or `POLLOUT`; a hang-up or error counts as ready) or
    /// `timeout` passes (`None`: no limit).
    ///
    /// # Errors
    /// The fds cannot be duplicated, or no pipe or thread can be made.
    pub(crate) fn start(
        fds: &[BorrowedFd<'_>],
        events: PollFlags,
        timeout: Option<Duration>,
    ) -> io::Result<ThreadWait> {
        let fds = fds
            .iter()
            .map(|fd| fd.try_clone_to_owned())
            .collect::<io::Result<Vec<OwnedFd>>>()?;
        let (cancel_r, cancel_w) = crate::fd::pipe()?;
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let filled = Arc::clone(&outcome);
        thread_spawn::Builder::new("mp-readiness").spawn(move || {
            let ready = wait(&fds, events, cancel_r.as_fd(), timeout);
            if let Some(ready) = ready {
                let waker = {
                    let mut o = filled.lock().unwrap_or_else(PoisonError::into_inner);
                    o.ready = Some(ready);
                    o.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            }
        })?;
        Ok(ThreadWait {
            outcome,
            _cancel: cancel_w,
        })
    }

    /// `Ready(Ok(true))` once an fd was ready, `Ready(Ok(false))` once the
    /// timeout passed; else keeps the waker.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut o = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        match o.ready.take() {
            Some(Ok(ready)) => {
                // Stays answered for a repeated poll.
                o.ready = Some(Ok(ready));
                Poll::Ready(Ok(ready))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                o.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The thread's wait: `Some(Ok(true))` ready, `Some(Ok(false))` timed out,
/// `None` cancelled (the wait was dropped).
fn wait(
    fds: &[OwnedFd],
    events: PollFlags,
    cancel: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> Option<io::Result<bool>> {
    let deadline = crate::time::Deadline::after(timeout);
    loop {
        let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(fd, events)).collect();
        pfds.push(PollFd::new(&cancel, PollFlags::IN));
        let left = deadline.remaining().map(|t| rustix::event::Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        match rustix::event::poll(&mut pfds, left.as_ref()) {
            Ok(_) => {
                let (cancel, watched) = pfds.split_last().expect("the cancel fd is there");
                if !cancel.revents().is_empty() {
                    return None;
                }
                if watched.iter().any(|p| !p.revents().is_empty()) {
                    return Some(Ok(true));
                }
                if deadline.passed() {
                    return Some(Ok(false));
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Some(Err(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    #[test]
    fn a_thread_wait_sees_readiness_and_timeouts_and_ends_when_dropped() {
        let (r, w) = crate::fd::pipe().unwrap();
        let t = ThreadWait::start(&[r.as_fd()], PollFlags::IN, None).unwrap();
        crate::fd::write_all(&w, b"x").unwrap();
        assert!(async_io::block_on(poll_fn(|cx| t.poll(cx))).unwrap());
        let t = ThreadWait::start(&[], PollFlags::IN, Some(Duration::from_millis(20))).unwrap();
        assert!(!async_io::block_on(poll_fn(|cx| t.poll(cx))).unwrap());
        // Dropped while pending: its thread ends (the cancel pipe hangs up).
        let (r2, _w2) = crate::fd::pipe().unwrap();
        let pending = ThreadWait::start(&[r2.as_fd()], PollFlags::IN, None).unwrap();
        let probe = Arc::clone(&pending.outcome);
        drop(pending);
        // The thread holds the other reference until it ends.
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&probe) > 1 {
            assert!(
                std::time::Instant::now() < end,
                "the wait's thread did not end"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
