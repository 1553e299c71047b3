//! `mp-process`: Python's `multiprocessing.Process` for Rust — real OS
//! processes started with `fork`, `spawn` or `forkserver`, one call shape for
//! all three.
//!
//! ```
//! use mp_process::Process;
//!
//! fn worker(name: String, n: u32) -> u32 {
//!     println!("{name}: {n}");
//!     n * 2 // ignored, as in Python: the exit code is 0
//! }
//!
//! let mut p = Process::new(worker, ("hello".to_string(), 21));
//! p.start().unwrap();
//! p.join().unwrap();
//! assert_eq!(p.exitcode(), Some(0));
//! ```
//!
//! - [`Process`]: create from a [`Target`] (a `fn` item or non-capturing
//!   closure) and serde arguments, or from a [`Run`] value; `start`, `join`,
//!   `join_timeout`, `is_alive`, `pid`, `exitcode`, `terminate`, `kill`,
//!   `close`, `sentinel`; CPython's `repr` as `Display`.
//! - With the `async` feature, `Process::join_async`: `join` as a future
//!   on any runtime (see the guide's "Async" section).
//! - [`current_process`], [`parent_process`], [`active_children`], [`cpu_count`].
//! - Start methods: [`StartMethod`], [`set_start_method`], [`get_start_method`],
//!   [`get_all_start_methods`], [`get_context`] / [`Context`].
//! - [`log_to_stderr`] / [`get_logger`]: `[LEVEL/ProcessName] message` on stderr.
//! - [`exit()`]: Python's `sys.exit(n)` inside a child.
//! - [`Function`]: a function as serde data (Python's picklable function),
//!   called in any process of the tree; a forged handle is a [`FunctionError`].
//! - [`AuthKey`]: a key's bytes behind a `Debug` that never prints them;
//!   every key this crate stores is one.
//!
//! # How a child starts
//! Children of `spawn` and `forkserver` re-execute this program (from an fd
//! opened at start-up); a constructor in `mp-sys` takes them over before
//! `main`, so no line of user code is needed — in binaries, examples, tests
//! and benchmarks alike. The target is named by its offset from an anchor in
//! the executable, checked against the executable's build-id and
//! authenticated with a key private to the process tree. See
//! `docs/bootstrap.md` and `docs/function-identity.md`.
//!
//! # Exit
//! When the main program ends, daemonic children are terminated and the
//! others joined, as Python does at interpreter exit.
#![deny(unsafe_code)]

mod active;
mod authkey;
mod child_main;
mod children;
mod context;
mod current;
mod error;
mod exit;
mod forkserver_client;
mod forkserver_server;
mod function;
mod job;
#[cfg(feature = "async")]
mod join_async;
mod log;
mod method;
mod panic_capture;
mod panic_text;
mod process;
mod start;
mod target;
mod unchecked_fork;

pub use active::{active_children, cpu_count, process_cpu_count, ActiveChild, CPU_COUNT_VAR};
pub use authkey::AuthKey;
pub use context::{get_context, Context};
pub use current::{
    current_process, parent_process, set_current_process_authkey, set_current_process_daemon,
    set_current_process_name, CurrentProcess, ParentProcess,
};
pub use error::{ProcessError, Result};
pub use function::{Function, FunctionError};
pub use log::{get_logger, log_to_stderr, Logger, TARGET as LOG_TARGET};
pub use method::{
    get_all_start_methods, get_start_method, set_start_method, StartMethod, DEFAULT_START_METHOD,
    START_METHOD_ENV,
};
pub use panic_capture::{catch_quietly, CaughtPanic, PanicReport};
pub use panic_text::panic_message;
pub use process::Process;
pub use target::{exit, exit_process, CodeOnly, ExitCode, Run, Target, TargetReturn, TupleFn};
