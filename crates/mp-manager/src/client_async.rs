//! The async form of a proxy call (the `async` feature): the same request
//! and reply on a pooled connection, sent with `send_async` and awaited
//! with `recv_async`. A child module of `client.rs`.

use mp_channel::{RecvError, SendError};
use mp_process::AuthKey;

use super::{checkin, checkout, gone};
use crate::error::ManagerError;
use crate::protocol::{Reply, RequestRef};
use mp_channel::{Address, Connection};

/// [`call`](super::call) without blocking a thread while the server works.
/// Opening a new connection (when this thread has no idle one) still
/// blocks for its handshake.
///
/// Cancellation: the connection is owned by the future, and put back only
/// after a whole reply; a dropped future closes it. The request may have
/// reached the server (and run) by then.
pub(crate) async fn call_async(
    address: &Address,
    key: &AuthKey,
    object: u128,
    method: &str,
    args: &[u8],
) -> Result<Vec<u8>, ManagerError> {
    let request = RequestRef {
        object,
        method,
        args,
    };
    let taken = checkout(address, key)?;
    let result = roundtrip_async(&taken.link.conn, address, &request).await;
    checkin(address, key, None, taken, &result);
    result
}

/// [`roundtrip`](super::roundtrip) with the async send and receive.
async fn roundtrip_async(
    conn: &Connection,
    address: &Address,
    request: &RequestRef<'_>,
) -> Result<Vec<u8>, ManagerError> {
    conn.send_async(request).await.map_err(|e| match e {
        SendError::Encode(e) => ManagerError::Encode(e),
        other => gone(address, other),
    })?;
    let reply = conn.recv_async::<Reply>().await.map_err(|e| match e {
        RecvError::Decode(e) => ManagerError::Decode(e),
        other => gone(address, other),
    })?;
    Ok(reply.map_err(ManagerError::from)?.into_vec())
}
