//! The server side of a managed `Condition`: a lock (its own reentrant one,
//! or a managed `Lock`/`RLock` it was created on, Python's
//! `manager.Condition(lock)`) plus a FIFO of waiters, each woken by its own
//! ticket so `notify(n)` wakes exactly the `n` oldest waiters.
//!
//! A waiter takes its ticket before it lets go of the lock, and a notifier
//! must hold the lock, so no notification can fall between the two.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::sync::{create_rlock, Acquirer};
use super::wait::wait_until;
use super::{no_method, Cx, Referent, Server};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret, Owner};

#[derive(Debug, Default)]
struct Tickets {
    next: u64,
    waiting: VecDeque<u64>,
    notified: HashSet<u64>,
}

struct Condition {
    lock: Arc<Acquirer>,
    tickets: Mutex<Tickets>,
    cv: Condvar,
}

/// No arguments (empty bytes, as before locks could be given): a new
/// reentrant lock of its own; otherwise the id of a `Lock` or `RLock` in
/// this server.
pub(crate) fn create(init: &[u8], server: &Server) -> Result<Arc<dyn Referent>, RemoteError> {
    let lock = if init.is_empty() {
        create_rlock(init)?.as_lock()
    } else {
        let id: u128 = args(init, "Condition")?;
        let (typeid, referent) = server.object(id).ok_or_else(|| {
            RemoteError::protocol(format!("no object with id {id:x} in this manager"))
        })?;
        if !matches!(typeid, "Lock" | "RLock") {
            return Err(RemoteError::new(
                RemoteErrorKind::Type,
                format!("a Condition needs a Lock or an RLock, not a {typeid}"),
            ));
        }
        referent.as_lock()
    };
    let lock = lock.ok_or_else(|| RemoteError::protocol("the condition's lock is not a lock"))?;
    Ok(Arc::new(Condition {
        lock,
        tickets: Mutex::new(Tickets::default()),
        cv: Condvar::new(),
    }))
}

fn runtime(msg: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Runtime, msg)
}

impl Condition {
    fn forget(&self, ticket: u64) {
        let mut t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        t.waiting.retain(|&x| x != ticket);
        t.notified.remove(&ticket);
    }

    fn wait(
        &self,
        owner: Owner,
        timeout: Option<Duration>,
        cx: &Cx<'_>,
    ) -> Result<bool, RemoteError> {
        if !self.lock.is_owned(owner) {
            return Err(runtime("cannot wait on un-acquired lock"));
        }
        let ticket = {
            let mut t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
            let ticket = t.next;
            t.next += 1;
            t.waiting.push_back(ticket);
            ticket
        };
        let depth = match self.lock.release_save(owner) {
            Ok(d) => d,
            Err(e) => {
                self.forget(ticket);
                return Err(e);
            }
        };
        let t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let notified = wait_until(cx, &self.cv, t, timeout, |t| t.notified.contains(&ticket)).map(
            |(t, notified)| {
                drop(t);
                notified
            },
        );
        self.forget(ticket);
        let notified = notified?;
        // Take the lock back, however long it takes (Python does the same).
        self.lock.acquire_restore(owner, depth, cx)?;
        Ok(notified)
    }

    fn notify(&self, owner: Owner, n: Option<u64>) -> Result<(), RemoteError> {
        if !self.lock.is_owned(owner) {
            return Err(runtime("cannot notify on un-acquired lock"));
        }
        let mut t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let n = n.map_or(usize::MAX, |n| n as usize);
        let pending: Vec<u64> = t
            .waiting
            .iter()
            .copied()
            .filter(|x| !t.notified.contains(x))
            .take(n)
            .collect();
        t.notified.extend(pending);
        self.cv.notify_all();
        Ok(())
    }
}

impl Referent for Condition {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        match method {
            "acquire" => {
                let (owner, blocking, timeout): (Owner, bool, Option<Duration>) = args(a, method)?;
                ret(&self.lock.acquire(owner, blocking, timeout, cx)?)
            }
            "release" => ret(&self.lock.release(args(a, method)?)?),
            "wait" => {
                let (owner, timeout): (Owner, Option<Duration>) = args(a, method)?;
                ret(&self.wait(owner, timeout, cx)?)
            }
            "notify" => {
                let (owner, n): (Owner, u64) = args(a, method)?;
                ret(&self.notify(owner, Some(n))?)
            }
            "notify_all" => ret(&self.notify(args(a, method)?, None)?),
            other => Err(no_method("Condition", other)),
        }
    }
}
