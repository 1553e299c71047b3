//! The server side of managed `Lock`, `RLock`, `Semaphore`,
//! `BoundedSemaphore` (one "acquirer" state machine, as Python's
//! `AcquirerProxy` serves all four) and `Event`, with `threading`'s rules
//! and messages.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::wait::wait_until;
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret, Owner};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lock,
    RLock,
    Semaphore { bound: Option<u64> },
}

#[derive(Debug)]
struct State {
    /// Free slots: 1/0 for locks, the counter for semaphores.
    value: u64,
    /// The RLock's holder.
    owner: Option<Owner>,
    /// The RLock's recursion depth.
    depth: u64,
}

/// A managed `Lock`, `RLock`, `Semaphore` or `BoundedSemaphore`.
pub(crate) struct Acquirer {
    kind: Kind,
    state: Mutex<State>,
    cv: Condvar,
}

fn acquirer(kind: Kind, value: u64) -> Arc<dyn Referent> {
    Arc::new(Acquirer {
        kind,
        state: Mutex::new(State {
            value,
            owner: None,
            depth: 0,
        }),
        cv: Condvar::new(),
    })
}

pub(crate) fn create_lock(_: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(acquirer(Kind::Lock, 1))
}

pub(crate) fn create_rlock(_: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(acquirer(Kind::RLock, 1))
}

pub(crate) fn create_semaphore(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(acquirer(
        Kind::Semaphore { bound: None },
        args(init, "Semaphore")?,
    ))
}

pub(crate) fn create_bounded_semaphore(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let value: u64 = args(init, "BoundedSemaphore")?;
    Ok(acquirer(Kind::Semaphore { bound: Some(value) }, value))
}

fn runtime(msg: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Runtime, msg)
}

impl Acquirer {
    pub(crate) fn acquire(
        &self,
        owner: Owner,
        blocking: bool,
        timeout: Option<Duration>,
        cx: &Cx<'_>,
    ) -> Result<bool, RemoteError> {
        let timeout = if blocking {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.kind == Kind::RLock && st.owner == Some(owner) {
            st.depth += 1;
            return Ok(true);
        }
        let (mut st, ok) = wait_until(cx, &self.cv, st, timeout, |s| s.value > 0)?;
        if ok {
            st.value -= 1;
            if self.kind == Kind::RLock {
                st.owner = Some(owner);
                st.depth = 1;
            }
        }
        Ok(ok)
    }

    pub(crate) fn release(&self, owner: Owner) -> Result<(), RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match self.kind {
            Kind::Lock => {
                if st.value > 0 {
                    return Err(runtime("release unlocked lock"));
                }
                st.value = 1;
            }
            Kind::RLock => {
                if st.owner != Some(owner) {
                    return Err(runtime("cannot release un-acquired lock"));
                }
                st.depth -= 1;
                if st.depth > 0 {
                    return Ok(());
                }
                st.owner = None;
                st.value = 1;
            }
            Kind::Semaphore { bound } => {
                if bound.is_some_and(|b| st.value >= b) {
                    return Err(RemoteError::new(
                        RemoteErrorKind::Value,
                        "Semaphore released too many times",
                    ));
                }
                st.value += 1;
            }
        }
        self.cv.notify_one();
        Ok(())
    }
}

/// What a condition needs of its lock (`threading.Condition`'s
/// `_is_owned`, `_release_save`, `_acquire_restore`).
impl Acquirer {
    /// Whether `owner` may wait or notify: an `RLock` held by `owner`, or a
    /// `Lock` held by anyone (a `Lock` has no owner; CPython checks the
    /// same way).
    pub(crate) fn is_owned(&self, owner: Owner) -> bool {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match self.kind {
            Kind::RLock => st.owner == Some(owner),
            _ => st.value == 0,
        }
    }

    /// Releases the lock completely (every `RLock` level); returns the
    /// depth to restore.
    pub(crate) fn release_save(&self, owner: Owner) -> Result<u64, RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let depth = match self.kind {
            Kind::RLock if st.owner != Some(owner) => {
                return Err(runtime("cannot release un-acquired lock"))
            }
            Kind::RLock => std::mem::replace(&mut st.depth, 0),
            _ if st.value > 0 => return Err(runtime("release unlocked lock")),
            _ => 1,
        };
        st.owner = None;
        st.value = 1;
        self.cv.notify_one();
        Ok(depth)
    }

    /// Takes the lock back for `owner` at `depth`, however long it takes
    /// (an error only if the caller hangs up meanwhile).
    pub(crate) fn acquire_restore(
        &self,
        owner: Owner,
        depth: u64,
        cx: &Cx<'_>,
    ) -> Result<(), RemoteError> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut st, _) = wait_until(cx, &self.cv, st, None, |s| s.value > 0)?;
        st.value -= 1;
        if self.kind == Kind::RLock {
            st.owner = Some(owner);
            st.depth = depth;
        }
        Ok(())
    }
}

impl Referent for Acquirer {
    fn as_lock(self: Arc<Self>) -> Option<Arc<Acquirer>> {
        matches!(self.kind, Kind::Lock | Kind::RLock).then_some(self)
    }

    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        match method {
            "acquire" => {
                let (owner, blocking, timeout): (Owner, bool, Option<Duration>) = args(a, method)?;
                ret(&self.acquire(owner, blocking, timeout, cx)?)
            }
            "release" => {
                self.release(args(a, method)?)?;
                ret(&())
            }
            "get_value" => {
                let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                ret(&st.value)
            }
            other => Err(no_method("acquirer", other)),
        }
    }
}

struct Event {
    flag: Mutex<bool>,
    cv: Condvar,
}

pub(crate) fn create_event(_: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(Arc::new(Event {
        flag: Mutex::new(false),
        cv: Condvar::new(),
    }))
}

impl Referent for Event {
    fn call(&self, method: &str, a: &[u8], cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut flag = self.flag.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "set" => {
                *flag = true;
                self.cv.notify_all();
                ret(&())
            }
            "clear" => {
                *flag = false;
                ret(&())
            }
            "is_set" => ret(&*flag),
            "wait" => {
                let timeout: Option<Duration> = args(a, method)?;
                let (_guard, ok) = wait_until(cx, &self.cv, flag, timeout, |f| *f)?;
                ret(&ok)
            }
            other => Err(no_method("Event", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::from_bytes;
    use crate::server::wait::tests::pair;
    use std::os::fd::AsFd;

    fn call<T: serde::de::DeserializeOwned>(
        r: &dyn Referent,
        cx: &Cx<'_>,
        method: &str,
        a: impl serde::Serialize,
    ) -> Result<T, RemoteError> {
        let bytes = postcard::to_stdvec(&a).unwrap();
        r.call(method, &bytes, cx).map(|b| from_bytes(&b).unwrap())
    }

    #[test]
    fn rlock_is_owned_and_reentrant() {
        let (a, _b) = pair();
        let cx = Cx::new(a.as_fd());
        let r = create_rlock(&[]).unwrap();
        let me = Owner {
            run: 1,
            pid: 1,
            thread: 1,
        };
        let other = Owner {
            run: 2,
            pid: 1,
            thread: 1,
        };
        let now = Some(Duration::ZERO);
        assert!(call::<bool>(&*r, &cx, "acquire", (me, true, now)).unwrap());
        assert!(call::<bool>(&*r, &cx, "acquire", (me, true, now)).unwrap());
        assert!(!call::<bool>(&*r, &cx, "acquire", (other, false, None::<Duration>)).unwrap());
        let e = call::<()>(&*r, &cx, "release", other).unwrap_err();
        assert_eq!(e.message, "cannot release un-acquired lock");
        call::<()>(&*r, &cx, "release", me).unwrap();
        call::<()>(&*r, &cx, "release", me).unwrap();
        assert!(call::<bool>(&*r, &cx, "acquire", (other, true, now)).unwrap());
    }

    #[test]
    fn lock_and_bounded_semaphore_errors() {
        let (a, _b) = pair();
        let cx = Cx::new(a.as_fd());
        let me = Owner {
            run: 1,
            pid: 1,
            thread: 1,
        };
        let l = create_lock(&[]).unwrap();
        let e = call::<()>(&*l, &cx, "release", me).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (RemoteErrorKind::Runtime, "release unlocked lock")
        );
        let s = create_bounded_semaphore(&postcard::to_stdvec(&2u64).unwrap()).unwrap();
        assert!(call::<bool>(&*s, &cx, "acquire", (me, true, None::<Duration>)).unwrap());
        call::<()>(&*s, &cx, "release", me).unwrap();
        let e = call::<()>(&*s, &cx, "release", me).unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::Value);
        assert!(call::<()>(&*s, &cx, "bogus", ()).is_err());
    }
}
