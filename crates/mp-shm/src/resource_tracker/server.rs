//! The resource tracker process: reads registrations from its clients,
//! watches each creator with a pidfd, and unlinks the names whose creator
//! ended without unregistering them.
//!
//! It ends when every client has closed its end of the socket (end of
//! stream), after unlinking what is still registered. It ignores `SIGINT`
//! and `SIGTERM` (a Ctrl-C or a `kill` of the process group reaches its
//! clients, whose names it must then clean up). It writes one byte,
//! [`READY`], when it starts, and nothing after, so a client never waits on
//! it once started.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;

use super::message::{decode, Message, Op};
use crate::ident::ProcessIdent;

/// The byte a tracker writes once it serves.
pub(crate) const READY: u8 = b'!';

/// The tracker's state: registered names and the creators it watches.
#[derive(Default)]
struct Registry {
    /// Name → the creator's `ProcessIdent` bits.
    names: HashMap<String, u64>,
    /// Creators with registered names, each with a pidfd (readable once it
    /// has ended).
    watched: Vec<(u64, OwnedFd)>,
}

impl Registry {
    fn apply(&mut self, m: Message) {
        match m.op {
            Op::Register => {
                self.names.insert(m.name, m.creator);
            }
            Op::Unregister => {
                self.names.remove(&m.name);
            }
        }
    }

    /// Starts watching the creators of registered names not yet watched;
    /// returns those that have already ended (or whose pid now names
    /// another process).
    fn watch_new_creators(&mut self) -> Vec<u64> {
        let mut ended = Vec::new();
        let creators: Vec<u64> = self.names.values().copied().collect();
        for creator in creators {
            if ended.contains(&creator) || self.watched.iter().any(|(c, _)| *c == creator) {
                continue;
            }
            let ident = ProcessIdent::from_bits(creator);
            // Open first, then check that the pid still names the creator:
            // the pidfd then refers to it, whatever happens to the pid.
            match mp_sys::process::pidfd_open(ident.pid()) {
                Ok(fd) if ProcessIdent::of(ident.pid()).is_ok_and(|now| now == ident) => {
                    self.watched.push((creator, fd));
                }
                _ => ended.push(creator),
            }
        }
        ended
    }

    /// Unlinks the names `creator` left registered; returns them.
    fn release(&mut self, creator: u64) -> Vec<String> {
        self.watched.retain(|(c, _)| *c != creator);
        let left: Vec<String> = self
            .names
            .iter()
            .filter(|(_, c)| **c == creator)
            .map(|(n, _)| n.clone())
            .collect();
        for name in &left {
            self.names.remove(name);
            let _ = mp_sys::memfd::shm_unlink(name);
        }
        left
    }
}

/// Prints CPython's warning for `names` that were left behind.
fn warn(names: &[String], when: &str) {
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
        match rustix::io::read(sock, &mut chunk) {
            Ok(0) => return true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return false,
            // Any other error: no client can reach us any more.
            Err(_) => return true,
        }
    }
}

/// The tracker process's entry point (a [`mp_sys::bootstrap::ChildMain`]);
/// `sock` is its end of the socket its clients share.
pub(crate) fn serve(sock: OwnedFd) -> i32 {
    let _ = mp_sys::signal::ignore(mp_sys::signal::SIGINT);
    let _ = mp_sys::signal::ignore(mp_sys::signal::SIGTERM);
    if rustix::io::write(&sock, &[READY]) != Ok(1)
        || mp_sys::socket::set_nonblocking(&sock, true).is_err()
    {
        return 1;
    }
    let mut registry = Registry::default();
    let mut buf = Vec::new();
    loop {
        let mut ended = {
            let mut fds = Vec::with_capacity(1 + registry.watched.len());
            fds.push(PollFd::new(&sock, PollFlags::IN));
            fds.extend(
                registry
                    .watched
                    .iter()
                    .map(|(_, fd)| PollFd::new(fd, PollFlags::IN)),
            );
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(_) => return 1,
            }
            fds[1..]
                .iter()
                .zip(&registry.watched)
                .filter(|(fd, _)| !fd.revents().is_empty())
                .map(|(_, (creator, _))| *creator)
                .collect::<Vec<u64>>()
        };
        // Everything a creator sent before it ended is in the socket by the
        // time its pidfd is readable: read it all before releasing anyone.
        let eof = drain(&sock, &mut buf);
        let mut at = 0;
        loop {
            match decode(&buf[at..]) {
                Ok(Some((m, n))) => {
                    registry.apply(m);
                    at += n;
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream cannot be resynchronised. Unlinking on a
                    // guess could remove live blocks: stop tracking instead.
                    eprintln!("resource_tracker: {e}; no longer tracking shared memory");
                    return 1;
                }
            }
        }
        buf.drain(..at);
        ended.extend(registry.watch_new_creators());
        for creator in ended {
            let pid = ProcessIdent::from_bits(creator).pid();
            warn(
                &registry.release(creator),
                &format!("after process {pid} ended"),
            );
        }
        if eof {
            let mut left: Vec<String> = registry.names.drain().map(|(n, _)| n).collect();
            left.sort();
            for name in &left {
                let _ = mp_sys::memfd::shm_unlink(name);
            }
            warn(&left, "at shutdown");
            return 0;
        }
    }
}
