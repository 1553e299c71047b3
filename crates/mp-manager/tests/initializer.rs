//! `ManagerBuilder::initializer`: the function runs once, in the server
//! process, before it serves; a panicking initializer makes `start` fail
//! with the reason instead of hanging or leaving a server behind.

use std::io::Read;
use std::os::fd::OwnedFd;

use mp_manager::{Manager, ManagerError};
use mp_wire::SharedFd;

fn announce(out: SharedFd, greeting: String) {
    let line = format!("{greeting} from {}\n", std::process::id());
    mp_sys::fd::write_all(OwnedFd::from(out), line.as_bytes()).unwrap();
}

fn refuse(why: String) {
    panic!("{why}");
}

#[test]
fn the_initializer_runs_in_the_server_before_it_serves() {
    let (r, w) = mp_sys::fd::pipe().unwrap();
    let mut manager = Manager::builder()
        .initializer(announce, (SharedFd::from(w), "hello".to_string()))
        .start()
        .unwrap();
    // The server is up: the initializer has run (it runs before listening).
    let d = manager.dict::<String, u32>().unwrap();
    d.set("k".to_string(), 1).unwrap();
    let pid = manager.pid().unwrap();
    manager.shutdown().unwrap();
    let mut text = String::new();
    std::fs::File::from(r).read_to_string(&mut text).unwrap();
    assert_eq!(text, format!("hello from {pid}\n"));
}

#[test]
fn a_panicking_initializer_fails_start() {
    let err = Manager::builder()
        .initializer(refuse, ("no config file".to_string(),))
        .start()
        .unwrap_err();
    match err {
        ManagerError::State(why) => {
            assert!(
                why.contains("panicked") && why.contains("no config file"),
                "{why}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
}
