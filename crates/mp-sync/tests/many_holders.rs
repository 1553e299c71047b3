//! Issue 11 #4: more semaphore holder processes than the old 64-entry
//! table, all SIGKILLed while holding a slot each, under fork, spawn and
//! forkserver: every slot comes back.
//!
//! A test binary of its own: under fork, the 70 children must not inherit
//! a process-local lock (mp-shm's mapping cache) that another test thread
//! of the same binary happened to hold at the moment of the fork.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod};
use mp_shm::Slot;
use mp_sync::{AcquireError, Semaphore};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];
const DEADLINE: Duration = Duration::from_secs(20);
const HOLDERS: u32 = 70;

fn hold_one_permit_forever(sem: Semaphore, ready: Slot) {
    sem.acquire(true, None).unwrap(); // Python style, never released
    ready.atomic_u32(0).unwrap().fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
}

/// Starts `HOLDERS` holders, waits until each holds its slot, and kills
/// them all (also when they do not all get ready, before failing).
fn start_hold_and_kill(sem: &Semaphore, m: StartMethod) {
    let ready = mp_shm::alloc(4, 4).unwrap();
    let mut procs: Vec<Process> = (0..HOLDERS)
        .map(|_| {
            Process::new(hold_one_permit_forever, (sem.clone(), ready.clone())).start_method(m)
        })
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    let counter = ready.atomic_u32(0).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while counter.load(Ordering::SeqCst) < HOLDERS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let held = counter.load(Ordering::SeqCst);
    for p in &mut procs {
        p.kill().unwrap();
    }
    for p in &mut procs {
        p.join_timeout(DEADLINE).unwrap();
        assert_eq!(p.exitcode(), Some(-9), "{m:?}");
    }
    assert_eq!(held, HOLDERS, "{m:?}: not every holder got its slot");
}

#[test]
fn semaphore_slots_of_many_killed_holders_all_come_back() {
    for m in METHODS {
        let sem = Semaphore::new(HOLDERS).unwrap();
        start_hold_and_kill(&sem, m);
        assert_eq!(sem.get_value(), 0, "{m:?}");
        // The first acquisition finds the dead and reports it; the slots of
        // all of them are free again.
        let mut permits = Vec::new();
        let mut deaths = 0;
        for i in 0..HOLDERS {
            match sem.permit_timeout(DEADLINE) {
                Ok(p) => permits.push(p),
                Err(AcquireError::OwnerDied(p)) => {
                    deaths += 1;
                    permits.push(p.into_inner());
                }
                Err(AcquireError::Timeout) => panic!("{m:?}: slot {i} never came back"),
            }
        }
        assert!(deaths >= 1, "{m:?}: the deaths went unreported");
        assert!(sem.try_permit().is_err(), "{m:?}: more slots than before");
        drop(permits);
        assert_eq!(sem.get_value(), HOLDERS, "{m:?}");
    }
}
