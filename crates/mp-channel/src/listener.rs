//! [`Listener`] and [`client`]: connections between unrelated processes over
//! a Unix socket path or TCP, optionally authenticated with an authkey.

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mp_wire::AuthKey;

use crate::auth::{answer_challenge, deliver_challenge, ServerHandshake};
use crate::connection::Connection;
use crate::deadline::Deadline;
use crate::error::{AuthenticationError, ConnectError, RecvError};
use crate::process_local::ProcessLocal;

#[cfg(feature = "async")]
#[path = "listener_async.rs"]
mod async_forms;

/// How long [`Listener::accept`] and [`client`] wait for the other side's
/// handshake messages by default, so a silent peer cannot hang them.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// How many handshakes a [`Listener`] runs at once by default (see
/// [`Listener::set_max_pending_handshakes`]).
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 64;

/// How long a handshake may stay unfinished before, when every handshake
/// slot of a [`Listener`] is taken, a waiting connection may take its place
/// (see [`Listener::set_handshake_grace`]).
pub const DEFAULT_HANDSHAKE_GRACE: Duration = Duration::from_secs(1);

/// Where a [`Listener`] listens: a Unix socket path or a TCP address.
///
/// A Unix path that starts with a NUL byte (`"\0name"`, as in Python) is a
/// name in Linux's abstract socket namespace: no file is created, nothing
/// is left behind, and it is shown as `@name`. Abstract sockets have no
/// permissions — any process in the same network namespace can connect —
/// so give such a listener an authkey.
///
/// An address is a serde value, so it can be a `Process` argument or
/// travel through a queue, as Python passes `listener.address` to children.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize)]
pub enum Address {
    /// A Unix-domain socket at this path (Python's `'AF_UNIX'`), or in the
    /// abstract namespace if the path starts with a NUL byte.
    Unix(PathBuf),
    /// A TCP address (Python's `'AF_INET'`); port 0 picks a free port.
    Tcp(SocketAddr),
}

/// Equal as `Path`s are (component by component, so `a//b` is `a/b`), with
/// identical bytes taken as equal first: a manager's client looks its
/// server's address up on every call, and comparing components cost it
/// about a hundred instructions a time.
impl PartialEq for Address {
    fn eq(&self, other: &Address) -> bool {
        match (self, other) {
            (Address::Unix(a), Address::Unix(b)) => a.as_os_str() == b.as_os_str() || a == b,
            (Address::Tcp(a), Address::Tcp(b)) => a == b,
            _ => false,
        }
    }
}

/// As `==` compares (a path hashes by its components).
impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Address::Unix(p) => p.hash(state),
            Address::Tcp(a) => a.hash(state),
        }
    }
}

impl Address {
    /// TCP on the loopback interface (`127.0.0.1:port`; 0 = any free port).
    pub fn tcp_loopback(port: u16) -> Address {
        Address::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    }

    /// A name in Linux's abstract socket namespace (`Address::Unix` of
    /// `"\0"` + `name`).
    pub fn unix_abstract(name: &str) -> Address {
        Address::Unix(PathBuf::from(format!("\0{name}")))
    }

    /// The abstract-namespace name of this address (without the leading
    /// NUL), if it is one.
    pub fn abstract_name(&self) -> Option<&[u8]> {
        match self {
            Address::Unix(path) => abstract_name(path),
            Address::Tcp(_) => None,
        }
    }
}

/// The name after the NUL of an abstract-namespace path.
fn abstract_name(path: &Path) -> Option<&[u8]> {
    path.as_os_str().as_bytes().strip_prefix(b"\0")
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => match abstract_name(p) {
                Some(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
                None => write!(f, "{}", p.display()),
            },
            Address::Tcp(a) => write!(f, "{a}"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Address {
        Address::Tcp(a)
    }
}

impl From<PathBuf> for Address {
    fn from(p: PathBuf) -> Address {
        Address::Unix(p)
    }
}

impl From<&Path> for Address {
    fn from(p: &Path) -> Address {
        Address::Unix(p.to_path_buf())
    }
}

impl FromStr for Address {
    type Err = std::convert::Infallible;

    /// `"127.0.0.1:6000"`, `"[::1]:0"` → TCP; `"localhost:6000"` and
    /// `":6000"` → TCP on 127.0.0.1; anything else is a Unix socket path
    /// (`"\0name"`: abstract namespace).
    fn from_str(s: &str) -> Result<Address, Self::Err> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(Address::Tcp(a));
        }
        let port = s
            .strip_prefix("localhost:")
            .or_else(|| s.strip_prefix(':'))
            .and_then(|p| p.parse::<u16>().ok());
        Ok(match port {
            Some(port) => Address::tcp_loopback(port),
            None => Address::Unix(PathBuf::from(s)),
        })
    }
}

/// A bound, listening socket (Python's `multiprocessing.connection.Listener`).
///
/// Unix socket files are created with mode 0600; a stale socket file left
/// by a dead listener is replaced, a live one or a file that is not a socket
/// is an `AddrInUse` error. The file (and the private directory of a
/// default address) is removed when the listener is dropped. With an
/// authkey, [`accept`](Self::accept) returns only connections that passed
/// the mutual HMAC-SHA256 handshake: nothing else is read from a client
/// before that.
///
/// # Handshakes run side by side
/// A client that connects and says nothing cannot hold up the others:
/// `accept` takes in every waiting connection, starts its handshake and
/// drives all of them at once (without threads: one `poll` over the
/// listening socket and the clients), each under its own deadline
/// ([`set_handshake_timeout`](Self::set_handshake_timeout), from when it was
/// taken in), and returns the first connection whose handshake completes.
/// Handshakes still running when `accept` returns go on at the next call.
/// At most [`DEFAULT_MAX_PENDING_HANDSHAKES`] run at once
/// ([`set_max_pending_handshakes`](Self::set_max_pending_handshakes));
/// further connections are left in the kernel's listen queue (the backlog)
/// until a handshake ends, and when that is full too the kernel refuses new
/// ones. A handshake that fails or runs out of time is closed and reported
/// by the `accept` call that saw it end, as an error (Python's
/// `AuthenticationError`), so a server loop goes on to the next call.
/// `accept` calls from several threads take turns driving the handshakes.
///
/// # When every slot is taken
/// While all handshake slots are taken and a connection waits in the listen
/// queue, the **oldest** handshake that has been unfinished for longer than
/// a grace period ([`DEFAULT_HANDSHAKE_GRACE`], 1 s;
/// [`set_handshake_grace`](Self::set_handshake_grace)) is hung up (its
/// connection closed, not reported as an error) and the waiting connection
/// takes its slot. Until one is that old, the waiting connection stays in
/// the queue. Why:
/// - refusing new connections would let a handful of silent clients lock
///   everyone else out for a whole handshake timeout, again and again;
/// - leaving new connections queued until a handshake times out makes an
///   honest client wait behind every silent one (backlog / slots × the
///   timeout: minutes with the defaults);
/// - an honest client finishes within a round trip, far below the grace
///   period, so the oldest handshake past it is almost surely silent, and a
///   burst of honest clients (more than the slots at once) only waits for
///   the slots they free, never is hung up.
///
/// So a flood of silent connections delays an honest one by about
/// (flood / slots) × grace. A client hung up all the same (a very slow one)
/// sees its connection closed during the handshake and may connect again
/// (the manager's client does).
///
/// # Forked copies
/// A child forked with a copy of a listener (a closure's capture) accepts
/// on the same socket with handshakes of its own, as a pre-forked server's
/// children do: it never waits for the lock of a parent thread that was in
/// `accept` at the fork, nor drives the handshakes its parent has under way
/// (their bytes are the parent's), and [`last_accepted`](Self::last_accepted)
/// is its own. Only the process that bound the listener removes its socket
/// file: dropping a forked child's copy leaves it (as Python's finalizer,
/// which runs only in the process that made it).
///
/// ```
/// use mp_channel::{client, Address, Listener};
/// let listener = Listener::bind(Some(Address::tcp_loopback(0)), Some(b"secret"))?;
/// let address = listener.address().clone();
/// let t = std::thread::spawn(move || {
///     let conn = client(&address, Some(b"secret")).unwrap();
///     conn.send(&"hi").unwrap();
/// });
/// let conn = listener.accept()?;
/// assert_eq!(conn.recv::<String>()?, "hi");
/// t.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Listener {
    socket: Socket,
    address: Address,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    max_pending: usize,
    grace: Duration,
    /// The accepting state of each process that uses the listener: its
    /// maker's, and any forked child's (see "Forked copies").
    accepting: ProcessLocal<Accepting>,
    /// The socket file we created (path, inode) and our private directory;
    /// removed by the maker's drop only.
    cleanup: Option<(PathBuf, u64, Option<PathBuf>)>,
}

/// One process's accepting state.
#[derive(Debug, Default)]
struct Accepting {
    /// Handshakes in progress (only with an authkey), oldest first; locked
    /// by the `accept` call driving them.
    pending: Mutex<Vec<Pending>>,
    /// `pending.len()`, readable while an `accept` holds the lock.
    pending_count: AtomicUsize,
    last_accepted: Mutex<Option<Address>>,
}

/// A connection taken in whose handshake is running.
#[derive(Debug)]
struct Pending {
    conn: Connection,
    handshake: ServerHandshake,
    peer: Option<Address>,
    /// When its grace period ends: from then on a waiting connection may
    /// take its slot if every slot is taken.
    grace_ends: Deadline,
}

/// Locks a mutex, ignoring poisoning (the state stays consistent: every
/// change is a push or a removal).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The listening socket itself.
#[derive(Debug)]
enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("authenticated", &self.authkey.is_some())
            .finish()
    }
}

impl Listener {
    /// Binds and listens at `address`; `None` picks a fresh Unix socket
    /// path in a private (0700) temporary directory. With `authkey`, every
    /// accepted connection is authenticated first.
    ///
    /// # Errors
    /// `AddrInUse` if a live listener (or a non-socket file) is at the
    /// path or the TCP port is taken; other OS errors.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> io::Result<Listener> {
        let (socket, address, cleanup) = match address {
            None => {
                let dir = std::env::temp_dir().join(format!("mp-{}", random_hex()?));
                fs::DirBuilder::new().mode(0o700).create(&dir)?;
                let path = dir.join("listener");
                match bind_unix(&path) {
                    Ok((l, ino)) => (
                        Socket::Unix(l),
                        Address::Unix(path.clone()),
                        Some((path, ino, Some(dir))),
                    ),
                    Err(e) => {
                        let _ = fs::remove_dir(&dir);
                        return Err(e);
                    }
                }
            }
            Some(Address::Unix(path)) if abstract_name(&path).is_some() => {
                let name = abstract_name(&path).unwrap_or_default();
                let l = UnixListener::bind_addr(&UnixSocketAddr::from_abstract_name(name)?)?;
                (Socket::Unix(l), Address::Unix(path), None)
            }
            Some(Address::Unix(path)) => {
                let (l, ino) = bind_unix(&path)?;
                (
                    Socket::Unix(l),
                    Address::Unix(path.clone()),
                    Some((path, ino, None)),
                )
            }
            Some(Address::Tcp(addr)) => {
                let l = TcpListener::bind(addr)?;
                let bound = l.local_addr()?;
                (Socket::Tcp(l), Address::Tcp(bound), None)
            }
        };
        match &socket {
            Socket::Unix(l) => l.set_nonblocking(true)?,
            Socket::Tcp(l) => l.set_nonblocking(true)?,
        }
        Ok(Listener {
            socket,
            address,
            authkey: authkey.map(AuthKey::from),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            max_pending: DEFAULT_MAX_PENDING_HANDSHAKES,
            grace: DEFAULT_HANDSHAKE_GRACE,
            accepting: ProcessLocal::new(Accepting::default()),
            cleanup,
        })
    }

    /// [`bind`](Self::bind) with room for `backlog` connections waiting to be
    /// accepted (Python's `Listener(..., backlog=n)`); `bind` itself uses
    /// std's queue length. Linux counts one more than asked and caps it at
    /// `net.core.somaxconn`.
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    pub fn bind_with_backlog(
        address: Option<Address>,
        authkey: Option<&[u8]>,
        backlog: u32,
    ) -> io::Result<Listener> {
        let listener = Self::bind(address, authkey)?;
        let fd = match &listener.socket {
            Socket::Unix(l) => l.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        };
        // A second listen() on a listening socket only sets its queue length.
        mp_sys::socket::listen(fd, backlog)?;
        Ok(listener)
    }

    /// Sets how long a client's handshake may take, from when `accept`
    /// took the connection in (`None` = forever; default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn set_handshake_timeout(&mut self, timeout: Option<Duration>) {
        self.handshake_timeout = timeout;
    }

    /// Sets how many handshakes run at once (at least 1; default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`]); connections beyond that wait in
    /// the listen queue.
    pub fn set_max_pending_handshakes(&mut self, max: usize) {
        self.max_pending = max.max(1);
    }

    /// Sets how long a handshake may stay unfinished before a waiting
    /// connection may take its slot when every slot is taken (default
    /// [`DEFAULT_HANDSHAKE_GRACE`]; see "When every slot is taken" in the
    /// type's docs). Counted from when `accept` took the connection in;
    /// `Duration::MAX` never hangs a handshake up early.
    pub fn set_handshake_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// How many connections are in the middle of their handshake now
    /// (never waits, even while another thread is in `accept`).
    pub fn pending_handshakes(&self) -> usize {
        self.accepting.local().pending_count.load(Ordering::Relaxed)
    }

    /// The bound address (with the real port if port 0 was asked for).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the last accepted connection (TCP only; Unix
    /// clients are unnamed).
    pub fn last_accepted(&self) -> Option<Address> {
        lock(&self.accepting.local().last_accepted).clone()
    }

    /// Accepts one connection, authenticating it if there is an authkey:
    /// the first whose handshake completes (see the type's docs).
    ///
    /// # Errors
    /// [`ConnectError::Authentication`] if a client failed its handshake or
    /// ran out of time (its connection is closed; call again for the next);
    /// OS errors.
    pub fn accept(&self) -> Result<Connection, ConnectError> {
        self.accept_until(Deadline::NEVER, &[])?
            .ok_or(ConnectError::Timeout)
    }

    /// Like [`accept`](Self::accept), but returns `Ok(None)` as soon as one
    /// of `stop` is readable (a pipe written to ask a server loop to end, a
    /// pidfd of a process that exited) instead of waiting on; handshakes
    /// under way go on at the next call.
    ///
    /// # Errors
    /// As `accept`.
    pub fn accept_unless(
        &self,
        stop: &[BorrowedFd<'_>],
    ) -> Result<Option<Connection>, ConnectError> {
        self.accept_until(Deadline::NEVER, stop)
    }

    /// Like [`accept`](Self::accept), giving up with
    /// [`ConnectError::Timeout`] if no connection (handshake included)
    /// completes within `timeout`; handshakes under way go on at the next call.
    ///
    /// # Errors
    /// As `accept`, plus `Timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Connection, ConnectError> {
        self.accept_until(Deadline::after(Some(timeout)), &[])?
            .ok_or(ConnectError::Timeout)
    }

    /// The first connection accepted (and authenticated) by `deadline`, or
    /// `None` once one of `stop` is readable.
    fn accept_until(
        &self,
        deadline: Deadline,
        stop: &[BorrowedFd<'_>],
    ) -> Result<Option<Connection>, ConnectError> {
        let Some(key) = &self.authkey else {
            loop {
                let mut fds = vec![self.as_fd()];
                fds.extend_from_slice(stop);
                let ready = mp_sys::fd::poll_readable_any(&fds, deadline.remaining())?;
                if ready[1..].contains(&true) {
                    return Ok(None);
                }
                if ready[0] {
                    if let Some((conn, peer)) = self.take_in()? {
                        self.set_last_accepted(peer);
                        return Ok(Some(conn));
                    }
                } else if deadline.passed() {
                    return Err(ConnectError::Timeout);
                }
            }
        };
        let accepting = self.accepting.local();
        let mut pending = lock(&accepting.pending);
        loop {
            if let Some(done) = self.drive(accepting, &mut pending, key.as_bytes())? {
                return Ok(Some(done));
            }
            // A waiting connection may be taken in if a slot is free, or if
            // the oldest handshake is past its grace period (it is hung up).
            let full = pending.len() >= self.max_pending;
            let oldest_grace = pending.first().map(|p| p.grace_ends);
            let may_evict = full && oldest_grace.is_some_and(|g| g.passed());
            let watch_listener = !full || may_evict;
            let mut fds: Vec<BorrowedFd<'_>> = pending.iter().map(|p| p.conn.as_fd()).collect();
            let clients = fds.len();
            if watch_listener {
                fds.push(self.as_fd());
            }
            fds.extend_from_slice(stop);
            let mut wake = pending
                .iter()
                .map(|p| p.handshake.deadline())
                .fold(deadline, Deadline::min);
            if full && !may_evict {
                wake = oldest_grace.map_or(wake, |g| wake.min(g));
            }
            let ready = mp_sys::fd::poll_readable_any(&fds, wake.remaining())?;
            drop(fds);
            let listener_ready = watch_listener && ready[clients];
            if ready[clients + usize::from(watch_listener)..].contains(&true) {
                return Ok(None);
            }
            if listener_ready {
                if let Some((conn, peer)) = self.take_in()? {
                    if full {
                        // The oldest, past its grace: closed by the drop.
                        pending.remove(0);
                        accepting
                            .pending_count
                            .store(pending.len(), Ordering::Relaxed);
                    }
                    let handshake_deadline = Deadline::after(self.handshake_timeout);
                    let handshake = ServerHandshake::start(&conn, handshake_deadline)?;
                    pending.push(Pending {
                        conn,
                        handshake,
                        peer,
                        grace_ends: Deadline::after(Some(self.grace)),
                    });
                    accepting
                        .pending_count
                        .store(pending.len(), Ordering::Relaxed);
                }
            }
            if deadline.passed() {
                return Err(ConnectError::Timeout);
            }
        }
    }

    /// Advances every pending handshake with what has arrived; returns the
    /// first that completed, or the first failure (removing it), or `None`.
    fn drive(
        &self,
        accepting: &Accepting,
        pending: &mut Vec<Pending>,
        key: &[u8],
    ) -> Result<Option<Connection>, ConnectError> {
        for i in 0..pending.len() {
            let p = &mut pending[i];
            let result = match p.handshake.advance(&p.conn, key) {
                Ok(false) if p.handshake.deadline().passed() => {
                    Err(AuthenticationError::Recv(RecvError::Timeout))
                }
                other => other,
            };
            match result {
                Ok(false) => continue,
                Ok(true) => {
                    let done = pending.remove(i);
                    accepting
                        .pending_count
                        .store(pending.len(), Ordering::Relaxed);
                    self.set_last_accepted(done.peer);
                    return Ok(Some(done.conn));
                }
                Err(e) => {
                    pending.remove(i);
                    accepting
                        .pending_count
                        .store(pending.len(), Ordering::Relaxed);
                    return Err(e.into());
                }
            }
        }
        Ok(None)
    }

    /// Takes one connection from the listen queue; `None` if there is none
    /// (the listening socket is non-blocking: another process sharing it
    /// may have taken the one `poll` saw).
    fn take_in(&self) -> Result<Option<(Connection, Option<Address>)>, ConnectError> {
        let taken = match &self.socket {
            Socket::Unix(l) => l.accept().map(|(s, _)| (OwnedFd::from(s), None)),
            Socket::Tcp(l) => l.accept().and_then(|(s, peer)| {
                s.set_nodelay(true)?;
                Ok((OwnedFd::from(s), Some(Address::Tcp(peer))))
            }),
        };
        match taken {
            // Accepted sockets do not inherit the listener's O_NONBLOCK.
            Ok((fd, peer)) => Ok(Some((Connection::from_fd(fd), peer))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Records the peer of the connection `accept` returns.
    fn set_last_accepted(&self, peer: Option<Address>) {
        *lock(&self.accepting.local().last_accepted) = peer;
    }

    /// Closes the listener and removes its socket file (dropping does the same).
    pub fn close(self) {}
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Unix(l) => l.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if !self.accepting.is_maker() {
            // A forked child's copy: the file is its parent's.
            return;
        }
        if let Some((path, ino, dir)) = self.cleanup.take() {
            // Only remove the file if it is still ours (not replaced since).
            if fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == ino) {
                let _ = fs::remove_file(&path);
            }
            if let Some(dir) = dir {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Connects to a [`Listener`] at `address` (Python's `Client`), answering
/// and then delivering the authkey challenge if `authkey` is given.
///
/// # Errors
/// [`ConnectError::Authentication`] if the keys differ or the server does
/// not speak the handshake; OS errors (`ConnectionRefused`, `NotFound`).
#[doc(alias = "Client")]
pub fn client(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, ConnectError> {
    client_with_timeout(address, authkey, Some(DEFAULT_HANDSHAKE_TIMEOUT))
}

/// [`client`] with an explicit handshake timeout (`None` = forever).
///
/// # Errors
/// As [`client`].
pub fn client_with_timeout(
    address: &Address,
    authkey: Option<&[u8]>,
    handshake_timeout: Option<Duration>,
) -> Result<Connection, ConnectError> {
    let fd: OwnedFd = match address {
        Address::Unix(path) => match abstract_name(path) {
            Some(name) => {
                UnixStream::connect_addr(&UnixSocketAddr::from_abstract_name(name)?)?.into()
            }
            None => UnixStream::connect(path)?.into(),
        },
        Address::Tcp(addr) => {
            let s = TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            s.into()
        }
    };
    let conn = Connection::from_fd(fd);
    if let Some(key) = authkey {
        answer_challenge(&conn, key, handshake_timeout)?;
        deliver_challenge(&conn, key, handshake_timeout)?;
    }
    Ok(conn)
}

/// Binds a Unix socket at `path` with mode 0600, replacing a stale socket
/// file; returns the listener and the file's inode.
fn bind_unix(path: &Path) -> io::Result<(UnixListener, u64)> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a listener is already active at {}", path.display()),
                ))
            }
            // Nobody listens: a stale file, replaced by the rename below.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    // Bind under a random name, restrict it, then move it into place, so the
    // final path never exists with looser permissions.
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "socket path has no file name")
    })?;
    let tmp = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), random_hex()?));
    let listener = UnixListener::bind(&tmp)?;
    let placed = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::rename(&tmp, path))
        .and_then(|()| fs::symlink_metadata(path));
    match placed {
        Ok(meta) => Ok((listener, meta.ino())),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// 16 random hex digits.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    mp_sys::random::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_serde_values() {
        for a in [
            Address::tcp_loopback(6000),
            "[::1]:0".parse().unwrap(),
            Address::Unix(PathBuf::from("/tmp/mp-test/listener")),
        ] {
            let back: Address = mp_wire::decode(mp_wire::encode(&a).unwrap()).unwrap();
            assert_eq!(back, a);
        }
    }

    #[test]
    fn addresses_compare_as_paths_do() {
        let unix = |p: &str| Address::Unix(PathBuf::from(p));
        assert_eq!(unix("/tmp/a/s"), unix("/tmp/a/s"));
        assert_eq!(
            unix("/tmp//a/s"),
            unix("/tmp/a/s"),
            "component by component"
        );
        assert_ne!(unix("/tmp/a/s"), unix("/tmp/a/t"));
        assert_ne!(unix("/tmp/a/s"), Address::tcp_loopback(1));
        assert_eq!(Address::tcp_loopback(7), Address::tcp_loopback(7));
        assert_ne!(Address::tcp_loopback(7), Address::tcp_loopback(8));
        assert_eq!(Address::unix_abstract("x"), Address::unix_abstract("x"));
        assert_ne!(Address::unix_abstract("x"), Address::unix_abstract("y"));
        let state = std::hash::RandomState::new();
        let h = |a: &Address| std::hash::BuildHasher::hash_one(&state, a);
        assert_eq!(
            h(&unix("/tmp//a/s")),
            h(&unix("/tmp/a/s")),
            "hashes as it compares"
        );
    }
}
