//! The resource tracker process: receives the registration table, watches
//! each creator that announced itself with a pidfd, and unlinks the names a
//! creator left registered when it ends.
//!
//! It ends when every client has closed its end of the socket (end of
//! stream), after unlinking what is still registered. It ignores `SIGINT`
//! and `SIGTERM` (a Ctrl-C or a `kill` of the process group reaches its
//! clients, whose names it must then clean up). It writes one byte,
//! [`READY`], when it starts, and nothing after, so a client never waits on
//! it once started.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use super::message::{decode_watch, WATCH_LEN};
use super::table::Table;
use crate::ident::ProcessIdent;
use crate::region::Region;

/// The byte a tracker writes once it runs.
pub(crate) const READY: u8 = b'!';
/// How long the tracker waits for its table after [`READY`].
const TABLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Prints CPython's warning for `names` that were left behind and unlinks
/// them.
fn clean_up(names: &[String], when: &str) {
    for name in names {
        let _ = mp_sys::memfd::shm_unlink(name);
    }
    if !names.is_empty() {
        eprintln!(
            "resource_tracker: There appear to be {} leaked shared_memory objects to clean up {when}: {names:?}",
            names.len()
        );
    }
}

/// Reads everything the socket holds now; `true` at end of stream.
fn drain(sock: &OwnedFd, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match mp_sys::fd::read(sock, &mut chunk) {
            Ok(0) => return true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            // Any other error: no client can reach us any more.
            Err(_) => return true,
        }
    }
}

/// Receives the table's fd, the first message after [`READY`].
fn receive_table(sock: &OwnedFd) -> Option<Table> {
    if !mp_sys::socket::poll_readable(sock, Some(TABLE_TIMEOUT)).ok()? {
        return None;
    }
    let mut tag = [0u8; 1];
    let (n, mut fds) = mp_sys::socket::recv_with_fds(sock, &mut tag, 1).ok()?;
    if n != 1 || tag[0] != b'T' || fds.len() != 1 {
        return None;
    }
    Table::from_region(Region::from_fd(fds.pop()?).ok()?)
}

/// Starts watching `creator`; `false` if it has already ended (or its pid
/// names another process now).
fn watch(watched: &mut Vec<(u64, OwnedFd)>, creator: u64) -> bool {
    if watched.iter().any(|(c, _)| *c == creator) {
        return true;
    }
    let ident = ProcessIdent::from_bits(creator);
    // Open first, then check that the pid still names the creator: the
    // pidfd then refers to it, whatever happens to the pid.
    match mp_sys::process::pidfd_open(ident.pid()) {
        Ok(fd) if ProcessIdent::of(ident.pid()).is_ok_and(|now| now == ident) => {
            watched.push((creator, fd));
            true
        }
        _ => false,
    }
}

/// The tracker process's entry point (a [`mp_sys::bootstrap::ChildMain`]);
/// `sock` is its end of the socket its clients share.
pub(crate) fn serve(sock: OwnedFd) -> i32 {
    let _ = mp_sys::signal::ignore(mp_sys::signal::SIGINT);
    let _ = mp_sys::signal::ignore(mp_sys::signal::SIGTERM);
    if mp_sys::fd::write_all(&sock, &[READY]).is_err() {
        return 1;
    }
    let Some(table) = receive_table(&sock) else {
        return 1;
    };
    if mp_sys::socket::set_nonblocking(&sock, true).is_err() {
        return 1;
    }
    let mut watched: Vec<(u64, OwnedFd)> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let mut ended = {
            let mut fds = Vec::with_capacity(1 + watched.len());
            fds.push(sock.as_fd());
            fds.extend(watched.iter().map(|(_, fd)| fd.as_fd()));
            let Ok(ready) = mp_sys::fd::poll_readable_any(&fds, None) else {
                return 1;
            };
            ready[1..]
                .iter()
                .zip(&watched)
                .filter(|(ready, _)| **ready)
                .map(|(_, (creator, _))| *creator)
                .collect::<Vec<u64>>()
        };
        let eof = drain(&sock, &mut buf);
        let mut at = 0;
        loop {
            match decode_watch(&buf[at..]) {
                Ok(Some(creator)) => {
                    if !watch(&mut watched, creator) {
                        ended.push(creator);
                    }
                    at += WATCH_LEN;
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream cannot be resynchronised; the table is
                    // still good, so clean up at the end as usual.
                    eprintln!("resource_tracker: {e}; no longer watching new processes");
                    buf.clear();
                    at = 0;
                    break;
                }
            }
        }
        buf.drain(..at);
        for creator in ended {
            watched.retain(|(c, _)| *c != creator);
            let pid = ProcessIdent::from_bits(creator).pid();
            clean_up(
                &table.take(|c, _| c == creator),
                &format!("after process {pid} ended"),
            );
        }
        if eof {
            let mut left = table.take(|_, _| true);
            left.sort();
            clean_up(&left, "at shutdown");
            return 0;
        }
    }
}
