//! [`IMapIterator`] as a [`Stream`] (the `async` feature): the results of
//! `imap`/`imap_unordered` awaited one by one, woken by an
//! `event-listener` event that the shared state fires beside its condvar.
//! A child module of `imap.rs`, so it takes items as the iterator does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{lock, IMapIterator, Next};
use crate::error::PoolError;

impl<R> IMapIterator<R> {
    /// The next item without blocking a thread (the stream's `next`,
    /// without needing a `StreamExt`): `None` at the end.
    ///
    /// Cancellation-safe: an item is taken inside the poll that returns
    /// it, so a dropped future loses none. A worker that dies fails only
    /// its task's item ([`TaskError::WorkerDied`](crate::TaskError::WorkerDied));
    /// a terminated pool yields one [`PoolError::Terminated`] and ends. No
    /// timeout argument: compose with the runtime's (`tokio::time::timeout`,
    /// smol's `future::or` with a `Timer`), or use
    /// [`next_timeout`](Self::next_timeout).
    ///
    /// ```
    /// use mp_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::with_processes(2)?;
    /// let mut results = pool.imap(square, 1..=4u64)?;
    /// let got = smol::block_on(async {
    ///     let mut got = Vec::new();
    ///     while let Some(r) = results.next_async().await {
    ///         got.push(r?);
    ///     }
    ///     Ok::<_, mp_pool::PoolError>(got)
    /// })?;
    /// assert_eq!(got, [1, 4, 9, 16]);
    /// # Ok::<(), mp_pool::PoolError>(())
    /// ```
    pub async fn next_async(&mut self) -> Option<Result<R, PoolError>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<R, PoolError>>> {
        if let Some(refused) = self.refusal() {
            return Poll::Ready(refused);
        }
        loop {
            let taken = {
                let mut s = lock(&self.shared.state);
                let taken = s.take();
                if matches!(taken, Next::Wait) && self.listener.is_none() {
                    // Changes notify the event from now on (before the
                    // listener is made: none is missed).
                    s.streams = true;
                }
                taken
            };
            let item = match taken {
                Next::Item(item) => Some(item),
                Next::End => None,
                Next::Wait => {
                    match &mut self.listener {
                        // Listen, then look again: an item pushed in between is seen.
                        None => self.listener = Some(self.shared.changed.listen()),
                        Some(listener) => match Pin::new(listener).poll(cx) {
                            Poll::Ready(()) => self.listener = None,
                            Poll::Pending => return Poll::Pending,
                        },
                    }
                    continue;
                }
            };
            self.listener = None;
            self.settle(&item);
            return Poll::Ready(item);
        }
    }
}

/// The results as a `Stream` (any runtime's `StreamExt` applies):
/// cancellation-safe as [`IMapIterator::next_async`].
impl<R> Stream for IMapIterator<R> {
    type Item = Result<R, PoolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Every field is `Unpin`.
        self.get_mut().poll_item(cx)
    }
}
