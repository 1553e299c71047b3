//! The server side of a managed `Barrier`: `parties` callers meet, each gets
//! its arrival index; a timeout, `abort` or `reset` breaks the waiters with
//! `BrokenBarrierError`, as in `threading.Barrier`. An optional action (a
//! function registered with the manager's builder) runs once per
//! generation, in the server, by the last caller to arrive, before anyone
//! is let through; an optional default timeout applies to `wait(None)`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::wait::wait_until;
use super::{no_method, Cx, Referent, Server};
use crate::barrier_action::ActionFn;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

#[derive(Debug)]
struct State {
    parties: u64,
    count: u64,
    generation: u64,
    broken: bool,
}

struct Barrier {
    state: Mutex<State>,
    cv: Condvar,
    /// Used by `wait(None)`.
    timeout: Option<Duration>,
    action: Option<ActionFn>,
}

/// The optional part of the creation arguments, after `parties`: a default
/// timeout and the key of a registered action. Absent (the bytes end after
/// `parties`) means neither, so older clients keep working.
type Options = (Option<Duration>, Option<u64>);

pub(crate) fn create(init: &[u8], server: &Server) -> Result<Arc<dyn Referent>, RemoteError> {
    let (parties, rest) = postcard::take_from_bytes::<u64>(init)
        .map_err(|e| RemoteError::protocol(format!("bad arguments for 'Barrier': {e}")))?;
    let (timeout, key): Options = if rest.is_empty() {
        (None, None)
    } else {
        args(rest, "Barrier")?
    };
    let action = match key {
        None => None,
        Some(k) => Some(server.action(k).ok_or_else(|| {
            RemoteError::protocol(
                "the barrier action is not registered with this manager \
                 (ManagerBuilder::barrier_action)",
            )
        })?),
    };
    if parties == 0 {
        return Err(RemoteError::new(
            RemoteErrorKind::Value,
            "parties must be > 0",
        ));
    }
    Ok(Arc::new(Barrier {
        state: Mutex::new(State {
            parties,
            count: 0,
            generation: 0,
            broken: false,
        }),
        cv: Condvar::new(),
        timeout,
        action,
    }))
}

fn broken() -> RemoteError {
    RemoteError::new(RemoteErrorKind::BrokenBarrier, "barrier is broken")
}

impl Barrier {
    fn wait(&self, timeout: Option<Duration>, cx: &Cx<'_>) -> Result<u64, RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.broken {
            return Err(broken());
        }
        let timeout = timeout.or(self.timeout);
        let index = st.count;
        st.count += 1;
        if st.count == st.parties {
            // The last arrival runs the action first, as `threading.Barrier`
            // does; the others are still waiting. If it panics, the barrier
            // breaks and this caller gets the panic's message.
            if let Some(action) = self.action {
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| action(()))) {
                    st.broken = true;
                    st.count -= 1;
                    self.cv.notify_all();
                    return Err(RemoteError::new(
                        RemoteErrorKind::Runtime,
                        format!("the barrier action panicked: {}", panic_message(&*payload)),
                    ));
                }
            }
            st.count = 0;
            st.generation += 1;
            self.cv.notify_all();
            return Ok(index);
        }
        let generation = st.generation;
        let result = wait_until(cx, &self.cv, st, timeout, |s| {
            s.generation != generation || s.broken
        });
        match result {
            Ok((st, _)) if st.generation != generation => Ok(index),
            Ok((mut st, _)) => {
                // Timed out or broken: the barrier is broken for everyone.
                st.broken = true;
                st.count = st.count.saturating_sub(1);
                self.cv.notify_all();
                Err(broken())
            }
            Err(e) => {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.generation == generation {
                    st.broken = true;
                    st.count = st.count.saturating_sub(1);
                    self.cv.notify_all();
                }
                Err(e)
            }
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    mp_process::panic_message(payload).unwrap_or_else(|| "a panic".to_string())
}

impl Referent for Barrier {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        match method {
            "wait" => ret(&self.wait(args(a, method)?, cx)?),
            "abort" => {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                st.broken = true;
                self.cv.notify_all();
                ret(&())
            }
            "reset" => {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.count > 0 {
                    // Waiters of this generation see it broken, then leave.
                    st.broken = true;
                    self.cv.notify_all();
                    let (mut st2, _) =
                        wait_until(cx, &self.cv, st, Some(Duration::from_secs(5)), |s| {
                            s.count == 0
                        })?;
                    st2.broken = false;
                    return ret(&());
                }
                st.broken = false;
                ret(&())
            }
            "parties" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).parties),
            "n_waiting" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).count),
            "broken" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).broken),
            other => Err(no_method("Barrier", other)),
        }
    }
}
