//! [`ProcessLocal`]: state of an object that serves only the process that
//! made it; a process forked from that one makes its own on first use.
//!
//! A child made by `fork` may reach an object through its copy of the
//! parent's handles (a closure's capture, under fork). The copy's locks may
//! have been held at the fork by parent threads the child does not have
//! (they stay locked for ever in the child), and its buffers and
//! bookkeeping are the parent's. So the state lives in a `ProcessLocal`:
//! [`local`](ProcessLocal::local) finds the calling process's, which in a
//! forked child is made without taking any lock (a `OnceBox`, see
//! ARCHITECTURE.md "Fork safety") and chained to the copy it came from.
//! The parent's copy is never touched in the child.

use once_cell::race::OnceBox;

/// One process's `T`, and the chain to the `T`s of processes forked from
/// it (see the module docs).
///
/// `repr(C)`, `pid` first: the look at `pid` that every operation makes
/// then reads the struct's first bytes. Rust's own layout put `pid` past
/// a connection's reader and writer, and a send and a receive through a
/// pipe cost about 1.5 % more (pinned, interleaved A/B).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ProcessLocal<T> {
    /// The process `value` belongs to.
    pid: u32,
    /// The state of a process forked from `pid` (made on its first use).
    forked: OnceBox<ProcessLocal<T>>,
    value: T,
}

impl<T> ProcessLocal<T> {
    /// `value`, the calling process's state.
    pub(crate) fn new(value: T) -> ProcessLocal<T> {
        ProcessLocal::for_process(mp_shm::ProcessIdent::current().pid(), value)
    }

    /// `value`, the state of process `pid` (a test's stand-in for a copy
    /// inherited from another process).
    pub(crate) fn for_process(pid: u32, value: T) -> ProcessLocal<T> {
        ProcessLocal {
            pid,
            value,
            forked: OnceBox::new(),
        }
    }

    /// The calling process's state: the maker's own, or in a process forked
    /// from it (after any number of forks) one of its own, `make` of the
    /// state of the process it was forked from (which it may read, not
    /// lock: it is a copy), made lock-free on its first use there. Two
    /// loads and a test in the maker.
    #[inline(always)]
    pub(crate) fn local_or(&self, make: impl Fn(&T) -> T) -> &T {
        let pid = mp_shm::ProcessIdent::current().pid();
        let mut state = self;
        while state.pid != pid {
            let from = &state.value;
            state = state
                .forked
                .get_or_init(|| Box::new(ProcessLocal::for_process(pid, make(from))));
        }
        &state.value
    }

    /// Whether the calling process made this state (no forked child's
    /// state is made).
    #[inline]
    pub(crate) fn is_maker(&self) -> bool {
        self.pid == mp_shm::ProcessIdent::current().pid()
    }
}

impl<T: Default> ProcessLocal<T> {
    /// The calling process's state, taken out: the maker's own value, or
    /// in a process forked from the maker that has not used it yet, a
    /// `T::default()` (as [`local`](Self::local) would make). `Err(self)`
    /// in a forked process that made its state already (it lies in the
    /// chain, where it cannot be moved from).
    pub(crate) fn into_local(self) -> Result<T, Self> {
        let pid = mp_shm::ProcessIdent::current().pid();
        if self.pid == pid {
            return Ok(self.value);
        }
        let mut state = &self;
        while state.pid != pid {
            match state.forked.get() {
                Some(forked) => state = forked,
                None => return Ok(T::default()),
            }
        }
        Err(self)
    }

    /// [`local_or`](Self::local_or) with a `T::default()` for a forked
    /// process.
    #[inline(always)]
    pub(crate) fn local(&self) -> &T {
        self.local_or(|_| T::default())
    }
}
