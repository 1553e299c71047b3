//! Building blocks for pool backends outside this crate (`mp-mpi` runs the
//! pool API on MPI ranks): the same chunk trampolines a worker process runs,
//! the same chunk encoding, and the same result types ([`AsyncResult`],
//! [`IMapIterator`]) filled from outside.
//!
//! A backend encodes a chunk with [`encode_chunk`], runs it in its worker
//! with [`run_map_chunk`] / [`run_star_chunk`] (inside a zero-sized closure
//! it names with an `EntryPoint`, so only code crosses), decodes the reply
//! with [`decode_chunk_output`], and delivers results through a
//! [`Completion`] or an [`ImapFeed`].

use std::sync::Arc;

use mp_process::CodeOnly;
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{PoolError, TaskError};
use crate::func::{self, ChunkOutput, StarFn};
use crate::imap::{IMapIterator, ImapShared};
use crate::result::{AsyncResult, Callbacks, ResultCell};
use crate::sink::decode_chunk;

/// Encodes one chunk of inputs as a worker's trampoline decodes it. Values
/// that carry fds (`SharedFd`) cannot leave this machine: an error.
pub fn encode_chunk<T: Serialize + 'static>(items: &[T]) -> Result<Vec<u8>, PoolError> {
    let msg = crate::chunk::encode_items(items)?;
    if !msg.fds.is_empty() {
        return Err(PoolError::Unsupported(
            "task arguments that carry file descriptors cannot cross machines".into(),
        ));
    }
    Ok(msg.bytes)
}

/// In a worker: runs `f(item)` for each item of an encoded chunk (each panic
/// caught and returned as that task's [`TaskError::Panic`]) and encodes the
/// outputs.
pub fn run_map_chunk<F, T, R>(f: F, input: Vec<u8>) -> Vec<u8>
where
    F: Fn(T) -> R + CodeOnly,
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    func::run_chunk::<T, R>(Message::from_bytes(input), f).bytes
}

/// In a worker: runs `f(*args)` for each argument tuple of an encoded chunk,
/// as [`run_map_chunk`] does.
pub fn run_star_chunk<F, Args>(f: F, input: Vec<u8>) -> Vec<u8>
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
    F::Output: Serialize + 'static,
{
    func::run_chunk::<Args, F::Output>(Message::from_bytes(input), |a| f.call(a)).bytes
}

/// In a worker: decodes the initializer's arguments and calls `f(*args)`.
pub fn run_initializer<F, Args>(f: F, input: Vec<u8>) -> Result<(), String>
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
{
    let args = mp_wire::decode::<Args>(Message::from_bytes(input))
        .map_err(|e| format!("cannot decode the initializer arguments: {e}"))?;
    let _ = f.call(args);
    Ok(())
}

/// A chunk's decoded results.
#[derive(Debug, PartialEq)]
pub enum ChunkResults<R> {
    /// Every task succeeded: their values in input order, as the worker
    /// sent them (the common case: nothing wrapped per task).
    Values(Vec<R>),
    /// Some task failed: one result per input.
    Each(Vec<Result<R, TaskError>>),
}

/// In the parent: a chunk's reply as its [`ChunkResults`] (`expected` of
/// them), or one error for the whole chunk (undecodable, wrong length, or a
/// failure that hit the whole chunk).
pub fn decode_chunk_output<R: DeserializeOwned + 'static>(
    reply: Result<Vec<u8>, TaskError>,
    expected: usize,
) -> Result<ChunkResults<R>, TaskError> {
    match decode_chunk::<R>(reply.map(Message::from_bytes), expected)? {
        ChunkOutput::Done(values) => Ok(ChunkResults::Values(values)),
        ChunkOutput::Mixed(each) => Ok(ChunkResults::Each(each)),
        ChunkOutput::Failed(e) => Err(e),
    }
}

/// The completing side of an [`AsyncResult`] made by [`async_result`].
pub struct Completion<R> {
    cell: Arc<ResultCell<R>>,
    callbacks: Callbacks<R>,
}

impl<R> std::fmt::Debug for Completion<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").finish_non_exhaustive()
    }
}

impl<R> Completion<R> {
    /// Runs the matching callback (a panic in it is reported, not
    /// propagated), then makes the result ready.
    pub fn complete(self, result: Result<R, PoolError>) {
        self.callbacks.complete(&self.cell, result);
    }
}

/// A pending [`AsyncResult`] and the [`Completion`] that fills it, running
/// `callbacks` first.
pub fn async_result<R>(callbacks: Callbacks<R>) -> (AsyncResult<R>, Completion<R>) {
    let cell = ResultCell::new();
    (
        AsyncResult::new(cell.clone()),
        Completion { cell, callbacks },
    )
}

/// The feeding side of an [`IMapIterator`] made by [`imap_iterator`].
pub struct ImapFeed<R>(Arc<ImapShared<R>>);

impl<R> std::fmt::Debug for ImapFeed<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapFeed").finish_non_exhaustive()
    }
}

impl<R> ImapFeed<R> {
    /// Chunk `index` (counted from 0) arrived with these results.
    pub fn push(&self, index: usize, items: Vec<Result<R, PoolError>>) {
        self.0.push(index, items);
    }

    /// No more chunks will come (the pool was terminated): the iterator
    /// ends with [`PoolError::Terminated`].
    pub fn terminate(&self) {
        self.0.terminate();
    }
}

/// An [`IMapIterator`] over `chunks` chunks, in chunk order (`ordered`:
/// `imap`) or in arrival order (`imap_unordered`), and its feed.
pub fn imap_iterator<R>(ordered: bool, chunks: usize) -> (IMapIterator<R>, ImapFeed<R>) {
    let shared = ImapShared::new(ordered, chunks);
    (IMapIterator::new(shared.clone()), ImapFeed(shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: u32) -> u32 {
        x * x
    }

    #[test]
    fn a_chunk_round_trips() {
        let input = encode_chunk(&[1u32, 2, 3]).unwrap();
        let out = run_map_chunk(square, input);
        let results = decode_chunk_output::<u32>(Ok(out), 3).unwrap();
        assert_eq!(results, ChunkResults::Values(vec![1, 4, 9]));
        let out = run_star_chunk(
            |a: u32, b: u32| a + b,
            encode_chunk(&[(1u32, 2u32)]).unwrap(),
        );
        assert_eq!(
            decode_chunk_output::<u32>(Ok(out.clone()), 1).unwrap(),
            ChunkResults::Values(vec![3])
        );
        assert!(matches!(
            decode_chunk_output::<u32>(Ok(out), 2),
            Err(TaskError::Decode(_))
        ));
        let out = run_map_chunk(
            |x: u32| assert!(x > 1, "small {x}"),
            encode_chunk(&[1u32, 2]).unwrap(),
        );
        let ChunkResults::Each(r) = decode_chunk_output::<()>(Ok(out), 2).unwrap() else {
            panic!("a chunk with a panic decodes as one result per task");
        };
        assert!(matches!(&r[0], Err(TaskError::Panic { message, .. }) if message == "small 1"));
        assert_eq!(r[1], Ok(()));
        assert!(run_initializer(|_: u8| (), Vec::new()).is_err());
        assert!(run_initializer(|_: u8| (), mp_wire::encode(&(7u8,)).unwrap().bytes).is_ok());
    }

    #[test]
    fn results_complete_from_outside() {
        let (r, done) = async_result::<u32>(Callbacks::new());
        assert!(!r.ready());
        done.complete(Ok(5));
        assert_eq!(r.get().unwrap(), 5);
        let (it, feed) = imap_iterator::<u32>(true, 2);
        feed.push(1, vec![Ok(3)]);
        feed.push(0, vec![Ok(1), Ok(2)]);
        assert_eq!(it.map(Result::unwrap).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
