//! The MPI side of a [`Pool`](crate::Pool): encodes a call's chunks, submits
//! them to the dispatcher ([`Engine`]) and returns mp-pool's own result
//! types, filled by the [`sinks`](crate::sinks).

use std::sync::Mutex;

use mp_pool::{remote, AsyncResult, Callbacks, IMapIterator, PoolError, TaskError};
use mp_sys::dropped_by_maker::DroppedByMaker;
use mp_sys::mpi_job::CallEntry;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::{Engine, Job};
use crate::sinks::{CollectSink, ImapSink, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Run,
    Close,
    Terminate,
}

/// A pool whose workers are the ranks 1.. of the MPI job.
pub(crate) struct MpiPool {
    /// The process that made the pool: the only one that may use it (a
    /// forked child's copy has no dispatcher thread, its locks may be held
    /// for ever there by threads it does not have, and the ranks are its
    /// parent's).
    owner: u32,
    /// Not dropped in a forked child: dropping its channel's sender takes
    /// the channel's lock, which the parent's dispatcher thread may have
    /// held at the fork (it does while it registers to wait).
    engine: DroppedByMaker<Engine>,
    processes: usize,
    state: Mutex<State>,
}

impl MpiPool {
    pub(crate) fn new(engine: Engine, processes: usize) -> Self {
        MpiPool {
            owner: mp_shm::ProcessIdent::current().pid(),
            engine: DroppedByMaker::new(engine),
            processes,
            state: Mutex::new(State::Run),
        }
    }

    pub(crate) fn processes(&self) -> usize {
        self.processes
    }

    /// Whether the calling process made this pool (see `owner`).
    #[inline]
    fn is_owner(&self) -> bool {
        self.owner == mp_shm::ProcessIdent::current().pid()
    }

    /// [`PoolError::NotOwner`] unless the calling process made this pool.
    fn check_owner(&self) -> Result<(), PoolError> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(PoolError::NotOwner { owner: self.owner })
        }
    }

    fn running(&self) -> Result<(), PoolError> {
        self.check_owner()?;
        match *self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Run => Ok(()),
            _ => Err(PoolError::NotRunning),
        }
    }

    /// Submits `entry` over `items` in chunks of `chunksize` with `sink`,
    /// as the local pool does: with `stream` (a map), the first chunks (one
    /// per rank) go out as soon as they are encoded and the rest are encoded
    /// while those run; a later chunk that cannot be encoded fails it and
    /// every chunk after it with `TaskError::Encode`. Without (`imap`),
    /// every chunk is encoded first. An error in the chunks encoded first
    /// fails the call.
    fn submit<T: Serialize + 'static>(
        &self,
        entry: CallEntry,
        label: String,
        items: &[T],
        (chunksize, stream): (usize, bool),
        sink: Box<dyn Sink>,
    ) -> Result<(), PoolError> {
        let chunksize = chunksize.max(1);
        let head = if stream {
            self.processes.max(1).saturating_mul(chunksize)
        } else {
            items.len()
        };
        let head = head.min(items.len());
        let (head_items, rest) = items.split_at(head);
        let mut chunks = Vec::new();
        for chunk in head_items.chunks(chunksize) {
            chunks.push(remote::encode_chunk(chunk)?);
        }
        let first_rest = chunks.len();
        let job = self.engine.submit(Job {
            entry,
            label,
            chunks,
            lens: items.chunks(chunksize).map(<[T]>::len).collect(),
            sink,
        })?;
        for (k, chunk) in rest.chunks(chunksize).enumerate() {
            let encoded = remote::encode_chunk(chunk).map_err(|e| TaskError::Encode(e.to_string()));
            let failed = encoded.is_err();
            self.engine.more(job, first_rest + k, encoded);
            if failed {
                break;
            }
        }
        Ok(())
    }

    /// Runs `entry` over `items` and completes the result with
    /// `finish(values in input order)`.
    pub(crate) fn collect<T, R, Out>(
        &self,
        entry: CallEntry,
        label: String,
        items: &[T],
        chunksize: usize,
        finish: fn(Vec<R>) -> Option<Out>,
        callbacks: Callbacks<Out>,
    ) -> Result<AsyncResult<Out>, PoolError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
        Out: Send + 'static,
    {
        self.running()?;
        let lens = items.chunks(chunksize.max(1)).map(<[T]>::len).collect();
        let (result, done) = remote::async_result(callbacks);
        let sink = CollectSink::new(lens, finish, done);
        self.submit(entry, label, items, (chunksize, true), Box::new(sink))?;
        Ok(result)
    }

    /// Runs `entry` over `items`; results in input order (`ordered`) or in
    /// completion order.
    pub(crate) fn imap<T, R>(
        &self,
        entry: CallEntry,
        label: String,
        items: &[T],
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
    {
        self.running()?;
        let lens: Vec<usize> = items.chunks(chunksize.max(1)).map(<[T]>::len).collect();
        let (iter, feed) = remote::imap_iterator(ordered, lens.len());
        let sink = ImapSink::new(lens, feed);
        self.submit(entry, label, items, (chunksize, false), Box::new(sink))?;
        Ok(iter)
    }

    /// Does nothing in a process other than the pool's maker.
    pub(crate) fn close(&self) {
        if !self.is_owner() {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *s == State::Run {
            *s = State::Close;
            self.engine.close();
        }
    }

    /// Does nothing in a process other than the pool's maker: dropping a
    /// forked child's copy waits for no dispatcher (the child has none).
    pub(crate) fn terminate(&self) {
        if !self.is_owner() {
            return;
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::Terminate;
        self.engine.terminate();
        self.engine.join();
    }

    pub(crate) fn join(&self) -> Result<(), PoolError> {
        self.check_owner()?;
        if *self.state.lock().unwrap_or_else(|e| e.into_inner()) == State::Run {
            return Err(PoolError::StillRunning);
        }
        self.engine.join();
        Ok(())
    }

    pub(crate) fn join_timeout(&self, timeout: std::time::Duration) -> Result<bool, PoolError> {
        self.check_owner()?;
        if *self.state.lock().unwrap_or_else(|e| e.into_inner()) == State::Run {
            return Err(PoolError::StillRunning);
        }
        Ok(self.engine.join_timeout(timeout))
    }
}

impl Drop for MpiPool {
    fn drop(&mut self) {
        self.terminate();
    }
}
