//! Waiting for an fd's readiness as a future, on `async-io`'s reactor (one
//! `epoll` shared by the whole process, driven by whichever thread blocks
//! in `async_io::block_on` or by its own `async-io` thread otherwise), so
//! the futures work under any executor — tokio, smol, a hand-written one —
//! and a pending wait costs a registration, not a thread.
//!
//! The fd is duplicated for the wait: `epoll` refuses the same fd twice, and
//! two tasks may wait on one fd (two clones of a connection, two joins of a
//! process). The duplicate is registered as it is, never switched to
//! non-blocking mode, so blocking users of the same open file (in this
//! process or another) are unaffected.
//!
//! With the feature `tokio`, a wait polled inside a tokio runtime registers
//! with tokio's own reactor instead (`readiness_tokio`): no hop through
//! async-io's thread. Such a wait must then be driven by that runtime, and
//! the runtime must have IO enabled (`enable_io`/`enable_all`, as
//! `#[tokio::main]` does), as for tokio's own IO types.
//!
//! In a forked child of a process that used async-io's reactor here, that
//! reactor is the parent's (the same `epoll` instance), with no thread to
//! turn it: a wait there outside tokio has a thread of its own instead
//! (`readiness_thread`).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
#[cfg(feature = "tokio")]
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, ReadableOwned, Timer};
use rustix::event::PollFlags;

use crate::readiness_thread::{self, ThreadWait};

#[cfg(feature = "tokio")]
use crate::readiness_tokio::{current_runtime, TokioFd};

/// Resolves once `fd` is readable, or has hung up or failed (as `poll(2)`'s
/// `POLLIN`, `POLLHUP`, `POLLERR`).
///
/// Cancellation-safe: dropping the future only removes the registration.
///
/// # Errors
/// The fd cannot be duplicated (`EMFILE`) or registered with the reactor.
pub async fn readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    let source = Source::new(fd, Interest::Readable)?;
    std::future::poll_fn(|cx| source.poll_readable(cx)).await
}

/// Resolves once `fd` is writable, or has failed (`POLLOUT`, `POLLERR`);
/// at once, without touching the reactor, if it is already.
///
/// Cancellation-safe as [`readable`].
///
/// # Errors
/// As [`readable`].
pub async fn writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    // A pipe or socket usually has room: one `poll` instead of a
    // registration (a `dup`, three `epoll_ctl`s and a reactor turn).
    if crate::socket::poll_writable(fd, Some(Duration::ZERO))? {
        return Ok(());
    }
    let source = Source::new(fd, Interest::Writable)?;
    std::future::poll_fn(|cx| source.poll_writable(cx)).await
}

/// What a one-off wait registers for.
#[derive(Debug, Clone, Copy)]
enum Interest {
    Readable,
    Writable,
}

/// A duplicate of an fd registered with the reactor of the context it is
/// made in: tokio's inside a tokio runtime (feature `tokio`), async-io's
/// otherwise.
#[derive(Debug)]
enum Source {
    AsyncIo(Async<OwnedFd>),
    #[cfg(feature = "tokio")]
    Tokio(TokioFd),
    /// A forked child's wait, off the inherited reactor.
    Thread(ThreadWait),
}

impl Source {
    fn new(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<Source> {
        #[cfg(feature = "tokio")]
        {
            let interest = match interest {
                Interest::Readable => tokio::io::Interest::READABLE,
                Interest::Writable => tokio::io::Interest::WRITABLE,
            };
            if let Some(t) = TokioFd::in_current(fd, interest) {
                return Ok(Source::Tokio(t));
            }
        }
        if readiness_thread::reactor_inherited() {
            let events = match interest {
                Interest::Readable => PollFlags::IN,
                Interest::Writable => PollFlags::OUT,
            };
            return ThreadWait::start(&[fd], events, None).map(Source::Thread);
        }
        registered(fd).map(Source::AsyncIo)
    }

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Source::AsyncIo(a) => a.poll_readable(cx),
            #[cfg(feature = "tokio")]
            Source::Tokio(t) => t.poll_readable(cx),
            Source::Thread(t) => t.poll(cx).map_ok(drop),
        }
    }

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Source::AsyncIo(a) => a.poll_writable(cx),
            #[cfg(feature = "tokio")]
            Source::Tokio(t) => t.poll_writable(cx),
            Source::Thread(t) => t.poll(cx).map_ok(drop),
        }
    }
}

/// An fd kept registered with the reactor, for an owner that waits on it
/// again and again (a pool worker's socket, awaited by one result future
/// after another): one `dup` and registration for its life instead of one
/// per wait, and a wait costs at most one `epoll_ctl` (re-arming the
/// one-shot interest). The duplicate stays in its blocking mode, as for
/// [`readable`].
///
/// With the feature `tokio`, the reactor is chosen by each wait's first
/// poll: inside a tokio runtime, that runtime's (the registration
/// is kept while waits come from the same runtime, and made again in the
/// next one); elsewhere async-io's, registered on first need.
#[derive(Debug)]
pub struct Registration(Arc<Kept>);

/// What a [`Registration`] keeps.
#[derive(Debug)]
struct Kept {
    /// The duplicate every reactor's registration is made from.
    fd: OwnedFd,
    /// The registration with async-io's reactor, once a wait needed it.
    async_io: OnceLock<Arc<Async<OwnedFd>>>,
    /// The last tokio runtime a wait was polled in, and its reactor's
    /// registration (`None`: registering failed; async-io serves).
    #[cfg(feature = "tokio")]
    tokio: Mutex<Option<(tokio::runtime::Id, Option<Arc<TokioFd>>)>>,
}

impl Registration {
    /// Registers a duplicate of `fd`.
    ///
    /// # Errors
    /// As [`readable`].
    pub fn new(fd: BorrowedFd<'_>) -> io::Result<Registration> {
        Ok(Registration(Arc::new(Kept {
            fd: fd.try_clone_to_owned()?,
            async_io: OnceLock::new(),
            #[cfg(feature = "tokio")]
            tokio: Mutex::new(None),
        })))
    }

    /// A wait for the fd to be readable (or hung up, or failed); several
    /// may be pending at once. Cancellation-safe as [`readable`].
    pub fn readable(&self) -> ReadableWait {
        ReadableWait {
            kept: Arc::clone(&self.0),
            wait: Wait::Unchosen,
        }
    }
}

impl Kept {
    /// The reactor a wait first polled now waits on.
    fn choose(&self) -> io::Result<Wait> {
        #[cfg(feature = "tokio")]
        if let Some(t) = self.tokio() {
            return Ok(Wait::Tokio(t));
        }
        if readiness_thread::reactor_inherited() {
            return ThreadWait::start(&[self.fd.as_fd()], PollFlags::IN, None).map(Wait::Thread);
        }
        Ok(Wait::AsyncIo(self.async_io()?.readable_owned()))
    }

    /// The registration with async-io's reactor, made on first need.
    fn async_io(&self) -> io::Result<Arc<Async<OwnedFd>>> {
        if let Some(a) = self.async_io.get() {
            return Ok(Arc::clone(a));
        }
        let made = Arc::new(registered(self.fd.as_fd())?);
        // A racing first wait may have set one: keep that, drop ours.
        Ok(Arc::clone(self.async_io.get_or_init(|| made)))
    }

    /// The registration with the current tokio runtime's reactor: the kept
    /// one if made in this runtime, else a new one, kept in its place
    /// (pending waits hold the old one until they end). `None` outside a
    /// tokio runtime, or when registering in it failed.
    #[cfg(feature = "tokio")]
    fn tokio(&self) -> Option<Arc<TokioFd>> {
        let runtime = current_runtime()?;
        let mut kept = self.tokio.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((id, registration)) = kept.as_ref() {
            if *id == runtime {
                return registration.clone();
            }
        }
        let made =
            TokioFd::in_current(self.fd.as_fd(), tokio::io::Interest::READABLE).map(Arc::new);
        debug_assert!(made.as_ref().is_none_or(|t| t.runtime() == runtime));
        *kept = Some((runtime, made.clone()));
        made
    }
}

/// A pending [`Registration::readable`]: resolves once the fd has been
/// readable since its first poll. Each poll keeps one waker (a repeated
/// poll replaces it, never wakes the task itself).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadableWait {
    kept: Arc<Kept>,
    wait: Wait,
}

/// The reactor a [`ReadableWait`] waits on, chosen by its first poll.
#[derive(Debug)]
enum Wait {
    Unchosen,
    AsyncIo(ReadableOwned<OwnedFd>),
    #[cfg(feature = "tokio")]
    Tokio(Arc<TokioFd>),
    /// A forked child's wait, off the inherited reactor.
    Thread(ThreadWait),
}

impl ReadableWait {
    /// Whether the fd is readable (or hung up) right now: one zero-timeout
    /// `poll`, no reactor. For a poll that was woken, or repeated, while
    /// this wait is pending: the reactor may report an event a turn late
    /// (async-io holds back one that may predate the registration), so a
    /// wake-up is a reason to look.
    ///
    /// # Errors
    /// `poll(2)` failed.
    pub fn readable_now(&self) -> io::Result<bool> {
        crate::socket::poll_readable(self.kept.fd.as_fd(), Some(Duration::ZERO))
    }
}

impl Future for ReadableWait {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every field is `Unpin`.
        let this = &mut *self;
        loop {
            match &mut this.wait {
                Wait::Unchosen => match this.kept.choose() {
                    Ok(wait) => this.wait = wait,
                    Err(e) => return Poll::Ready(Err(e)),
                },
                Wait::AsyncIo(ready) => return Pin::new(ready).poll(cx),
                #[cfg(feature = "tokio")]
                Wait::Tokio(t) => return t.poll_readable(cx),
                Wait::Thread(t) => return t.poll(cx).map_ok(drop),
            }
        }
    }
}

/// A duplicate of `fd` registered with the reactor, left in its blocking
/// mode (the caller only waits on it, never reads or writes through it).
fn registered(fd: BorrowedFd<'_>) -> io::Result<Async<OwnedFd>> {
    Async::new_nonblocking(fd.try_clone_to_owned()?)
}

/// Resolves once any of `fds` is readable (or has hung up or failed), with
/// `true`, or with `false` when `timeout` elapses first (`None`: no limit).
/// The async twin of [`poll_readable_any`](crate::fd::poll_readable_any);
/// the caller finds out which fds are ready with a zero-timeout poll.
///
/// Cancellation-safe as [`readable`].
///
/// # Errors
/// As [`readable`].
pub async fn readable_any(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<bool> {
    #[cfg(feature = "tokio")]
    let in_tokio = current_runtime().is_some();
    #[cfg(not(feature = "tokio"))]
    let in_tokio = false;
    if !in_tokio && readiness_thread::reactor_inherited() {
        // No async-io timer either: the thread's `poll` keeps the timeout.
        let wait = ThreadWait::start(fds, PollFlags::IN, timeout)?;
        return std::future::poll_fn(|cx| wait.poll(cx)).await;
    }
    let sources = fds
        .iter()
        .map(|fd| Source::new(*fd, Interest::Readable))
        .collect::<io::Result<Vec<_>>>()?;
    let mut timer = timeout.map(Timer::after);
    std::future::poll_fn(|cx| {
        for s in &sources {
            if let Poll::Ready(ready) = s.poll_readable(cx) {
                return Poll::Ready(ready.map(|()| true));
            }
        }
        match timer.as_mut().map(|t| Pin::new(t).poll(cx)) {
            Some(Poll::Ready(_)) => Poll::Ready(Ok(false)),
            _ => Poll::Pending,
        }
    })
    .await
}

#[cfg(all(test, feature = "tokio"))]
mod tokio_tests {
    use std::future::Future;
    use std::os::fd::AsFd;
    use std::pin::pin;
    use std::task::Poll;

    use super::{readable, Registration};

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
    }

    /// Polls once with the caller's waker; true if still pending.
    async fn pending<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
        let mut f = f;
        std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_pending())).await
    }

    #[test]
    fn inside_tokio_a_stale_readiness_is_not_reported() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let reg = Registration::new(r.as_fd()).unwrap();
        current_thread().block_on(async {
            rustix::io::write(&w, b"x").unwrap();
            reg.readable().await.unwrap();
            // Registered with tokio's reactor, not async-io's.
            assert!(reg.0.async_io.get().is_none());
            assert!(matches!(*reg.0.tokio.lock().unwrap(), Some((_, Some(_)))));
            // Read by someone else: tokio still holds the readiness; the
            // next wait must clear it and wait, not report it.
            rustix::io::read(&r, &mut [0u8; 1]).unwrap();
            let mut wait = pin!(reg.readable());
            assert!(pending(wait.as_mut()).await);
            rustix::io::write(&w, b"y").unwrap();
            wait.await.unwrap();
            readable(r.as_fd()).await.unwrap();
        });
    }

    #[test]
    fn a_registration_follows_the_runtime_it_is_awaited_in() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&w, b"x").unwrap();
        let reg = Registration::new(r.as_fd()).unwrap();
        let runtime_of = |reg: &Registration| reg.0.tokio.lock().unwrap().as_ref().map(|k| k.0);
        let first = current_thread();
        first.block_on(reg.readable()).unwrap();
        let first_id = runtime_of(&reg).unwrap();
        // Outside tokio: async-io, the tokio registration left alone.
        async_io::block_on(reg.readable()).unwrap();
        assert!(reg.0.async_io.get().is_some());
        assert_eq!(runtime_of(&reg), Some(first_id));
        // Another runtime, the first one gone: a registration of its own.
        drop(first);
        let second = current_thread();
        second.block_on(reg.readable()).unwrap();
        let second_id = runtime_of(&reg).unwrap();
        assert_ne!(second_id, first_id);
        assert_eq!(second_id, second.handle().id());
    }
}
