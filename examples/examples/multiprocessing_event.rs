//! Port of PyMOTW3's `multiprocessing_event.py` ("Signaling between
//! Processes"): `block` waits on an `Event` until main sets it after 3 s;
//! `nonblock` waits 2 s, times out, and finds the event still unset. The
//! children are not joined: the library joins them when `main` ends.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Event, Process};

/// Wait for the event to be set before doing anything.
fn wait_for_event(e: Event) {
    println!("wait_for_event: starting");
    e.wait(None);
    println!("wait_for_event: e.is_set()-> {}", e.is_set());
}

/// Wait `t` seconds and then time out.
fn wait_for_event_timeout(e: Event, t: u64) {
    println!("wait_for_event_timeout: starting");
    e.wait(Some(Duration::from_secs(t)));
    println!("wait_for_event_timeout: e.is_set()-> {}", e.is_set());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let e = Event::new()?;
    let mut w1 = Process::new(wait_for_event, (e.clone(),)).name("block");
    w1.start()?;

    let mut w2 = Process::new(wait_for_event_timeout, (e.clone(), 2)).name("nonblock");
    w2.start()?;

    println!("main: waiting before calling Event.set()");
    sleep(Duration::from_secs(3));
    e.set();
    println!("main: event is set");
    Ok(())
}
