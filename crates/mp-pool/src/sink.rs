//! Where a job's chunk outputs go in the parent: a [`Sink`] per job decodes
//! each chunk for its own result type and, once the job is complete, hands
//! back a [`Completion`] that the pool runs outside its lock (callbacks,
//! waking waiters).

use std::sync::Arc;

use mp_wire::Message;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, TaskError};
use crate::func::ChunkOutput;
use crate::imap::ImapShared;
use crate::result::{Callbacks, ResultCell};

/// Work to run outside the pool's lock once a job is complete.
pub(crate) type Completion = Box<dyn FnOnce() + Send>;

/// Whether a job is complete after a chunk arrived.
pub(crate) enum Progress {
    /// Chunks are still outstanding.
    Pending,
    /// The job is complete; run this (if any) outside the lock.
    Done(Option<Completion>),
}

/// The parent-side consumer of one job's chunks.
pub(crate) trait Sink: Send {
    /// Chunk `index` finished with `out` (its encoded output, or an error
    /// that applies to every item of the chunk).
    fn chunk_done(&mut self, index: usize, out: Result<Message, TaskError>) -> Progress;
    /// The pool was terminated: the job will never complete.
    fn abandon(self: Box<Self>) -> Option<Completion>;
    /// More chunks of these lengths were added (a buffered imap reading its
    /// input as it goes); with `last`, no more will be. Only sinks made open
    /// accept this; the others keep their fixed set.
    fn grow(&mut self, lens: &[usize], last: bool) -> Progress {
        let _ = (lens, last);
        Progress::Pending
    }
}

/// Decodes a chunk's output, checking it has `expected` items; a failure
/// becomes one error for the chunk (`Err`, never [`ChunkOutput::Failed`]).
pub(crate) fn decode_chunk<R: DeserializeOwned>(
    out: Result<Message, TaskError>,
    expected: usize,
) -> Result<ChunkOutput<R>, TaskError> {
    let decoded: ChunkOutput<R> =
        mp_wire::decode(out?).map_err(|e| TaskError::Decode(format!("a task result: {e}")))?;
    if let ChunkOutput::Failed(e) = decoded {
        return Err(e);
    }
    if decoded.len() != expected {
        return Err(TaskError::Decode(format!(
            "a chunk of {expected} tasks returned {} results",
            decoded.len()
        )));
    }
    Ok(decoded)
}

/// Collects every chunk of a job in order, then finishes it into a `T` (the
/// `Vec<R>` of `map`, the single `R` of `apply`).
pub(crate) struct CollectSink<R, T> {
    lens: Vec<usize>,
    slots: Vec<Option<Vec<R>>>,
    remaining: usize,
    first_error: Option<TaskError>,
    finish: fn(Vec<R>) -> Option<T>,
    callbacks: Callbacks<T>,
    cell: Arc<ResultCell<T>>,
}

impl<R, T> CollectSink<R, T> {
    /// A sink for chunks of the given lengths.
    pub(crate) fn new(
        lens: Vec<usize>,
        finish: fn(Vec<R>) -> Option<T>,
        callbacks: Callbacks<T>,
        cell: Arc<ResultCell<T>>,
    ) -> Self {
        let n = lens.len();
        CollectSink {
            lens,
            slots: (0..n).map(|_| None).collect(),
            remaining: n,
            first_error: None,
            finish,
            callbacks,
            cell,
        }
    }
}

impl<R, T> Sink for CollectSink<R, T>
where
    R: DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    fn chunk_done(&mut self, index: usize, out: Result<Message, TaskError>) -> Progress {
        let (Some(&len), Some(slot)) = (self.lens.get(index), self.slots.get_mut(index)) else {
            return Progress::Pending;
        };
        if slot.is_some() {
            return Progress::Pending;
        }
        match decode_chunk::<R>(out, len) {
            Ok(ChunkOutput::Done(values)) => *slot = Some(values),
            Ok(items) => {
                let items = items.into_results();
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            self.first_error.get_or_insert(e);
                            break;
                        }
                    }
                }
                *slot = Some(values);
            }
            Err(e) => {
                self.first_error.get_or_insert(e);
                *slot = Some(Vec::new());
            }
        }
        self.remaining -= 1;
        if self.remaining > 0 {
            return Progress::Pending;
        }
        let result = match self.first_error.take() {
            Some(e) => Err(PoolError::Task(e)),
            None => {
                let mut all: Vec<R> = Vec::with_capacity(self.lens.iter().sum());
                for values in self.slots.drain(..).flatten() {
                    all.extend(values);
                }
                (self.finish)(all).ok_or_else(|| {
                    PoolError::Task(TaskError::Decode("a task returned no result".into()))
                })
            }
        };
        let callbacks = std::mem::take(&mut self.callbacks);
        let cell = self.cell.clone();
        Progress::Done(Some(Box::new(move || callbacks.complete(&cell, result))))
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        let cell = self.cell;
        Some(Box::new(move || cell.set(Err(PoolError::Terminated))))
    }
}

/// Feeds an imap iterator: each chunk's items are pushed as they arrive.
pub(crate) struct ImapSink<R> {
    lens: Vec<usize>,
    remaining: usize,
    shared: Arc<ImapShared<R>>,
    /// More chunks may still be added ([`Sink::grow`]).
    open: bool,
}

impl<R> ImapSink<R> {
    pub(crate) fn new(lens: Vec<usize>, shared: Arc<ImapShared<R>>) -> Self {
        let remaining = lens.len();
        ImapSink {
            lens,
            remaining,
            shared,
            open: false,
        }
    }

    /// A sink for a buffered job: no chunks yet, more to come.
    pub(crate) fn open(shared: Arc<ImapShared<R>>) -> Self {
        ImapSink {
            lens: Vec::new(),
            remaining: 0,
            shared,
            open: true,
        }
    }

    fn progress(&self) -> Progress {
        if self.remaining == 0 && !self.open {
            Progress::Done(None)
        } else {
            Progress::Pending
        }
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for ImapSink<R> {
    fn chunk_done(&mut self, index: usize, out: Result<Message, TaskError>) -> Progress {
        let Some(&len) = self.lens.get(index) else {
            return Progress::Pending;
        };
        let items: Vec<Result<R, PoolError>> = match decode_chunk::<R>(out, len) {
            Ok(items) => items
                .into_results()
                .into_iter()
                .map(|r| r.map_err(PoolError::Task))
                .collect(),
            Err(e) => (0..len).map(|_| Err(PoolError::Task(e.clone()))).collect(),
        };
        self.shared.push(index, items);
        self.remaining = self.remaining.saturating_sub(1);
        self.progress()
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        self.shared.terminate();
        None
    }

    fn grow(&mut self, lens: &[usize], last: bool) -> Progress {
        if !self.open {
            return Progress::Pending;
        }
        self.lens.extend_from_slice(lens);
        self.remaining += lens.len();
        self.open = !last;
        self.shared.add_chunks(lens.len(), last);
        self.progress()
    }
}
