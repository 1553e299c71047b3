//! Unix stream sockets that carry fds beside bytes (`SCM_RIGHTS`), plus
//! readiness polling with timeouts.
//!
//! Every call here is one system call (retried on `EINTR`), wrapped so that
//! fds are [`OwnedFd`]/[`BorrowedFd`]: fds received with a message are owned
//! by the caller and closed when dropped, and they are created close-on-exec.
//! Sends use `MSG_NOSIGNAL`, so writing to a closed peer is an `EPIPE` error
//! and never a `SIGPIPE`. No `unsafe` is needed: rustix provides
//! `sendmsg`/`recvmsg` with typed ancillary buffers.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

/// The most fds one `sendmsg` can carry on Linux (`SCM_MAX_FD`).
pub const MAX_FDS_PER_MESSAGE: usize = 253;

/// Control-buffer space for [`MAX_FDS_PER_MESSAGE`] fds, alignment slack included.
const MAX_CMSG_SPACE: usize = rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE));

/// Whether a send or receive may sleep until the socket is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// Follow the socket's own mode (sleep unless it is `O_NONBLOCK`).
    Wait,
    /// Never sleep (`MSG_DONTWAIT`): a socket that is not ready gives
    /// [`io::ErrorKind::WouldBlock`], whatever the socket's mode.
    DontWait,
}

/// What one [`recv_vectored_with_fds`] call received.
#[derive(Debug)]
pub struct Received {
    /// Bytes received; 0 means end of stream.
    pub bytes: usize,
    /// Fds received with them (close-on-exec, owned).
    pub fds: Vec<OwnedFd>,
    /// The peer attached more fds than `max_fds` (or `MSG_CTRUNC` was set):
    /// those beyond `max_fds` were closed, and `fds` holds the rest.
    pub fds_truncated: bool,
}

/// Creates a connected pair of `AF_UNIX` `SOCK_STREAM` sockets, both close-on-exec.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `bytes` with `fds` attached (`SCM_RIGHTS`) in one `sendmsg`.
///
/// Returns how many bytes were written, which may be fewer than
/// `bytes.len()`; if it is not zero, all the fds were sent. Blocks according
/// to the socket's mode. `EINTR` is retried; more than
/// [`MAX_FDS_PER_MESSAGE`] fds is an `EINVAL` error.
pub fn send_with_fds(sock: impl AsFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    send_vectored_with_fds(sock, &[IoSlice::new(bytes)], fds, Blocking::Wait)
}

/// Sends the concatenation of `bufs` with `fds` attached in one `sendmsg`
/// (`MSG_NOSIGNAL`, plus `MSG_DONTWAIT` for [`Blocking::DontWait`]).
///
/// Returns the number of bytes written (possibly partial). `EINTR` is retried.
pub fn send_vectored_with_fds(
    sock: impl AsFd,
    bufs: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
    blocking: Blocking,
) -> io::Result<usize> {
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(Errno::INVAL.into());
    }
    let mut flags = SendFlags::NOSIGNAL;
    if blocking == Blocking::DontWait {
        flags |= SendFlags::DONTWAIT;
    }
    let mut space = [MaybeUninit::<u8>::uninit(); MAX_CMSG_SPACE];
    let mut control = if fds.is_empty() {
        SendAncillaryBuffer::default()
    } else {
        let mut control =
            SendAncillaryBuffer::new(&mut space[..rustix::cmsg_space!(ScmRights(fds.len()))]);
        if !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(Errno::INVAL.into());
        }
        control
    };
    loop {
        match rustix::net::sendmsg(sock.as_fd(), bufs, &mut control, flags) {
            Err(Errno::INTR) => continue,
            result => return Ok(result?),
        }
    }
}

/// Receives into `buf` in one `recvmsg` (`MSG_CMSG_CLOEXEC`), accepting up
/// to `max_fds` fds (at most [`MAX_FDS_PER_MESSAGE`] are ever received).
///
/// Returns the byte count (0 = end of stream) and the fds, now owned by the
/// caller. If the peer attached more fds than fit, those that arrived are
/// closed and the result is an [`io::ErrorKind::InvalidData`] error (the
/// bytes of that `recvmsg` are lost). Blocks according to the socket's mode;
/// `EINTR` is retried.
pub fn recv_with_fds(
    sock: impl AsFd,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let received =
        recv_vectored_with_fds(sock, &mut [IoSliceMut::new(buf)], max_fds, Blocking::Wait)?;
    if received.fds_truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer sent more than {max_fds} fds with one message"),
        ));
    }
    Ok((received.bytes, received.fds))
}

/// Receives into `bufs` in one `recvmsg` (`MSG_CMSG_CLOEXEC`, plus
/// `MSG_DONTWAIT` for [`Blocking::DontWait`]), accepting up to `max_fds` fds.
///
/// Unlike [`recv_with_fds`], control-data truncation is reported in
/// [`Received::fds_truncated`] rather than as an error, so the caller keeps
/// the byte count. `EINTR` is retried.
pub fn recv_vectored_with_fds(
    sock: impl AsFd,
    bufs: &mut [IoSliceMut<'_>],
    max_fds: usize,
    blocking: Blocking,
) -> io::Result<Received> {
    let max_fds = max_fds.min(MAX_FDS_PER_MESSAGE);
    let mut flags = RecvFlags::CMSG_CLOEXEC;
    if blocking == Blocking::DontWait {
        flags |= RecvFlags::DONTWAIT;
    }
    let mut space = [MaybeUninit::<u8>::uninit(); MAX_CMSG_SPACE];
    let mut control = if max_fds == 0 {
        RecvAncillaryBuffer::default()
    } else {
        RecvAncillaryBuffer::new(&mut space[..rustix::cmsg_space!(ScmRights(max_fds))])
    };
    let msg = loop {
        match rustix::net::recvmsg(sock.as_fd(), bufs, &mut control, flags) {
            Err(Errno::INTR) => continue,
            result => break result?,
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    // The control buffer is rounded up to alignment and may fit a few more
    // fds than asked for: enforce `max_fds` exactly.
    let mut fds_truncated = msg.flags.contains(ReturnFlags::CTRUNC);
    if fds.len() > max_fds {
        fds.truncate(max_fds);
        fds_truncated = true;
    }
    Ok(Received {
        bytes: msg.bytes,
        fds,
        fds_truncated,
    })
}

/// Waits until `fd` is readable, or has hung up or failed (so that end of
/// stream is seen), for at most `timeout` (`None` = forever).
///
/// Returns `false` on timeout. `EINTR` is retried with the remaining time.
pub fn poll_readable(fd: impl AsFd, timeout: Option<Duration>) -> io::Result<bool> {
    poll_one(fd.as_fd(), PollFlags::IN, timeout)
}

/// Waits until `fd` is writable, or has failed, for at most `timeout`
/// (`None` = forever).
///
/// Returns `false` on timeout. `EINTR` is retried with the remaining time.
pub fn poll_writable(fd: impl AsFd, timeout: Option<Duration>) -> io::Result<bool> {
    poll_one(fd.as_fd(), PollFlags::OUT, timeout)
}

/// Polls one fd for `events`; `HUP`/`ERR`/`NVAL` also count as ready.
fn poll_one(fd: BorrowedFd<'_>, events: PollFlags, timeout: Option<Duration>) -> io::Result<bool> {
    // A deadline too far away to represent is the same as no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let timespec = remaining.and_then(|d| Timespec::try_from(d).ok());
        let mut pollfds = [PollFd::from_borrowed_fd(fd, events)];
        match rustix::event::poll(&mut pollfds, timespec.as_ref()) {
            Ok(0) if remaining.is_some_and(|d| d.is_zero()) => return Ok(false),
            // Woken early by rounding: loop recomputes the remaining time.
            Ok(0) => continue,
            Ok(_) => return Ok(!pollfds[0].revents().is_empty()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `listen(sock, backlog)`: marks a bound socket as accepting connections,
/// or, on one that already listens, sets the length of its queue of
/// pending connections (a backlog past `i32::MAX` counts as `i32::MAX`).
pub fn listen(sock: impl AsFd, backlog: u32) -> io::Result<()> {
    rustix::net::listen(sock.as_fd(), i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(())
}

/// Switches `O_NONBLOCK` on or off for `fd`.
pub fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, nonblocking)?)
}

/// Shuts down the reading side, the writing side, or both of a socket
/// (`shutdown(2)`); the peer then sees end of stream and/or `EPIPE`.
pub fn shutdown(sock: impl AsFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => rustix::net::Shutdown::Read,
        std::net::Shutdown::Write => rustix::net::Shutdown::Write,
        std::net::Shutdown::Both => rustix::net::Shutdown::Both,
    };
    Ok(rustix::net::shutdown(sock, how)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::FdFlags;

    const SHORT: Duration = Duration::from_millis(50);
    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn bytes_roundtrip_and_eof() {
        let (a, b) = socketpair().unwrap();
        assert_eq!(send_with_fds(&a, b"hello", &[]).unwrap(), 5);
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(&b, &mut buf, 4).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert!(fds.is_empty());
        drop(a);
        assert!(poll_readable(&b, Some(LONG)).unwrap());
        assert_eq!(recv_with_fds(&b, &mut buf, 4).unwrap().0, 0);
    }

    #[test]
    fn socketpair_is_cloexec() {
        let (a, b) = socketpair().unwrap();
        for fd in [&a, &b] {
            let flags = rustix::io::fcntl_getfd(fd).unwrap();
            assert!(flags.contains(FdFlags::CLOEXEC));
        }
    }

    #[test]
    fn fds_travel_and_work() {
        let (a, b) = socketpair().unwrap();
        let (pipe_r, pipe_w) = rustix::pipe::pipe().unwrap();
        assert_eq!(send_with_fds(&a, b"x", &[pipe_w.as_fd()]).unwrap(), 1);
        drop(pipe_w);
        let mut buf = [0u8; 1];
        let (n, mut fds) = recv_with_fds(&b, &mut buf, 4).unwrap();
        assert_eq!((n, fds.len()), (1, 1));
        let received = fds.pop().unwrap();
        assert!(rustix::io::fcntl_getfd(&received)
            .unwrap()
            .contains(FdFlags::CLOEXEC));
        rustix::io::write(&received, b"via fd").unwrap();
        drop(received);
        let mut out = [0u8; 16];
        let n = rustix::io::read(&pipe_r, &mut out).unwrap();
        assert_eq!(&out[..n], b"via fd");
        // Every write end is closed now, the received one included.
        assert_eq!(rustix::io::read(&pipe_r, &mut out).unwrap(), 0);
    }

    #[test]
    fn too_many_fds_is_invalid_data_and_closes_them() {
        let (a, b) = socketpair().unwrap();
        let (pipe_r, pipe_w) = rustix::pipe::pipe().unwrap();
        let w2 = pipe_w.try_clone().unwrap();
        send_with_fds(&a, b"x", &[pipe_w.as_fd(), w2.as_fd()]).unwrap();
        drop((pipe_w, w2));
        let mut buf = [0u8; 1];
        let err = recv_with_fds(&b, &mut buf, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Both passed write ends were closed: the pipe reports end of file.
        let mut out = [0u8; 1];
        assert_eq!(rustix::io::read(&pipe_r, &mut out).unwrap(), 0);
    }

    #[test]
    fn unexpected_fds_with_max_zero_are_refused() {
        let (a, b) = socketpair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        send_with_fds(&a, b"x", &[file.as_fd()]).unwrap();
        let received =
            recv_vectored_with_fds(&b, &mut [IoSliceMut::new(&mut [0u8; 1])], 0, Blocking::Wait)
                .unwrap();
        assert_eq!(received.bytes, 1);
        assert!(received.fds_truncated);
        assert!(received.fds.is_empty());
    }

    #[test]
    fn more_than_scm_max_fd_is_einval() {
        let (a, _b) = socketpair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let fds = vec![file.as_fd(); MAX_FDS_PER_MESSAGE + 1];
        let err = send_with_fds(&a, b"x", &fds).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn max_fds_per_message_fit() {
        let (a, b) = socketpair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let fds = vec![file.as_fd(); MAX_FDS_PER_MESSAGE];
        send_with_fds(&a, b"x", &fds).unwrap();
        let (n, got) = recv_with_fds(&b, &mut [0u8; 1], usize::MAX).unwrap();
        assert_eq!((n, got.len()), (1, MAX_FDS_PER_MESSAGE));
    }

    #[test]
    fn vectored_send_joins_buffers() {
        let (a, b) = socketpair().unwrap();
        let bufs = [IoSlice::new(b"head"), IoSlice::new(b"body")];
        assert_eq!(
            send_vectored_with_fds(&a, &bufs, &[], Blocking::Wait).unwrap(),
            8
        );
        let mut head = [0u8; 4];
        let mut body = [0u8; 4];
        let mut iov = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut body)];
        let received = recv_vectored_with_fds(&b, &mut iov, 0, Blocking::Wait).unwrap();
        assert_eq!(received.bytes, 8);
        assert_eq!((&head, &body), (b"head", b"body"));
    }

    #[test]
    fn send_to_closed_peer_is_epipe_not_sigpipe() {
        let (a, b) = socketpair().unwrap();
        drop(b);
        let err = send_with_fds(&a, b"x", &[]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn dontwait_and_nonblocking_give_would_block() {
        let (a, b) = socketpair().unwrap();
        let mut buf = [0u8; 1];
        let err =
            recv_vectored_with_fds(&b, &mut [IoSliceMut::new(&mut buf)], 0, Blocking::DontWait)
                .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        set_nonblocking(&b, true).unwrap();
        let err = recv_with_fds(&b, &mut buf, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        set_nonblocking(&b, false).unwrap();
        send_with_fds(&a, b"z", &[]).unwrap();
        assert_eq!(recv_with_fds(&b, &mut buf, 0).unwrap().0, 1);
    }

    #[test]
    fn poll_times_out_then_sees_data() {
        let (a, b) = socketpair().unwrap();
        let start = Instant::now();
        assert!(!poll_readable(&b, Some(SHORT)).unwrap());
        assert!(start.elapsed() >= SHORT);
        assert!(!poll_readable(&b, Some(Duration::ZERO)).unwrap());
        assert!(poll_writable(&a, Some(LONG)).unwrap());
        send_with_fds(&a, b"!", &[]).unwrap();
        assert!(poll_readable(&b, Some(LONG)).unwrap());
        assert!(poll_readable(&b, None).unwrap());
    }

    #[test]
    fn shutdown_write_is_eof_for_peer() {
        let (a, b) = socketpair().unwrap();
        shutdown(&a, std::net::Shutdown::Write).unwrap();
        assert!(poll_readable(&b, Some(LONG)).unwrap());
        assert_eq!(recv_with_fds(&b, &mut [0u8; 4], 0).unwrap().0, 0);
    }
}
