//! The server side of a managed `Condition`: an owned, reentrant lock plus
//! a FIFO of waiters, each woken by its own ticket so `notify(n)` wakes
//! exactly the `n` oldest waiters.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::wait::{caller_gone, wait_until};
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret, Owner};

#[derive(Debug, Default)]
struct State {
    owner: Option<Owner>,
    depth: u64,
    next_ticket: u64,
    waiting: VecDeque<u64>,
    notified: HashSet<u64>,
}

struct Condition {
    state: Mutex<State>,
    cv: Condvar,
}

pub(crate) fn create(_: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(Arc::new(Condition {
        state: Mutex::new(State::default()),
        cv: Condvar::new(),
    }))
}

fn runtime(msg: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Runtime, msg)
}

impl Condition {
    fn acquire(
        &self,
        owner: Owner,
        timeout: Option<Duration>,
        cx: &Cx<'_>,
    ) -> Result<bool, RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.owner == Some(owner) {
            st.depth += 1;
            return Ok(true);
        }
        let (mut st, ok) = wait_until(cx, &self.cv, st, timeout, |s| s.owner.is_none())?;
        if ok {
            st.owner = Some(owner);
            st.depth = 1;
        }
        Ok(ok)
    }

    fn release(&self, owner: Owner) -> Result<(), RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.owner != Some(owner) {
            return Err(runtime("cannot release un-acquired lock"));
        }
        st.depth -= 1;
        if st.depth == 0 {
            st.owner = None;
            self.cv.notify_all();
        }
        Ok(())
    }

    fn wait(
        &self,
        owner: Owner,
        timeout: Option<Duration>,
        cx: &Cx<'_>,
    ) -> Result<bool, RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.owner != Some(owner) {
            return Err(runtime("cannot wait on un-acquired lock"));
        }
        let depth = st.depth;
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.waiting.push_back(ticket);
        st.owner = None;
        st.depth = 0;
        self.cv.notify_all();
        let result = wait_until(cx, &self.cv, st, timeout, |s| s.notified.contains(&ticket));
        let (mut st, notified) = match result {
            Ok(r) => r,
            Err(e) => {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                st.waiting.retain(|&t| t != ticket);
                st.notified.remove(&ticket);
                return Err(e);
            }
        };
        st.waiting.retain(|&t| t != ticket);
        st.notified.remove(&ticket);
        // Take the lock back, however long it takes (Python does the same).
        let (mut st, _) =
            wait_until(cx, &self.cv, st, None, |s| s.owner.is_none()).map_err(|_| caller_gone())?;
        st.owner = Some(owner);
        st.depth = depth;
        Ok(notified)
    }

    fn notify(&self, owner: Owner, n: Option<u64>) -> Result<(), RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.owner != Some(owner) {
            return Err(runtime("cannot notify on un-acquired lock"));
        }
        let n = n.map_or(usize::MAX, |n| n as usize);
        let pending: Vec<u64> = st
            .waiting
            .iter()
            .copied()
            .filter(|t| !st.notified.contains(t))
            .take(n)
            .collect();
        st.notified.extend(pending);
        self.cv.notify_all();
        Ok(())
    }
}

impl Referent for Condition {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        match method {
            "acquire" => {
                let (owner, blocking, timeout): (Owner, bool, Option<Duration>) = args(a, method)?;
                let timeout = if blocking {
                    timeout
                } else {
                    Some(Duration::ZERO)
                };
                ret(&self.acquire(owner, timeout, cx)?)
            }
            "release" => ret(&self.release(args(a, method)?)?),
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
