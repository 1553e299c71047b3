//! Who this process is: its name, identity (for child numbering), daemon
//! flag, authkey and parent — Python's `current_process()` and
//! `parent_process()`.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::authkey::AuthKey;
use crate::error::ProcessError;

/// What a child learns about its parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ParentInfo {
    pub(crate) name: String,
    pub(crate) pid: u32,
}

/// The parent's pidfd as a child keeps it: as received until the first
/// [`parent_process`] shares it (an `Arc`), so a child that never asks makes
/// no allocation for it (a forked child's first allocation costs page
/// faults on malloc's code and arena).
#[derive(Debug)]
enum ParentPidfd {
    None,
    Received(OwnedFd),
    Shared(Arc<OwnedFd>),
}

impl ParentPidfd {
    fn shared(&mut self) -> Option<Arc<OwnedFd>> {
        let shared = match std::mem::replace(self, ParentPidfd::None) {
            ParentPidfd::None => return None,
            ParentPidfd::Received(fd) => Arc::new(fd),
            ParentPidfd::Shared(fd) => fd,
        };
        *self = ParentPidfd::Shared(Arc::clone(&shared));
        Some(shared)
    }
}

#[derive(Debug)]
pub(crate) struct State {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    pid: u32,
    /// `None` in the main process until the key is first needed.
    authkey: Option<AuthKey>,
    parent: Option<(ParentInfo, Mutex<ParentPidfd>)>,
}

static STATE: RwLock<Option<State>> = RwLock::new(None);
static COUNTER: AtomicU32 = AtomicU32::new(1);
static IN_CHILD_TARGET: AtomicBool = AtomicBool::new(false);

/// A new process authkey: 32 bytes from the OS CSPRNG, or the OS's error
/// (there is no weaker fallback).
fn new_authkey() -> std::io::Result<AuthKey> {
    AuthKey::random(32)
}

/// Calls `f` with this process's state, made first if there is none yet.
/// Inline: each caller's copy lies in the caller's own code, so a freshly
/// forked child asking for its name at exit takes no page fault to run it
/// (docs/performance.md, "A forked child's first touches").
#[inline]
fn with_state<T>(f: impl FnOnce(&State) -> T) -> T {
    let guard = STATE.read().unwrap_or_else(|e| e.into_inner());
    let guard = if guard.is_some() {
        guard
    } else {
        drop(guard);
        make_state()
    };
    // Nothing sets the state back to `None` once it is made.
    f(guard.as_ref().expect("the state was made just above"))
}

/// Makes the main process's state if there is none yet (out of line: each
/// process does it at most once), and reads it.
#[cold]
fn make_state() -> RwLockReadGuard<'static, Option<State>> {
    STATE
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(|| State {
            name: "MainProcess".to_string(),
            identity: Vec::new(),
            daemon: false,
            pid: mp_sys::process::getpid(),
            authkey: None,
            parent: None,
        });
    STATE.read().unwrap_or_else(|e| e.into_inner())
}

/// Everything a child needs to become "itself", set at bootstrap.
pub(crate) struct ChildIdentity {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) authkey: AuthKey,
    pub(crate) parent: ParentInfo,
    pub(crate) parent_pidfd: Option<OwnedFd>,
}

/// Holds the identity lock across `fork()` so the child never inherits it
/// held by a thread that does not exist there (the `atfork` "prepare" step).
pub(crate) fn hold_for_fork() -> std::sync::RwLockWriteGuard<'static, Option<State>> {
    with_state(|_| ());
    STATE.write().unwrap_or_else(|e| e.into_inner())
}

/// Installs the child's identity and restarts its child counter at 1.
pub(crate) fn become_child(c: ChildIdentity) {
    let mut guard = STATE.write().unwrap_or_else(|e| e.into_inner());
    // The state this process had before (a forked child's copy of its
    // parent's) is left unfreed: freeing writes to malloc's heap pages,
    // each a copy-on-write fault right after `fork`.
    let previous = guard.replace(State {
        name: c.name,
        identity: c.identity,
        daemon: c.daemon,
        pid: mp_sys::process::getpid(),
        authkey: Some(c.authkey),
        parent: Some((
            c.parent,
            Mutex::new(
                c.parent_pidfd
                    .map_or(ParentPidfd::None, ParentPidfd::Received),
            ),
        )),
    });
    std::mem::forget(previous);
    COUNTER.store(1, Ordering::SeqCst);
}

pub(crate) fn set_in_child_target(v: bool) {
    IN_CHILD_TARGET.store(v, Ordering::SeqCst);
}

pub(crate) fn in_child_target() -> bool {
    IN_CHILD_TARGET.load(Ordering::SeqCst)
}

/// Takes the next child number and returns the new child's identity.
pub(crate) fn next_identity() -> Vec<u32> {
    let k = COUNTER.fetch_add(1, Ordering::SeqCst);
    with_state(|s| {
        let mut id = s.identity.clone();
        id.push(k);
        id
    })
}

pub(crate) fn is_daemon() -> bool {
    with_state(|s| s.daemon)
}

pub(crate) fn name() -> String {
    with_state(|s| s.name.clone())
}

/// Calls `f` with this process's name, borrowed (no copy): the identity
/// lock is held meanwhile, so `f` must not change the identity.
#[inline]
pub(crate) fn with_name<T>(f: impl FnOnce(&str) -> T) -> T {
    with_state(|s| f(&s.name))
}

/// This process's authkey, created (main process) the first time it is
/// needed; fails if the OS gives no entropy then.
pub(crate) fn authkey() -> Result<AuthKey, ProcessError> {
    if let Some(key) = with_state(|s| s.authkey.clone()) {
        return Ok(key);
    }
    let mut guard = STATE.write().unwrap_or_else(|e| e.into_inner());
    let state = guard
        .as_mut()
        .expect("with_state initialised the state just above");
    if state.authkey.is_none() {
        let key = new_authkey().map_err(|e| ProcessError::NoEntropy(Arc::new(e)))?;
        state.authkey = Some(key);
    }
    Ok(state.authkey.clone().unwrap_or_default())
}

/// Python's `current_process()`: a snapshot describing the calling process.
///
/// Its `Debug` output leaves out the authkey.
#[derive(Clone)]
pub struct CurrentProcess {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    pid: u32,
    parent_pid: Option<u32>,
    /// The key, or the OS error met when creating it.
    authkey: std::result::Result<AuthKey, Arc<std::io::Error>>,
}

impl fmt::Debug for CurrentProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentProcess")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("daemon", &self.daemon)
            .field("pid", &self.pid)
            .field("parent_pid", &self.parent_pid)
            .finish_non_exhaustive()
    }
}

impl CurrentProcess {
    /// The process name (`MainProcess` in the main process).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }
    /// Python's `ident` (same as `pid`).
    pub fn ident(&self) -> u32 {
        self.pid
    }
    /// Whether this process is a daemon.
    pub fn daemon(&self) -> bool {
        self.daemon
    }
    /// The numbering path (`[]` in the main process, `[3]` in `Process-3`).
    pub fn identity(&self) -> &[u32] {
        &self.identity
    }
    /// The authentication key (32 bytes from the OS CSPRNG in the main
    /// process, inherited by children), used by managers and listeners by
    /// default.
    ///
    /// # Panics
    /// If the main process needed a new key and the OS gave no entropy
    /// (there is no weaker fallback); [`try_authkey`](Self::try_authkey)
    /// returns that error instead.
    pub fn authkey(&self) -> &[u8] {
        match self.try_authkey() {
            Ok(key) => key,
            Err(e) => panic!("{e}"),
        }
    }
    /// The authentication key, or [`ProcessError::NoEntropy`] if the OS gave
    /// no entropy to create it.
    pub fn try_authkey(&self) -> Result<&[u8], ProcessError> {
        match &self.authkey {
            Ok(key) => Ok(key.as_bytes()),
            Err(e) => Err(ProcessError::NoEntropy(e.clone())),
        }
    }
    /// Always true: the calling process is alive.
    pub fn is_alive(&self) -> bool {
        true
    }
    /// Python's `exitcode` of the current process: always `None`.
    pub fn exitcode(&self) -> Option<i32> {
        None
    }
}

impl fmt::Display for CurrentProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parent_pid {
            None => write!(f, "<_MainProcess name='{}' parent=None started>", self.name),
            Some(pp) => write!(f, "<Process name='{}' parent={} started>", self.name, pp),
        }
    }
}

/// Python's `current_process()`.
pub fn current_process() -> CurrentProcess {
    let snapshot = with_state(|s| CurrentProcess {
        name: s.name.clone(),
        identity: s.identity.clone(),
        daemon: s.daemon,
        pid: s.pid,
        parent_pid: s.parent.as_ref().map(|(p, _)| p.pid),
        authkey: Ok(AuthKey::default()),
    });
    CurrentProcess {
        authkey: authkey().map_err(|e| match e {
            ProcessError::NoEntropy(e) => e,
            other => Arc::new(std::io::Error::other(other.to_string())),
        }),
        ..snapshot
    }
}

/// Renames the calling process (Python's `current_process().name = ...`).
pub fn set_current_process_name(name: impl Into<String>) {
    let name = name.into();
    with_state(|_| ());
    if let Some(s) = STATE.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
        s.name = name;
    }
}

/// Sets the calling process's authentication key (Python's
/// `current_process().authkey = ...`); children started afterwards inherit it.
pub fn set_current_process_authkey(key: impl Into<Vec<u8>>) {
    let key = key.into();
    with_state(|_| ());
    if let Some(s) = STATE.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
        s.authkey = Some(AuthKey::from(key));
    }
}

/// Sets the calling process's own daemon flag (Python's
/// `current_process().daemon = ...` in a child). Cleared, a daemonic child
/// may start children of its own (its parent still terminates it at exit, as
/// it was started as a daemon; children that should end with it should watch
/// [`parent_process`], as pool workers do). Children started afterwards
/// inherit the new flag unless they set their own.
pub fn set_current_process_daemon(daemon: bool) {
    with_state(|_| ());
    if let Some(s) = STATE.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
        s.daemon = daemon;
    }
}

/// Python's `parent_process()`: the process that started this one, or `None`
/// in the main process.
pub fn parent_process() -> Option<ParentProcess> {
    with_state(|s| {
        s.parent.as_ref().map(|(info, fd)| ParentProcess {
            name: info.name.clone(),
            pid: info.pid,
            pidfd: fd.lock().unwrap_or_else(|e| e.into_inner()).shared(),
        })
    })
}

/// The parent of the calling process, as seen from the child.
#[derive(Debug, Clone)]
pub struct ParentProcess {
    name: String,
    pid: u32,
    pidfd: Option<Arc<OwnedFd>>,
}

impl ParentProcess {
    /// The parent's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The parent's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }
    /// A pidfd for the parent, readable once it has exited (Python's `sentinel`).
    pub fn sentinel(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_deref().map(|fd| fd.as_fd())
    }
    /// Whether the parent is still running; works even after the child was
    /// re-parented, because it watches the parent's pidfd.
    pub fn is_alive(&self) -> bool {
        match &self.pidfd {
            Some(fd) => {
                !mp_sys::socket::poll_readable(fd.as_fd(), Some(Duration::ZERO)).unwrap_or(true)
            }
            None => mp_sys::process::kill(self.pid, 0).is_ok(),
        }
    }
    /// Waits until the parent exits, or until `timeout` passes.
    pub fn join(&self, timeout: Option<Duration>) {
        if let Some(fd) = &self.pidfd {
            let _ = mp_sys::socket::poll_readable(fd.as_fd(), timeout);
        }
    }
}

impl fmt::Display for ParentProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_alive() {
            "started"
        } else {
            "stopped"
        };
        write!(
            f,
            "<_ParentProcess name='{}' pid={} {}>",
            self.name, self.pid, state
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authkey_can_be_set() {
        set_current_process_authkey(b"secret".to_vec());
        assert_eq!(current_process().authkey(), b"secret");
        assert_eq!(authkey().unwrap().as_bytes(), b"secret");
    }

    #[test]
    fn state_debug_hides_the_key() {
        let state = State {
            name: "P".to_string(),
            identity: vec![1],
            daemon: false,
            pid: 1,
            authkey: Some(AuthKey::from(vec![0xa5; 32])),
            parent: None,
        };
        let shown = format!("{state:?}");
        assert!(!shown.contains("165") && !shown.contains("a5a5"), "{shown}");
    }

    #[test]
    fn main_process_defaults() {
        let c = current_process();
        assert_eq!(c.pid(), std::process::id());
        assert!(c.is_alive());
        assert!(parent_process().is_none() || c.name() != "MainProcess");
    }
}
