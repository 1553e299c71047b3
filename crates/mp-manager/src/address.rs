//! Where a manager server listens ([`Address`]: a Unix socket path or a TCP
//! address), and the streams and listeners over either.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A manager server's address: Python's `address` (a Unix socket path, or a
/// `(host, port)` pair for TCP).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Address {
    /// A Unix socket at this path (the default, in a private temp dir).
    Unix(PathBuf),
    /// A TCP address. Port 0 at start means "any free port"; the started
    /// manager's [`address`](crate::Manager::address) holds the real one.
    Tcp(SocketAddr),
}

impl Address {
    /// A TCP address from `"host:port"` (the first address it resolves to).
    pub fn tcp(addr: impl ToSocketAddrs) -> io::Result<Address> {
        addr.to_socket_addrs()?
            .next()
            .map(Address::Tcp)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address resolved"))
    }

    /// `127.0.0.1:0`: loopback, any free port.
    pub fn tcp_loopback() -> Address {
        Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
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

/// A connected stream of either family.
#[derive(Debug)]
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    /// Connects to `addr`.
    pub(crate) fn connect(addr: &Address) -> io::Result<Stream> {
        match addr {
            Address::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p)?)),
            Address::Tcp(a) => {
                let s = TcpStream::connect(a)?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

/// A listening socket of either family.
#[derive(Debug)]
pub(crate) enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Binds `addr`. A Unix socket file is made readable and writable by
    /// its owner only (0600).
    pub(crate) fn bind(addr: &Address) -> io::Result<Listener> {
        match addr {
            Address::Unix(p) => {
                let l = UnixListener::bind(p)?;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
                Ok(Listener::Unix(l))
            }
            Address::Tcp(a) => Ok(Listener::Tcp(TcpListener::bind(a)?)),
        }
    }

    /// The bound address (the real port for TCP port 0).
    pub(crate) fn local_address(&self, asked: &Address) -> io::Result<Address> {
        match self {
            Listener::Unix(_) => Ok(asked.clone()),
            Listener::Tcp(l) => Ok(Address::Tcp(l.local_addr()?)),
        }
    }

    /// Accepts one connection.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l) => Ok(Stream::Unix(l.accept()?.0)),
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}

/// A fresh private directory (mode 0700) under the temp dir, and the path
/// of a socket inside it: Python's `/tmp/pymp-xxxx/listener-xxxx`.
pub(crate) fn fresh_unix_address() -> io::Result<Address> {
    let tag = crate::auth::random_u64()?;
    let dir = std::env::temp_dir().join(format!(
        "mp-manager-{}-{tag:016x}",
        mp_sys::process::getpid()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(Address::Unix(dir.join("listener")))
}

/// Removes a socket file made by [`fresh_unix_address`] and its directory.
pub(crate) fn remove_unix_address(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        if dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("mp-manager-"))
        {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
