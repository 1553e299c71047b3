//! `Manager`: (a) clients append numbered items to a managed list; one client
//! is killed at a random moment. Asserts: the other clients finish, every
//! item a client counted is in the list (the victim's last call may or may
//! not have landed), and a fresh client works. (b) clients block in a call on
//! the server, which is killed: every call fails with "server gone" before
//! its own timeout, and later calls fail at once.

use std::time::{Duration, Instant};

use multiprocess::managers::{ListProxy, QueueProxy};
use multiprocess::{Manager, Process};

use crate::crew::{self, add, get, progressed, stopped, Crew, Tally, FIRST_FREE, WAIT};
use crate::harness::{check, Outcome, Trial};

const CLIENTS: usize = 3;

/// Appends `role << 32 | n` for n = 0, 1, ... counting each in `APPENDED`.
fn client(list: ListProxy<u64>, t: Tally, role: u64) {
    let mut n = 0;
    while !stopped(&t) {
        list.append(role << 32 | n).expect("append");
        add(&t, FIRST_FREE + role as usize, 1);
        progressed(&t);
        n += 1;
    }
}

/// The fresh round: one append and a read-back.
fn fresh_client(list: ListProxy<u64>) {
    let before = list.len().expect("len");
    list.append(u64::MAX).expect("append");
    assert_eq!(list.len().expect("len"), before + 1);
}

pub(crate) fn manager_killed_client(trial: &mut Trial) -> Outcome {
    let manager = Manager::new().map_err(|e| e.to_string())?;
    let list = manager.list::<u64>().map_err(|e| e.to_string())?;
    let t = crew::tally(CLIENTS);
    let procs = (0..CLIENTS)
        .map(|i| Process::new(client, (list.clone(), t.clone(), i as u64)))
        .collect();
    let mut crew = Crew::start(procs, &t)?;
    let victim = crew.kill_random(trial, &[0, 1, 2])?;
    crew.stop_and_reap()?;
    crew::fresh(Process::new(fresh_client, (list.clone(),)))?;
    let items: Vec<u64> = (0..list.len().map_err(|e| e.to_string())?)
        .map(|i| list.get(i as isize))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for role in 0..CLIENTS {
        let counted = get(&t, FIRST_FREE + role);
        let stored = items
            .iter()
            .filter(|&&x| x >> 32 == role as u64 && x != u64::MAX)
            .count() as u64;
        let ok = stored == counted || (role == victim && stored == counted + 1);
        check(ok, || {
            format!(
                "client {role}: {counted} appends counted, {stored} in the list (victim: {victim})"
            )
        })?;
    }
    Ok(())
}

/// Blocks in a `get` on the server until it dies; the call must fail with
/// "server gone" long before its own timeout.
fn blocked_client(q: QueueProxy<u64>, t: Tally) {
    progressed(&t);
    let timeout = 6 * WAIT;
    let start = Instant::now();
    let r = q.get_timeout(timeout);
    let took = start.elapsed();
    match r {
        Err(e) if e.is_server_gone() => {}
        other => panic!("a call blocked on a killed server gave {other:?}"),
    }
    assert!(took < timeout, "the call waited for its whole timeout");
    let later = q.qsize();
    assert!(
        later.is_err_and(|e| e.is_server_gone()),
        "a later call did not fail"
    );
}

pub(crate) fn manager_killed_server(trial: &mut Trial) -> Outcome {
    let manager = Manager::new().map_err(|e| e.to_string())?;
    let q = manager.queue::<u64>(0).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let procs = (0..2)
        .map(|_| Process::new(blocked_client, (q.clone(), t.clone())))
        .collect();
    let mut crew = Crew::start(procs, &t)?;
    crew.await_progress(2)?;
    std::thread::sleep(Duration::from_millis(100));
    trial.pause(50);
    let server = manager.process().ok_or("no server process")?;
    server.kill().map_err(|e| e.to_string())?;
    crew.reap()?;
    check(q.qsize().is_err(), || {
        "a call after the server's death succeeded".to_owned()
    })
}
