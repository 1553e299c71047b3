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

/// Filling: parties arrive and wait for the last one. Each generation has
/// its own outcome, set once when it ends; the state then starts a fresh
/// generation at once (count 0), so there is no draining phase in which a
/// new arrival could see the old generation's end.
#[derive(Debug)]
struct State {
    parties: u64,
    /// Arrivals in the current generation still waiting.
    count: u64,
    /// The current generation's outcome, shared with its waiters.
    current: Arc<Outcome>,
    /// Set by a timeout, `abort` or a failed action; cleared by `reset`.
    broken: bool,
}

/// How a generation ended: `None` while it fills. Only read and written
/// with the barrier's state locked.
#[derive(Debug, Default)]
struct Outcome(Mutex<Option<End>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The last party arrived: everyone passes.
    Tripped,
    /// A timeout, `abort`, a failed action or `reset` ended it: every
    /// waiter of it gets `BrokenBarrier`.
    Broken,
}

impl Outcome {
    fn get(&self) -> Option<End> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Ends the current generation with `end` and starts a fresh one.
    fn end_generation(&mut self, end: End) {
        *self.current.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(end);
        self.current = Arc::new(Outcome::default());
        self.count = 0;
    }
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
            current: Arc::new(Outcome::default()),
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
                    self.break_barrier(&mut st);
                    return Err(RemoteError::new(
                        RemoteErrorKind::Runtime,
                        format!("the barrier action panicked: {}", panic_message(&*payload)),
                    ));
                }
            }
            st.end_generation(End::Tripped);
            self.cv.notify_all();
            return Ok(index);
        }
        let mine = st.current.clone();
        let result = wait_until(cx, &self.cv, st, timeout, |_| mine.get().is_some());
        match result {
            Ok((_, true)) if mine.get() == Some(End::Tripped) => Ok(index),
            Ok((_, true)) => Err(broken()),
            Ok((mut st, false)) => {
                // Timed out: the barrier is broken for everyone.
                self.break_barrier(&mut st);
                Err(broken())
            }
            Err(e) => {
                // The caller went away: it cannot pass, so nobody can.
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if mine.get().is_none() {
                    self.break_barrier(&mut st);
                }
                Err(e)
            }
        }
    }

    /// Breaks the barrier: the current generation's waiters leave with
    /// `BrokenBarrier`, and so does every `wait` until `reset`.
    fn break_barrier(&self, st: &mut State) {
        st.broken = true;
        st.end_generation(End::Broken);
        self.cv.notify_all();
    }

    /// `threading.Barrier.reset`: the current waiters leave with
    /// `BrokenBarrier` and the barrier is usable again at once, so a party
    /// that was released by the reset and waits again waits in the fresh
    /// generation (it is not told the barrier is broken).
    fn reset(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.broken = false;
        st.end_generation(End::Broken);
        self.cv.notify_all();
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
                self.break_barrier(&mut st);
                ret(&())
            }
            "reset" => {
                self.reset();
                ret(&())
            }
            "parties" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).parties),
            "n_waiting" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).count),
            "broken" => ret(&self.state.lock().unwrap_or_else(|e| e.into_inner()).broken),
            other => Err(no_method("Barrier", other)),
        }
    }
}
