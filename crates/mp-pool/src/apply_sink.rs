//! The sink of an `apply_async` call: one task, whose result goes straight
//! into its [`ResultCell`]. A `CollectSink` would do, but for a lone task it
//! keeps per-chunk vectors and hands back a boxed completion even when there
//! is nothing to run outside the pool's lock; this one stores the result
//! where it is decoded and hands back work only for callbacks, readiness
//! hooks and futures awaiting it. Without callbacks the cell is the sink
//! itself ([`CellSink`], held by the job table as a
//! [`JobSink::Cell`](crate::job_sink::JobSink::Cell)); with them,
//! [`ApplySink`] runs them first.

use std::ops::Range;
use std::sync::Arc;

use mp_wire::Message;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, TaskError};
use crate::func::ChunkOutput;
use crate::job_sink::CellSink;
use crate::result::{AfterStore, Callbacks, ResultCell};
use crate::sink::{cancelled, decode_chunk, terminated, Completion, Progress, Sink};
use crate::{packed, spare};

/// Receives the one chunk, of one task, of an `apply_async` call with
/// callbacks.
pub(crate) struct ApplySink<R> {
    callbacks: Callbacks<R>,
    cell: Arc<ResultCell<R>>,
}

impl<R> ApplySink<R> {
    /// A sink that completes `cell`, running `callbacks` first.
    pub(crate) fn new(callbacks: Callbacks<R>, cell: Arc<ResultCell<R>>) -> Self {
        ApplySink { callbacks, cell }
    }
}

/// The task's result from its chunk's output. A packed number (a worker
/// sends a lone number so) is read straight out of the reply, without the
/// vector a chunk's outputs go into.
fn outcome<R: DeserializeOwned + 'static>(out: Result<Message, TaskError>) -> Result<R, PoolError> {
    if let Ok(msg) = &out {
        if let Some((&packed::PACKED_DONE, rest)) = msg.bytes.split_first() {
            if let Some(one) = packed::unpack_one::<R>(rest) {
                // The reply was read into the call's inputs' buffer: the
                // next call's inputs are encoded into it.
                if let Ok(msg) = out {
                    spare::give_back_bytes(msg.bytes);
                }
                return Ok(one);
            }
        }
    }
    let one = match decode_chunk::<R>(out, 1).map_err(PoolError::Task)? {
        ChunkOutput::Done(mut v) => v.pop().map(Ok),
        ChunkOutput::Mixed(mut v) => v.pop(),
        ChunkOutput::Failed(e) => Some(Err(e)),
    };
    match one {
        Some(r) => r.map_err(PoolError::Task),
        None => Err(PoolError::Task(TaskError::Decode(
            "a task returned no result".into(),
        ))),
    }
}

/// Whether tasks `items` of chunk `index` are an `apply`'s one chunk's one
/// task (anything else is a stale delivery).
pub(crate) fn is_the_task(index: usize, items: &Range<usize>) -> bool {
    index == 0 && items.start == 0 && items.end > 0
}

impl<R> Sink for ApplySink<R>
where
    R: DeserializeOwned + Send + 'static,
{
    fn chunk_done(
        &mut self,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
    ) -> Progress {
        if !is_the_task(index, &items) {
            return Progress::Pending;
        }
        let result = outcome::<R>(out);
        let callbacks = std::mem::take(&mut self.callbacks);
        let cell = self.cell.clone();
        Progress::Done(Some(Box::new(move || callbacks.complete(&cell, result))))
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        Some(terminated(self.cell))
    }

    fn cancel(self: Box<Self>) -> Option<Completion> {
        let ApplySink { callbacks, cell } = *self;
        Some(cancelled(callbacks, cell))
    }
}

/// An `apply_async` without callbacks: its result is stored here, under the
/// pool's lock, where it is decoded; only what waits for it (hooks,
/// futures' wakers) runs outside.
impl<R> CellSink for ResultCell<R>
where
    R: DeserializeOwned + Send + 'static,
{
    fn store_output(&self, out: Result<Message, TaskError>) -> AfterStore {
        self.store(outcome::<R>(out))
    }

    fn finish(&self, after: AfterStore) {
        ResultCell::finish(self, after);
    }

    fn abandon(self: Arc<Self>) -> Completion {
        terminated(self)
    }

    fn cancel(self: Arc<Self>) -> Completion {
        cancelled(Callbacks::new(), self)
    }
}
