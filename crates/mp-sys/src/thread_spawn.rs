//! Starting a thread, also in a forked child: every thread of the
//! workspace starts here.
//!
//! `std::thread::spawn` is not safe in a process forked from a
//! multithreaded one. Each std thread registers its stack's guard page, as
//! it starts and as it ends, in a table behind a lock of std's own (the
//! stack-overflow handler's), which no fork hook can take. A parent
//! thread that starts or ends at the instant of a fork leaves that lock
//! held for ever in the child, and every std thread the child starts then
//! waits for it before running anything. Seen: a test's forked child whose
//! `ThreadPool` worker never ran, about once in 300 runs of its binary, the
//! parent's other threads starting and ending meanwhile (`gdb`: the new
//! thread in `stack_overflow::thread_info::set_current_info`).
//!
//! So in a process forked through this crate ([`fork_hooks::forked`]),
//! [`Builder::spawn`] starts a bare POSIX thread: `pthread_create` running
//! the closure under `catch_unwind`, its result handed over through a
//! mutex of this crate. Such a thread has no std name (the kernel's name
//! is set, `std::thread::current().name()` is `None`) and no guard-page
//! record (a stack overflow there is a plain `SIGSEGV`, not std's message).
//! Elsewhere it is `std::thread::Builder`.
//!
//! # Safety
//! `pthread_create`, `pthread_join`, `pthread_detach`, `pthread_self`,
//! `pthread_equal`, `pthread_setname_np` and the attribute calls, through
//! `libc`; each block says why it holds.
#![allow(unsafe_code)]

use std::ffi::{c_void, CString};
use std::io;
use std::mem::MaybeUninit;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use crate::fork_hooks;

/// The stack of a bare thread when none is asked for: std's default.
const DEFAULT_STACK: usize = 2 << 20;

/// Options of a thread to start (std's `thread::Builder`, reduced to what
/// the workspace uses).
#[derive(Debug)]
pub struct Builder {
    name: String,
    stack_size: Option<usize>,
}

impl Builder {
    /// A thread named `name` (the kernel keeps its first 15 bytes).
    pub fn new(name: impl Into<String>) -> Builder {
        Builder {
            name: name.into(),
            stack_size: None,
        }
    }

    /// The size of the thread's stack, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the thread running `f`.
    ///
    /// # Errors
    /// The system could not start a thread.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if fork_hooks::forked() {
            return spawn_bare(&self.name, self.stack_size, f).map(|t| JoinHandle(Inner::Bare(t)));
        }
        let mut b = std::thread::Builder::new().name(self.name);
        if let Some(bytes) = self.stack_size {
            b = b.stack_size(bytes);
        }
        b.spawn(f).map(|h| JoinHandle(Inner::Std(h)))
    }
}

/// A started thread: join it for what its closure returned (dropping the
/// handle detaches it, as std's does).
#[derive(Debug)]
pub struct JoinHandle<T>(Inner<T>);

#[derive(Debug)]
enum Inner<T> {
    Std(std::thread::JoinHandle<T>),
    Bare(Bare<T>),
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to end: what its closure returned, or the
    /// payload of its panic.
    pub fn join(self) -> std::thread::Result<T> {
        match self.0 {
            Inner::Std(h) => h.join(),
            Inner::Bare(t) => t.join(),
        }
    }

    /// Whether the thread's closure has returned (or panicked).
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            Inner::Std(h) => h.is_finished(),
            Inner::Bare(t) => lock(&t.result).is_some(),
        }
    }

    /// Whether the calling thread is this one.
    pub fn is_current(&self) -> bool {
        match &self.0 {
            Inner::Std(h) => h.thread().id() == std::thread::current().id(),
            // SAFETY: `pthread_self` has no preconditions, and
            // `pthread_equal` only compares two thread ids.
            Inner::Bare(t) => unsafe { libc::pthread_equal(t.id, libc::pthread_self()) != 0 },
        }
    }
}

/// A bare POSIX thread and the slot its result arrives in.
struct Bare<T> {
    id: libc::pthread_t,
    result: Arc<Mutex<Option<std::thread::Result<T>>>>,
    joined: bool,
}

impl<T> std::fmt::Debug for Bare<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bare").field("id", &self.id).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a bare thread runs: the boxed closure [`spawn_bare`] handed it.
type Main = Box<dyn FnOnce() + Send>;

extern "C" fn bare_main(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Box<Main>` that `spawn_bare` leaked with
    // `Box::into_raw` for this thread alone, and took back only when
    // `pthread_create` failed (then this function never runs).
    let main = unsafe { Box::from_raw(arg.cast::<Main>()) };
    // `main` catches the closure's panic itself: nothing unwinds out of
    // this `extern "C"` function.
    main();
    std::ptr::null_mut()
}

fn spawn_bare<F, T>(name: &str, stack: Option<usize>, f: F) -> io::Result<Bare<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let result = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&result);
    let main: Main = Box::new(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(f));
        *lock(&slot) = Some(outcome);
    });
    let arg = Box::into_raw(Box::new(main)).cast::<c_void>();
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is valid for writes; `pthread_attr_init` initialises
    // it, and it is destroyed below before it goes out of scope.
    let rc = unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) };
    if rc != 0 {
        // SAFETY: `arg` came from `Box::into_raw` just above and no thread
        // has it.
        drop(unsafe { Box::from_raw(arg.cast::<Main>()) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    let bytes = stack.unwrap_or(DEFAULT_STACK).max(libc::PTHREAD_STACK_MIN);
    // SAFETY: `attr` was initialised by `pthread_attr_init`. A size the
    // system refuses leaves its default, which is fine.
    unsafe { libc::pthread_attr_setstacksize(attr.as_mut_ptr(), bytes) };
    let mut id: libc::pthread_t = 0;
    // SAFETY: `id` and `attr` are valid; `bare_main` has the signature
    // `pthread_create` expects, and `arg` is a leaked `Box<Main>` that the
    // new thread alone takes back (see `bare_main`).
    let rc = unsafe { libc::pthread_create(&mut id, attr.as_ptr(), bare_main, arg) };
    // SAFETY: `attr` was initialised and is not used after this.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if rc != 0 {
        // SAFETY: no thread was started, so `arg` is still ours alone.
        drop(unsafe { Box::from_raw(arg.cast::<Main>()) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    // The kernel's limit is 15 bytes and a NUL; a name it refuses is only
    // cosmetic.
    let short: Vec<u8> = name.bytes().filter(|&b| b != 0).take(15).collect();
    if let Ok(cname) = CString::new(short) {
        // SAFETY: `id` is a live thread (not joined or detached yet) and
        // `cname` a NUL-terminated string of at most 16 bytes.
        unsafe { libc::pthread_setname_np(id, cname.as_ptr()) };
    }
    Ok(Bare {
        id,
        result,
        joined: false,
    })
}

impl<T> Bare<T> {
    fn join(mut self) -> std::thread::Result<T> {
        // SAFETY: `self.id` is a thread this handle started and has neither
        // joined nor detached (`joined` is false until here, and `Drop`
        // detaches only an unjoined one).
        let rc = unsafe { libc::pthread_join(self.id, std::ptr::null_mut()) };
        self.joined = true;
        let outcome = lock(&self.result).take();
        match outcome {
            Some(outcome) => outcome,
            None => Err(Box::new(format!(
                "a thread of this crate ended without a result (pthread_join: {rc})"
            ))),
        }
    }
}

impl<T> Drop for Bare<T> {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: the thread was started by this handle and neither
            // joined nor detached before.
            unsafe { libc::pthread_detach(self.id) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{exit_now, fork_unchecked, send_signal, wait_pidfd, ExitStatus, Fork};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Children forked while two other threads of the parent start and end
    /// std threads without pause (each start and end takes the lock of
    /// std's that a fork may copy held) each start and join a thread here,
    /// and every one of them ends (3000 forks, about 4 s). With
    /// `std::thread::spawn` in the child instead, 13 of the 3000 hung.
    #[test]
    fn a_child_forked_while_its_parent_starts_threads_can_start_one() {
        let stop = Arc::new(AtomicBool::new(false));
        let churn: Vec<_> = (0..2)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = std::thread::spawn(|| {}).join();
                    }
                })
            })
            .collect();
        let mut hung = 0;
        for _ in 0..3000 {
            // SAFETY: the child only starts and joins a thread through this
            // module (a bare one there: nothing of std's thread machinery)
            // and calls `_exit`.
            match unsafe { fork_unchecked() }.unwrap() {
                Fork::Child => {
                    let joined = Builder::new("forked").spawn(|| 1).map(|h| h.join());
                    exit_now(if matches!(joined, Ok(Ok(1))) { 0 } else { 1 });
                }
                Fork::Parent { pidfd, .. } => {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    let status = loop {
                        match wait_pidfd(&pidfd, false).unwrap() {
                            Some(status) => break Some(status),
                            None if Instant::now() > deadline => break None,
                            None => std::thread::sleep(Duration::from_millis(1)),
                        }
                    };
                    match status {
                        Some(status) => assert_eq!(status, ExitStatus::Exited(0)),
                        None => {
                            hung += 1;
                            send_signal(&pidfd, libc::SIGKILL).unwrap();
                            let _ = wait_pidfd(&pidfd, true);
                        }
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in churn {
            t.join().unwrap();
        }
        assert_eq!(hung, 0, "children that never saw their thread end");
    }

    #[test]
    fn a_thread_returns_its_result_and_its_panic() {
        let h = Builder::new("t-ok").spawn(|| 7).unwrap();
        assert!(!h.is_current());
        assert_eq!(h.join().unwrap(), 7);
        let h = Builder::new("t-panic").spawn(|| panic!("boom")).unwrap();
        assert!(h.join().is_err());
    }

    #[test]
    fn a_bare_thread_returns_its_result_and_its_panic() {
        let h = spawn_bare("bare-ok", None, || 7).map(|t| JoinHandle(Inner::Bare(t)));
        let h = h.unwrap();
        assert!(!h.is_current());
        assert_eq!(h.join().unwrap(), 7);
        let h = spawn_bare("bare-panic", Some(256 << 10), || -> u8 { panic!("boom") });
        let err = h.unwrap().join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
        // Reports being finished once its closure returned.
        let idle = JoinHandle(Inner::Bare(spawn_bare("bare-idle", None, || true).unwrap()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !idle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(idle.is_finished());
        assert!(idle.join().unwrap());
        // Knows itself: its own handle, sent to it, is current there (and
        // detaches it when dropped there).
        let (tx, rx) = std::sync::mpsc::channel::<JoinHandle<()>>();
        let (back, answer) = std::sync::mpsc::channel::<bool>();
        let own = spawn_bare("bare-self", None, move || {
            if let Ok(own) = rx.recv_timeout(Duration::from_secs(10)) {
                let _ = back.send(own.is_current());
            }
        })
        .unwrap();
        tx.send(JoinHandle(Inner::Bare(own))).unwrap();
        assert_eq!(answer.recv_timeout(Duration::from_secs(10)), Ok(true));
    }
}
