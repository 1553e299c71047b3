//! Small fd helpers: duplicating with close-on-exec, and `/dev/null`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`—A new descriptor for the same open file,
/// closed on `exec`.
pub fn dup_cloexec(fd: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
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
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut pfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match rustix::event::poll(&mut pfds, ts.as_ref()) {
        Ok(_) => Ok(pfds.iter().map(|p| !p.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

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
    fn dup_is_distinct() {
        let a = super::devnull().unwrap();
        let b = super::dup_cloexec(&a).unwrap();
        assert_ne!(a.as_raw_fd(), b.as_raw_fd());
    }
}
