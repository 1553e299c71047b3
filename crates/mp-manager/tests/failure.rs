//! Failure modes: a killed server makes calls fail within a second (never
//! hang), a wrong key is rejected, a shut-down manager refuses work, and
//! nothing is left behind.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use mp_manager::{Address, EventProxy, Manager, ManagerError};
use mp_process::Process;

fn wait_forever(ev: EventProxy) -> Result<bool, ManagerError> {
    ev.wait(None)
}

#[test]
fn killed_server_fails_calls_within_a_second() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<u32, u32>().unwrap();
    d.set(1, 1).unwrap();
    let ev = manager.event().unwrap();
    // A child and a thread blocked inside the server when it dies.
    let mut child = Process::new(wait_forever, (ev.clone(),));
    child.start().unwrap();
    let blocked = {
        let ev = ev.clone();
        std::thread::spawn(move || {
            let r = ev.wait(None);
            (r, Instant::now())
        })
    };
    // Let both reach the server.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    manager.process().unwrap().kill().unwrap();

    let (r, when) = blocked.join().unwrap();
    assert!(r.unwrap_err().is_server_gone());
    assert!(when.duration_since(killed) < Duration::from_secs(1));

    let t = Instant::now();
    let e = d.len().unwrap_err();
    assert!(e.is_server_gone(), "{e}");
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(e.to_string().starts_with("manager server at "), "{e}");

    child.join_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(child.exitcode(), Some(1), "the child's wait failed");
    assert!(killed.elapsed() < Duration::from_secs(5));
}

#[test]
fn wrong_key_is_rejected_right_key_connects() {
    let mut manager = Manager::builder()
        .authkey(b"abracadabra".to_vec())
        .start()
        .unwrap();
    let address = manager.address().clone();
    // This thread now holds an authenticated connection: it must not be
    // reused for another key.
    assert_eq!(manager.list::<u8>().unwrap().len().unwrap(), 0);
    let e = Manager::builder()
        .address(address.clone())
        .authkey(b"open sesame".to_vec())
        .connect()
        .unwrap_err();
    assert!(matches!(e, ManagerError::Authentication(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "authentication failed: digest sent was rejected"
    );

    let mut remote = Manager::builder()
        .address(address)
        .authkey(b"abracadabra".to_vec())
        .connect()
        .unwrap();
    let l = remote.list_from([1u8, 2]).unwrap();
    assert_eq!(l.len().unwrap(), 2);
    assert_eq!(l.len().unwrap(), 2);
    // Only the manager that started the server can stop it (as in
    // Python, where a connected manager has no `shutdown`).
    let e = remote.shutdown().unwrap_err();
    assert!(matches!(e, ManagerError::State(_)), "{e}");
    assert!(
        e.to_string().contains("only the manager that started it"),
        "{e}"
    );
    drop(remote);
    assert_eq!(l.len().unwrap(), 2);
    assert!(manager.process().is_some_and(|p| p.exitcode().is_none()));
    manager.shutdown().unwrap();
    assert!(manager.process().is_some_and(|p| p.exitcode() == Some(0)));
    assert!(l.len().unwrap_err().is_server_gone());
}

#[test]
fn shutdown_is_final_and_cleans_up() {
    let mut manager = Manager::new().unwrap();
    let Address::Unix(path) = manager.address().clone() else {
        panic!("default address is a unix socket");
    };
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let l = manager.list::<u8>().unwrap();
    l.append(1).unwrap();
    let name = manager.process().unwrap().get_name().to_string();
    assert!(name.starts_with("SyncManager-"), "{name}");

    manager.shutdown().unwrap();
    manager.shutdown().unwrap();
    assert_eq!(manager.process().unwrap().exitcode(), Some(0));
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
    assert!(l.len().unwrap_err().is_server_gone());
    let e = manager.dict::<u8, u8>().unwrap_err();
    assert_eq!(e.to_string(), "Manager has shut down");
}

#[test]
fn drop_shuts_the_server_down() {
    let manager = Manager::new().unwrap();
    let pid = manager.pid().unwrap();
    let v = manager.value(1u8).unwrap();
    drop(manager);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(v.get().unwrap_err().is_server_gone());
}

#[test]
fn a_server_that_cannot_listen_reports_why() {
    let taken = Manager::builder()
        .address(Address::tcp_loopback(0))
        .start()
        .unwrap();
    let e = Manager::builder()
        .address(taken.address().clone())
        .start()
        .unwrap_err();
    assert!(e.to_string().contains("cannot listen"), "{e}");
}
