//! A server that is alive but silent (stopped) delays only its own callers:
//! from the same process, objects of another manager are created, used and
//! dropped meanwhile (every process holds its references to all servers
//! through one table of holders, which must not wait on one server's reply
//! for everyone).

use std::sync::mpsc;
use std::time::Duration;

use mp_manager::Manager;

/// Sends `SIGSTOP` or `SIGCONT` (`sig` without the `SIG`) to `pid`.
fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

#[test]
fn a_stopped_server_delays_no_call_to_another() {
    let a = Manager::new().unwrap();
    let b = Manager::new().unwrap();
    // Both holders open before the stop.
    let _on_a = a.dict::<u32, u32>().unwrap();
    let _on_b = b.dict::<u32, u32>().unwrap();
    let pid = a.pid().unwrap();
    signal(pid, "STOP");
    // Creating an object on the stopped server waits for its reply on this
    // process's holder to it.
    let (started_tx, started_rx) = mpsc::channel();
    let stuck = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        let made = a.dict::<u32, u32>().map(drop);
        (a, made)
    });
    started_rx.recv().unwrap();
    // Let it reach the wait for the reply (if it has not yet, the calls
    // below pass either way: the test is weaker then, never wrong).
    std::thread::sleep(Duration::from_millis(200));
    let (done_tx, done_rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        let d = b.dict::<u32, u32>().unwrap();
        d.set(1, 2).unwrap();
        let got = d.get(&1).unwrap();
        drop(d);
        done_tx.send(got).unwrap();
        b
    });
    let got = done_rx.recv_timeout(Duration::from_secs(30));
    signal(pid, "CONT");
    assert_eq!(
        got,
        Ok(Some(2)),
        "a call to another server waited for the stopped one"
    );
    let (_a, made) = stuck.join().unwrap();
    made.unwrap();
    drop(other.join().unwrap());
}
