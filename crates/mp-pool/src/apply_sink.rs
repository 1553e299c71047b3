//! The [`Sink`] of an `apply_async` call: one task, whose result goes
//! straight into its [`ResultCell`]. A `CollectSink` would do, but for a lone
//! task it keeps per-chunk vectors and hands back a boxed completion even
//! when there is nothing to run outside the pool's lock; this one stores the
//! result where it is decoded and hands back work only for callbacks,
//! readiness hooks and futures awaiting it.

use std::ops::Range;
use std::sync::Arc;

use mp_wire::Message;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, TaskError};
use crate::func::ChunkOutput;
use crate::result::{Callbacks, ResultCell};
use crate::sink::{cancelled, decode_chunk, terminated, Completion, Progress, Sink};
use crate::spare;

/// Receives the one chunk, of one task, of an `apply_async` call.
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

/// The task's result from its chunk's output.
fn outcome<R: DeserializeOwned + 'static>(out: Result<Message, TaskError>) -> Result<R, PoolError> {
    let one = match decode_chunk::<R>(out, 1).map_err(PoolError::Task)? {
        ChunkOutput::Done(mut v) => {
            let one = v.pop().map(Ok);
            spare::give_back(v);
            one
        }
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
        // The one chunk's one task (anything else is a stale delivery).
        if index != 0 || items.start != 0 || items.end == 0 {
            return Progress::Pending;
        }
        let result = outcome::<R>(out);
        if self.callbacks.is_empty() {
            // Stored here, under the pool's lock: only what waits for it
            // (hooks, futures' wakers) runs outside.
            let after = self.cell.store(result);
            if after.is_empty() {
                return Progress::Done(None);
            }
            let cell = self.cell.clone();
            return Progress::Done(Some(Box::new(move || cell.finish(after))));
        }
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
