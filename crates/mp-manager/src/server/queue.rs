//! The server side of a managed `Queue`/`JoinableQueue` (Python's
//! `queue.Queue`): a FIFO of encoded items, optionally bounded, with
//! `task_done`/`join` accounting.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_bytes::ByteBuf;

use super::wait::wait_until;
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

#[derive(Debug)]
struct State {
    items: VecDeque<ByteBuf>,
    /// 0 = unbounded.
    maxsize: u64,
    unfinished: u64,
}

impl State {
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() as u64 >= self.maxsize
    }
}

struct Queue {
    state: Mutex<State>,
    cv: Condvar,
}

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let maxsize: u64 = args(init, "Queue")?;
    Ok(Arc::new(Queue {
        state: Mutex::new(State {
            items: VecDeque::new(),
            maxsize,
            unfinished: 0,
        }),
        cv: Condvar::new(),
    }))
}

impl Referent for Queue {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "put" => {
                let (item, timeout): (ByteBuf, Option<Duration>) = args(a, method)?;
                let (mut st, ok) = wait_until(cx, &self.cv, st, timeout, |s| !s.full())?;
                if !ok {
                    return Err(RemoteError::new(RemoteErrorKind::Full, "queue is full"));
                }
                st.items.push_back(item);
                st.unfinished += 1;
                self.cv.notify_all();
                ret(&())
            }
            "get" => {
                let timeout: Option<Duration> = args(a, method)?;
                let (mut st, ok) = wait_until(cx, &self.cv, st, timeout, |s| !s.items.is_empty())?;
                match st.items.pop_front() {
                    Some(item) if ok => {
                        self.cv.notify_all();
                        ret(&item)
                    }
                    _ => Err(RemoteError::new(RemoteErrorKind::Empty, "queue is empty")),
                }
            }
            "qsize" => ret(&(st.items.len() as u64)),
            "empty" => ret(&st.items.is_empty()),
            "full" => ret(&st.full()),
            "task_done" => {
                let mut st = st;
                if st.unfinished == 0 {
                    return Err(RemoteError::new(
                        RemoteErrorKind::Value,
                        "task_done() called too many times",
                    ));
                }
                st.unfinished -= 1;
                self.cv.notify_all();
                ret(&())
            }
            "join" => {
                let timeout: Option<Duration> = args(a, method)?;
                let (_guard, ok) = wait_until(cx, &self.cv, st, timeout, |s| s.unfinished == 0)?;
                ret(&ok)
            }
            other => Err(no_method("Queue", other)),
        }
    }
}
