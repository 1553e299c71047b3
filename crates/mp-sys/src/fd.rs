//! Small fd helpers: duplicating with close-on-exec, which descriptors an
//! `exec` would pass on, `/dev/null`, and closing in place.
//!
//! # Safety
//! One `fcntl(F_GETFD)` through `libc` on a descriptor number, and one
//! `close` of a descriptor taken from an `OwnedFd`; their blocks say why
//! they hold.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`—A new descriptor for the same open file,
/// closed on `exec`.
pub fn dup_cloexec(fd: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// `fcntl(fd, F_SETFD)`—Whether `fd` is closed on `exec` (`cloexec`), or
/// inherited by the programs this process executes.
pub fn set_cloexec(fd: impl AsFd, cloexec: bool) -> io::Result<()> {
    let flags = if cloexec {
        rustix::io::FdFlags::CLOEXEC
    } else {
        rustix::io::FdFlags::empty()
    };
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
}

/// The descriptors above standard error that a program this process
/// executes would inherit: those open now without close-on-exec, ascending
/// (read from `/proc/self/fd`). Another thread may open or close one at any
/// time, so the list is a snapshot.
pub fn inheritable_fds() -> io::Result<Vec<i32>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        // One closed meanwhile (the listing's own, or another thread's)
        // fails with `EBADF` and is left out.
        if fd_flags(fd).is_some_and(|flags| flags & libc::FD_CLOEXEC == 0) {
            fds.push(fd);
        }
    }
    fds.sort_unstable();
    Ok(fds)
}

/// `fcntl(fd, F_GETFD)` of a descriptor number that may not be open
/// (`None` then).
#[allow(unsafe_code)]
fn fd_flags(fd: i32) -> Option<i32> {
    // SAFETY: `F_GETFD` takes no argument and reads nothing of ours; any
    // integer is a valid first argument (a number that names no open file
    // fails with `EBADF`). A number another thread reuses meanwhile is only
    // queried, never used.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags >= 0).then_some(flags)
}

/// Closes `fd` with the system call made right here (rustix's, inlined into
/// the caller), not through libc's `close` as dropping an `OwnedFd` does.
///
/// The same as `drop(fd)` but for where the code runs: a freshly forked
/// child has none of its program's code mapped, and each 64 KiB of code it
/// runs first is a page fault of about 2 µs, libc's `close` one of them
/// (docs/performance.md, "A forked child's first touches"). A fork server's
/// child, which closes the server's descriptors first thing, uses this.
#[inline]
#[allow(unsafe_code)]
pub fn close(fd: impl Into<OwnedFd>) {
    use std::os::fd::IntoRawFd;
    let raw = fd.into().into_raw_fd();
    // SAFETY: `raw` was an `OwnedFd`'s, taken out of it just above: this
    // process owns the descriptor, nothing else refers to it, and it is
    // closed once, here, as the `OwnedFd`'s drop would have closed it.
    unsafe { rustix::io::close(raw) }
}

/// Opens `/dev/null` for reading and writing.
pub fn devnull() -> io::Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?
        .into())
}

/// `pipe2(O_CLOEXEC)`—A pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// `read(fd, buf)`, retrying `EINTR`: the number of bytes read (0 at end of
/// file); a non-blocking fd with nothing to read gives `WouldBlock`.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd.as_fd(), &mut *buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether the kernel refused `preadv2(RWF_NOWAIT)` on an fd (Linux takes
/// it on pipes from 6.4 on): from then on [`read_nowait`] polls first.
static NOWAIT_REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One read of what a blocking pipe (or other stream) holds, without
/// waiting: `None` if nothing is there, `Some(0)` at end of file. One
/// `preadv2(RWF_NOWAIT)` where the kernel takes it; else a `poll` with no
/// timeout, then a `read` (retrying `EINTR`).
pub fn read_nowait(fd: impl AsFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    use rustix::io::{Errno, ReadWriteFlags};
    use std::sync::atomic::Ordering;
    let fd = fd.as_fd();
    if !NOWAIT_REFUSED.load(Ordering::Relaxed) {
        loop {
            let mut bufs = [io::IoSliceMut::new(&mut *buf)];
            // `u64::MAX`: the current position (a pipe has none).
            match rustix::io::preadv2(fd, &mut bufs, u64::MAX, ReadWriteFlags::NOWAIT) {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => {
                    NOWAIT_REFUSED.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !crate::socket::poll_readable(fd, Some(Duration::ZERO))? {
        return Ok(None);
    }
    match read(fd, buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fcntl(F_SETPIPE_SZ)`—Asks for a pipe buffer of at least `size` bytes;
/// returns the size set (the kernel rounds up to a power-of-two number of
/// pages). Refused (`EPERM`) above `/proc/sys/fs/pipe-max-size`, or while
/// the user's pipes hold more than `pipe-user-pages-soft` pages.
pub fn set_pipe_size(fd: impl AsFd, size: usize) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_setpipe_size(fd, size)?)
}

/// `fcntl(F_GETPIPE_SZ)`—The bytes a pipe's buffer holds.
pub fn pipe_size(fd: impl AsFd) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_getpipe_size(fd)?)
}

/// One `write(fd, buf)`, retrying `EINTR`: the number of bytes written; a
/// non-blocking fd with no room gives `WouldBlock`.
pub fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::io::write(fd.as_fd(), buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One `writev(fd, bufs)`, retrying `EINTR`: the number of bytes written; a
/// non-blocking fd with no room gives `WouldBlock`.
pub fn writev(fd: impl AsFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    loop {
        match rustix::io::writev(fd.as_fd(), bufs) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `write(fd, buf)` until all of `buf` is written (retrying `EINTR`).
pub fn write_all(fd: impl AsFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd.as_fd(), buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `poll(fds, POLLIN)`—Waits until at least one of `fds` is readable (or hung
/// up), or `timeout` passes; returns which are ready. `EINTR` is reported as
/// "none ready" so callers re-check their state.
pub fn poll_readable_any(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut ready = vec![false; fds.len()];
    poll_readable_into(fds, timeout, &mut ready)?;
    Ok(ready)
}

/// [`poll_readable_any`] without allocating (for up to
/// [`POLL_ON_STACK`] fds): sets `ready[i]` (as long as `fds`) to whether
/// `fds[i]` is readable or hung up; returns how many are. `EINTR` is
/// reported as none ready.
///
/// # Panics
/// If `ready` is not as long as `fds`.
pub fn poll_readable_into(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
    ready: &mut [bool],
) -> io::Result<usize> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    assert_eq!(fds.len(), ready.len(), "one readiness flag per fd");
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    let ts = ts.as_ref();
    match fds {
        // The common waits (a link and a sentinel) fill no more slots than
        // they use.
        [a, b] => poll_set(
            &mut [PollFd::new(a, PollFlags::IN), PollFd::new(b, PollFlags::IN)],
            ts,
            ready,
        ),
        [a] => poll_set(&mut [PollFd::new(a, PollFlags::IN)], ts, ready),
        // Unused slots repeat the first fd and are left out of the call.
        [first, ..] if fds.len() <= POLL_ON_STACK => {
            let mut pfds: [PollFd<'_>; POLL_ON_STACK] =
                std::array::from_fn(|i| PollFd::new(fds.get(i).unwrap_or(first), PollFlags::IN));
            poll_set(&mut pfds[..fds.len()], ts, ready)
        }
        _ => {
            let mut pfds: Vec<PollFd<'_>> = fds
                .iter()
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            poll_set(&mut pfds, ts, ready)
        }
    }
}

/// Polls `pfds` and sets `ready` from their results (see
/// [`poll_readable_into`]).
fn poll_set(
    pfds: &mut [rustix::event::PollFd<'_>],
    ts: Option<&rustix::event::Timespec>,
    ready: &mut [bool],
) -> io::Result<usize> {
    let n = match rustix::event::poll(pfds, ts) {
        Ok(n) => n,
        Err(rustix::io::Errno::INTR) => 0,
        Err(e) => return Err(io::Error::from(e)),
    };
    for (r, p) in ready.iter_mut().zip(pfds.iter()) {
        *r = n > 0 && !p.revents().is_empty();
    }
    Ok(n)
}

/// How many fds [`poll_readable_into`] polls without allocating.
pub const POLL_ON_STACK: usize = 8;

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn close_closes_in_place() {
        // The write end gone, the read end is at end of file. (Whether the
        // number names nothing is not checked: another test's thread may
        // open a file under it at once.)
        let (r, w) = super::pipe().unwrap();
        super::close(w);
        let mut buf = [0u8; 1];
        assert_eq!(super::read(&r, &mut buf).unwrap(), 0);
        // Anything that is an `OwnedFd`, a `File` here, closes the same way.
        let (r, w) = super::pipe().unwrap();
        super::close(std::fs::File::from(w));
        assert_eq!(super::read(&r, &mut buf).unwrap(), 0);
    }

    #[test]
    fn read_nowait_takes_what_is_there() {
        let (r, w) = super::pipe().unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(super::read_nowait(&r, &mut buf).unwrap(), None);
        super::write_all(&w, b"abc").unwrap();
        assert_eq!(super::read_nowait(&r, &mut buf).unwrap(), Some(3));
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(super::read_nowait(&r, &mut buf).unwrap(), None);
        drop(w);
        assert_eq!(super::read_nowait(&r, &mut buf).unwrap(), Some(0));
    }

    #[test]
    fn a_pipe_grows() {
        let (r, _w) = super::pipe().unwrap();
        let got = super::set_pipe_size(&r, 128 * 1024).unwrap();
        assert!(got >= 128 * 1024);
        assert_eq!(super::pipe_size(&r).unwrap(), got);
    }

    #[test]
    fn pipe_poll_write() {
        let (r, w) = super::pipe().unwrap();
        use std::os::fd::AsFd;
        let fds = [r.as_fd()];
        assert_eq!(
            super::poll_readable_any(&fds, Some(std::time::Duration::ZERO)).unwrap(),
            vec![false]
        );
        super::write_all(&w, b"abc").unwrap();
        assert_eq!(super::poll_readable_any(&fds, None).unwrap(), vec![true]);
    }

    #[test]
    fn poll_marks_exactly_the_readable_fds_on_the_stack_and_beyond() {
        use std::os::fd::AsFd;
        for count in [1, super::POLL_ON_STACK, super::POLL_ON_STACK + 3] {
            let pipes: Vec<_> = (0..count).map(|_| super::pipe().unwrap()).collect();
            for (i, (_, w)) in pipes.iter().enumerate() {
                if i % 3 == 1 {
                    super::write_all(w, b"x").unwrap();
                }
            }
            let fds: Vec<_> = pipes.iter().map(|(r, _)| r.as_fd()).collect();
            let mut ready = vec![true; count];
            let n = super::poll_readable_into(&fds, Some(std::time::Duration::ZERO), &mut ready)
                .unwrap();
            let want: Vec<bool> = (0..count).map(|i| i % 3 == 1).collect();
            assert_eq!((n, ready), (want.iter().filter(|r| **r).count(), want));
        }
    }

    #[test]
    fn dup_is_distinct() {
        let a = super::devnull().unwrap();
        let b = super::dup_cloexec(&a).unwrap();
        assert_ne!(a.as_raw_fd(), b.as_raw_fd());
    }
}
