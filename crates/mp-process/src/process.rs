//! `Process`: Python's `multiprocessing.Process` — describe a child, start it
//! with a start method, wait for it, signal it, read its exit code.

use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::authkey::AuthKey;
use crate::children::{self, Child};
use crate::current;
use crate::error::{ProcessError, Result};
use crate::job::{Job, Spec, TargetEntry};
use crate::method::{get_start_method, StartMethod};
use crate::target::{Run, Target, TargetReturn};

enum State {
    Initial(Job),
    Started(Arc<Child>),
    Closed,
}

/// A child process, described before it runs (Python's `Process`).
///
/// ```no_run
/// use mp_process::Process;
///
/// fn worker(num: u32) {
///     println!("Worker: {num}");
/// }
///
/// let mut jobs: Vec<Process> = (0..5).map(|i| Process::new(worker, (i,))).collect();
/// for p in &mut jobs {
///     p.start().unwrap();
/// }
/// for p in &mut jobs {
///     p.join().unwrap();
///     assert_eq!(p.exitcode(), Some(0));
/// }
/// ```
pub struct Process {
    name: String,
    class: String,
    daemon: Option<bool>,
    identity: Vec<u32>,
    method: Option<StartMethod>,
    /// The child's authkey; `None` inherits the creating process's.
    authkey: Option<AuthKey>,
    creator: u32,
    state: State,
}

fn entry_for<T, Args>(target: T) -> TargetEntry
where
    T: Target<Args>,
    Args: DeserializeOwned + 'static,
{
    TargetEntry::of(move |msg: Message| -> i32 {
        match mp_wire::decode::<Args>(msg) {
            Ok(args) => {
                let ret = target.call(args);
                // The name only after the target, borrowed: no allocation in a
                // child whose target allocates nothing.
                current::with_name(|name| ret.exit_code(name))
            }
            Err(e) => {
                eprintln!(
                    "Process {}:\ncannot decode the arguments: {e}",
                    current::name()
                );
                1
            }
        }
    })
}

fn run_entry<R: Run>(msg: Message) -> i32 {
    match mp_wire::decode::<R>(msg) {
        Ok(mut r) => {
            r.run();
            0
        }
        Err(e) => {
            eprintln!(
                "Process {}:\ncannot decode the process value: {e}",
                current::name()
            );
            1
        }
    }
}

/// The type's own name without its module path or generics (`Worker`).
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

impl Process {
    fn with_job(class: String, method: Option<StartMethod>, job: Job) -> Process {
        crate::exit::arm();
        crate::child_main::install_panic_report();
        let identity = current::next_identity();
        let name = format!("{class}-{}", join_identity(&identity));
        Process {
            name,
            class,
            daemon: None,
            identity,
            method,
            authkey: None,
            creator: mp_sys::process::getpid(),
            state: State::Initial(job),
        }
    }

    /// A process that will run `target(args...)`.
    ///
    /// `target` is a `fn` item or a closure that captures nothing; `args` is a
    /// tuple of serde values (`(i,)` for one argument, `()` for none). The
    /// default name is `Process-N`.
    pub fn new<T, Args>(target: T, args: Args) -> Process
    where
        T: Target<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
    {
        Self::in_context(None, target, args)
    }

    pub(crate) fn in_context<T, Args>(method: Option<StartMethod>, target: T, args: Args) -> Process
    where
        T: Target<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
    {
        let entry = entry_for::<T, Args>(target);
        let job = Job::Entry {
            entry,
            args: Box::new(move || mp_wire::encode(&args)),
        };
        Process::with_job(class_name(method, "Process"), method, job)
    }

    /// A process with no target (Python's `Process(name=...)`): starting it
    /// runs nothing and exits 0.
    pub fn empty() -> Process {
        Process::with_job("Process".to_string(), None, Job::Nothing)
    }

    /// A process whose body is `value.run()` in the child, named
    /// `<TypeName>-N` (Python's `Process` subclass).
    pub fn from_run<R: Run>(value: R) -> Process {
        let entry = TargetEntry::of(run_entry::<R>);
        let job = Job::Entry {
            entry,
            args: Box::new(move || mp_wire::encode(&value)),
        };
        Process::with_job(short_type_name::<R>(), None, job)
    }

    /// A process running a capturing closure. Only the fork start method can
    /// run it (the child is a copy of this process); `start()` fails with
    /// [`ProcessError::ClosureNeedsFork`] under the others.
    pub fn from_closure(f: impl FnOnce() + Send + 'static) -> Process {
        Process::with_job("Process".to_string(), None, Job::Closure(Box::new(f)))
    }

    /// A process with a given class-name prefix (`ForkPoolWorker`), for
    /// libraries built on this one (pools, managers).
    #[doc(hidden)]
    pub fn with_class<T, Args>(
        class: &str,
        method: Option<StartMethod>,
        target: T,
        args: Args,
    ) -> Process
    where
        T: Target<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
    {
        let mut p = Self::in_context(method, target, args);
        p.class = class.to_string();
        p.name = format!("{class}-{}", join_identity(&p.identity));
        p
    }

    /// Sets the name (builder form).
    pub fn name(mut self, name: impl Into<String>) -> Process {
        self.name = name.into();
        self
    }

    /// Sets the daemon flag (builder form). A daemon child is terminated when
    /// its parent exits, and may not start children of its own.
    pub fn daemon(mut self, daemon: bool) -> Process {
        self.daemon = Some(daemon);
        self
    }

    /// Sets the authentication key the child starts with (builder form; see
    /// [`set_authkey`](Self::set_authkey)).
    pub fn authkey(mut self, key: impl Into<Vec<u8>>) -> Process {
        self.authkey = Some(AuthKey::from(key.into()));
        self
    }

    /// The authentication key the child has (or will start with): the one set
    /// on this `Process`, else the creating process's
    /// ([`current_process().authkey()`](crate::current_process)), as Python's
    /// `Process.authkey`.
    ///
    /// # Panics
    /// If the creating process needed a new key and the OS gave no entropy
    /// ([`start`](Self::start) returns that as [`ProcessError::NoEntropy`]).
    pub fn get_authkey(&self) -> Vec<u8> {
        match self.try_authkey() {
            Ok(key) => key.to_vec(),
            Err(e) => panic!("{e}"),
        }
    }

    fn try_authkey(&self) -> Result<AuthKey> {
        match &self.authkey {
            Some(key) => Ok(key.clone()),
            None => current::authkey(),
        }
    }

    /// Sets the authentication key the child starts with (Python's
    /// `p.authkey = ...`): its [`current_process().authkey()`](crate::current_process),
    /// used by `Listener`/`Client` and managers there, and inherited by its own
    /// children. Fails once started ([`ProcessError::StartedAlready`]).
    pub fn set_authkey(&mut self, key: impl Into<Vec<u8>>) -> Result<()> {
        match self.state {
            State::Initial(_) => {
                self.authkey = Some(AuthKey::from(key.into()));
                Ok(())
            }
            _ => Err(ProcessError::StartedAlready),
        }
    }

    /// Uses this start method instead of the default context's.
    pub fn start_method(mut self, method: StartMethod) -> Process {
        self.method = Some(method);
        self
    }

    /// The process name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Renames the process (Python's `p.name = ...`).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The daemon flag (inherited from the creating process unless set).
    pub fn is_daemon(&self) -> bool {
        self.daemon.unwrap_or_else(current::is_daemon)
    }

    /// Sets the daemon flag; fails once started.
    pub fn set_daemon(&mut self, daemon: bool) -> Result<()> {
        match self.state {
            State::Initial(_) => {
                self.daemon = Some(daemon);
                Ok(())
            }
            _ => Err(ProcessError::StartedAlready),
        }
    }

    /// The numbering path (`[3]` for `Process-3`).
    pub fn identity(&self) -> &[u32] {
        &self.identity
    }

    pub(crate) fn child(&self, what: &'static str) -> Result<&Arc<Child>> {
        match &self.state {
            State::Initial(_) => Err(ProcessError::NotStarted(what)),
            State::Started(c) => Ok(c),
            State::Closed => Err(ProcessError::Closed),
        }
    }

    pub(crate) fn check_creator(&self, what: &'static str) -> Result<()> {
        if self.creator != mp_sys::process::getpid() {
            return Err(ProcessError::NotCreator(what));
        }
        Ok(())
    }

    /// Starts the child with the process's start method.
    ///
    /// Flushes stdout and stderr first. Fails if started before, closed,
    /// called from a daemonic process, or if the child cannot be created.
    pub fn start(&mut self) -> Result<()> {
        self.check_creator("start")?;
        match self.state {
            State::Initial(_) => {}
            State::Started(_) => return Err(ProcessError::AlreadyStarted),
            State::Closed => return Err(ProcessError::Closed),
        }
        if current::is_daemon() {
            return Err(ProcessError::DaemonicChildren);
        }
        if mp_sys::bootstrap::bootstrap_pending() {
            return Err(ProcessError::BootstrapNotRun);
        }
        // Python reaps finished children at every start.
        let _ = children::live_children();
        let method = match self.method {
            Some(m) => m,
            None => get_start_method(false).unwrap_or(crate::method::DEFAULT_START_METHOD),
        };
        let authkey = self.try_authkey()?;
        let State::Initial(job) = std::mem::replace(&mut self.state, State::Closed) else {
            unreachable!("checked above");
        };
        let spec = Spec {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.is_daemon(),
            method,
            authkey,
            // `check_creator` passed: the creator is this process.
            parent_pid: self.creator,
        };
        match crate::start::start(spec, job) {
            Ok(child) => {
                children::register(child.clone());
                self.state = State::Started(child);
                Ok(())
            }
            Err((job, e)) => {
                self.state = State::Initial(job);
                Err(e)
            }
        }
    }

    /// Waits for the child to end (Python's `join()`).
    pub fn join(&mut self) -> Result<()> {
        self.join_inner(None)
    }

    /// Waits at most `timeout` (Python's `join(timeout)`). Returns `Ok(())`
    /// also when the child is still running; check [`exitcode`](Self::exitcode)
    /// or [`is_alive`](Self::is_alive).
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.join_inner(Some(timeout))
    }

    fn join_inner(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.check_creator("join")?;
        let c = self.child("join")?.clone();
        if c.wait(timeout)?.is_some() {
            children::forget(&c);
        }
        Ok(())
    }

    /// Whether the child is running (false before start and after it ended).
    pub fn is_alive(&self) -> bool {
        match &self.state {
            State::Started(c) => matches!(c.poll(), Ok(None)),
            _ => false,
        }
    }

    /// The child's pid, `None` before start.
    pub fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Started(c) => Some(c.pid),
            _ => None,
        }
    }

    /// Python's `ident`, the same as [`pid`](Self::pid).
    pub fn ident(&self) -> Option<u32> {
        self.pid()
    }

    /// The exit code: `None` before start and while running; `0` for a normal
    /// end, `1` after a panic, `N` after `exit(N)`, `-SIG` when killed.
    pub fn exitcode(&self) -> Option<i32> {
        match &self.state {
            State::Started(c) => c.poll().ok().flatten(),
            _ => None,
        }
    }

    /// Sends `SIGTERM` (Python's `terminate()`); a no-op once the child ended.
    pub fn terminate(&self) -> Result<()> {
        self.signal(mp_sys::signal::SIGTERM, "terminate")
    }

    /// Sends `SIGKILL` (Python's `kill()`).
    pub fn kill(&self) -> Result<()> {
        self.signal(mp_sys::signal::SIGKILL, "kill")
    }

    /// Sends `SIGINT` (Python 3.14's `interrupt()`).
    pub fn interrupt(&self) -> Result<()> {
        self.signal(mp_sys::signal::SIGINT, "interrupt")
    }

    fn signal(&self, sig: i32, what: &'static str) -> Result<()> {
        self.check_creator(what)?;
        Ok(self.child(what)?.signal(sig)?)
    }

    /// A descriptor that becomes readable when the child ends (Python's
    /// `sentinel`), for use with `wait()` on several objects.
    pub fn sentinel(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.child("get the sentinel of")?.sentinel())
    }

    /// Releases the process's resources (Python's `close()`); fails while the
    /// child runs. Afterwards most methods return [`ProcessError::Closed`].
    pub fn close(&mut self) -> Result<()> {
        if let State::Started(c) = &self.state {
            if c.poll()?.is_none() {
                return Err(ProcessError::StillRunning);
            }
            children::forget(c);
        }
        self.state = State::Closed;
        Ok(())
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// CPython 3's repr: `<Process name='Process-1' pid=42 parent=41 stopped exitcode=-SIGTERM daemon>`.
impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = if self.class.ends_with("Process") || self.class.contains("PoolWorker") {
            self.class.as_str()
        } else {
            "Process"
        };
        write!(f, "<{class} name='{}'", self.name)?;
        let status = match &self.state {
            State::Initial(_) => "initial".to_string(),
            State::Closed => "closed".to_string(),
            State::Started(c) => {
                write!(f, " pid={}", c.pid)?;
                match c.poll().ok().flatten() {
                    None => "started".to_string(),
                    Some(code) => format!("stopped exitcode={}", exitcode_repr(code)),
                }
            }
        };
        write!(f, " parent={} {status}", self.creator)?;
        if self.is_daemon() {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

/// `-SIGTERM` for -15, the number otherwise.
pub(crate) fn exitcode_repr(code: i32) -> String {
    if code < 0 {
        if let Some(name) = mp_sys::signal::signal_name(-code) {
            return format!("-{name}");
        }
    }
    code.to_string()
}

fn join_identity(identity: &[u32]) -> String {
    identity
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(":")
}

fn class_name(method: Option<StartMethod>, base: &str) -> String {
    match method {
        None => base.to_string(),
        Some(m) => format!("{}{base}", m.class_prefix()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() {}

    #[test]
    fn names_and_states_before_start() {
        let p = Process::new(noop, ());
        assert!(p.get_name().starts_with("Process-"));
        assert_eq!(p.pid(), None);
        assert_eq!(p.exitcode(), None);
        assert!(!p.is_alive());
        assert!(matches!(p.terminate(), Err(ProcessError::NotStarted(_))));
        let s = p.to_string();
        assert!(s.starts_with("<Process name='Process-"), "{s}");
        assert!(s.ends_with(" initial>"), "{s}");
        let q = Process::new(noop, ()).name("custom").daemon(true);
        assert_eq!(q.get_name(), "custom");
        assert!(q.to_string().ends_with("initial daemon>"));
        assert_eq!(short_type_name::<Vec<u8>>(), "Vec");
        assert_eq!(exitcode_repr(-15), "-SIGTERM");
        assert_eq!(exitcode_repr(3), "3");
    }
}
