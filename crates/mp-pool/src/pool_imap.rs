//! The `imap` family of [`Pool`]: results as an iterator, in input order
//! (`imap`) or in completion order (`imap_unordered`).

use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunk;
use crate::error::PoolError;
use crate::func::{self, ChunkEntry};
use crate::imap::{IMapIterator, ImapShared};
use crate::options::CallSettings;
use crate::pool::Pool;
use crate::progress_hook::Reporter;
use crate::sink::ImapSink;

impl Pool {
    pub(crate) fn imap_inner<T, R>(
        &self,
        entry: ChunkEntry,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        ordered: bool,
        call: CallSettings,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
    {
        self.check_running()?;
        let (items, failure) = chunk::read_input(&mut iterable.into_iter(), usize::MAX);
        let chunksize = chunk::resolve(Some(chunksize), items.len(), self.processes())?;
        let (lens, payloads) = chunk::encode_chunks(&items, chunksize)?;
        let chunks = lens.len();
        // A panic while reading the input is one more "chunk", after the rest.
        let shared = ImapShared::new(ordered, chunks + usize::from(failure.is_some()));
        let mut it = IMapIterator::new(shared.clone());
        if !lens.is_empty() {
            let progress = call.progress.map(|h| Reporter::new(h, &lens, true));
            let sink = ImapSink::new(lens, shared.clone()).with_progress(progress);
            let job = self.submit(
                Box::new(sink).into(),
                entry,
                payloads,
                true,
                false,
                call.limit,
            )?;
            it = it.of_job(std::sync::Arc::downgrade(&self.inner), job);
        }
        if let Some(e) = failure {
            shared.push(chunks, vec![Err(PoolError::Task(e))]);
        }
        Ok(it)
    }

    /// Results in input order, each yielded as soon as it and all before it
    /// are done (Python's `imap` with chunksize 1). The input is consumed at
    /// once, as Python's task handler does. If reading it panics, the
    /// results of the items read before are yielded, then
    /// [`TaskError::InputPanic`](crate::TaskError::InputPanic), and the
    /// iterator ends (Python: the iterable's exception is raised in its
    /// turn).
    pub fn imap<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.imap_chunked(f, iterable, 1)
    }

    /// [`imap`](Self::imap) with a chunk size (at least 1).
    pub fn imap_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, true, self.default_call())
    }

    /// Results in completion order (Python's `imap_unordered`, chunksize 1).
    pub fn imap_unordered<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.imap_unordered_chunked(f, iterable, 1)
    }

    /// [`imap_unordered`](Self::imap_unordered) with a chunk size (at least 1).
    pub fn imap_unordered_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, false, self.default_call())
    }
}
