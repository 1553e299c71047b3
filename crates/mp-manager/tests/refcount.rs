//! Cross-process reference counting (Python's incref/decref): temporaries
//! are freed when their last proxy goes, a proxy in flight to another
//! process keeps its object alive until it is adopted there, and a process
//! killed while holding proxies gives its references back; under the start
//! method chosen by the environment.

mod common;

use std::time::{Duration, Instant};

use common::finish;
use mp_channel::Connection;
use mp_manager::{EventProxy, ListProxy, Manager, ManagerError, Proxy};
use mp_process::Process;

type R = Result<(), ManagerError>;

const LONG: Duration = Duration::from_secs(20);

fn failed(what: impl ToString) -> ManagerError {
    ManagerError::State(what.to_string())
}

/// The reference count of object `id`, `None` once it is freed.
fn refcount(manager: &Manager, id: u128) -> Option<u64> {
    manager
        .debug_info()
        .unwrap()
        .into_iter()
        .find(|o| o.id == id)
        .map(|o| o.refcount)
}

/// Waits (at most `LONG`) until object `id` is freed.
fn until_freed(manager: &Manager, id: u128) {
    let deadline = Instant::now() + LONG;
    while refcount(manager, id).is_some() {
        assert!(Instant::now() < deadline, "object {id:x} was never freed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn temporaries_are_freed_with_their_last_proxy() {
    let manager = Manager::new().unwrap();
    let before = manager.number_of_objects().unwrap();
    for i in 0..300u32 {
        let d = manager.dict::<u32, u32>().unwrap();
        d.set(i, i).unwrap();
        let l = manager.list_from([i]).unwrap();
        // Clones share the process's one reference.
        let again = l.clone();
        drop(l);
        assert_eq!(again.len().unwrap(), 1);
    }
    assert_eq!(manager.number_of_objects().unwrap(), before);
    let kept = manager.value(1u8).unwrap();
    assert_eq!(manager.number_of_objects().unwrap(), before + 1);
    assert_eq!(refcount(&manager, kept.base().id()), Some(1));
    // A proxy stored in a managed value keeps its object (the server pins it).
    let holder = manager.list::<mp_manager::ValueProxy<u8>>().unwrap();
    holder.append(kept.clone()).unwrap();
    let id = kept.base().id();
    drop(kept);
    assert_eq!(holder.get(0).unwrap().get().unwrap(), 1);
    assert!(refcount(&manager, id).is_some());
}

/// Waits for `go`, then receives a list proxy from `conn`, appends to it,
/// says so, and keeps the proxy until told to let go.
fn adopt_later(conn: Connection, go: EventProxy) -> R {
    if !go.wait(Some(LONG))? {
        return Err(failed("never told to go"));
    }
    let l: ListProxy<u32> = conn.recv().map_err(failed)?;
    l.append(7)?;
    conn.send(&"appended").map_err(failed)?;
    let _: String = conn.recv().map_err(failed)?;
    drop(l);
    conn.send(&"dropped").map_err(failed)
}

#[test]
fn a_proxy_in_flight_keeps_its_object_until_the_receiver_drops_it() {
    let manager = Manager::new().unwrap();
    let l = manager.list::<u32>().unwrap();
    let id = l.base().id();
    let go = manager.event().unwrap();
    let (ours, theirs) = mp_channel::pipe(true).unwrap();
    let mut child = Process::new(adopt_later, (theirs, go.clone()));
    child.start().unwrap();
    ours.send(&l).unwrap();
    drop(l);
    // Only the lease of the proxy in the pipe holds it now.
    assert_eq!(refcount(&manager, id), Some(1));
    go.set().unwrap();
    assert_eq!(ours.recv::<String>().unwrap(), "appended");
    // Adopted: the child's reference is the only one.
    assert_eq!(refcount(&manager, id), Some(1));
    ours.send(&"let go").unwrap();
    assert_eq!(ours.recv::<String>().unwrap(), "dropped");
    // Dropping in the child freed it (the decref is answered before the
    // child goes on).
    assert_eq!(refcount(&manager, id), None);
    finish(&mut child);
}

/// Takes its reference, says so, and never lets go.
fn hold_forever(l: ListProxy<u32>, ready: EventProxy) -> R {
    l.append(1)?;
    ready.set()?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_killed_process_gives_its_references_back() {
    let manager = Manager::new().unwrap();
    let l = manager.list::<u32>().unwrap();
    let id = l.base().id();
    let ready = manager.event().unwrap();
    let mut child = Process::new(hold_forever, (l.clone(), ready.clone()));
    child.start().unwrap();
    drop(l);
    assert!(ready.wait(Some(LONG)).unwrap());
    // The child's reference alone keeps the list.
    assert_eq!(refcount(&manager, id), Some(1));
    child.kill().unwrap();
    child.join_timeout(LONG).unwrap();
    assert!(!child.is_alive());
    until_freed(&manager, id);
}

/// Started by [`middle`]: takes its own references, says so, waits for `stop`.
fn grandchild(stop: EventProxy, ready: EventProxy) -> R {
    ready.set()?;
    // Longer than the parent waits for the middle process's references.
    stop.wait(Some(3 * LONG))?;
    Ok(())
}

/// Holds `l`, starts a grandchild (a copy of this process under fork), and
/// never lets go.
fn middle(l: ListProxy<u32>, ready: EventProxy, stop: EventProxy) -> R {
    l.append(1)?;
    let mut g = Process::new(grandchild, (stop, ready));
    g.start().map_err(failed)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_killed_process_gives_its_references_back_while_its_children_live() {
    // Under fork, the grandchild inherits the middle process's connection
    // that holds its references: it must let go of its copy, or the
    // references would outlive the middle process.
    let manager = Manager::new().unwrap();
    let l = manager.list::<u32>().unwrap();
    let id = l.base().id();
    let ready = manager.event().unwrap();
    let stop = manager.event().unwrap();
    let mut child = Process::new(middle, (l.clone(), ready.clone(), stop.clone()));
    child.start().unwrap();
    drop(l);
    assert!(ready.wait(Some(LONG)).unwrap());
    assert_eq!(refcount(&manager, id), Some(1));
    child.kill().unwrap();
    child.join_timeout(LONG).unwrap();
    until_freed(&manager, id);
    stop.set().unwrap();
}
