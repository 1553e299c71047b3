//! The client side of the protocol: one pool of authenticated connections
//! per process and server address, opened lazily and reused; the table of
//! keys known for each address; and the decode context that keeps proxies
//! nested in replies pointing at the server they came from.
//!
//! Pools are per thread (as Python's connections are): a connection is
//! taken for one request/reply and put back after it, so a call that blocks
//! in the server (a lock, a queue `get`) holds only its own. After a `fork`
//! the pool is emptied in the child (the pid no longer matches): the
//! parent's connections are never used by two processes. Nothing here takes
//! a lock that a `fork` by another thread could leave held in the child.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use mp_channel::{Address, AuthenticationError, ConnectError, Connection, RecvError, SendError};
use mp_process::AuthKey;

use crate::error::ManagerError;
use crate::protocol::{Reply, RequestRef};

#[cfg(feature = "async")]
#[path = "client_async.rs"]
mod async_call;
#[cfg(feature = "async")]
pub(crate) use async_call::call_async;

/// Idle connections, by address and key, of process `pid`.
struct Pool {
    pid: u32,
    idle: HashMap<(Address, AuthKey), Vec<Connection>>,
}

thread_local! {
    // Per thread, as Python's connections are: no lock that a `fork` taken
    // by another thread could leave locked in the child.
    static POOL: RefCell<Pool> = RefCell::new(Pool {
        pid: 0,
        idle: HashMap::new(),
    });
}

/// Idle connections kept per address and thread; more are closed when put back.
const MAX_IDLE: usize = 4;

/// The pool of this thread, emptied first if it was inherited through `fork`.
fn with_pool<T>(f: impl FnOnce(&mut Pool) -> T) -> T {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let pid = mp_sys::process::getpid();
        if pool.pid != pid {
            // Inherited through fork: these belong to the parent. Dropping
            // closes only our copies.
            pool.pid = pid;
            pool.idle.clear();
        }
        f(&mut pool)
    })
}

fn take_idle(address: &Address, key: &AuthKey) -> Option<Connection> {
    with_pool(|pool| {
        pool.idle
            .get_mut(&(address.clone(), key.clone()))
            .and_then(Vec::pop)
    })
}

fn put_idle(address: &Address, key: &AuthKey, stream: Connection) {
    with_pool(|pool| {
        let list = pool.idle.entry((address.clone(), key.clone())).or_default();
        if list.len() < MAX_IDLE {
            list.push(stream);
        }
    })
}

/// Closes this thread's idle connections to `address`.
pub(crate) fn forget(address: &Address) {
    with_pool(|pool| pool.idle.retain(|(a, _), _| a != address));
}

/// Keys of the servers this process started or connected to: an
/// append-only table of write-once slots, so reading it never blocks (and
/// a `fork` in the middle of a write cannot leave a lock held in the child).
static KEYS: [OnceLock<(Address, AuthKey)>; KEY_SLOTS] = [const { OnceLock::new() }; KEY_SLOTS];
static KEYS_USED: AtomicUsize = AtomicUsize::new(0);

/// How many server keys a process records; later ones fall back to the
/// key carried in tokens or the process's authkey.
const KEY_SLOTS: usize = 256;

/// Records the key of the server at `address`.
pub(crate) fn remember_key(address: &Address, key: &AuthKey) {
    if lookup_key(address).as_ref() == Some(key) {
        return;
    }
    let slot = KEYS_USED.fetch_add(1, Ordering::AcqRel);
    if let Some(cell) = KEYS.get(slot) {
        let _ = cell.set((address.clone(), key.clone()));
    }
}

/// The most recently recorded key for `address`.
fn lookup_key(address: &Address) -> Option<AuthKey> {
    let used = KEYS_USED.load(Ordering::Acquire).min(KEY_SLOTS);
    KEYS[..used]
        .iter()
        .rev()
        .filter_map(OnceLock::get)
        .find(|(a, _)| a == address)
        .map(|(_, k)| k.clone())
}

/// This process's authkey (`current_process().authkey()`), read once.
///
/// Cached so that serializing and deserializing proxies does not take
/// `mp-process`'s state lock: a `fork` while another thread holds that lock
/// leaves the child unable to start (see the report on `become_child`).
/// Children inherit the authkey, so a forked copy of the cache is right.
pub(crate) fn default_key() -> &'static AuthKey {
    static KEY: OnceLock<AuthKey> = OnceLock::new();
    KEY.get_or_init(|| AuthKey::from(mp_process::current_process().authkey()))
}

/// The key for `address`: the recorded one, else this process's authkey.
pub(crate) fn key_for(address: &Address) -> AuthKey {
    lookup_key(address).unwrap_or_else(|| default_key().clone())
}

fn gone(address: &Address, reason: impl ToString) -> ManagerError {
    ManagerError::ServerGone {
        address: address.to_string(),
        reason: reason.to_string(),
    }
}

/// Whether a failed handshake means the peer went away (rather than that
/// the keys differ or the peer speaks another protocol).
fn peer_went_away(e: &AuthenticationError) -> bool {
    matches!(
        e,
        AuthenticationError::Recv(RecvError::Eof | RecvError::Truncated { .. } | RecvError::Io(_))
            | AuthenticationError::Send(SendError::Disconnected | SendError::Io(_))
    )
}

/// How many times a handshake whose peer hung up is tried in all.
const HANDSHAKE_ATTEMPTS: u32 = 3;

/// Opens and authenticates a new connection (`mp_channel::client`: the
/// client answers first, then challenges the server, as Python's `Client`).
///
/// A server hangs up a handshake that stayed unfinished too long while it
/// was flooded with connections (the admission policy of
/// `mp_channel::Listener`, "When every slot is taken"): a peer
/// that hangs up in the middle of the handshake is tried again, a few
/// times, before the server counts as gone. A refused connection or a
/// wrong key is not retried.
pub(crate) fn connect(address: &Address, key: &AuthKey) -> Result<Connection, ManagerError> {
    let mut attempt = 1;
    loop {
        match mp_channel::client(address, Some(key.as_bytes())) {
            Ok(conn) => return Ok(conn),
            Err(ConnectError::Authentication(a)) if !peer_went_away(&a) => {
                return Err(ManagerError::Authentication(a))
            }
            Err(ConnectError::Authentication(_)) if attempt < HANDSHAKE_ATTEMPTS => {
                std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)));
                attempt += 1;
            }
            Err(other) => return Err(gone(address, other)),
        }
    }
}

/// One request/reply on `conn`, waiting at most `timeout` for the reply.
pub(crate) fn roundtrip(
    conn: &Connection,
    address: &Address,
    request: &RequestRef<'_>,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ManagerError> {
    conn.send(request).map_err(|e| match e {
        SendError::Encode(e) => ManagerError::Encode(e),
        other => gone(address, other),
    })?;
    let reply = match timeout {
        None => conn.recv::<Reply>(),
        Some(t) => conn.recv_timeout::<Reply>(t),
    };
    let reply = reply.map_err(|e| match e {
        RecvError::Decode(e) => ManagerError::Decode(e),
        other => gone(address, other),
    })?;
    Ok(reply.map_err(ManagerError::from)?.into_vec())
}

/// Calls `method` on object `object` of the server at `address`.
pub(crate) fn call(
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
    let conn = checkout(address, key)?;
    let result = roundtrip(&conn, address, &request, None);
    checkin(address, key, conn, &result);
    result
}

/// An idle connection of this thread to `address`, or a new one.
fn checkout(address: &Address, key: &AuthKey) -> Result<Connection, ManagerError> {
    match take_idle(address, key) {
        Some(c) => Ok(c),
        None => connect(address, key),
    }
}

/// Keeps `conn` for the next call if it is in step after `result` (a
/// reply came, failed or not); else closes it.
fn checkin<T>(
    address: &Address,
    key: &AuthKey,
    conn: Connection,
    result: &Result<T, ManagerError>,
) {
    if matches!(result, Ok(_) | Err(ManagerError::Remote(_))) {
        put_idle(address, key, conn);
    }
}

/// Where a reply being decoded came from.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) server: u128,
    pub(crate) address: Address,
    pub(crate) key: AuthKey,
}

thread_local! {
    static ORIGIN: RefCell<Vec<Origin>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` (a decode) with `origin` as the place proxies inside came from.
pub(crate) fn with_origin<T>(origin: Origin, f: impl FnOnce() -> T) -> T {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            ORIGIN.with(|o| o.borrow_mut().pop());
        }
    }
    ORIGIN.with(|o| o.borrow_mut().push(origin));
    let _pop = Pop;
    f()
}

/// The innermost decode context's origin, if it is server `server`.
pub(crate) fn origin_of(server: u128) -> Option<Origin> {
    ORIGIN.with(|o| o.borrow().last().filter(|o| o.server == server).cloned())
}
