//! A client that outlives its server: the server is killed and a new one
//! starts at the same address while a connected client holds proxies.
//! With a reconnect window the client's calls wait for the new server and
//! go on (new objects work, the old run's objects are reported gone, named
//! objects can be looked up again); without one, or past it, they fail with
//! `ServerGone`. A call timeout bounds a call that gets no reply.

use std::path::PathBuf;
use std::time::Duration;

use mp_manager::{Address, DictProxy, Manager, ManagerError, QueueProxy, RemoteErrorKind};

const KEY: &[u8] = b"reconnect-test-key";

fn socket_address(name: &str) -> (tempdir::Dir, Address) {
    let dir = tempdir::Dir::new();
    let path: PathBuf = dir.path().join(name);
    (dir, Address::Unix(path))
}

/// A private temporary directory, removed on drop.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub(crate) struct Dir(PathBuf);

    impl Dir {
        pub(crate) fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "mp-reconnect-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir(&path).unwrap();
            Dir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Starts a server at `address` holding a dict published as "d" with
/// `a = value`.
fn server_with(address: &Address, value: u32) -> Manager {
    let m = Manager::builder()
        .address(address.clone())
        .authkey(KEY.to_vec())
        .start()
        .unwrap();
    let d = m.dict::<String, u32>().unwrap();
    d.set("a".into(), value).unwrap();
    m.publish("d", &d).unwrap();
    m
}

/// Kills the server of `m` (SIGKILL: no goodbye to anyone) and reaps it.
fn kill_server(mut m: Manager) {
    let process = m.process().unwrap();
    process.kill().unwrap();
    let _ = m.join(Some(Duration::from_secs(10)));
    // The manager itself now only says its server is gone.
    drop(m);
}

#[test]
fn a_client_with_a_reconnect_window_outlives_a_server_restart() {
    let (_dir, address) = socket_address("m.sock");
    let first = server_with(&address, 1);
    let client = Manager::builder()
        .address(address.clone())
        .authkey(KEY.to_vec())
        .reconnect(Duration::from_secs(30))
        .connect()
        .unwrap();
    let old: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(old.get("a").unwrap(), Some(1));

    kill_server(first);
    // The new server comes up a little later, while the client is calling.
    let restart = {
        let address = address.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            server_with(&address, 2)
        })
    };
    // This call finds its idle connection dead, waits for the new server
    // and runs there.
    let fresh = client.dict::<String, u32>().unwrap();
    fresh.set("b".into(), 3).unwrap();
    assert_eq!(fresh.get("b").unwrap(), Some(3));
    let second = restart.join().unwrap();

    // The old run's object is gone, and says so (not a hang, not a
    // misleading "server gone": the server is there).
    match old.get("a") {
        Err(e) => assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Protocol), "{e}"),
        Ok(v) => panic!("an object of the killed server answered: {v:?}"),
    }
    // Named objects are looked up again.
    let again: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(again.get("a").unwrap(), Some(2));
    drop(second);
}

#[test]
fn without_a_window_the_first_call_fails_and_the_next_reconnects() {
    let (_dir, address) = socket_address("m.sock");
    let first = server_with(&address, 1);
    let client = Manager::builder()
        .address(address.clone())
        .authkey(KEY.to_vec())
        .connect()
        .unwrap();
    let d: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(d.get("a").unwrap(), Some(1));
    kill_server(first);
    // Nobody listens: the call fails at once with ServerGone.
    match client.dict::<String, u32>() {
        Err(e) => assert!(e.is_server_gone(), "{e}"),
        Ok(_) => panic!("a call succeeded with no server"),
    }
    // A new server at the address: the very next call reaches it (no dead
    // connection is reused; cpython#86320 returns a bad proxy here).
    let second = server_with(&address, 2);
    let again: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(again.get("a").unwrap(), Some(2));
    drop(second);
}

#[test]
fn past_the_window_a_call_fails_with_server_gone() {
    let (_dir, address) = socket_address("m.sock");
    let first = server_with(&address, 1);
    let client = Manager::builder()
        .address(address.clone())
        .authkey(KEY.to_vec())
        .reconnect(Duration::from_millis(300))
        .connect()
        .unwrap();
    let d: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(d.len().unwrap(), 1);
    kill_server(first);
    match client.dict::<String, u32>() {
        Err(e) => assert!(e.is_server_gone(), "{e}"),
        Ok(_) => panic!("a call succeeded with no server"),
    }
}

#[test]
fn a_call_timeout_bounds_a_call_that_gets_no_reply() {
    let (_dir, address) = socket_address("m.sock");
    let server = server_with(&address, 1);
    let q = server.queue::<u32>(0).unwrap();
    server.publish("q", &q).unwrap();
    let client = Manager::builder()
        .address(address.clone())
        .authkey(KEY.to_vec())
        .call_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    let cq: QueueProxy<u32> = client.lookup("q").unwrap();
    // An empty queue: `get` waits in the server, past the call timeout.
    match cq.get() {
        Err(ManagerError::Timeout { after, .. }) => {
            assert_eq!(after, Duration::from_millis(200))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The timed-out connection is not reused: the next calls are in step.
    q.put(7).unwrap();
    assert_eq!(cq.get().unwrap(), 7);
    let d: DictProxy<String, u32> = client.lookup("d").unwrap();
    assert_eq!(d.get("a").unwrap(), Some(1));
}
