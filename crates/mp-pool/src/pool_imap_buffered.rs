//! The buffered forms of `imap` and `imap_unordered` (Python 3.15's
//! `buffersize=`): the input is read lazily, a chunk at a time, and at most
//! `buffersize` chunks' worth of tasks are submitted whose results have not
//! been taken — so an endless or huge input works in bounded memory.

use std::iter::Fuse;
use std::sync::{Arc, Weak};

use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunk;
use crate::engine::Inner;
use crate::error::{PoolError, TaskError};
use crate::func::{self, ChunkEntry};
use crate::imap::{Feed, IMapIterator, ImapShared};
use crate::options::{CallSettings, TaskOptions};
use crate::pool::Pool;
use crate::progress_hook::Reporter;
use crate::sink::ImapSink;

/// Reads a buffered job's input and submits it chunk by chunk.
struct Feeder<I> {
    inner: Weak<Inner>,
    job: u64,
    entry: ChunkEntry,
    input: Fuse<I>,
    chunksize: usize,
    next_index: usize,
    /// Reading the input panicked: it is not read again.
    failed: bool,
}

impl<I, T> Feed for Feeder<I>
where
    I: Iterator<Item = T> + Send,
    T: Serialize + 'static,
{
    /// A panic while reading the input ends it: the items read before it
    /// are submitted, then one more chunk of one task that fails with
    /// [`TaskError::InputPanic`] (counted in the return value).
    fn feed(&mut self) -> usize {
        if self.failed {
            return 0;
        }
        let Some(inner) = self.inner.upgrade() else {
            return 0;
        };
        let (items, failure) = chunk::read_input(&mut self.input, self.chunksize);
        let n = items.len();
        let last = n < self.chunksize || failure.is_some();
        let (payloads, encode_error) = match (n > 0).then(|| chunk::encode_chunk(&items)) {
            None => (Vec::new(), None),
            Some(Ok(p)) => (vec![p], None),
            Some(Err(e)) => (Vec::new(), Some(TaskError::Encode(e.to_string()))),
        };
        let index = self.next_index;
        let parts = self.entry.to_parts();
        let job = self.job;
        // The chunk read (if any), then the input's failure (if any).
        let mut lens = Vec::with_capacity(2);
        lens.extend((n > 0).then_some(n));
        lens.extend(failure.is_some().then_some(1));
        let live = inner.update(|s, cfg, completions| {
            let live = s.grow(cfg, job, index, parts, &lens, payloads, last, completions);
            if let Some(err) = &encode_error {
                s.fail_chunks(job, index..index + 1, err, completions);
            }
            if let Some(err) = &failure {
                let at = index + usize::from(n > 0);
                s.fail_chunks(job, at..at + 1, err, completions);
            }
            live
        });
        self.next_index += lens.len();
        self.failed = failure.is_some();
        if live {
            n + usize::from(self.failed)
        } else {
            0
        }
    }

    fn close(&mut self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let (job, next, parts) = (self.job, self.next_index, self.entry.to_parts());
        inner.update(|s, cfg, completions| {
            s.grow(cfg, job, next, parts, &[], Vec::new(), true, completions);
        });
    }
}

impl Pool {
    #[allow(clippy::too_many_arguments)]
    fn imap_buffered_inner<I, T, R>(
        &self,
        entry: ChunkEntry,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
        ordered: bool,
        call: CallSettings,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
    {
        self.check_running()?;
        if chunksize == 0 {
            return Err(PoolError::InvalidArgument(
                "chunksize must be 1+, not 0".to_string(),
            ));
        }
        if buffersize == 0 {
            return Err(PoolError::InvalidArgument(
                "buffersize must be None or > 0".to_string(),
            ));
        }
        let shared = ImapShared::open(ordered);
        let progress = call.progress.map(|h| Reporter::new(h, &[], false));
        let sink = ImapSink::open(shared.clone()).with_progress(progress);
        let job = self.submit(
            Box::new(sink).into(),
            entry,
            Vec::new(),
            true,
            false,
            call.limit,
        )?;
        let feeder = Feeder {
            inner: Arc::downgrade(&self.inner),
            job,
            entry,
            input: iterable.into_iter().fuse(),
            chunksize,
            next_index: 0,
            failed: false,
        };
        let limit = buffersize.saturating_mul(chunksize);
        Ok(IMapIterator::buffered(shared, Box::new(feeder), limit)
            .of_job(Arc::downgrade(&self.inner), job)
            .started())
    }

    /// [`imap_chunked`](Self::imap_chunked) reading its input lazily (Python
    /// 3.15's `imap(..., buffersize=n)`): at most `buffersize` chunks are
    /// submitted whose results have not been taken; taking a result lets the
    /// next input in. With `buffersize` at least [`processes`](Self::processes)
    /// every worker stays busy. The input may be endless; it is read on the
    /// thread that iterates. If reading it panics, the results of the items
    /// read before are yielded, then
    /// [`TaskError::InputPanic`], and the
    /// iterator ends. A job still reading its input keeps
    /// [`join`](Self::join) waiting, as in Python.
    ///
    /// ```
    /// # use mp_pool::Pool;
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = Pool::with_processes(2)?;
    /// // An endless input, consumed as the results are.
    /// let first: Vec<u64> = pool
    ///     .imap_buffered(square, 0.., 1, 4)?
    ///     .take(5)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(first, vec![0, 1, 4, 9, 16]);
    /// # Ok::<(), mp_pool::PoolError>(())
    /// ```
    pub fn imap_buffered<F, T, R, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_buffered_inner(
            entry,
            iterable,
            chunksize,
            buffersize,
            true,
            self.default_call(),
        )
    }

    /// [`imap_unordered_chunked`](Self::imap_unordered_chunked) reading its
    /// input lazily, as [`imap_buffered`](Self::imap_buffered).
    pub fn imap_unordered_buffered<F, T, R, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_buffered_inner(
            entry,
            iterable,
            chunksize,
            buffersize,
            false,
            self.default_call(),
        )
    }

    /// [`imap_buffered`](Self::imap_buffered) with [`TaskOptions`] (a
    /// timeout for each task, a progress hook; its total is `None` until
    /// the input has ended).
    pub fn imap_buffered_opts<F, T, R, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_buffered_inner(entry, iterable, chunksize, buffersize, true, call)
    }

    /// [`imap_unordered_buffered`](Self::imap_unordered_buffered) with
    /// [`TaskOptions`], as [`imap_buffered_opts`](Self::imap_buffered_opts).
    pub fn imap_unordered_buffered_opts<F, T, R, I>(
        &self,
        f: F,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_buffered_inner(entry, iterable, chunksize, buffersize, false, call)
    }
}
