//! [`JobSink`]: what the engine's job table holds for a job. Most jobs have
//! a boxed [`Sink`]; an `apply_async` without callbacks has its result's
//! cell itself ([`CellSink`]), shared with the [`AsyncResult`] handed to the
//! caller, so that submitting it allocates that cell and nothing else (a
//! boxed sink holding the cell cost an allocation and a free per call, and
//! a pair of locked reference-count changes).
//!
//! [`AsyncResult`]: crate::AsyncResult

use std::ops::Range;
use std::sync::Arc;

use mp_wire::Message;

use crate::apply_sink::is_the_task;
use crate::error::TaskError;
use crate::result::AfterStore;
use crate::sink::{Completion, Progress, Sink};

/// A job's entry in the engine's job table.
pub(crate) enum JobSink {
    /// Any job: its sink, boxed.
    Boxed(Box<dyn Sink>),
    /// An `apply` without callbacks: the one task's result cell.
    Cell(Arc<dyn CellSink>),
}

/// A result cell that takes an `apply`'s one task output itself (see the
/// module docs); implemented in `apply_sink`.
pub(crate) trait CellSink: Send + Sync {
    /// Decodes the task's output and stores the result; what waits for it
    /// (hooks, futures) is returned, to run outside the pool's lock.
    fn store_output(&self, out: Result<Message, TaskError>) -> AfterStore;
    /// Runs what [`store_output`](Self::store_output) returned.
    fn finish(&self, after: AfterStore);
    /// The pool was terminated: the result reports it.
    fn abandon(self: Arc<Self>) -> Completion;
    /// The job was cancelled: the result reports [`TaskError::Cancelled`].
    fn cancel(self: Arc<Self>) -> Completion;
}

impl JobSink {
    /// As [`Sink::chunk_done`]. A cell's job is done by the one task of its
    /// one chunk (anything else is a stale delivery).
    pub(crate) fn chunk_done(
        &mut self,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
    ) -> Progress {
        match self {
            JobSink::Boxed(sink) => sink.chunk_done(index, items, out),
            JobSink::Cell(cell) => {
                if !is_the_task(index, &items) {
                    return Progress::Pending;
                }
                let after = cell.store_output(out);
                if after.is_empty() {
                    return Progress::Done(None);
                }
                let cell = Arc::clone(cell);
                Progress::Done(Some(Box::new(move || cell.finish(after))))
            }
        }
    }

    /// As [`Sink::take_reports`] (a cell has no progress hook).
    pub(crate) fn take_reports(&mut self, out: &mut Vec<Completion>) {
        if let JobSink::Boxed(sink) = self {
            sink.take_reports(out);
        }
    }

    /// As [`Sink::grow`] (a cell's job never grows).
    pub(crate) fn grow(&mut self, lens: &[usize], last: bool) -> Progress {
        match self {
            JobSink::Boxed(sink) => sink.grow(lens, last),
            JobSink::Cell(_) => Progress::Pending,
        }
    }

    /// As [`Sink::abandon`].
    pub(crate) fn abandon(self) -> Option<Completion> {
        match self {
            JobSink::Boxed(sink) => sink.abandon(),
            JobSink::Cell(cell) => Some(cell.abandon()),
        }
    }

    /// As [`Sink::cancel`].
    pub(crate) fn cancel(self) -> Option<Completion> {
        match self {
            JobSink::Boxed(sink) => sink.cancel(),
            JobSink::Cell(cell) => Some(cell.cancel()),
        }
    }
}

impl<S: Sink + 'static> From<Box<S>> for JobSink {
    fn from(sink: Box<S>) -> Self {
        JobSink::Boxed(sink)
    }
}
