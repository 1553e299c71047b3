//! How a task function reaches a worker: a per-(function, argument, result)
//! trampoline named by an [`EntryPoint`] that decodes a chunk of inputs, calls
//! the function on each (catching panics one by one) and encodes the outputs.

use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};

use mp_process::{CaughtPanic, CodeOnly, PanicReport, TupleFn};
use mp_sys::entry::EntryPoint;
use mp_wire::{AppendTo, Message};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::{lone_task, packed, spare, task_word};

/// An [`EntryPoint`] in serializable form: offset, signature hash, build-id.
pub(crate) type EntryParts = (i64, u64, [u8; 20]);

/// What runs a chunk in a worker: encoded `Vec<T>` in, encoded
/// [`ChunkOutput`] out.
pub(crate) type ChunkEntry = EntryPoint<ChunkInput, Message>;

/// A chunk's encoded inputs as a worker's trampoline takes them: the bytes
/// of the request they came in and where in them they are (so that the
/// worker does not copy them out), and their fds. The outputs are encoded
/// into `bytes`' allocation once the inputs are decoded.
#[derive(Debug)]
pub(crate) struct ChunkInput {
    /// The request's bytes.
    pub(crate) bytes: Vec<u8>,
    /// Where in `bytes` the inputs are.
    pub(crate) inputs: Range<usize>,
    /// The fds the inputs' `SharedFd`s refer to.
    pub(crate) fds: Vec<std::os::fd::OwnedFd>,
}

/// A message holding only a chunk's inputs.
impl From<Message> for ChunkInput {
    fn from(msg: Message) -> ChunkInput {
        ChunkInput {
            inputs: 0..msg.bytes.len(),
            bytes: msg.bytes,
            fds: msg.fds,
        }
    }
}

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
    EntryPoint::of(move |input: ChunkInput| run_chunk::<T, R>(input, f))
}

/// The chunk entry for `apply`/`starmap`-style calls: `f(*args)` for each
/// argument tuple.
pub(crate) fn star_entry<F, Args>(f: F) -> ChunkEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
    F::Output: Serialize + 'static,
{
    EntryPoint::of(move |input: ChunkInput| run_chunk::<Args, F::Output>(input, |a| f.call(a)))
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
///
/// The inputs are decoded into, and the outputs collected in, vectors the
/// thread keeps between chunks ([`spare`]), and the outputs are encoded
/// into the chunk's own bytes: a chunk in its steady state asks the
/// allocator for nothing of its size.
pub(crate) fn run_chunk<T, R>(input: impl Into<ChunkInput>, call: impl FnMut(T) -> R) -> Message
where
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    let ChunkInput {
        bytes,
        inputs,
        mut fds,
    } = input.into();
    let mut call = call;
    // An `apply`'s chunk runs alone.
    let bytes = match lone_task::run_lone(bytes, inputs.clone(), &mut fds, &mut call) {
        Ok(reply) => return reply,
        Err(bytes) => bytes,
    };
    let encoded = bytes.get(inputs).unwrap_or_default();
    let mut items = spare::take::<T>();
    let decoded = match packed::unpack(encoded, &mut items) {
        Some(unpacked) => unpacked,
        None => mp_wire::decode_seed(encoded, fds, AppendTo(&mut items)).map_err(|e| e.to_string()),
    };
    let out: ChunkOutput<R> = match decoded {
        Ok(()) => {
            // Tasks settled before (their worker died in this chunk).
            let skip = task_word::skip().min(items.len());
            items.drain(..skip);
            let holes = task_word::take_holes();
            if holes.is_empty() {
                run_items(items.drain(..), skip, call)
            } else {
                run_around(items.drain(..), skip, &holes, call)
            }
        }
        Err(e) => ChunkOutput::Failed(TaskError::Decode(format!("the task arguments: {e}"))),
    };
    spare::give_back(items);
    let msg = encode_output(&out, bytes);
    if let ChunkOutput::Done(done) = out {
        spare::give_back(done);
    }
    msg
}

/// Calls `call` on every item, one panic guard for the whole run: after a
/// panic, the item that panicked gets its error and the run resumes with the
/// next item (so the common case pays nothing per item, and sends the bare
/// results). Before each task, the task word gets its index in the
/// chunk (`first` is the index of the first item).
fn run_items<T, R: 'static>(
    items: impl ExactSizeIterator<Item = T>,
    first: usize,
    mut call: impl FnMut(T) -> R,
) -> ChunkOutput<R> {
    let mut done = spare::take::<R>();
    done.reserve(items.len());
    let mut rest = items.enumerate();
    let tracker = task_word::tracker();
    let mut call = |(i, item): (usize, T)| {
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
    items: impl Iterator<Item = T>,
    first: usize,
    holes: &[(usize, TaskError)],
    mut call: impl FnMut(T) -> R,
) -> ChunkOutput<R> {
    let tracker = task_word::tracker();
    let out = items
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

/// Encodes a chunk's outputs into `buf`'s allocation (cleared first):
/// results that are all there and are numbers packed ([`packed`]), the rest
/// as postcard's `ChunkOutput`; if the results cannot be encoded, the whole
/// chunk becomes a [`TaskError::Encode`].
fn encode_output<R: Serialize + 'static>(out: &ChunkOutput<R>, mut buf: Vec<u8>) -> Message {
    if let ChunkOutput::Done(values) = out {
        buf.clear();
        buf.push(packed::PACKED_DONE);
        if packed::pack(values, &mut buf) {
            return Message::from_bytes(buf);
        }
    }
    match mp_wire::encode_into(out, buf) {
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

/// Runs one task, turning a panic into [`TaskError::Panic`] with message and
/// location (recorded quietly by mp-process's panic hook, see
/// [`mp_process::catch_quietly`]). An unwind that is not a panic
/// (`mp_process::exit` in a task) continues, so the worker ends as asked and
/// the parent reports the task's worker as dead with that exit code.
pub(crate) fn catch_task<R>(f: impl FnOnce() -> R) -> Result<R, TaskError> {
    match mp_process::catch_quietly(f) {
        Ok(v) => Ok(v),
        Err(CaughtPanic {
            report: Some(PanicReport { message, location }),
            ..
        }) => Err(TaskError::Panic { message, location }),
        Err(CaughtPanic { payload, .. }) => panic::resume_unwind(payload),
    }
}

/// Runs `f` in this process, turning a panic into [`TaskError::Panic`].
///
/// mp-process's panic hook records the message and location quietly. If
/// the program replaced that hook since (its own `panic::set_hook`), the
/// panic is printed by that hook and the location is `<unknown>`.
pub(crate) fn catch_local<R>(f: impl FnOnce() -> R) -> Result<R, TaskError> {
    match panic::catch_unwind(AssertUnwindSafe(|| catch_task(f))) {
        Ok(r) => r,
        Err(payload) => Err(TaskError::Panic {
            message: mp_process::panic_message(&*payload)
                .unwrap_or_else(|| "Box<dyn Any>".to_string()),
            location: "<unknown>".to_string(),
        }),
    }
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

    /// A chunk of `items` as the parent sends it.
    fn chunk<T: Serialize + 'static>(items: &[T]) -> ChunkInput {
        crate::chunk::encode_items(items).unwrap().into()
    }

    /// A chunk's outputs as the parent reads them (`n` of them).
    fn outputs<R: serde::de::DeserializeOwned + 'static>(m: Message, n: usize) -> ChunkOutput<R> {
        crate::sink::decode_chunk(Ok(m), n).unwrap()
    }

    #[test]
    fn chunks_run_through_entries() {
        let run = map_entry(double).resolve().unwrap();
        let out: ChunkOutput<u32> = outputs(run(chunk(&[1u32, 2, 3])), 3);
        assert_eq!(out, ChunkOutput::Done(vec![2, 4, 6]));
        let run = star_entry(add).resolve().unwrap();
        let out: ChunkOutput<u32> = outputs(run(chunk(&[(1u32, 2u32)])), 1);
        assert_eq!(out, ChunkOutput::Done(vec![3]));
        // Wrong input type: one error for the chunk.
        let out: ChunkOutput<u32> = decode_out(run(mp_wire::encode(&"x").unwrap().into()));
        assert!(
            matches!(out, ChunkOutput::Failed(TaskError::Decode(_))),
            "{out:?}"
        );
    }

    #[test]
    fn chunks_of_numbers_travel_packed_and_are_checked() {
        let input = chunk(&[1u32, 2, 3]);
        assert_eq!(input.bytes, [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        let run = map_entry(double).resolve().unwrap();
        let out = run(input);
        assert_eq!(
            out.bytes,
            [packed::PACKED_DONE, 2, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0]
        );
        // A reply cut short, or one for more tasks than sent: the chunk's error.
        let cut = Message::from_bytes(out.bytes[..out.bytes.len() - 1].to_vec());
        let e = crate::sink::decode_chunk::<u32>(Ok(cut), 3).unwrap_err();
        assert!(
            matches!(&e, TaskError::Decode(m) if m.contains("whole number")),
            "{e:?}"
        );
        let more = Message::from_bytes(out.bytes.clone());
        let e = crate::sink::decode_chunk::<u32>(Ok(more), 2).unwrap_err();
        assert!(
            matches!(&e, TaskError::Decode(m) if m.contains("returned 3")),
            "{e:?}"
        );
        // Packed for a type that is not packed: an error, not a misreading.
        let e = crate::sink::decode_chunk::<String>(Ok(out), 3).unwrap_err();
        assert!(
            matches!(&e, TaskError::Decode(m) if m.contains("packed")),
            "{e:?}"
        );
        // Inputs that are not a whole number of items: the chunk's error.
        let ragged = ChunkInput::from(Message::from_bytes(vec![1, 0, 0]));
        let out: ChunkOutput<u32> = decode_out(run(ragged));
        assert!(
            matches!(&out, ChunkOutput::Failed(TaskError::Decode(m)) if m.contains("whole number")),
            "{out:?}"
        );
        // Inputs in the middle of a request's bytes.
        let input = ChunkInput {
            bytes: vec![9, 9, 5, 0, 0, 0, 9],
            inputs: 2..6,
            fds: Vec::new(),
        };
        assert_eq!(outputs::<u32>(run(input), 1), ChunkOutput::Done(vec![10]));
    }

    #[test]
    fn failed_tasks_keep_the_postcard_form() {
        fn odd(x: u64) -> u64 {
            assert!(x % 2 == 1, "even {x}");
            x
        }
        let run = map_entry(odd).resolve().unwrap();
        let out = run(chunk(&[1u64, 2]));
        assert_ne!(out.bytes[0], packed::PACKED_DONE);
        let out: ChunkOutput<u64> = outputs(out, 2);
        let out = out.into_results();
        assert_eq!(out[0], Ok(1));
        assert!(matches!(&out[1], Err(TaskError::Panic { message, .. }) if message == "even 2"));
    }

    #[test]
    fn panics_become_errors_with_location() {
        let r: Result<(), TaskError> = catch_task(|| panic!("boom {}", 7));
        match r {
            Err(TaskError::Panic { message, location }) => {
                assert_eq!(message, "boom 7");
                assert!(location.contains("func.rs"), "{location}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(catch_task(|| 5), Ok(5));
        let out = run_items(vec![1, 2, 3, 4].into_iter(), 0, |x: u32| {
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
            run_items(vec![1u32, 3].into_iter(), 0, |x| x),
            ChunkOutput::Done(vec![1, 3])
        );
    }
}
