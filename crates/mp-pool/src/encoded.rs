//! Pool work in encoded form, for a pool that runs on behalf of another
//! process (the manager's `Pool` proxy): the caller encodes a job — which
//! function, as an entry point into this program, and its chunks of inputs —
//! the pool's owner runs it with [`Pool::run_encoded`] and sends the encoded
//! outputs back, and the caller decodes them with [`EncodedJob::decode`].
//!
//! Both sides must be the same program (the entry point is checked against
//! the binary's build-id and the function's signature, as for every pool
//! task); values carrying fds cannot travel this way. A job is trusted input,
//! like a pickle in Python: an entry point altered on the way can make the
//! worker run the wrong code and crash (the pool then fails that task with
//! [`TaskError::WorkerDied`] and starts a new worker), so take jobs only over
//! authenticated connections, as the manager does.

use std::sync::Arc;

use mp_wire::serde_bytes::ByteBuf;
use mp_wire::Message;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::chunk;
use crate::dispatch::RunState;
use crate::error::{PoolError, TaskError};
use crate::func::{self, ChunkEntry, ChunkOutput, EntryParts, StarFn};
use crate::pool::Pool;
use crate::result::{lock, AsyncResult, ResultCell};
use crate::sink::{decode_chunk, Completion, Progress, Sink};

/// A job in encoded form: the function and its chunks of inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncodedJob {
    entry: EntryParts,
    /// Each chunk: how many inputs, and their encoding.
    chunks: Vec<(usize, ByteBuf)>,
}

/// One chunk's encoded outputs, or the error that hit the whole chunk.
pub type EncodedOutput = Result<ByteBuf, TaskError>;

impl EncodedJob {
    fn encode<T: Serialize>(
        entry: ChunkEntry,
        items: &[T],
        chunksize: usize,
    ) -> Result<Self, PoolError> {
        let mut chunks = Vec::new();
        for c in items.chunks(chunksize.max(1)) {
            let (bytes, fds) = chunk::encode_chunk(c)?;
            if !fds.is_empty() {
                return Err(PoolError::InvalidArgument(
                    "values that carry fds cannot be sent to a pool in another process".into(),
                ));
            }
            chunks.push((c.len(), ByteBuf::from(bytes)));
        }
        Ok(EncodedJob {
            entry: entry.to_parts(),
            chunks,
        })
    }

    /// `f(item)` for each item, in chunks of `chunksize` (at least 1).
    pub fn map<F, T, R>(f: F, items: &[T], chunksize: usize) -> Result<Self, PoolError>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        Self::encode(func::map_entry::<F, T, R>(f), items, chunksize)
    }

    /// `f(*args)` for each argument tuple, in chunks of `chunksize`.
    pub fn star<F, Args>(f: F, args: &[Args], chunksize: usize) -> Result<Self, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + 'static,
    {
        Self::encode(func::star_entry::<F, Args>(f), args, chunksize)
    }

    /// How many inputs the job has.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|(n, _)| n).sum()
    }

    /// Whether the job has no inputs.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Decodes the outputs [`Pool::run_encoded`] gave for this job: every
    /// result in input order, or — as `map` does — the first error.
    pub fn decode<R: DeserializeOwned>(
        &self,
        outputs: Vec<EncodedOutput>,
    ) -> Result<Vec<R>, PoolError> {
        if outputs.len() != self.chunks.len() {
            return Err(PoolError::Task(TaskError::Decode(format!(
                "{} chunk outputs for {} chunks",
                outputs.len(),
                self.chunks.len()
            ))));
        }
        let mut all = Vec::with_capacity(self.len());
        let mut first_error = None;
        for ((len, _), out) in self.chunks.iter().zip(outputs) {
            let out = out.map(|b| Message::from_bytes(b.into_vec()));
            match decode_chunk::<R>(out, *len) {
                Ok(ChunkOutput::Done(values)) => all.extend(values),
                Ok(items) => {
                    for item in items.into_results() {
                        match item {
                            Ok(v) => all.push(v),
                            Err(e) => {
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(PoolError::Task(e)),
            None => Ok(all),
        }
    }
}

/// Collects a job's chunk outputs undecoded.
struct EncodedSink {
    outputs: Vec<Option<EncodedOutput>>,
    remaining: usize,
    cell: Arc<ResultCell<Vec<EncodedOutput>>>,
}

impl Sink for EncodedSink {
    fn chunk_done(&mut self, index: usize, out: Result<Message, TaskError>) -> Progress {
        let Some(slot) = self.outputs.get_mut(index) else {
            return Progress::Pending;
        };
        if slot.is_some() {
            return Progress::Pending;
        }
        *slot = Some(out.map(|m| ByteBuf::from(m.bytes)));
        self.remaining -= 1;
        if self.remaining > 0 {
            return Progress::Pending;
        }
        let outputs: Vec<EncodedOutput> = self.outputs.drain(..).flatten().collect();
        let cell = self.cell.clone();
        let done: Completion = Box::new(move || cell.set(Ok(outputs)));
        Progress::Done(Some(done))
    }

    fn abandon(self: Box<Self>) -> Option<Completion> {
        let cell = self.cell;
        Some(Box::new(move || cell.set(Err(PoolError::Terminated))))
    }
}

impl Pool {
    /// Submits an [`EncodedJob`] (made in another process of this program);
    /// the result holds each chunk's encoded outputs, in order, for
    /// [`EncodedJob::decode`]. A function that is not an entry point of this
    /// program fails each chunk with [`TaskError::Function`].
    pub fn run_encoded(
        &self,
        job: &EncodedJob,
    ) -> Result<AsyncResult<Vec<EncodedOutput>>, PoolError> {
        if lock(&self.inner.shared).state != RunState::Run {
            return Err(PoolError::NotRunning);
        }
        let cell = ResultCell::new();
        if job.chunks.is_empty() {
            cell.set(Ok(Vec::new()));
            return Ok(AsyncResult::new(cell));
        }
        let (offset, signature, binary) = job.entry;
        let entry = ChunkEntry::from_parts(offset, signature, binary);
        let payloads = job
            .chunks
            .iter()
            .map(|(_, b)| (b.to_vec(), Vec::new()))
            .collect();
        let sink = EncodedSink {
            outputs: (0..job.chunks.len()).map(|_| None).collect(),
            remaining: job.chunks.len(),
            cell: cell.clone(),
        };
        let id = self.submit(Box::new(sink), entry, payloads, true, false)?;
        Ok(AsyncResult::with_helper(
            cell,
            Arc::downgrade(&self.inner),
            id,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triple(x: u32) -> u32 {
        x * 3
    }

    #[test]
    fn jobs_encode_and_decode() {
        let job = EncodedJob::map(triple, &[1u32, 2, 3, 4, 5], 2).unwrap();
        assert_eq!((job.len(), job.chunks.len()), (5, 3));
        // What a worker would send back for each chunk.
        let outs: Vec<EncodedOutput> = [vec![3u32, 6], vec![9, 12], vec![15]]
            .into_iter()
            .map(|v| {
                let m = mp_wire::encode(&ChunkOutput::Done(v)).unwrap();
                Ok(ByteBuf::from(m.bytes))
            })
            .collect();
        assert_eq!(job.decode::<u32>(outs).unwrap(), vec![3, 6, 9, 12, 15]);
        // A failed chunk is the job's error; a wrong count is a decode error.
        let outs = vec![
            Ok(ByteBuf::from(
                mp_wire::encode(&ChunkOutput::Done(vec![3u32, 6]))
                    .unwrap()
                    .bytes,
            )),
            Err(TaskError::Function("gone".into())),
            Ok(ByteBuf::from(
                mp_wire::encode(&ChunkOutput::Done(vec![15u32]))
                    .unwrap()
                    .bytes,
            )),
        ];
        assert!(matches!(
            job.decode::<u32>(outs),
            Err(PoolError::Task(TaskError::Function(m))) if m == "gone"
        ));
        assert!(job.decode::<u32>(Vec::new()).is_err());
    }
}
