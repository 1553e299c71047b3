//! A loom model of the futex: one mutex + condvar per execution. `wait`
//! checks the word under the mutex and sleeps on the condvar; `wake`
//! notifies under the mutex, so a wake after a store is never lost — and a
//! lost wake-up in an algorithm shows up as a loom deadlock. A timed wait
//! "times out" only after a simulated process death (see [`die`]): once per
//! thread at once (the slice in which the death is noticed), and afterwards
//! whenever it is woken. That models the 50 ms liveness slices without
//! letting a thread spin forever.

use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicU32};
use loom::sync::{Condvar, Mutex};

use crate::park::Park;
use crate::primitive::Ordering;

/// The owner identity the models treat as a dead process.
pub(crate) const DEAD: u64 = 0xDEAD;

loom::thread_local! {
    static NOTICED: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

loom::lazy_static! {
    static ref LOCK: Mutex<()> = Mutex::new(());
    static ref CV: Condvar = Condvar::new();
    static ref DIED: AtomicBool = AtomicBool::new(false);
}

/// Simulates the death of process [`DEAD`]: timed waits expire from now on.
pub(crate) fn die() {
    let _g = LOCK.lock().unwrap();
    DIED.store(true, Ordering::SeqCst);
    CV.notify_all();
}

#[derive(Debug)]
pub(crate) struct LoomPark;

impl Park for LoomPark {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        let g = LOCK.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return false;
        }
        let timed = timeout.is_some();
        if timed && DIED.load(Ordering::SeqCst) && !NOTICED.with(|n| n.replace(true)) {
            return true;
        }
        drop(CV.wait(g).unwrap());
        timed && DIED.load(Ordering::SeqCst)
    }

    fn wake(_word: &AtomicU32, _n: u32) {
        let _g = LOCK.lock().unwrap();
        CV.notify_all();
    }

    fn is_alive(owner: u64) -> bool {
        owner != DEAD
    }
}
