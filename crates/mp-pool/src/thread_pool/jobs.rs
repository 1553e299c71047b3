//! What a [`ThreadPool`](super::ThreadPool) call is made of: running a chunk
//! of items with one panic guard per item, and the two kinds of calls that
//! collect chunk results ([`Collect`] for `apply`/`map`, [`Imap`] for the
//! iterators).

use std::sync::{Arc, Mutex};

use mp_process::TupleFn;

use crate::error::{PoolError, TaskError};
use crate::imap::ImapShared;
use crate::lock::lock;
use crate::result::{Callbacks, ResultCell};
use crate::sink::{Completion, Progress};

use super::engine::{Abandon, ThreadCtx};

/// A function a [`ThreadPool`](super::ThreadPool) can call with the unpacked
/// argument tuple `Args` (`apply`, `starmap`): a [`TupleFn`] that is `Send`,
/// `Sync` and `'static` — the thread counterpart of [`StarFn`](crate::StarFn).
///
/// That is every `Fn(A, B, ...) -> R + Send + Sync + 'static` (up to eight
/// arguments), capturing closures included; `Args` is a tuple (`(x,)` for one
/// argument, `()` for none) of any `Send` values. Its return type is
/// `<F as TupleFn<Args>>::Output`.
pub trait ThreadStarFn<Args>: TupleFn<Args> + Send + Sync + 'static {}

impl<Func, Args> ThreadStarFn<Args> for Func where Func: TupleFn<Args> + Send + Sync + 'static {}

/// Calls `f` on every item, one panic guard per item; with `init_error`,
/// every item fails with it instead.
pub(crate) fn run_items<T, R>(
    items: Vec<T>,
    f: &(impl Fn(T) -> R + ?Sized),
    init_error: Option<&TaskError>,
) -> Vec<Result<R, TaskError>> {
    items
        .into_iter()
        .map(|item| match init_error {
            Some(e) => Err(e.clone()),
            None => crate::func::catch_local(|| f(item)),
        })
        .collect()
}

/// Calls `f` with the thread's worker state on every item, one panic guard
/// per item; with an initializer error (or no state of type `S`), every item
/// fails with it instead.
pub(crate) fn run_items_with_state<S: 'static, T, R>(
    items: Vec<T>,
    f: &(impl Fn(&mut S, T) -> R + ?Sized),
    ctx: &mut ThreadCtx,
) -> Vec<Result<R, TaskError>> {
    let state = match (&ctx.init_error, ctx.state.as_mut()) {
        (Some(e), _) => Err(e.clone()),
        (None, state) => state
            .and_then(|s| s.downcast_mut::<S>())
            .ok_or_else(|| crate::worker_state::missing::<S>()),
    };
    match state {
        Ok(state) => items
            .into_iter()
            .map(|item| crate::func::catch_local(|| f(state, item)))
            .collect(),
        Err(e) => items.into_iter().map(|_| Err(e.clone())).collect(),
    }
}

/// Splits `items` into chunks of `chunksize` (at least 1).
pub(crate) fn split<T>(items: Vec<T>, chunksize: usize) -> Vec<Vec<T>> {
    let mut rest = items.into_iter().peekable();
    let mut chunks = Vec::new();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(chunksize.max(1)).collect());
    }
    chunks
}

/// A call whose chunks report to it.
pub(crate) trait ChunkSink<R>: Abandon {
    /// Chunk `index` finished with these results. [`Progress::Done`] once
    /// the call is complete: its completion (callbacks) is to run after the
    /// call is unregistered.
    fn chunk_done(&self, index: usize, out: Vec<Result<R, TaskError>>) -> Progress;
}

struct CollectState<R, O> {
    slots: Vec<Option<Vec<R>>>,
    remaining: usize,
    first_error: Option<TaskError>,
    /// `None` once the call completed or was abandoned.
    callbacks: Option<Callbacks<O>>,
}

/// Collects every chunk of an `apply`/`map` call in order, then finishes it
/// into an `O` (the `Vec<R>` of `map`, the single `R` of `apply`).
pub(crate) struct Collect<R, O> {
    state: Mutex<CollectState<R, O>>,
    finish: fn(Vec<R>) -> Option<O>,
    cell: Arc<ResultCell<O>>,
}

impl<R, O> Collect<R, O> {
    pub(crate) fn new(
        chunks: usize,
        finish: fn(Vec<R>) -> Option<O>,
        callbacks: Callbacks<O>,
        cell: Arc<ResultCell<O>>,
    ) -> Self {
        Collect {
            state: Mutex::new(CollectState {
                slots: (0..chunks).map(|_| None).collect(),
                remaining: chunks,
                first_error: None,
                callbacks: Some(callbacks),
            }),
            finish,
            cell,
        }
    }
}

impl<R: Send + 'static, O: Send + 'static> ChunkSink<R> for Collect<R, O> {
    fn chunk_done(&self, index: usize, out: Vec<Result<R, TaskError>>) -> Progress {
        let mut s = lock(&self.state);
        if s.callbacks.is_none() {
            return Progress::Pending;
        }
        let mut values = Vec::with_capacity(out.len());
        for item in out {
            match item {
                Ok(v) => values.push(v),
                Err(e) => {
                    s.first_error.get_or_insert(e);
                    break;
                }
            }
        }
        match s.slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(values),
            _ => return Progress::Pending,
        }
        s.remaining -= 1;
        if s.remaining > 0 {
            return Progress::Pending;
        }
        let result = match s.first_error.take() {
            Some(e) => Err(PoolError::Task(e)),
            None => {
                let all: Vec<R> = s.slots.drain(..).flatten().flatten().collect();
                (self.finish)(all).ok_or_else(|| {
                    PoolError::Task(TaskError::Decode("a task returned no result".into()))
                })
            }
        };
        let Some(callbacks) = s.callbacks.take() else {
            return Progress::Pending;
        };
        drop(s);
        let cell = self.cell.clone();
        let done: Completion = Box::new(move || callbacks.complete(&cell, result));
        Progress::Done(Some(done))
    }
}

impl<R: Send, O: Send + 'static> Abandon for Collect<R, O> {
    fn abandon(&self) {
        let mut s = lock(&self.state);
        if s.callbacks.take().is_some() {
            drop(s);
            self.cell.set(Err(PoolError::Terminated));
        }
    }

    fn cancel(&self) -> Option<Completion> {
        let callbacks = lock(&self.state).callbacks.take()?;
        let cell = self.cell.clone();
        let err = PoolError::Task(TaskError::Cancelled);
        Some(Box::new(move || callbacks.complete(&cell, Err(err))))
    }
}

/// Feeds an imap iterator: each chunk's items are pushed as they arrive.
pub(crate) struct Imap<R> {
    /// Chunks still to come; `None` once abandoned.
    remaining: Mutex<Option<usize>>,
    shared: Arc<ImapShared<R>>,
}

impl<R> Imap<R> {
    pub(crate) fn new(chunks: usize, shared: Arc<ImapShared<R>>) -> Self {
        Imap {
            remaining: Mutex::new(Some(chunks)),
            shared,
        }
    }
}

impl<R: Send + 'static> ChunkSink<R> for Imap<R> {
    fn chunk_done(&self, index: usize, out: Vec<Result<R, TaskError>>) -> Progress {
        // The lock is held while pushing, so nothing arrives after `abandon`.
        let mut remaining = lock(&self.remaining);
        let Some(left) = remaining.as_mut() else {
            return Progress::Pending;
        };
        let items = out.into_iter().map(|r| r.map_err(PoolError::Task));
        self.shared.push(index, items.collect());
        *left = left.saturating_sub(1);
        if *left == 0 {
            Progress::Done(None)
        } else {
            Progress::Pending
        }
    }
}

impl<R: Send> Abandon for Imap<R> {
    fn abandon(&self) {
        let mut remaining = lock(&self.remaining);
        if remaining.take().is_some() {
            self.shared.terminate();
        }
    }

    fn cancel(&self) -> Option<Completion> {
        let mut remaining = lock(&self.remaining);
        if remaining.take().is_some() {
            self.shared.cancel();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_covers_the_input() {
        let chunks = split((0..10).collect(), 3);
        assert_eq!(
            chunks,
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]]
        );
        assert!(split(Vec::<u8>::new(), 2).is_empty());
    }
}
