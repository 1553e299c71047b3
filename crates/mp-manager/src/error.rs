//! Errors of the manager: [`ManagerError`] on the client side, and
//! [`RemoteError`], what the server answers when a call fails there.

use std::io;

use serde::{Deserialize, Serialize};

/// Which of Python's exceptions a failed remote call corresponds to.
///
/// Python re-raises the referent's exception in the caller (`KeyError`,
/// `IndexError`, ...) and wraps every other server-side failure in
/// `RemoteError`; here both are a [`RemoteError`] carrying this kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// A dict key is missing (Python's `KeyError`).
    Key,
    /// A list index is out of range or a pop hit an empty list (`IndexError`).
    Index,
    /// A `Namespace` has no such attribute (`AttributeError`).
    Attribute,
    /// A value is not in a list, a semaphore was released too often, ...
    /// (`ValueError`).
    Value,
    /// A lock was released while not held, ... (`RuntimeError`).
    Runtime,
    /// `Queue.get` found nothing in time (`queue.Empty`).
    Empty,
    /// `Queue.put` found no room in time (`queue.Full`).
    Full,
    /// A barrier was broken, aborted or reset (`threading.BrokenBarrierError`).
    BrokenBarrier,
    /// A stored value did not decode as the type asked for (`TypeError`).
    Type,
    /// The request itself was bad: unknown object, unknown method, arguments
    /// that do not decode (Python's `managers.RemoteError`).
    Protocol,
    /// The request named a function that the program did not register with
    /// the server (a managed pool's function): nothing was called.
    NotRegistered,
}

/// A call that failed in the server: a kind and Python's message.
///
/// `Display` is the message alone, as Python's `str(exception)`:
/// `'Namespace' object has no attribute 'value'`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// The Python exception this corresponds to.
    pub kind: RemoteErrorKind,
    /// The message, as Python words it.
    pub message: String,
}

impl RemoteError {
    /// An error of `kind` with `message`.
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A [`RemoteErrorKind::Protocol`] error.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(RemoteErrorKind::Protocol, message)
    }

    /// A managed pool's error as the client sees it: CPython's
    /// `ValueError`s for misuse, a `Runtime` error otherwise.
    pub(crate) fn from_pool(e: mp_pool::PoolError) -> Self {
        use mp_pool::PoolError;
        let kind = match e {
            PoolError::NotRunning | PoolError::StillRunning | PoolError::InvalidArgument(_) => {
                RemoteErrorKind::Value
            }
            _ => RemoteErrorKind::Runtime,
        };
        Self::new(kind, e.to_string())
    }
}

/// Why a manager operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The call reached the referent (or the server) and failed there.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The server is gone: it was shut down, killed, or never listened at
    /// this address. Calls fail with this at once, never hang.
    #[error("manager server at {address} is gone: {reason}")]
    ServerGone {
        /// The server's address.
        address: String,
        /// What the client saw (end of stream, connection refused, ...).
        reason: String,
    },
    /// No reply came within the
    /// [call timeout](crate::ManagerBuilder::call_timeout) (or the timeout
    /// of the operation). The connection is closed: a late reply cannot be
    /// taken for the next call's. The call may still run in the server.
    #[error("manager server at {address} did not reply within {after:?}")]
    Timeout {
        /// The server's address.
        address: String,
        /// How long the call waited.
        after: std::time::Duration,
    },
    /// The server and this process do not share the authkey, or the peer
    /// does not speak the handshake (Python's `AuthenticationError`).
    #[error("authentication failed: {0}")]
    Authentication(#[from] mp_channel::AuthenticationError),
    /// The server could not be started, or is not in a state allowing this.
    #[error("{0}")]
    State(String),
    /// A value could not be encoded for the server.
    #[error("cannot encode a value for the manager: {0}")]
    Encode(#[from] mp_wire::EncodeError),
    /// A value holds file descriptors (shared memory, sync handles): the
    /// server stores bytes only, so it cannot hold it.
    #[error(
        "a value holding file descriptors cannot be stored in a manager; \
         pass the handle to the process directly"
    )]
    HoldsFds,
    /// A reply did not decode as the expected type: the proxy's type
    /// parameters disagree with what the referent holds.
    #[error("cannot decode a value from the manager (is the proxy's type right?): {0}")]
    Decode(#[from] mp_wire::DecodeError),
    /// A managed pool was asked to run a function that was not registered
    /// with its server ([`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function)),
    /// or was registered for other argument types. The server called nothing.
    #[error(
        "{function} is not registered with the manager's server for these argument types \
         (register it with ManagerBuilder::pool_function)"
    )]
    NotRegistered {
        /// The function's type name, as this process knows it.
        function: &'static str,
    },
    /// Starting or joining the server process failed.
    #[error(transparent)]
    Process(#[from] mp_process::ProcessError),
    /// A managed pool's task failed, or its work could not be encoded.
    #[error(transparent)]
    Pool(#[from] mp_pool::PoolError),
    /// The operating system reported an error (binding, connecting, ...).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl ManagerError {
    /// The remote error's kind, if this is a [`ManagerError::Remote`].
    pub fn remote_kind(&self) -> Option<RemoteErrorKind> {
        match self {
            ManagerError::Remote(r) => Some(r.kind),
            _ => None,
        }
    }

    /// Whether this says the server is gone.
    pub fn is_server_gone(&self) -> bool {
        matches!(self, ManagerError::ServerGone { .. })
    }
}

/// The result type of this crate.
pub type Result<T, E = ManagerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_python_text() {
        let e = ManagerError::from(RemoteError::new(
            RemoteErrorKind::Attribute,
            "'Namespace' object has no attribute 'value'",
        ));
        assert_eq!(e.to_string(), "'Namespace' object has no attribute 'value'");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Attribute));
        assert!(!e.is_server_gone());
    }
}
