//! Port of "Using a remote manager" in CPython's `multiprocessing` docs: a
//! server publishes a queue (`QueueManager.register('get_queue', ...)` then
//! `get_server().serve_forever()`), one client puts `'hello'` into it and
//! another gets it, each knowing only the address and the authkey.
//!
//! Here the server runs in a thread of this program (`serve_forever` in a
//! server program of its own is the same call); its callback receives the
//! serving manager, creates and publishes the queue before any client comes,
//! and hands the manager back so that the program can stop the server.

use std::net::SocketAddr;
use std::sync::mpsc;

use multiprocess::managers::{Address, QueueProxy};
use multiprocess::{Manager, ManagerError, Process};

const AUTHKEY: &[u8] = b"abracadabra";

/// A client given only the address and the key.
fn connect(address: SocketAddr) -> Result<QueueProxy<String>, ManagerError> {
    let m = Manager::builder()
        .address(address.into())
        .authkey(AUTHKEY.to_vec())
        .connect()?;
    m.lookup("get_queue")
}

fn putter(address: SocketAddr) -> Result<(), ManagerError> {
    connect(address)?.put("hello".to_string())?;
    println!("client 1 put 'hello'");
    Ok(())
}

fn getter(address: SocketAddr) -> Result<(), ManagerError> {
    let got = connect(address)?.get()?;
    println!("client 2 got '{got}'");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (ready, serving) = mpsc::channel();
    let server = std::thread::spawn(move || {
        Manager::builder()
            .address(Address::tcp_loopback(0))
            .authkey(AUTHKEY.to_vec())
            .serve_forever(|manager| {
                let queue = manager.queue::<String>(0).expect("a queue");
                manager.publish("get_queue", &queue).expect("published");
                ready.send(manager).expect("main is waiting");
            })
    });
    let mut manager = serving.recv()?;
    let &Address::Tcp(address) = manager.address() else {
        return Err("the server listens on TCP".into());
    };
    println!("serving 'get_queue'");

    // One after the other, so that the output is in this order.
    for mut p in [
        Process::new(putter, (address,)),
        Process::new(getter, (address,)),
    ] {
        p.start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(0));
    }

    manager.shutdown()?;
    server.join().expect("the server thread")?;
    println!("server stopped");
    Ok(())
}
