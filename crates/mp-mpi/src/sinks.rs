//! Where an MPI pool's chunk replies go: a collecting sink that completes an
//! `AsyncResult` once every chunk is back (`map`, `starmap`, `apply`), and an
//! iterator sink that hands each chunk to an `IMapIterator` as it comes.

use mp_pool::remote::{self, ChunkResults, Completion, ImapFeed};
use mp_pool::{PoolError, TaskError};
use serde::de::DeserializeOwned;

/// Takes the replies of one job's chunks.
pub(crate) trait Sink: Send {
    /// Chunk `index` came back (or could not run: `Err`).
    fn deliver(&mut self, index: usize, reply: Result<Vec<u8>, TaskError>);
    /// The pool was terminated before every chunk came back.
    fn terminate(&mut self);
}

/// Collects every chunk in order, then completes the result with
/// `finish(values)`, or with the first failure received.
///
/// The values are assembled as the chunks come: each chunk whose
/// predecessors are all in is moved onto the result at once, so when the
/// last reply arrives only its own values are left to move (not the whole
/// result, while the caller waits).
pub(crate) struct CollectSink<R, T> {
    lens: Vec<usize>,
    /// Chunks that came before one of their predecessors (`Some`: arrived;
    /// an arrived chunk moved onto `values` leaves an empty `Vec`).
    slots: Vec<Option<Vec<R>>>,
    /// The values of chunks `0..next`, in order.
    values: Vec<R>,
    next: usize,
    remaining: usize,
    first_error: Option<TaskError>,
    finish: fn(Vec<R>) -> Option<T>,
    done: Option<Completion<T>>,
}

impl<R, T> CollectSink<R, T> {
    pub(crate) fn new(
        lens: Vec<usize>,
        finish: fn(Vec<R>) -> Option<T>,
        done: Completion<T>,
    ) -> Self {
        let n = lens.len();
        let mut sink = CollectSink {
            slots: (0..n).map(|_| None).collect(),
            values: Vec::new(),
            next: 0,
            lens,
            remaining: n,
            first_error: None,
            finish,
            done: Some(done),
        };
        if n == 0 {
            sink.complete();
        }
        sink
    }

    fn complete(&mut self) {
        let Some(done) = self.done.take() else {
            return;
        };
        if let Some(e) = self.first_error.take() {
            return done.complete(Err(PoolError::Task(e)));
        }
        match (self.finish)(std::mem::take(&mut self.values)) {
            Some(v) => done.complete(Ok(v)),
            None => done.complete(Err(PoolError::Task(TaskError::Decode(
                "a call returned no result".into(),
            )))),
        }
    }
}

impl<R, T> CollectSink<R, T> {
    /// Moves the chunks that now follow `values` onto it, each as a block
    /// (the first chunk's own buffer becomes the result's, grown to the
    /// whole size once).
    fn take_in_order(&mut self) {
        while let Some(Some(chunk)) = self.slots.get_mut(self.next) {
            if self.values.capacity() == 0 {
                self.values = std::mem::take(chunk);
                let total: usize = self.lens.iter().sum();
                self.values
                    .reserve_exact(total.saturating_sub(self.values.len()));
            } else {
                self.values.append(chunk);
            }
            self.next += 1;
        }
    }
}

impl<R: DeserializeOwned + Send + 'static, T: Send> Sink for CollectSink<R, T> {
    fn deliver(&mut self, index: usize, reply: Result<Vec<u8>, TaskError>) {
        let Some(len) = self.lens.get(index).copied() else {
            return;
        };
        if self.slots[index].is_some() {
            return;
        }
        let values = match remote::decode_chunk_output::<R>(reply, len) {
            // The common case: the decoded values are the slot, as they are.
            Ok(ChunkResults::Values(values)) => values,
            Ok(ChunkResults::Each(results)) => {
                let mut values = Vec::with_capacity(len);
                for r in results {
                    match r {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            self.first_error.get_or_insert(e);
                        }
                    }
                }
                values
            }
            Err(e) => {
                self.first_error.get_or_insert(e);
                Vec::new()
            }
        };
        self.slots[index] = Some(values);
        self.take_in_order();
        self.remaining -= 1;
        if self.remaining == 0 {
            self.complete();
        }
    }

    fn terminate(&mut self) {
        if let Some(done) = self.done.take() {
            done.complete(Err(PoolError::Terminated));
        }
    }
}

/// Hands each chunk's results to an `IMapIterator` as they arrive.
pub(crate) struct ImapSink<R> {
    lens: Vec<usize>,
    feed: ImapFeed<R>,
}

impl<R> ImapSink<R> {
    pub(crate) fn new(lens: Vec<usize>, feed: ImapFeed<R>) -> Self {
        ImapSink { lens, feed }
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for ImapSink<R> {
    fn deliver(&mut self, index: usize, reply: Result<Vec<u8>, TaskError>) {
        let len = self.lens.get(index).copied().unwrap_or(0);
        let items = match remote::decode_chunk_output::<R>(reply, len) {
            Ok(ChunkResults::Values(values)) => values.into_iter().map(Ok).collect(),
            Ok(ChunkResults::Each(results)) => results
                .into_iter()
                .map(|r| r.map_err(PoolError::Task))
                .collect(),
            Err(e) => (0..len).map(|_| Err(PoolError::Task(e.clone()))).collect(),
        };
        self.feed.push(index, items);
    }

    fn terminate(&mut self) {
        self.feed.terminate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp_pool::Callbacks;

    fn reply(values: &[u32]) -> Result<Vec<u8>, TaskError> {
        Ok(remote::run_map_chunk(
            |x: u32| x,
            remote::encode_chunk(values).unwrap(),
        ))
    }

    #[test]
    fn collects_in_chunk_order_and_keeps_the_first_error() {
        let (r, done) = remote::async_result::<Vec<u32>>(Callbacks::new());
        let mut sink = CollectSink::new(vec![2, 1], Some, done);
        sink.deliver(1, reply(&[3]));
        assert!(!r.ready());
        sink.deliver(0, reply(&[1, 2]));
        assert_eq!(r.get().unwrap(), vec![1, 2, 3]);

        let (r, done) = remote::async_result::<Vec<u32>>(Callbacks::new());
        let mut sink = CollectSink::new(vec![1, 1], Some, done);
        sink.deliver(1, Err(TaskError::Function("gone".into())));
        sink.deliver(0, reply(&[1, 2])); // wrong length: a decode error, later
        assert!(matches!(
            r.get(),
            Err(PoolError::Task(TaskError::Function(_)))
        ));

        let (r, done) = remote::async_result::<Vec<u32>>(Callbacks::new());
        let mut sink = CollectSink::new(vec![1], Some, done);
        sink.terminate();
        assert!(matches!(r.get(), Err(PoolError::Terminated)));
    }

    #[test]
    fn imap_gets_every_task_of_a_failed_chunk() {
        let (it, feed) = remote::imap_iterator::<u32>(true, 2);
        let mut sink = ImapSink::new(vec![2, 1], feed);
        sink.deliver(1, reply(&[9]));
        sink.deliver(0, Err(TaskError::Function("x".into())));
        let got: Vec<_> = it.collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_err() && got[1].is_err());
        assert_eq!(got[2].as_ref().unwrap(), &9);
    }
}
