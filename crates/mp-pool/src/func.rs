//! How a task function reaches a worker: a per-(function, argument, result)
//! trampoline named by an [`EntryPoint`] that decodes a chunk of inputs, calls
//! the function on each (catching panics one by one) and encodes the outputs.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use mp_process::{CodeOnly, TupleFn};
use mp_sys::entry::EntryPoint;
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::progress;

/// An [`EntryPoint`] in serializable form: offset, signature hash, build-id.
pub(crate) type EntryParts = (i64, u64, [u8; 20]);

/// What runs a chunk in a worker: encoded `Vec<T>` in, encoded
/// [`ChunkOutput`] out.
pub(crate) type ChunkEntry = EntryPoint<Message, Message>;

/// What runs the initializer in a worker.
pub(crate) type InitEntry = EntryPoint<Message, Result<(), String>>;

/// A chunk's outputs, as a worker sends them.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum ChunkOutput<R> {
    /// Every task succeeded: the results in input order, with no per-task
    /// tag to write and read (the common case, and the fast one).
    Done(Vec<R>),
    /// Some task failed: one result per input.
    Mixed(Vec<Result<R, TaskError>>),
    /// One error for the whole chunk (it decodes as `ChunkOutput<R>` for
    /// every `R`).
    Failed(TaskError),
}

impl<R> ChunkOutput<R> {
    /// How many results it holds (0 for a whole-chunk failure).
    pub(crate) fn len(&self) -> usize {
        match self {
            ChunkOutput::Done(v) => v.len(),
            ChunkOutput::Mixed(v) => v.len(),
            ChunkOutput::Failed(_) => 0,
        }
    }

    /// One result per input (a whole-chunk failure: none).
    pub(crate) fn into_results(self) -> Vec<Result<R, TaskError>> {
        match self {
            ChunkOutput::Done(v) => v.into_iter().map(Ok).collect(),
            ChunkOutput::Mixed(v) => v,
            ChunkOutput::Failed(_) => Vec::new(),
        }
    }
}

/// A function a pool can call with the unpacked argument tuple `Args`
/// (`apply`, `starmap`, the initializer): a [`TupleFn`] that is
/// [`CodeOnly`].
///
/// That is every `Fn(A, B, ...) -> R` (up to eight arguments) that is
/// zero-sized, `Copy`, `Send` and `'static`: a `fn` item or a closure that
/// captures nothing. Data goes in `Args` (a tuple of serde values: `(x,)` for
/// one argument, `()` for none), as with `Process::new`. Its return type is
/// `<F as TupleFn<Args>>::Output`. [`CodeOnly`] says what the compiler
/// rejects at `cargo check` and what only at `cargo build`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` captures data, so it cannot be a process pool task",
    label = "captures data: a pool task must be a `fn` item or a closure that captures nothing",
    note = "only the code crosses into the worker processes, so the task must be zero-sized",
    note = "pass the data in the argument tuple instead (`pool.apply(f, (a, b))` calls `f(a, b)` in a worker); a `ThreadPool` runs capturing closures"
)]
pub trait StarFn<Args>: TupleFn<Args> + CodeOnly {}

impl<Func, Args> StarFn<Args> for Func where Func: TupleFn<Args> + CodeOnly {}

/// The chunk entry for `map`-style calls: `f(item)` for each item.
pub(crate) fn map_entry<F, T, R>(f: F) -> ChunkEntry
where
    F: Fn(T) -> R + CodeOnly,
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    EntryPoint::of(move |msg: Message| run_chunk::<T, R>(msg, f))
}

/// The chunk entry for `apply`/`starmap`-style calls: `f(*args)` for each
/// argument tuple.
pub(crate) fn star_entry<F, Args>(f: F) -> ChunkEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
    F::Output: Serialize + 'static,
{
    EntryPoint::of(move |msg: Message| run_chunk::<Args, F::Output>(msg, |a| f.call(a)))
}

/// The initializer entry: decode the arguments, call `f(*initargs)`.
pub(crate) fn init_entry<F, Args>(f: F) -> InitEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
{
    EntryPoint::of(move |msg: Message| match mp_wire::decode::<Args>(msg) {
        Ok(args) => {
            let _ = f.call(args);
            Ok(())
        }
        Err(e) => Err(format!("cannot decode the initializer arguments: {e}")),
    })
}

/// Decodes a chunk, runs `call` on each item, encodes the outputs.
pub(crate) fn run_chunk<T: DeserializeOwned, R: Serialize>(
    msg: Message,
    call: impl Fn(T) -> R,
) -> Message {
    let out: ChunkOutput<R> = match mp_wire::decode::<Vec<T>>(msg) {
        Ok(mut items) => {
            // Tasks settled before (their worker died in this chunk).
            let skip = progress::skip().min(items.len());
            items.drain(..skip);
            let holes = progress::take_holes();
            if holes.is_empty() {
                run_items(items, skip, call)
            } else {
                run_around(items, skip, &holes, call)
            }
        }
        Err(e) => ChunkOutput::Failed(TaskError::Decode(format!("the task arguments: {e}"))),
    };
    encode_output(&out)
}

/// Calls `call` on every item, one panic guard for the whole run: after a
/// panic, the item that panicked gets its error and the run resumes with the
/// next item (so the common case pays nothing per item, and sends the bare
/// results). Before each task, the progress word gets its index in the
/// chunk (`first` is the index of `items[0]`).
fn run_items<T, R>(items: Vec<T>, first: usize, call: impl Fn(T) -> R) -> ChunkOutput<R> {
    let mut done = Vec::with_capacity(items.len());
    let mut rest = items.into_iter().enumerate();
    let tracker = progress::tracker();
    let call = |(i, item): (usize, T)| {
        tracker.task_begins(first + i);
        call(item)
    };
    let first_error = match catch_task(|| {
        for item in rest.by_ref() {
            done.push(call(item));
        }
    }) {
        Ok(()) => return ChunkOutput::Done(done),
        Err(e) => e,
    };
    let mut out: Vec<Result<R, TaskError>> = done.into_iter().map(Ok).collect();
    out.push(Err(first_error));
    loop {
        let run = catch_task(|| {
            for item in rest.by_ref() {
                out.push(Ok(call(item)));
            }
        });
        match run {
            Ok(()) => return ChunkOutput::Mixed(out),
            Err(e) => out.push(Err(e)),
        }
    }
}

/// [`run_items`] for a chunk some of whose tasks must not run (`holes`:
/// their indices in the chunk, with the error each reports instead).
fn run_around<T, R>(
    items: Vec<T>,
    first: usize,
    holes: &[(usize, TaskError)],
    call: impl Fn(T) -> R,
) -> ChunkOutput<R> {
    let tracker = progress::tracker();
    let out = items
        .into_iter()
        .enumerate()
        .map(
            |(i, item)| match holes.iter().find(|(h, _)| *h == first + i) {
                Some((_, e)) => Err(e.clone()),
                None => {
                    tracker.task_begins(first + i);
                    catch_task(|| call(item))
                }
            },
        )
        .collect();
    ChunkOutput::Mixed(out)
}

/// Encodes a chunk's outputs; if the results cannot be encoded, the whole
/// chunk becomes a [`TaskError::Encode`].
pub(crate) fn encode_output<R: Serialize>(out: &ChunkOutput<R>) -> Message {
    match mp_wire::encode(out) {
        Ok(m) => m,
        Err(e) => chunk_error(TaskError::Encode(e.to_string())),
    }
}

/// An encoded whole-chunk error (decodes as `ChunkOutput<R>` for every `R`).
pub(crate) fn chunk_error(e: TaskError) -> Message {
    let out: ChunkOutput<()> = ChunkOutput::Failed(e);
    // Encoding an error of plain strings cannot fail; an empty message would
    // decode as an error in the parent anyway.
    mp_wire::encode(&out).unwrap_or_default()
}

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Runs one task, turning a panic into [`TaskError::Panic`] with message and
/// location. An unwind that is not a panic (`mp_process::exit` in a task)
/// continues, so the worker ends as asked and the parent reports the task's
/// worker as dead with that exit code.
pub(crate) fn catch_task<R>(f: impl FnOnce() -> R) -> Result<R, TaskError> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    IN_TASK.with(|t| t.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    IN_TASK.with(|t| t.set(false));
    match r {
        Ok(v) => Ok(v),
        Err(payload) => match LAST_PANIC.with(|p| p.borrow_mut().take()) {
            Some((message, location)) => Err(TaskError::Panic { message, location }),
            None => panic::resume_unwind(payload),
        },
    }
}

/// Runs `f` in this process, turning a panic into [`TaskError::Panic`].
///
/// The task panic hook ([`install_local_panic_hook`]) records the message and
/// location quietly. If another hook replaced it since (the program's own
/// `panic::set_hook`), the panic is printed by that hook and the location is
/// `<unknown>`.
pub(crate) fn catch_local<R>(f: impl FnOnce() -> R) -> Result<R, TaskError> {
    install_local_panic_hook();
    match panic::catch_unwind(AssertUnwindSafe(|| catch_task(f))) {
        Ok(r) => r,
        Err(payload) => Err(TaskError::Panic {
            message: mp_process::panic_message(&*payload)
                .unwrap_or_else(|| "Box<dyn Any>".to_string()),
            location: "<unknown>".to_string(),
        }),
    }
}

/// Installs (once per process) the task panic hook over mp-process's child
/// report hook, for the process pool.
///
/// The pool calls it in the parent before starting each worker (after the
/// worker's `Process` exists, so this hook wraps mp-process's report hook and
/// a worker's task panic is recorded quietly instead of reported), so a
/// forked worker inherits a completed `Once` and the call at worker start
/// does nothing; a spawned worker is single-threaded when it installs the
/// hook.
pub(crate) fn install_panic_hook() {
    OVER_REPORT.call_once(install_task_hook);
}

/// Installs the task panic hook for panics caught in this process (a thread
/// pool's tasks, an `imap` input iterator), unless the process pool already
/// did: so such a panic carries its location whether or not a process pool
/// was started first.
///
/// A hook installed here may end up under mp-process's report hook (a
/// `Process` made later installs that one on top); a process pool started
/// later then installs the task hook once more, outermost
/// ([`install_panic_hook`]). Under mp-process's hook, a thread-pool task
/// panic in the parent still reaches this one (that hook passes on every
/// panic outside a child's target). Not covered: a thread pool inside a
/// forked child's target, when the parent installed this hook before it
/// made its first `Process` and never started a process pool. The child
/// inherits the completed `Once` with mp-process's hook on top, which
/// reports the panic as the child's own; the task still fails with
/// [`TaskError::Panic`], its location `<unknown>`. (Installing again in a
/// forked child could deadlock on the hook lock, see mp-process's
/// `install_panic_report`.)
pub(crate) fn install_local_panic_hook() {
    if !OVER_REPORT.is_completed() {
        FOR_THREADS.call_once(install_task_hook);
    }
}

/// The task hook installed over mp-process's report hook (process pool).
static OVER_REPORT: Once = Once::new();
/// The task hook installed for panics caught in this process, before any
/// process pool.
static FOR_THREADS: Once = Once::new();

/// Installs a panic hook that records a task's panic quietly and leaves
/// every other panic to the previous hook.
fn install_task_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !IN_TASK.with(Cell::get) {
            return previous(info);
        }
        let message =
            mp_process::panic_message(info.payload()).unwrap_or_else(|| "Box<dyn Any>".to_string());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "<unknown>".to_string());
        LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u32) -> u32 {
        x * 2
    }

    fn add(a: u32, b: u32) -> u32 {
        a + b
    }

    fn decode_out<R: serde::de::DeserializeOwned>(m: Message) -> ChunkOutput<R> {
        mp_wire::decode(m).unwrap()
    }

    #[test]
    fn chunks_run_through_entries() {
        let run = map_entry(double).resolve().unwrap();
        let out: ChunkOutput<u32> = decode_out(run(mp_wire::encode(&[1u32, 2, 3][..]).unwrap()));
        assert_eq!(out, ChunkOutput::Done(vec![2, 4, 6]));
        let run = star_entry(add).resolve().unwrap();
        let out: ChunkOutput<u32> = decode_out(run(mp_wire::encode(&[(1u32, 2u32)][..]).unwrap()));
        assert_eq!(out, ChunkOutput::Done(vec![3]));
        // Wrong input type: one error for the chunk.
        let out: ChunkOutput<u32> = decode_out(run(mp_wire::encode(&"x").unwrap()));
        assert!(
            matches!(out, ChunkOutput::Failed(TaskError::Decode(_))),
            "{out:?}"
        );
    }

    #[test]
    fn panics_become_errors_with_location() {
        install_panic_hook();
        let r: Result<(), TaskError> = catch_task(|| panic!("boom {}", 7));
        match r {
            Err(TaskError::Panic { message, location }) => {
                assert_eq!(message, "boom 7");
                assert!(location.contains("func.rs"), "{location}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(catch_task(|| 5), Ok(5));
        let out = run_items(vec![1, 2, 3, 4], 0, |x: u32| {
            assert!(x % 2 == 1, "even {x}");
            x
        });
        assert_eq!(out.len(), 4);
        let out = out.into_results();
        assert_eq!((&out[0], &out[2]), (&Ok(1), &Ok(3)));
        assert!(matches!(&out[1], Err(TaskError::Panic { message, .. }) if message == "even 2"));
        assert!(matches!(&out[3], Err(TaskError::Panic { .. })));
        let e: ChunkOutput<String> = decode_out(chunk_error(TaskError::Encode("x".into())));
        assert_eq!(e, ChunkOutput::Failed(TaskError::Encode("x".into())));
        assert_eq!(
            run_items(vec![1u32, 3], 0, |x| x),
            ChunkOutput::Done(vec![1, 3])
        );
    }
}
