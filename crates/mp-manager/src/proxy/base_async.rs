//! [`BaseProxy`]'s async calls (the `async` feature). A child module of
//! `base.rs`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::BaseProxy;
use crate::client::call_async;
use crate::error::Result;
use crate::protocol;

impl BaseProxy {
    /// [`call_raw`](Self::call_raw) as a future: sends the request and
    /// awaits the reply without blocking a thread, on any runtime (a
    /// method that blocks in the server — a managed lock, queue or event
    /// — then blocks no thread here). Every typed proxy reaches it through
    /// [`Proxy::base`](crate::Proxy::base).
    ///
    /// Opening a new connection (the first call of a thread, or after a
    /// failure) still blocks for the handshake. A server that dies is
    /// [`ManagerError::ServerGone`](crate::ManagerError::ServerGone), never
    /// a hang. No timeout argument: compose with the runtime's
    /// (`tokio::time::timeout`, smol's `future::or` with a `Timer`).
    ///
    /// Cancellation: a dropped future closes its connection (it is never
    /// reused out of step); if the request had gone out, the server may
    /// still run it, as with any remote call.
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw).
    pub async fn call_raw_async(&self, method: &str, args: &[u8]) -> Result<Vec<u8>> {
        call_async(
            &self.origin.address,
            &self.origin.key,
            self.id,
            method,
            args,
        )
        .await
    }

    /// [`call`](Self::call) as a future; see
    /// [`call_raw_async`](Self::call_raw_async).
    ///
    /// ```
    /// use mp_manager::{Manager, Proxy};
    ///
    /// let manager = Manager::new()?;
    /// let d = manager.dict::<String, u32>()?;
    /// d.set("a".to_string(), 1)?;
    /// let n: u64 = smol::block_on(d.base().call_async("__len__", &()))?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), mp_manager::ManagerError>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_async<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R> {
        let args = protocol::to_bytes(args)?;
        let out = self.call_raw_async(method, &args).await?;
        self.decode(&out)
    }
}
