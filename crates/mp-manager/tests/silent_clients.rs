//! Silent clients cannot exhaust the server: 500 TCP connections that never
//! answer the handshake leave the server's thread count bounded, and an
//! honest client is served meanwhile (the server hangs up the oldest
//! unfinished handshakes instead of queueing new clients behind them),
//! while a burst of honest clients is served in full.

use std::net::TcpStream;
use std::time::Duration;

use mp_manager::{Address, Manager};

/// The `Threads:` line of `/proc/<pid>/status`.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

/// The server's threads may not grow by more than this while flooded: its
/// listener runs the handshakes in the accept loop, and a serving thread
/// starts only for an authenticated connection (the honest client's few).
const THREAD_BOUND: usize = 32;

#[test]
fn silent_connections_neither_pile_up_threads_nor_delay_an_honest_client() {
    let key = b"silent-test".to_vec();
    // A long handshake timeout: an honest client queued behind the silent
    // ones (in the backlog or for a slot) would wait minutes for them and
    // fail its own 20 s handshake deadline.
    let manager = Manager::builder()
        .address(Address::tcp_loopback(0))
        .authkey(key)
        .handshake_timeout(Duration::from_secs(600))
        .start()
        .unwrap();
    let pid = manager.pid().unwrap();
    let &Address::Tcp(addr) = manager.address() else {
        panic!("a TCP address");
    };
    let d = manager.dict::<u32, u32>().unwrap();
    let before = threads(pid);
    let mut peak = before;
    let silent: Vec<TcpStream> = (0..500)
        .map(|i| {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).unwrap();
            if i % 50 == 0 {
                peak = peak.max(threads(pid));
            }
            s
        })
        .collect();
    for _ in 0..20 {
        peak = peak.max(threads(pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    // An honest client is served while the silent ones are still
    // connected. A new thread: connections are pooled per thread, so it
    // opens (and authenticates) a fresh one.
    let honest = std::thread::spawn(move || {
        d.set(1, 2)?;
        d.get(&1)
    });
    assert_eq!(honest.join().unwrap().unwrap(), Some(2));
    peak = peak.max(threads(pid));
    assert!(
        peak <= before + THREAD_BOUND,
        "server threads grew from {before} to {peak} under 500 silent connections"
    );
    drop(silent);
}

#[test]
fn a_burst_of_honest_clients_is_served_in_full() {
    // More clients than the listener runs handshakes for at once, all
    // connecting together: they wait for slots, none is turned away.
    const CLIENTS: usize = 200;
    let manager = Manager::new().unwrap();
    let d = manager.dict::<u32, u32>().unwrap();
    let start = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let d = d.clone();
            let start = start.clone();
            // A new thread opens a fresh connection (they are per thread).
            std::thread::spawn(move || {
                start.wait();
                d.len()
            })
        })
        .collect();
    let failed: Vec<String> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} clients failed: {failed:?}",
        failed.len()
    );
}
