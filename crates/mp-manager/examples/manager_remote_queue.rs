//! The Python docs' "Using a remote manager" pattern: a server publishes a
//! queue over TCP with an authkey; another process — given only the address
//! and the key, as a program on another machine would be — connects, looks
//! the queue up and puts an item; a second remote client takes it out.
//!
//! To serve other machines, listen on `0.0.0.0:50000` instead of loopback.

use std::net::SocketAddr;

use mp_manager::{Address, Manager, ManagerError, QueueProxy};
use mp_process::Process;

const AUTHKEY: &[u8] = b"abracadabra";

/// A remote client: `m = QueueManager(address, authkey); m.connect()`.
fn remote_put(address: SocketAddr) -> Result<(), ManagerError> {
    let m = Manager::builder()
        .address(Address::Tcp(address))
        .authkey(AUTHKEY)
        .connect()?;
    let queue: QueueProxy<String> = m.lookup("get_queue")?;
    queue.put("hello".to_string())
}

/// Another remote client takes the item out.
fn remote_get(address: SocketAddr) -> Result<(), ManagerError> {
    let m = Manager::builder()
        .address(Address::Tcp(address))
        .authkey(AUTHKEY)
        .connect()?;
    let queue: QueueProxy<String> = m.lookup("get_queue")?;
    println!("remote client got: {}", queue.get()?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::builder()
        .address(Address::tcp_loopback(0))
        .authkey(AUTHKEY)
        .start()?;
    let queue = manager.queue::<String>(0)?;
    manager.publish("get_queue", &queue)?;
    let &Address::Tcp(address) = manager.address() else {
        unreachable!("a TCP address was asked for");
    };
    println!("serving a queue at {address}");

    // (Each target is its own fn item: an array of them would be fn
    // pointers, which cannot name code in another process.)
    let mut put = Process::new(remote_put, (address,));
    put.start()?;
    put.join()?;
    let mut get = Process::new(remote_get, (address,));
    get.start()?;
    get.join()?;
    assert_eq!((put.exitcode(), get.exitcode()), (Some(0), Some(0)));

    let wrong = Manager::builder()
        .address(manager.address().clone())
        .authkey(b"not the key".to_vec())
        .connect();
    println!("a wrong key: {}", wrong.unwrap_err());
    Ok(())
}
