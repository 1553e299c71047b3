//! Worker state (mpire's `worker_state`): a value each worker makes once,
//! when it starts, and lends `&mut` to every `*_with_state` task it runs.
//!
//! In a worker process the state lives in a thread-local slot of the
//! worker's main thread; the chunk entry of a `*_with_state` call takes it
//! out, runs its tasks with it and puts it back (so no borrow is held while
//! user code runs). The maker and the task functions are named with
//! [`EntryPoint`]s like every other pool function, so they work under
//! every start method. The parent knows the state's type and refuses a
//! call whose tasks take another ([`PoolError::WorkerStateType`]).

use std::any::{Any, TypeId};
use std::cell::RefCell;

use mp_process::CodeOnly;
use mp_sys::entry::EntryPoint;
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{PoolError, TaskError};
use crate::func::{self, ChunkEntry, ChunkInput, StarFn};

/// What makes a worker's state: encoded arguments in, the state out.
pub(crate) type StateEntry = EntryPoint<Message, Result<Box<dyn Any>, String>>;

/// A [`StateEntry`]'s parts as a worker receives them (checked when resolved).
pub(crate) type StateParts = mp_sys::entry::EntryParts<Message, Result<Box<dyn Any>, String>>;

/// The type of a pool's worker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerStateType {
    id: TypeId,
    /// The type's name, for errors.
    pub(crate) name: &'static str,
}

impl WorkerStateType {
    /// The type `S`.
    pub(crate) fn of<S: 'static>() -> Self {
        WorkerStateType {
            id: TypeId::of::<S>(),
            name: std::any::type_name::<S>(),
        }
    }

    /// Whether tasks that take `&mut S` can run on workers whose state is
    /// of type `pool` (none: the pool makes no state).
    pub(crate) fn check<S: 'static>(pool: Option<Self>) -> Result<(), PoolError> {
        let wanted = Self::of::<S>();
        match pool {
            Some(t) if t == wanted => Ok(()),
            _ => Err(PoolError::WorkerStateType {
                wanted: wanted.name,
                pool: pool.map(|t| t.name),
            }),
        }
    }
}

/// The error of a task that finds no state of type `S` in its worker (the
/// parent checks first, so only a worker whose state maker failed sees it).
pub(crate) fn missing<S>() -> TaskError {
    TaskError::Function(format!(
        "the worker has no state of type {}",
        std::any::type_name::<S>()
    ))
}

thread_local! {
    /// This worker's state (the worker's main thread runs every task).
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// In a worker: the state made at start-up.
pub(crate) fn install(state: Box<dyn Any>) {
    STATE.with(|s| *s.borrow_mut() = Some(state));
}

/// The entry that makes the state: decode `initargs`, return `f(*initargs)`.
pub(crate) fn state_entry<F, Args>(f: F) -> StateEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
    F::Output: 'static,
{
    EntryPoint::of(move |msg: Message| match mp_wire::decode::<Args>(msg) {
        Ok(args) => Ok(Box::new(f.call(args)) as Box<dyn Any>),
        Err(e) => Err(format!("cannot decode the worker state arguments: {e}")),
    })
}

/// The chunk entry of `*_with_state` calls: `f(&mut state, item)` for each
/// item.
pub(crate) fn state_map_entry<F, S, T, R>(f: F) -> ChunkEntry
where
    F: Fn(&mut S, T) -> R + CodeOnly,
    S: 'static,
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    EntryPoint::of(move |input: ChunkInput| {
        let Some(mut state) = STATE.with(|s| s.borrow_mut().take()) else {
            return func::chunk_error(missing::<S>());
        };
        let out = match state.downcast_mut::<S>() {
            Some(s) => func::run_chunk::<T, R>(input, |item| f(s, item)),
            None => func::chunk_error(missing::<S>()),
        };
        install(state);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::func::ChunkOutput;

    fn count(seen: &mut Vec<u32>, x: u32) -> usize {
        seen.push(x);
        seen.len()
    }

    /// A chunk of `items` as the parent sends it.
    fn chunk(items: &[u32]) -> ChunkInput {
        crate::chunk::encode_items(items).unwrap().into()
    }

    fn make(first: u32) -> Vec<u32> {
        vec![first]
    }

    #[test]
    fn the_state_is_made_once_and_lent_to_each_task() {
        let maker = state_entry(make).resolve().unwrap();
        let state = maker(mp_wire::encode(&(7u32,)).unwrap()).unwrap();
        install(state);
        let run = state_map_entry(count).resolve().unwrap();
        let out: ChunkOutput<usize> =
            crate::sink::decode_chunk(Ok(run(chunk(&[1u32, 2]))), 2).unwrap();
        assert_eq!(out, ChunkOutput::Done(vec![2, 3]));
        let out: ChunkOutput<usize> =
            crate::sink::decode_chunk(Ok(run(chunk(&[3u32]))), 1).unwrap();
        assert_eq!(out, ChunkOutput::Done(vec![4]));
        // Tasks that take another type find no state.
        let other = state_map_entry(|s: &mut String, x: u32| s.len() + x as usize)
            .resolve()
            .unwrap();
        let out: ChunkOutput<usize> = mp_wire::decode(other(chunk(&[1u32]))).unwrap();
        assert!(
            matches!(out, ChunkOutput::Failed(TaskError::Function(_))),
            "{out:?}"
        );
        assert!(
            WorkerStateType::check::<Vec<u32>>(Some(WorkerStateType::of::<Vec<u32>>())).is_ok()
        );
        assert!(matches!(
            WorkerStateType::check::<String>(None),
            Err(PoolError::WorkerStateType { pool: None, .. })
        ));
    }
}
