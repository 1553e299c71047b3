//! [`Listener`] and [`client`]: connections between unrelated processes over
//! a Unix socket path or TCP, optionally authenticated with an authkey.

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use crate::auth::{answer_challenge, deliver_challenge};
use crate::connection::Connection;
use crate::error::ConnectError;

/// How long [`Listener::accept`] and [`client`] wait for the other side's
/// handshake messages by default, so a silent peer cannot hang them.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a [`Listener`] listens: a Unix socket path or a TCP address.
///
/// An address is a serde value, so it can be a `Process` argument or
/// travel through a queue, as Python passes `listener.address` to children.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Address {
    /// A Unix-domain socket at this path (Python's `'AF_UNIX'`).
    Unix(PathBuf),
    /// A TCP address (Python's `'AF_INET'`); port 0 picks a free port.
    Tcp(SocketAddr),
}

impl Address {
    /// TCP on the loopback interface (`127.0.0.1:port`; 0 = any free port).
    pub fn tcp_loopback(port: u16) -> Address {
        Address::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
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
    /// `":6000"` → TCP on 127.0.0.1; anything else is a Unix socket path.
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
    authkey: Option<Vec<u8>>,
    handshake_timeout: Option<Duration>,
    last_accepted: Mutex<Option<Address>>,
    /// The socket file we created (path, inode) and our private directory.
    cleanup: Option<(PathBuf, u64, Option<PathBuf>)>,
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
        Ok(Listener {
            socket,
            address,
            authkey: authkey.map(<[u8]>::to_vec),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            last_accepted: Mutex::new(None),
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
        rustix::net::listen(fd, i32::try_from(backlog).unwrap_or(i32::MAX))?;
        Ok(listener)
    }

    /// Sets how long `accept` waits for a client's handshake messages
    /// (`None` = forever; default [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn set_handshake_timeout(&mut self, timeout: Option<Duration>) {
        self.handshake_timeout = timeout;
    }

    /// The bound address (with the real port if port 0 was asked for).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the last accepted connection (TCP only; Unix
    /// clients are unnamed).
    pub fn last_accepted(&self) -> Option<Address> {
        self.last_accepted.lock().ok().and_then(|a| a.clone())
    }

    /// Accepts one connection, authenticating it if there is an authkey.
    ///
    /// # Errors
    /// [`ConnectError::Authentication`] if the client failed the handshake
    /// (its connection is closed); OS errors.
    pub fn accept(&self) -> Result<Connection, ConnectError> {
        self.accept_inner()
    }

    /// Like [`accept`](Self::accept), giving up with
    /// [`ConnectError::Timeout`] if no client connects within `timeout`.
    ///
    /// # Errors
    /// As `accept`, plus `Timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Connection, ConnectError> {
        if !mp_sys::socket::poll_readable(self.as_fd(), Some(timeout))? {
            return Err(ConnectError::Timeout);
        }
        self.accept_inner()
    }

    fn accept_inner(&self) -> Result<Connection, ConnectError> {
        let (fd, peer): (OwnedFd, Option<Address>) = match &self.socket {
            Socket::Unix(l) => (l.accept()?.0.into(), None),
            Socket::Tcp(l) => {
                let (s, peer) = l.accept()?;
                s.set_nodelay(true)?;
                (s.into(), Some(Address::Tcp(peer)))
            }
        };
        let conn = Connection::from_fd(fd);
        if let Some(key) = &self.authkey {
            deliver_challenge(&conn, key, self.handshake_timeout)?;
            answer_challenge(&conn, key, self.handshake_timeout)?;
        }
        if let Ok(mut last) = self.last_accepted.lock() {
            *last = peer;
        }
        Ok(conn)
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
        Address::Unix(path) => UnixStream::connect(path)?.into(),
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
}
