//! Port of PyMOTW3's `multiprocessing_semaphore.py` ("Controlling Concurrent
//! Access to Resources"): a `Semaphore(3)` admits at most three of ten
//! processes; an `ActivePool` — a manager list behind a `Lock` — records who
//! is active, and main polls it with `join(timeout=0.1)`.
//!
//! The OCR of the seed lost `with s:`; the worker body runs inside it.

use std::fmt;
use std::thread::sleep;
use std::time::Duration;

use multiprocess::managers::{ListProxy, Manager, ManagerError};
use multiprocess::{current_process, Lock, OwnerDied, Process, Semaphore};
use serde::{Deserialize, Serialize};

/// The names of the active processes, in a manager list behind a lock.
#[derive(Clone, Serialize, Deserialize)]
struct ActivePool {
    active: ListProxy<String>,
    lock: Lock,
}

impl ActivePool {
    fn new(mgr: &Manager) -> Result<ActivePool, Box<dyn std::error::Error>> {
        Ok(ActivePool {
            active: mgr.list()?,
            lock: Lock::new()?,
        })
    }

    fn make_active(&self, name: String) -> Result<(), ManagerError> {
        let _g = self.lock.lock().unwrap_or_else(OwnerDied::into_inner);
        self.active.append(name)
    }

    fn make_inactive(&self, name: String) -> Result<(), ManagerError> {
        let _g = self.lock.lock().unwrap_or_else(OwnerDied::into_inner);
        self.active.remove(&name)
    }
}

impl fmt::Display for ActivePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _g = self.lock.lock().unwrap_or_else(OwnerDied::into_inner);
        write!(f, "{}", self.active)
    }
}

fn worker(s: Semaphore, pool: ActivePool) -> Result<(), ManagerError> {
    let name = current_process().name().to_string();
    let _permit = s.permit().unwrap_or_else(OwnerDied::into_inner);
    pool.make_active(name.clone())?;
    println!("Activating {name} now running {pool}");
    sleep(Duration::from_secs_f64(rand::random::<f64>()));
    pool.make_inactive(name)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::new()?;
    let pool = ActivePool::new(&mgr)?;
    let s = Semaphore::new(3)?;
    let mut jobs: Vec<Process> = (0..10)
        .map(|i| Process::new(worker, (s.clone(), pool.clone())).name(i.to_string()))
        .collect();
    for j in &mut jobs {
        j.start()?;
    }
    loop {
        let mut alive = 0;
        for j in &mut jobs {
            if j.is_alive() {
                alive += 1;
                j.join_timeout(Duration::from_millis(100))?;
                println!("Now running {pool}");
            }
        }
        if alive == 0 {
            // all done
            break;
        }
    }
    Ok(())
}
