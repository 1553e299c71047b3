//! Catching a panic quietly: [`catch_quietly`] runs a closure and, if it
//! panics, hands back the panic's message and location, recorded by this
//! process's one panic hook (mp-process's child report hook) instead of
//! printed. The pools run their tasks under it.
//!
//! The recording lives in that one hook, installed by every `Process`
//! construction before any fork, so no crate of the workspace installs a
//! hook of its own: a forked child that called `std::panic::set_hook` (or
//! `take_hook`) could wait for ever on the hook's lock, left held by a
//! parent thread that was panicking at the fork.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};

use crate::target::ExitRequest;

thread_local! {
    /// This thread runs under [`catch_quietly`].
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The report of the last panic recorded on this thread.
    static CAUGHT: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
}

/// A panic's message and location as the panic hook saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicReport {
    /// What `panic!` carried (`Box<dyn Any>` for another payload).
    pub message: String,
    /// `file:line:column`, or `<unknown>`.
    pub location: String,
}

impl PanicReport {
    /// The report of the panic the hook is called for.
    pub(crate) fn of(info: &PanicHookInfo<'_>) -> PanicReport {
        PanicReport {
            message: crate::panic_message(info.payload())
                .unwrap_or_else(|| "Box<dyn Any>".to_string()),
            location: info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "<unknown>".to_string()),
        }
    }
}

/// A panic caught by [`catch_quietly`].
#[derive(Debug)]
pub struct CaughtPanic {
    /// The payload, for [`std::panic::resume_unwind`].
    pub payload: Box<dyn Any + Send>,
    /// Message and location; `None` when the unwind was no panic (an
    /// [`exit`](crate::exit()) inside the closure) or when the hook did not
    /// see it (the program replaced it with its own `set_hook`).
    pub report: Option<PanicReport>,
}

/// Runs `f`; a panic inside it is not printed but returned, with its message
/// and location.
///
/// ```
/// let caught = mp_process::catch_quietly(|| -> u8 { panic!("bad item {}", 3) }).unwrap_err();
/// let report = caught.report.unwrap();
/// assert_eq!(report.message, "bad item 3");
/// assert!(report.location.contains(".rs:"));
/// ```
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    crate::child_main::install_panic_report();
    CAUGHT.with(|c| c.borrow_mut().take());
    let outer = QUIET.with(|q| q.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(outer));
    r.map_err(|payload| CaughtPanic {
        payload,
        report: CAUGHT.with(|c| c.borrow_mut().take()),
    })
}

/// Called first by the panic hook: records the panic, and returns `true`,
/// when this thread runs under [`catch_quietly`] (an exit request is not
/// recorded, so the caller lets it go on).
pub(crate) fn record(info: &PanicHookInfo<'_>) -> bool {
    if !QUIET.with(Cell::get) {
        return false;
    }
    if !info.payload().is::<ExitRequest>() {
        CAUGHT.with(|c| *c.borrow_mut() = Some(PanicReport::of(info)));
    }
    true
}
