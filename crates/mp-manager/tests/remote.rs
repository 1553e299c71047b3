//! Remote use over TCP: a process that was given nothing but the address and
//! the key connects, finds a published queue and uses it; a wrong key is
//! rejected; a custom serve-forever server in a thread works the same.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::run;
use mp_manager::{Address, Manager, ManagerError, QueueProxy};
use mp_process::Process;

fn remote_client(address: SocketAddr, key: Vec<u8>) -> Result<(), ManagerError> {
    let m = Manager::builder()
        .address(address.into())
        .authkey(key)
        .connect()?;
    let q: QueueProxy<String> = m.lookup("get_queue")?;
    let task = q.get_timeout(Duration::from_secs(20))?;
    q.put(format!("{task} done"))?;
    // A proxy created remotely travels back through the queue and works.
    let l = m.list_from(["made remotely".to_string()])?;
    let back: QueueProxy<mp_manager::ListProxy<String>> = m.lookup("lists")?;
    back.put(l)
}

fn wrong_key_client(address: SocketAddr) -> Result<(), ManagerError> {
    match Manager::builder()
        .address(address.into())
        .authkey(b"wrong".to_vec())
        .connect()
    {
        Err(ManagerError::Authentication(_)) => Ok(()),
        other => panic!("expected an authentication error, got {other:?}"),
    }
}

#[test]
fn queue_served_over_tcp() {
    let key = b"abracadabra".to_vec();
    let manager = Manager::builder()
        .address(Address::tcp_loopback(0))
        .authkey(key.clone())
        .start()
        .unwrap();
    let &Address::Tcp(addr) = manager.address() else {
        panic!("a TCP address");
    };
    assert_ne!(addr.port(), 0, "the real port is reported");
    let q = manager.queue::<String>(0).unwrap();
    manager.publish("get_queue", &q).unwrap();
    let lists = manager.queue::<mp_manager::ListProxy<String>>(0).unwrap();
    manager.publish("lists", &lists).unwrap();
    q.put("task 1".into()).unwrap();
    run(Process::new(remote_client, (addr, key)));
    assert_eq!(
        q.get_timeout(Duration::from_secs(5)).unwrap(),
        "task 1 done"
    );
    let l = lists.get_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(l.to_vec().unwrap(), vec!["made remotely".to_string()]);
    run(Process::new(wrong_key_client, (addr,)));
}

#[test]
fn serve_forever_in_a_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        Manager::builder()
            .address(Address::tcp_loopback(0))
            .authkey(b"k".to_vec())
            .serve_forever(|serving| {
                // Objects created and published before any client comes.
                let q = serving.queue::<String>(0).unwrap();
                q.put("ready".into()).unwrap();
                serving.publish("jobs", &q).unwrap();
                tx.send(serving).unwrap();
            })
    });
    let mut serving = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut m = Manager::builder()
        .address(serving.address().clone())
        .authkey(b"k".to_vec())
        .connect()
        .unwrap();
    let jobs: QueueProxy<String> = m.lookup("jobs").unwrap();
    assert_eq!(jobs.get().unwrap(), "ready");
    let d = m.dict_from([(1u8, 2u8)]).unwrap();
    assert_eq!(d.get(&1).unwrap(), Some(2));
    // A connected manager cannot stop the server (Python's has no
    // `shutdown`); the server goes on.
    assert!(matches!(m.shutdown(), Err(ManagerError::State(_))));
    assert_eq!(d.get(&1).unwrap(), Some(2));
    // Another thread keeps a connection open (pooled per thread).
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (opened, open) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn({
        let d = d.clone();
        move || {
            assert_eq!(d.len().unwrap(), 1);
            opened.send(()).unwrap();
            asked.recv().unwrap();
            d.len()
        }
    });
    open.recv().unwrap();
    // The serving manager can stop the server; every connection is hung
    // up, so the other thread's open one fails too.
    serving.shutdown().unwrap();
    server.join().unwrap().unwrap();
    assert!(d.len().unwrap_err().is_server_gone());
    ask.send(()).unwrap();
    assert!(other.join().unwrap().unwrap_err().is_server_gone());
}
