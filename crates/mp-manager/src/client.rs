//! The client side of the protocol: one pool of authenticated connections
//! per process and server address, opened lazily (their requests moved onto
//! pipes on a Unix address, see `crate::pipes`) and reused; the table of
//! keys known for each address; and the decode context that keeps proxies
//! nested in replies pointing at the server they came from.
//!
//! Pools are per thread (as Python's connections are): a connection is
//! taken for one request/reply and put back after it, so a call that blocks
//! in the server (a lock, a queue `get`) holds only its own. A proxy's
//! call looks first at the connection this thread put back last (`HOT`),
//! found by the proxy's origin without a search. After a `fork`
//! the pool is emptied in the child (the pid no longer matches): the
//! parent's connections are never used by two processes. Nothing here takes
//! a lock that a `fork` by another thread could leave held in the child.

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mp_channel::{Address, AuthenticationError, ConnectError, Connection, RecvError, SendError};
use mp_process::AuthKey;
use mp_sys::time::{CoarseInstant, Deadline};
use once_cell::race::OnceBox;

use crate::client_settings;
use crate::error::ManagerError;
use crate::pipes::{self, Link};
use crate::protocol::{ReplyRef, RequestRef};

#[cfg(feature = "async")]
#[path = "client_async.rs"]
mod async_call;
#[cfg(feature = "async")]
pub(crate) use async_call::call_async;

/// Idle connections, by address and key, of process `pid`.
///
/// A short list searched by equality: a process talks to one server or a
/// few, and a lookup then costs neither a clone of the address and key
/// nor a hash of them (this runs twice per proxy call).
struct Pool {
    pid: u32,
    idle: Vec<Idle>,
}

/// The idle connections to one server, reached with one key, each with
/// the moment it was put back.
struct Idle {
    address: Address,
    key: AuthKey,
    connections: Vec<(Link, CoarseInstant)>,
}

thread_local! {
    // Per thread, as Python's connections are: no lock that a `fork` taken
    // by another thread could leave locked in the child.
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            pid: 0,
            idle: Vec::new(),
        })
    };
}

/// Idle connections kept per address and thread; more are closed when put back.
const MAX_IDLE: usize = 4;

/// The connection this thread put back last, and the origin of the proxy
/// whose call put it back: a thread calling one server again and again
/// takes and returns this one, found by comparing one pointer, where the
/// pool compares addresses and keys (its two lookups per call cost about a
/// tenth of a manager round trip's instructions). The `Arc` keeps the
/// origin alive, so the same pointer is the same origin. Kept besides the
/// pool's [`MAX_IDLE`].
struct Hot {
    origin: Arc<Origin>,
    /// The process that put it back: a forked child finds another pid and
    /// drops it (its copies of the parent's fds), as the pool does.
    pid: u32,
    /// The connection and when it was taken for its last call, while no
    /// call has it out.
    idle: Option<(Link, CoarseInstant)>,
}

thread_local! {
    static HOT: RefCell<Option<Hot>> = const { RefCell::new(None) };
}

/// Takes this thread's hot connection if this process put it back and it
/// goes to `address` with `key`: found by pointer if a call through
/// `origin` put it back, else by comparing them (a call of another proxy,
/// or the manager's own).
fn take_hot(
    address: &Address,
    key: &AuthKey,
    origin: Option<&Arc<Origin>>,
) -> Option<(Link, CoarseInstant)> {
    HOT.with(|h| {
        let mut h = h.borrow_mut();
        let hot = h.as_mut()?;
        if hot.pid != mp_shm::ProcessIdent::current().pid() {
            *h = None;
            return None;
        }
        let same = origin.is_some_and(|o| Arc::ptr_eq(&hot.origin, o))
            || (hot.origin.address == *address && hot.origin.key.as_bytes() == key.as_bytes());
        if same {
            hot.idle.take()
        } else {
            None
        }
    })
}

/// Puts back the connection of a call through `origin` taken at `since`,
/// as the hot one; to the pool if the hot one is idle and the same
/// origin's. A hot connection of another origin moves to the pool.
fn put_hot(origin: &Arc<Origin>, link: Link, since: CoarseInstant) {
    let pid = mp_shm::ProcessIdent::current().pid();
    let to_pool = HOT.with(|h| {
        let mut h = h.borrow_mut();
        match h.as_mut() {
            Some(hot) if hot.pid == pid && Arc::ptr_eq(&hot.origin, origin) => match hot.idle {
                None => {
                    hot.idle = Some((link, since));
                    None
                }
                Some(_) => Some((Arc::clone(origin), (link, since))),
            },
            _ => {
                let fresh = Hot {
                    origin: Arc::clone(origin),
                    pid,
                    idle: Some((link, since)),
                };
                let old = h.replace(fresh).filter(|old| old.pid == pid)?;
                Some((old.origin, old.idle?))
            }
        }
    });
    // Outside the borrow (the pool has its own).
    if let Some((origin, (link, since))) = to_pool {
        put_idle(&origin.address, &origin.key, link, since);
    }
}

impl Pool {
    fn entry(&mut self, address: &Address, key: &AuthKey) -> Option<&mut Idle> {
        // The keys compared here are both this process's own (no peer's
        // answer is checked), so a plain comparison does: `AuthKey`'s `==`
        // takes constant time, about a hundred instructions per call.
        self.idle
            .iter_mut()
            .find(|i| i.address == *address && i.key.as_bytes() == key.as_bytes())
    }
}

/// Takes an idle connection of this thread to `address`, if there is one.
///
/// Empties the pool (and drops the hot connection) first if it was
/// inherited through `fork` (the pid no longer matches): those connections
/// belong to the parent, and dropping them closes only our copies. The
/// pid is `mp_shm::ProcessIdent`'s, kept in a page the kernel wipes in a
/// forked child: no system call per call.
fn take_idle(address: &Address, key: &AuthKey) -> Option<(Link, CoarseInstant)> {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let pid = mp_shm::ProcessIdent::current().pid();
        if pool.pid != pid {
            pool.pid = pid;
            pool.idle.clear();
            // And the hot one, for a child whose calls are not a proxy's.
            HOT.with(|h| h.borrow_mut().take());
        }
        pool.entry(address, key).and_then(|i| i.connections.pop())
    })
}

/// Puts back a connection taken by [`take_idle`] (or newly opened) at
/// `since` after a request. No pid check: the same thread took it in this
/// process (a fork by another thread leaves the child without this thread).
fn put_idle(address: &Address, key: &AuthKey, connection: Link, since: CoarseInstant) {
    let entry = (connection, since);
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        match pool.entry(address, key) {
            Some(i) if i.connections.len() < MAX_IDLE => i.connections.push(entry),
            Some(_) => {}
            None => pool.idle.push(Idle {
                address: address.clone(),
                key: key.clone(),
                connections: vec![entry],
            }),
        }
    })
}

/// How long a connection may sit idle before it is checked for life
/// before reuse: a server says nothing unasked, so an idle connection that
/// reads as ready was closed by its peer (a server that died or was
/// restarted). Checking costs one `poll`; connections in steady use skip it.
/// Stamps are [`CoarseInstant`]s (a tick's resolution, far below this; two
/// precise clock reads per call cost about 1 % of a manager round trip).
const CHECK_IDLE_AFTER: Duration = Duration::from_millis(20);

/// A connection taken for a call at `now`: what [`checkin`] puts back.
pub(crate) struct Taken {
    link: Link,
    /// Newly opened (nothing was sent on it before).
    fresh: bool,
    /// When it was taken; it counts as idle since then once put back (a
    /// moment a call's length early: a connection is looked at sooner,
    /// never later, and a call reads the clock once).
    now: CoarseInstant,
}

/// An idle connection that is still usable, or a new one, whose requests
/// go over pipes if the server is reached by a Unix socket (see
/// `crate::pipes`); a proxy's call (`hot`: its origin) looks at the hot
/// connection first. Finding a dead one closes every idle connection to
/// `address`: they all went to the server that is gone.
fn idle_or_connect(
    address: &Address,
    key: &AuthKey,
    hot: Option<&Arc<Origin>>,
) -> Result<Taken, ManagerError> {
    let now = CoarseInstant::now();
    while let Some((link, since)) = take_hot(address, key, hot).or_else(|| take_idle(address, key))
    {
        if now.duration_since(since) < CHECK_IDLE_AFTER || link.usable() {
            return Ok(Taken {
                link,
                fresh: false,
                now,
            });
        }
        forget(address);
    }
    let socket = connect(address, key)?;
    let timeout = client_settings::get(address).call_timeout;
    let link = match pipes::upgrade(socket, address, |s| receive_reply(s, address, timeout))? {
        Some(link) => link,
        None => Link::socket(connect(address, key)?),
    };
    Ok(Taken {
        link,
        fresh: true,
        now,
    })
}

/// Closes this thread's idle connections to `address`.
pub(crate) fn forget(address: &Address) {
    POOL.with(|p| p.borrow_mut().idle.retain(|i| i.address != *address));
    // Taken out of the cell first: dropping a link makes system calls.
    let hot = HOT.with(|h| {
        let mut h = h.borrow_mut();
        match h.as_ref() {
            Some(hot) if hot.origin.address == *address => h.take(),
            _ => None,
        }
    });
    drop(hot);
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
///
/// A racing cell rather than a `OnceLock`: a fork while another thread
/// fills a `OnceLock` would leave the child waiting for ever on its first
/// proxy (see `mp_sys::fork_hooks`).
pub(crate) fn default_key() -> &'static AuthKey {
    static KEY: OnceBox<AuthKey> = OnceBox::new();
    KEY.get_or_init(|| Box::new(AuthKey::from(mp_process::current_process().authkey())))
}

/// The key for `address`: the recorded one, else this process's authkey.
pub(crate) fn key_for(address: &Address) -> AuthKey {
    lookup_key(address).unwrap_or_else(|| default_key().clone())
}

/// The error for a server at `address` that cannot be reached any more.
pub(crate) fn gone(address: &Address, reason: impl ToString) -> ManagerError {
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

/// Whether a failed connect means nobody serves the address now (a server
/// that is down or restarting), rather than a wrong key or address family.
fn unreachable(e: &ConnectError) -> bool {
    match e {
        ConnectError::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::NotFound
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::TimedOut
        ),
        ConnectError::Authentication(a) => peer_went_away(a),
        _ => false,
    }
}

/// The first and the longest pause between connection attempts while a
/// server cannot be reached
/// ([`ClientSettings::reconnect`](crate::client_settings::ClientSettings::reconnect)).
const RECONNECT_FIRST_PAUSE: Duration = Duration::from_millis(10);
const RECONNECT_MAX_PAUSE: Duration = Duration::from_millis(500);

/// Opens and authenticates a new connection (`mp_channel::client`: the
/// client answers first, then challenges the server, as Python's `Client`).
///
/// A server hangs up a handshake that stayed unfinished too long while it
/// was flooded with connections (the admission policy of
/// `mp_channel::Listener`, "When every slot is taken"): a peer
/// that hangs up in the middle of the handshake is tried again, a few
/// times, before the server counts as gone. A refused connection or a
/// wrong key is not retried.
///
/// With a [reconnect window](crate::ManagerBuilder::reconnect) for
/// `address`, a server that cannot be reached (refused, socket missing,
/// reset) is tried again, with growing pauses, until the window has passed
/// since the first attempt.
pub(crate) fn connect(address: &Address, key: &AuthKey) -> Result<Connection, ManagerError> {
    connect_within(address, key, client_settings::get(address).reconnect)
}

/// [`connect`] without the reconnect window: a server that cannot be
/// reached fails at once.
pub(crate) fn connect_once(address: &Address, key: &AuthKey) -> Result<Connection, ManagerError> {
    connect_within(address, key, Duration::ZERO)
}

fn connect_within(
    address: &Address,
    key: &AuthKey,
    window: Duration,
) -> Result<Connection, ManagerError> {
    let deadline = Deadline::after(Some(window));
    let mut pause = RECONNECT_FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match mp_channel::client(address, Some(key.as_bytes())) {
            Ok(conn) => return Ok(conn),
            Err(ConnectError::Authentication(a)) if !peer_went_away(&a) => {
                return Err(ManagerError::Authentication(a))
            }
            Err(ConnectError::Authentication(_)) if attempt < HANDSHAKE_ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) if unreachable(&e) && !window.is_zero() && !deadline.passed() => {
                let left = deadline.remaining().unwrap_or(Duration::ZERO);
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(RECONNECT_MAX_PAUSE);
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
    receive_reply(conn, address, timeout)
}

/// Calls `method` on object `object` of the server at `address`.
///
/// A request that provably never reached a server (the connection was
/// found closed before it was written, or writing it failed) is sent again
/// on a new connection; one that was written and got no reply is not (it
/// may have run), and fails with [`ManagerError::ServerGone`]. Either way
/// the idle connections to `address` are closed, so the next call opens a
/// new one (CPython's manager clients keep reusing the dead ones:
/// cpython#87495, #86320).
pub(crate) fn call(
    address: &Address,
    key: &AuthKey,
    object: u128,
    method: &str,
    args: &[u8],
) -> Result<Vec<u8>, ManagerError> {
    call_then(address, key, object, method, args, |out| Ok(out.to_vec()))
}

/// [`call`], handing the result's bytes to `then` where they lie in the
/// connection's read buffer (a proxy decodes its result there, without
/// copying the reply out first).
pub(crate) fn call_then<R>(
    address: &Address,
    key: &AuthKey,
    object: u128,
    method: &str,
    args: &[u8],
    then: impl FnOnce(&[u8]) -> Result<R, ManagerError>,
) -> Result<R, ManagerError> {
    call_on(address, key, None, object, method, args, then)
}

/// [`call_then`] from a proxy whose server is `origin`: this thread's hot
/// connection is looked at first, and the connection is put back as it.
pub(crate) fn call_from<R>(
    origin: &Arc<Origin>,
    object: u128,
    method: &str,
    args: &[u8],
    then: impl FnOnce(&[u8]) -> Result<R, ManagerError>,
) -> Result<R, ManagerError> {
    call_on(
        &origin.address,
        &origin.key,
        Some(origin),
        object,
        method,
        args,
        then,
    )
}

/// [`call_then`], through the hot connection if `hot` is given.
fn call_on<R>(
    address: &Address,
    key: &AuthKey,
    hot: Option<&Arc<Origin>>,
    object: u128,
    method: &str,
    args: &[u8],
    then: impl FnOnce(&[u8]) -> Result<R, ManagerError>,
) -> Result<R, ManagerError> {
    let request = RequestRef {
        object,
        method,
        args,
    };
    let timeout = client_settings::get(address).call_timeout;
    loop {
        let taken = idle_or_connect(address, key, hot)?;
        if let Err(e) = taken.link.conn.send(&request) {
            return match e {
                SendError::Encode(e) => {
                    checkin(address, key, hot, taken, &Ok(()));
                    Err(ManagerError::Encode(e))
                }
                // Nothing of the request went out on a new connection
                // either: the server is gone, not merely restarted.
                other if taken.fresh => Err(gone(address, other)),
                _ => {
                    forget(address);
                    continue;
                }
            };
        }
        let result = receive_reply_then(&taken.link.conn, address, timeout, then);
        // A reply read whole leaves the link in step, whatever it said.
        checkin(address, key, hot, taken, &result);
        return result.and_then(|outcome| outcome);
    }
}

/// A live idle connection of this thread to `address`, or a new one.
#[cfg_attr(not(feature = "async"), allow(dead_code))]
fn checkout(address: &Address, key: &AuthKey) -> Result<Taken, ManagerError> {
    idle_or_connect(address, key, None)
}

/// Keeps the connection taken for the next call if it is in step after
/// `result` (a reply came, failed or not): as the hot one if `hot` is the
/// caller's origin, else in the pool. Otherwise closes it, and after a
/// server that went away, every idle connection to `address` with it.
fn checkin<T>(
    address: &Address,
    key: &AuthKey,
    hot: Option<&Arc<Origin>>,
    taken: Taken,
    result: &Result<T, ManagerError>,
) {
    match (result, hot) {
        (Ok(_) | Err(ManagerError::Remote(_)), Some(origin)) => {
            put_hot(origin, taken.link, taken.now)
        }
        (Ok(_) | Err(ManagerError::Remote(_)), None) => {
            put_idle(address, key, taken.link, taken.now)
        }
        (Err(ManagerError::ServerGone { .. }), _) => forget(address),
        (Err(_), _) => {}
    }
}

/// The reply to a request sent on `conn`.
fn receive_reply(
    conn: &Connection,
    address: &Address,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ManagerError> {
    receive_reply_then(conn, address, timeout, |out| Ok(out.to_vec())).and_then(|outcome| outcome)
}

/// The reply to a request sent on `conn`, its result's bytes handed to
/// `then` where they lie in the connection's read buffer. The outer error
/// is the link's (no reply, or not one); the inner result is the call's:
/// what `then` made, the server's error, or `then`'s.
fn receive_reply_then<R>(
    conn: &Connection,
    address: &Address,
    timeout: Option<Duration>,
    then: impl FnOnce(&[u8]) -> Result<R, ManagerError>,
) -> Result<Result<R, ManagerError>, ManagerError> {
    let got = conn.recv_with(timeout, |bytes, fds| {
        let reply = mp_wire::decode_seed(bytes, fds, PhantomData::<ReplyRef<'_>>)?;
        Ok(reply.map_err(ManagerError::from).and_then(then))
    });
    match got {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(e)) | Err(RecvError::Decode(e)) => Err(ManagerError::Decode(e)),
        Err(RecvError::Timeout) => Err(ManagerError::Timeout {
            address: address.to_string(),
            after: timeout.unwrap_or_default(),
        }),
        Err(other) => Err(gone(address, other)),
    }
}

/// Where a reply being decoded came from: the server run, its address and
/// the key used to reach it.
#[derive(PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) server: u128,
    pub(crate) address: Address,
    pub(crate) key: AuthKey,
}

thread_local! {
    static ORIGIN: RefCell<Vec<Arc<Origin>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` (a decode) with `origin` as the place proxies inside came from.
pub(crate) fn with_origin<T>(origin: &Arc<Origin>, f: impl FnOnce() -> T) -> T {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            ORIGIN.with(|o| o.borrow_mut().pop());
        }
    }
    ORIGIN.with(|o| o.borrow_mut().push(Arc::clone(origin)));
    let _pop = Pop;
    f()
}

/// The innermost decode context's origin, if it is server `server`.
pub(crate) fn origin_of(server: u128) -> Option<Arc<Origin>> {
    ORIGIN.with(|o| o.borrow().last().filter(|o| o.server == server).cloned())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::sync::mpsc;

    use super::*;
    use crate::{DictProxy, Manager, ManagerBuilder};

    /// A server serving in a thread of this process (whatever the start
    /// method), and the manager that serves it: shut down and joined when
    /// dropped, so that its socket and private directory go with it (a
    /// test process that exits with the server still serving left them in
    /// the temporary directory, one pair per test).
    struct Served {
        manager: Manager,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl std::ops::Deref for Served {
        type Target = Manager;
        fn deref(&self) -> &Manager {
            &self.manager
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.manager.shutdown().unwrap();
            if let Some(thread) = self.thread.take() {
                thread.join().unwrap();
            }
        }
    }

    fn serve() -> Served {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            ManagerBuilder::default()
                .authkey(b"hot-connection".to_vec())
                .serve_forever(|m| tx.send(m).unwrap())
                .unwrap();
        });
        Served {
            manager: rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            thread: Some(thread),
        }
    }

    /// A served manager's socket and private directory are gone once it is
    /// shut down.
    #[test]
    fn a_served_manager_leaves_no_socket_behind() {
        let served = serve();
        let Address::Unix(path) = served.address().clone() else {
            panic!("a Unix socket by default");
        };
        assert!(path.exists());
        drop(served);
        assert!(!path.exists(), "{path:?} removed");
        assert!(!path.parent().unwrap().exists(), "its directory removed");
    }

    /// Names a connection by its fd's inode: a connection closed and
    /// another opened would have another (an fd number may be reused).
    fn inode(link: &Link) -> u64 {
        let fd = link.conn.as_fd().try_clone_to_owned().unwrap();
        std::fs::File::from(fd).metadata().unwrap().ino()
    }

    /// This thread's hot connection, if one is idle.
    fn hot() -> Option<u64> {
        HOT.with(|h| {
            let h = h.borrow();
            h.as_ref()?.idle.as_ref().map(|(link, _)| inode(link))
        })
    }

    /// This thread's pooled connections to `address`.
    fn pooled(address: &Address) -> Vec<u64> {
        POOL.with(|p| {
            p.borrow()
                .idle
                .iter()
                .filter(|i| i.address == *address)
                .flat_map(|i| i.connections.iter().map(|(link, _)| inode(link)))
                .collect()
        })
    }

    #[test]
    fn a_proxy_takes_back_the_connection_it_put_back() {
        let manager = serve();
        let d: DictProxy<u32, u32> = manager.dict().unwrap();
        d.set(1, 2).unwrap();
        let first = hot().expect("put back as the hot connection");
        assert_eq!(d.get(&1).unwrap(), Some(2));
        assert_eq!(hot(), Some(first), "the same connection, not a new one");
        assert!(pooled(manager.address()).is_empty());
    }

    #[test]
    fn proxies_and_the_manager_share_the_hot_connection() {
        let manager = serve();
        let d: DictProxy<u32, u32> = manager.dict().unwrap();
        let e: DictProxy<u32, u32> = manager.dict().unwrap();
        d.set(0, 0).unwrap();
        let first = hot().unwrap();
        for i in 0..5 {
            d.set(i, i).unwrap();
            e.set(i, i).unwrap();
            let _: DictProxy<u32, u32> = manager.dict().unwrap();
            assert_eq!(hot(), Some(first), "one connection for all, round {i}");
        }
        assert!(pooled(manager.address()).is_empty());
        assert_eq!(e.len().unwrap(), 5);
    }

    #[test]
    fn a_call_while_the_hot_connection_is_out_gets_another_and_both_are_kept() {
        let manager = serve();
        let d: DictProxy<u32, u32> = manager.dict().unwrap();
        d.set(1, 1).unwrap();
        let (address, key) = (manager.address().clone(), default_key().clone());
        let key = lookup_key(&address).unwrap_or(key);
        // As a call in progress holds it (a nested call is made while an
        // argument is encoded, with the connection already taken).
        let outer = idle_or_connect(&address, &key, None).unwrap();
        assert!(!outer.fresh);
        assert_eq!(hot(), None, "taken out");
        d.set(2, 2).unwrap();
        let inner = hot().expect("the nested call's connection is hot");
        assert_ne!(inner, inode(&outer.link));
        let outer_inode = inode(&outer.link);
        checkin(&address, &key, None, outer, &Ok(()));
        assert_eq!(hot(), Some(inner));
        assert_eq!(pooled(&address), [outer_inode], "the outer one is pooled");
        // The next calls take one of the two, and open none.
        d.set(3, 3).unwrap();
        assert_eq!(hot(), Some(inner));
        assert_eq!(pooled(&address), [outer_inode]);
    }

    #[test]
    fn forget_closes_the_hot_connection() {
        let manager = serve();
        let d: DictProxy<u32, u32> = manager.dict().unwrap();
        d.set(1, 1).unwrap();
        let first = hot().unwrap();
        forget(manager.address());
        assert_eq!(hot(), None);
        d.set(1, 2).unwrap();
        assert_ne!(hot(), Some(first), "a new connection");
        assert_eq!(d.get(&1).unwrap(), Some(2));
    }
}
