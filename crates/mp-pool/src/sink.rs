//! Where a job's chunk outputs go in the parent: a [`Sink`] per job decodes
//! each chunk for its own result type and, once the job is complete, hands
//! back a [`Completion`] that the pool runs outside its lock (callbacks,
//! waking waiters).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use mp_wire::Message;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, TaskError};
use crate::func::ChunkOutput;
use crate::imap::ImapShared;
use crate::packed;
use crate::progress_hook::Reporter;
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
    /// Tasks `items` of chunk `index` (counted within the chunk; an end past
    /// the chunk means its end) finished with `out`: their encoded outputs,
    /// or an error that applies to each of them. A chunk's tasks arrive in
    /// order, in one piece unless a worker died running it (then the tasks
    /// that may have run fail first, and the rest come from another worker).
    fn chunk_done(
        &mut self,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
    ) -> Progress;
    /// The pool was terminated: the job will never complete.
    fn abandon(self: Box<Self>) -> Option<Completion>;
    /// The job was cancelled: its result reports [`TaskError::Cancelled`]
    /// (by default, as if the pool were terminated).
    fn cancel(self: Box<Self>) -> Option<Completion> {
        self.abandon()
    }
    /// More chunks of these lengths were added (a buffered imap reading its
    /// input as it goes); with `last`, no more will be. Only sinks made open
    /// accept this; the others keep their fixed set.
    fn grow(&mut self, lens: &[usize], last: bool) -> Progress {
        let _ = (lens, last);
        Progress::Pending
    }
    /// Moves the progress-hook calls made ready by the last
    /// [`chunk_done`](Self::chunk_done) to `out` (to run outside the lock,
    /// before the job's completion). Sinks without a hook have none.
    fn take_reports(&mut self, out: &mut Vec<Completion>) {
        let _ = out;
    }
}

/// Decodes a chunk's output, checking it has `expected` items; a failure
/// becomes one error for the chunk (`Err`, never [`ChunkOutput::Failed`]).
pub(crate) fn decode_chunk<R: DeserializeOwned + 'static>(
    out: Result<Message, TaskError>,
    expected: usize,
) -> Result<ChunkOutput<R>, TaskError> {
    let out = out?;
    let decoded: ChunkOutput<R> = match out.bytes.split_first() {
        Some((&packed::PACKED_DONE, rest)) => {
            let mut values = Vec::new();
            match packed::unpack(rest, &mut values) {
                Some(Ok(())) => ChunkOutput::Done(values),
                Some(Err(e)) => return Err(TaskError::Decode(format!("a task result: {e}"))),
                None => {
                    return Err(TaskError::Decode(
                        "a task result: packed, but its type does not travel packed".into(),
                    ))
                }
            }
        }
        _ => mp_wire::decode(out).map_err(|e| TaskError::Decode(format!("a task result: {e}")))?,
    };
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

/// The index, in the whole call, of the first input of chunk `index`.
fn chunk_offset(lens: &[usize], index: usize) -> usize {
    lens.iter().take(index).sum()
}

/// Where tasks `items` of a chunk of `len` tasks go, given that `settled`
/// of its tasks are settled: the number of tasks they cover, or `None` if
/// they are not the next ones (a stale delivery).
fn next_piece(items: &Range<usize>, len: usize, settled: usize) -> Option<usize> {
    let end = items.end.min(len);
    (items.start == settled && end > items.start).then(|| end - items.start)
}

/// Collects every chunk of a job in order, then finishes it into a `T` (the
/// `Vec<R>` of `map`, the single `R` of `apply`).
pub(crate) struct CollectSink<R, T> {
    lens: Vec<usize>,
    /// Each chunk's values so far and how many of its tasks are settled.
    slots: Vec<(Vec<R>, usize)>,
    remaining: usize,
    first_error: Option<TaskError>,
    finish: fn(Vec<R>) -> Option<T>,
    callbacks: Callbacks<T>,
    cell: Arc<ResultCell<T>>,
    /// The call's progress hook, if it has one.
    progress: Option<Reporter>,
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
            slots: (0..n).map(|_| (Vec::new(), 0)).collect(),
            remaining: n,
            first_error: None,
            finish,
            callbacks,
            cell,
            progress: None,
        }
    }

    /// Reports each finished task to `progress`.
    pub(crate) fn with_progress(mut self, progress: Option<Reporter>) -> Self {
        self.progress = progress;
        self
    }
}

impl<R, T> Sink for CollectSink<R, T>
where
    R: DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    fn chunk_done(
        &mut self,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
    ) -> Progress {
        let (Some(&len), Some((values, settled))) =
            (self.lens.get(index), self.slots.get_mut(index))
        else {
            return Progress::Pending;
        };
        let Some(n) = next_piece(&items, len, *settled) else {
            return Progress::Pending;
        };
        if let Some(p) = &mut self.progress {
            p.batch(index, *settled..*settled + n);
        }
        *settled += n;
        match decode_chunk::<R>(out, n) {
            Ok(ChunkOutput::Done(got)) if values.is_empty() => *values = got,
            Ok(got) => {
                for item in got.into_results() {
                    match item {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            let e = e.offset_task(chunk_offset(&self.lens, index));
                            self.first_error.get_or_insert(e);
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                let e = e.offset_task(chunk_offset(&self.lens, index));
                self.first_error.get_or_insert(e);
            }
        }
        if *settled < len {
            return Progress::Pending;
        }
        self.remaining -= 1;
        if self.remaining > 0 {
            return Progress::Pending;
        }
        let result = match self.first_error.take() {
            Some(e) => Err(PoolError::Task(e)),
            None => {
                // The first chunk's values, grown to hold the others'
                // (a lone chunk's, as they came: `apply`).
                let mut slots = self.slots.drain(..).map(|(values, _)| values);
                let mut all: Vec<R> = slots.next().unwrap_or_default();
                all.reserve(self.lens.iter().sum::<usize>().saturating_sub(all.len()));
                for values in slots {
                    all.extend(values);
                }
                (self.finish)(all).ok_or_else(|| {
                    PoolError::Task(TaskError::Decode("a task returned no result".into()))
                })
            }
        };
        let callbacks = std::mem::take(&mut self.callbacks);
        let cell = self.cell.clone();
        let done: Completion = Box::new(move || callbacks.complete(&cell, result));
        Progress::Done(Some(match &self.progress {
            Some(p) => p.finish(done),
            None => done,
        }))
    }

    fn take_reports(&mut self, out: &mut Vec<Completion>) {
        if let Some(p) = &mut self.progress {
            p.take_ready(out);
        }
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        Some(terminated(self.cell))
    }

    fn cancel(self: Box<Self>) -> Option<Completion> {
        let CollectSink {
            callbacks, cell, ..
        } = *self;
        Some(cancelled(callbacks, cell))
    }
}

/// What completes a job whose pool was terminated: its result reports
/// [`PoolError::Terminated`] (no callback runs, as in Python).
pub(crate) fn terminated<T: Send + 'static>(cell: Arc<ResultCell<T>>) -> Completion {
    Box::new(move || cell.set(Err(PoolError::Terminated)))
}

/// What completes a cancelled job: its error callback runs with
/// [`TaskError::Cancelled`], which its result then reports.
pub(crate) fn cancelled<T: Send + 'static>(
    callbacks: Callbacks<T>,
    cell: Arc<ResultCell<T>>,
) -> Completion {
    let err = PoolError::Task(TaskError::Cancelled);
    Box::new(move || callbacks.complete(&cell, Err(err)))
}

/// Feeds an imap iterator: each chunk's items are pushed as they arrive.
pub(crate) struct ImapSink<R> {
    lens: Vec<usize>,
    /// The first pieces of chunks a worker died in, until the rest arrives.
    partial: HashMap<usize, Vec<Result<R, PoolError>>>,
    remaining: usize,
    shared: Arc<ImapShared<R>>,
    /// More chunks may still be added ([`Sink::grow`]).
    open: bool,
    /// The call's progress hook, if it has one (each chunk's hook call is
    /// followed by handing its results to the iterator).
    progress: Option<Reporter>,
}

impl<R> ImapSink<R> {
    pub(crate) fn new(lens: Vec<usize>, shared: Arc<ImapShared<R>>) -> Self {
        let remaining = lens.len();
        ImapSink {
            lens,
            partial: HashMap::new(),
            remaining,
            shared,
            open: false,
            progress: None,
        }
    }

    /// A sink for a buffered job: no chunks yet, more to come.
    pub(crate) fn open(shared: Arc<ImapShared<R>>) -> Self {
        ImapSink {
            lens: Vec::new(),
            partial: HashMap::new(),
            remaining: 0,
            shared,
            open: true,
            progress: None,
        }
    }

    /// Reports each finished task to `progress` (before the iterator sees
    /// its result).
    pub(crate) fn with_progress(mut self, progress: Option<Reporter>) -> Self {
        self.progress = progress;
        self
    }

    fn outcome(&self) -> Progress {
        if self.remaining == 0 && !self.open {
            Progress::Done(None)
        } else {
            Progress::Pending
        }
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for ImapSink<R> {
    fn chunk_done(
        &mut self,
        index: usize,
        items: Range<usize>,
        out: Result<Message, TaskError>,
    ) -> Progress {
        let Some(&len) = self.lens.get(index) else {
            return Progress::Pending;
        };
        let settled = self.partial.get(&index).map_or(0, Vec::len);
        let Some(n) = next_piece(&items, len, settled) else {
            return Progress::Pending;
        };
        let got: Vec<Result<R, PoolError>> = match decode_chunk::<R>(out, n) {
            Ok(got) => {
                // Only a chunk with failures needs its offset (a sum over
                // the chunks before it).
                let offset = match got {
                    ChunkOutput::Mixed(_) => chunk_offset(&self.lens, index),
                    _ => 0,
                };
                got.into_results()
                    .into_iter()
                    .map(|r| r.map_err(|e| PoolError::Task(e.offset_task(offset))))
                    .collect()
            }
            Err(e) => {
                let e = e.offset_task(chunk_offset(&self.lens, index));
                (0..n).map(|_| Err(PoolError::Task(e.clone()))).collect()
            }
        };
        let got = if n == len {
            got
        } else {
            let mut all = self.partial.remove(&index).unwrap_or_default();
            all.extend(got);
            if all.len() < len {
                self.partial.insert(index, all);
                if let Some(p) = &mut self.progress {
                    p.then(index, settled..settled + n, || {});
                }
                return Progress::Pending;
            }
            all
        };
        match &mut self.progress {
            Some(p) => {
                let shared = self.shared.clone();
                p.then(index, settled..settled + n, move || shared.push(index, got));
            }
            None => self.shared.push(index, got),
        }
        self.remaining = self.remaining.saturating_sub(1);
        self.outcome()
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        self.shared.terminate();
        None
    }

    fn cancel(self: Box<Self>) -> Option<Completion> {
        self.shared.cancel();
        None
    }

    fn grow(&mut self, lens: &[usize], last: bool) -> Progress {
        if !self.open {
            return Progress::Pending;
        }
        self.lens.extend_from_slice(lens);
        self.remaining += lens.len();
        self.open = !last;
        if let Some(p) = &mut self.progress {
            p.add_chunks(lens, last);
        }
        self.shared.add_chunks(lens.len(), last);
        self.outcome()
    }

    fn take_reports(&mut self, out: &mut Vec<Completion>) {
        if let Some(p) = &mut self.progress {
            p.take_ready(out);
        }
    }
}
