//! Malformed input never crashes the server: bad requests get error
//! replies on a connection that stays usable, broken framing or a failed
//! handshake closes only that connection, and unknown ids are refused.

use std::sync::mpsc;
use std::time::Duration;

use mp_channel::{Address, Connection, RecvError};
use mp_process::AuthKey;
use serde_bytes::ByteBuf;

use crate::client;
use crate::error::{ManagerError, RemoteErrorKind};
use crate::protocol::{self, RequestRef, CONTROL};
use crate::{Manager, ManagerBuilder};

const KEY: &[u8] = b"robustness";

/// A server serving in a thread: its address, the thread, and the
/// serving manager (the one that can shut it down).
fn start() -> (Address, std::thread::JoinHandle<()>, Manager) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        ManagerBuilder::default()
            .authkey(KEY)
            .serve_forever(|m| tx.send(m).unwrap())
            .unwrap();
    });
    let manager = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (manager.address().clone(), t, manager)
}

fn raw(conn: &mut Connection, bytes: Vec<u8>) -> protocol::Reply {
    conn.send_bytes(&bytes).unwrap();
    conn.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn request(object: u128, method: &str, args: &[u8]) -> Vec<u8> {
    mp_wire::encode(&RequestRef {
        object,
        method,
        args,
    })
    .unwrap()
    .bytes
}

fn kind(r: protocol::Reply) -> RemoteErrorKind {
    r.unwrap_err().kind
}

#[test]
fn malformed_requests_get_errors_and_the_server_keeps_serving() {
    let (address, server, mut manager) = start();
    let mut s = client::connect(&address, &AuthKey::from(KEY)).unwrap();

    // Garbage that is not a request at all.
    assert_eq!(kind(raw(&mut s, vec![0xff; 7])), RemoteErrorKind::Protocol);
    assert_eq!(kind(raw(&mut s, Vec::new())), RemoteErrorKind::Protocol);
    // Unknown control method, unknown typeid, bad creation arguments.
    assert_eq!(
        kind(raw(&mut s, request(CONTROL, "explode", &[]))),
        RemoteErrorKind::Protocol
    );
    let create = |typeid: &str, init: &[u8]| {
        postcard::to_stdvec(&(typeid, ByteBuf::from(init.to_vec()))).unwrap()
    };
    let r = raw(
        &mut s,
        request(CONTROL, protocol::CREATE, &create("os.system", &[])),
    );
    assert!(r.unwrap_err().message.contains("unknown typeid"));
    assert_eq!(
        kind(raw(
            &mut s,
            request(CONTROL, protocol::CREATE, &create("list", &[0xff]))
        )),
        RemoteErrorKind::Protocol
    );
    // A real object; then a guessed id, a method it does not have, bad args.
    let id: u128 = protocol::from_bytes(
        &raw(
            &mut s,
            request(CONTROL, protocol::CREATE, &create("list", &[0])),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        kind(raw(&mut s, request(id ^ 1, "__len__", &[]))),
        RemoteErrorKind::Protocol
    );
    assert_eq!(
        kind(raw(&mut s, request(id, "__class__", &[]))),
        RemoteErrorKind::Protocol
    );
    assert_eq!(
        kind(raw(&mut s, request(id, "__getitem__", &[0xff; 20]))),
        RemoteErrorKind::Protocol
    );
    // The same connection still works.
    let n: u64 = protocol::from_bytes(&raw(&mut s, request(id, "__len__", &[])).unwrap()).unwrap();
    assert_eq!(n, 0);

    // Bytes that are not a frame close that connection only.
    let bad = client::connect(&address, &AuthKey::from(KEY)).unwrap();
    mp_sys::fd::write_all(bad.as_fd(), &[0xff; 32]).unwrap();
    assert!(matches!(
        bad.recv_bytes_timeout(None, Duration::from_secs(10)),
        Err(RecvError::Eof | RecvError::Io(_))
    ));
    // A client that never authenticates gets nothing: its request is not a
    // handshake message (those are in CPython's framing, a 4-byte
    // big-endian length), so the server hangs up after its challenge.
    let anon = mp_channel::client(&address, None).unwrap();
    anon.send_bytes(&request(id, "__len__", &[])).ok();
    let mut raw_anon = std::fs::File::from(mp_sys::fd::dup_cloexec(anon.as_fd()).unwrap());
    let mut seen = Vec::new();
    let end = std::io::Read::read_to_end(&mut raw_anon, &mut seen);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the server should hang up"
    );
    assert_eq!(
        seen.len(),
        4 + b"#CHALLENGE#{sha256}".len() + 40,
        "{seen:?}"
    );
    assert!(seen[4..].starts_with(b"#CHALLENGE#{sha256}"));
    // A wrong key through the normal client.
    assert!(matches!(
        client::connect(&address, &AuthKey::from(&b"wrong"[..])),
        Err(ManagerError::Authentication(_))
    ));

    let n: u64 = protocol::from_bytes(&raw(&mut s, request(id, "__len__", &[])).unwrap()).unwrap();
    assert_eq!(n, 0);
    // A shutdown request without the starter's token, or with a wrong
    // one, is refused and the server goes on.
    assert_eq!(
        kind(raw(&mut s, request(CONTROL, protocol::SHUTDOWN, &[]))),
        RemoteErrorKind::Protocol
    );
    let guess = mp_wire::encode(&7u128).unwrap().bytes;
    assert_eq!(
        kind(raw(&mut s, request(CONTROL, protocol::SHUTDOWN, &guess))),
        RemoteErrorKind::Runtime
    );
    let n: u64 = protocol::from_bytes(&raw(&mut s, request(id, "__len__", &[])).unwrap()).unwrap();
    assert_eq!(n, 0);
    manager.shutdown().unwrap();
    server.join().unwrap();
    if let Address::Unix(p) = &address {
        assert!(!p.exists());
    }
}

#[test]
fn a_forged_pool_function_key_is_refused_and_nothing_runs() {
    use crate::pool_function::{self, PoolCall, RunRequest};

    fn square(x: u64) -> u64 {
        x * x
    }

    /// The key a client sends for `f` (it registered nowhere here).
    fn key_of<F: 'static>(_: F) -> u64 {
        pool_function::key::<F, (u64,)>()
    }

    // This server has no pool functions registered at all, so whatever key
    // arrives, there is nothing it could call.
    let (address, server, mut manager) = start();
    let mut s = client::connect(&address, &AuthKey::from(KEY)).unwrap();
    let init = mp_wire::encode(&(Some(1u64), None::<u64>)).unwrap().bytes;
    let create = mp_wire::encode(&("Pool", ByteBuf::from(init)))
        .unwrap()
        .bytes;
    let id: u128 =
        protocol::from_bytes(&raw(&mut s, request(CONTROL, protocol::CREATE, &create)).unwrap())
            .unwrap();
    let items = mp_wire::encode(&vec![(3u64,)]).unwrap().bytes;
    let call = PoolCall::Starmap { chunksize: None };
    // The key a client computes for a real function, and made-up ones.
    for key in [
        key_of(square),
        crate::registered::key_of::<(u8,)>(),
        0,
        u64::MAX,
    ] {
        let run: RunRequest = (key, call, ByteBuf::from(items.clone()));
        let args = mp_wire::encode(&run).unwrap().bytes;
        let r = raw(&mut s, request(id, "run", &args));
        assert_eq!(kind(r), RemoteErrorKind::NotRegistered);
    }
    // Arguments that are not a run request are a protocol error.
    assert_eq!(
        kind(raw(&mut s, request(id, "run", &[0xff; 3]))),
        RemoteErrorKind::Protocol
    );
    raw(&mut s, request(id, "terminate", &[])).unwrap();
    raw(&mut s, request(id, "join", &[])).unwrap();
    manager.shutdown().unwrap();
    server.join().unwrap();
}

/// A new connection to the server at `address`, moved onto pipes (and a
/// handle to them), and a list created over them.
fn list_over_pipes(address: &Address) -> (crate::pipes::Link, Connection, u128) {
    let socket = client::connect(address, &AuthKey::from(KEY)).unwrap();
    let answer = |s: &Connection| -> Result<Vec<u8>, ManagerError> {
        let r: protocol::Reply = s.recv_timeout(Duration::from_secs(10)).unwrap();
        Ok(r?.into_vec())
    };
    let link = crate::pipes::upgrade(socket, address, answer)
        .unwrap()
        .unwrap();
    assert!(link.on_pipes());
    let mut conn = link.conn.try_clone().unwrap();
    let create = mp_wire::encode(&("list", ByteBuf::from(vec![0])))
        .unwrap()
        .bytes;
    let id: u128 =
        protocol::from_bytes(&raw(&mut conn, request(CONTROL, protocol::CREATE, &create)).unwrap())
            .unwrap();
    (link, conn, id)
}

#[test]
fn requests_move_to_pipes_and_a_stopping_server_hangs_them_up() {
    let (address, server, mut manager) = start();
    let (_link, mut conn, id) = list_over_pipes(&address);
    let n: u64 =
        protocol::from_bytes(&raw(&mut conn, request(id, "__len__", &[])).unwrap()).unwrap();
    assert_eq!(n, 0);
    // Asking again on the pipes is an unknown control method.
    assert_eq!(
        kind(raw(&mut conn, request(CONTROL, protocol::PIPES, &[]))),
        RemoteErrorKind::Protocol
    );
    manager.shutdown().unwrap();
    server.join().unwrap();
    // The thread serving the pipes was woken by the shutdown and hung up.
    assert!(matches!(
        conn.recv_bytes_timeout(None, Duration::from_secs(10)),
        Err(RecvError::Eof)
    ));
}

#[test]
fn a_pipes_request_without_a_duplex_end_is_refused_and_the_socket_goes_on() {
    let (address, server, mut manager) = start();
    let mut s = client::connect(&address, &AuthKey::from(KEY)).unwrap();
    // Something that is not a connection end.
    s.send_bytes(&request(CONTROL, protocol::PIPES, &[]))
        .unwrap();
    assert_eq!(kind(raw(&mut s, vec![0xff; 3])), RemoteErrorKind::Protocol);
    // A one-way end.
    let (_rx, tx) = mp_channel::pipe(false).unwrap();
    s.send_bytes(&request(CONTROL, protocol::PIPES, &[]))
        .unwrap();
    s.send(&tx).unwrap();
    let r: protocol::Reply = s.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(r.unwrap_err().message.contains("not duplex"));
    // The socket still serves.
    let n: u64 = protocol::from_bytes(
        &raw(&mut s, request(CONTROL, protocol::NUMBER_OF_OBJECTS, &[])).unwrap(),
    )
    .unwrap();
    assert_eq!(n, 0);
    manager.shutdown().unwrap();
    server.join().unwrap();
}

#[test]
fn a_server_that_exits_when_stopped_runs_no_request_read_after_the_stop() {
    use super::{builtin_factories, listen, serve, Identity, Server};
    use std::sync::Arc;

    let listener = listen(None, KEY, Duration::from_secs(10)).unwrap();
    let address = listener.address().clone();
    let (stop_r, stop_w) = mp_sys::fd::pipe().unwrap();
    let stop = stop_w.try_clone().unwrap();
    let identity = Identity {
        id: 1,
        shutdown_token: 2,
    };
    let actions = crate::registered::resolve_all(&[]).unwrap();
    let functions = crate::registered::resolve_all(&[]).unwrap();
    let server = Arc::new(
        Server::new(identity, builtin_factories(), actions, functions, stop_w).exits_when_stopped(),
    );
    let serving = server.clone();
    let accept = std::thread::spawn(move || serve(serving, listener, stop_r, None));

    let (link, conn, id) = list_over_pipes(&address);
    assert!(link.usable());
    // The list itself, held here: the connection's references go when the
    // server hangs up on it below, and the object with them.
    let (_, list) = server.object(id).unwrap();

    // Stop: the accept loop ends and hangs up. The thread reading the
    // pipes is not woken (its process would end now), but the client's
    // check of an idle link sees the socket shut down.
    mp_sys::fd::write_all(&stop, b"x").unwrap();
    accept.join().unwrap();
    assert!(!link.usable());
    // A request sent anyway is read, not run, and hung up on.
    let append = mp_wire::encode(&5u32).unwrap().bytes;
    conn.send_bytes(&request(id, "append", &append)).unwrap();
    assert!(matches!(
        conn.recv_bytes_timeout(None, Duration::from_secs(10)),
        Err(RecvError::Eof)
    ));
    let (here, _peer) = mp_sys::socket::socketpair().unwrap();
    let len = list
        .call(
            "__len__",
            &[],
            &super::Cx::new(std::os::fd::AsFd::as_fd(&here)),
        )
        .unwrap();
    assert_eq!(protocol::from_bytes::<u64>(&len).unwrap(), 0);
}
