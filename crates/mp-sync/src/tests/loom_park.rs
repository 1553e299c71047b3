//! A loom model of the futex: one mutex + condvar per execution. `wait`
//! checks the word under the mutex and sleeps on the condvar until a
//! `wake` on the same word picks it; `wake(word, n)` picks at most `n`
//! sleepers on that word (the longest asleep first, as the kernel does),
//! so a wake-up given to the wrong waiter, or one too few, is not hidden.
//! A wake after a store is never lost, and a lost wake-up in an algorithm
//! shows up as a loom deadlock. A timed wait "times out" only after a
//! simulated process death (see [`die`]): once per thread at once (the
//! slice in which the death is noticed), and afterwards whenever the
//! condvar wakes it. That models the 50 ms liveness slices without letting
//! a thread spin forever.

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

/// Who sleeps on which word, and who has been picked by a `wake`.
#[derive(Default)]
struct Sleepers {
    next_ticket: u64,
    /// `(word address, ticket)`, longest asleep first.
    asleep: Vec<(usize, u64)>,
    /// Tickets picked by a `wake` whose thread has not returned yet.
    woken: Vec<u64>,
}

loom::lazy_static! {
    static ref LOCK: Mutex<Sleepers> = Mutex::new(Sleepers::default());
    static ref CV: Condvar = Condvar::new();
    static ref DIED: AtomicBool = AtomicBool::new(false);
}

fn address(word: &AtomicU32) -> usize {
    std::ptr::from_ref(word) as usize
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
        let mut g = LOCK.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return false;
        }
        let timed = timeout.is_some();
        if timed && DIED.load(Ordering::SeqCst) && !NOTICED.with(|n| n.replace(true)) {
            return true;
        }
        let me = g.next_ticket;
        g.next_ticket += 1;
        g.asleep.push((address(word), me));
        loop {
            g = CV.wait(g).unwrap();
            if let Some(i) = g.woken.iter().position(|&t| t == me) {
                g.woken.swap_remove(i);
                return false;
            }
            if timed && DIED.load(Ordering::SeqCst) {
                g.asleep.retain(|&(_, t)| t != me);
                return true;
            }
        }
    }

    fn wake(word: &AtomicU32, n: u32) {
        let mut g = LOCK.lock().unwrap();
        let at = address(word);
        let mut picked = 0;
        while picked < n {
            let Some(i) = g.asleep.iter().position(|&(a, _)| a == at) else {
                break;
            };
            let (_, ticket) = g.asleep.remove(i);
            g.woken.push(ticket);
            picked += 1;
        }
        if picked > 0 {
            CV.notify_all();
        }
    }

    fn is_alive(owner: u64) -> bool {
        owner != DEAD
    }

    /// A whole slice passes between any two readings, so no scan that a
    /// model relies on is ever skipped as too recent.
    fn clock_ms() -> u32 {
        static NOW: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        NOW.fetch_add(1000, Ordering::Relaxed)
    }
}
