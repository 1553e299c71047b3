//! The settle bound (`park::SETTLE`): a waiter on a condition published
//! without a full fence before the publisher's look at the waiters sleeps
//! at most `SETTLE` first, then looks again under the same registration.
//! Each test makes the publication race the registration unseen (it lands
//! right after the waiter's look and wakes nobody, as when the kernel's
//! fence misses the publisher's CPU) and checks, through a `Park` that
//! records every sleep, that the waiter found it after one short sleep.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mp_sys::time::Deadline;

use crate::park::{Futex, Park, SETTLE, SLICE};
use crate::raw::eventcount::RawEventCount;
use crate::raw::mutex::RawMutex;
use crate::raw::Acquired;

thread_local! {
    /// The timeout of every sleep of this thread, in order.
    static SLEEPS: RefCell<Vec<Option<Duration>>> = const { RefCell::new(Vec::new()) };
    /// Run (once) as this thread's first sleep begins.
    static ON_SLEEP: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// The production futexes, recording each sleep's timeout.
struct Recording;

impl Park for Recording {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        SLEEPS.with(|s| s.borrow_mut().push(timeout));
        if let Some(f) = ON_SLEEP.with(|f| f.borrow_mut().take()) {
            f();
        }
        Futex::wait(word, expected, timeout)
    }
    fn wake(word: &AtomicU32, n: u32) {
        Futex::wake(word, n);
    }
    fn is_alive(owner: u64) -> bool {
        Futex::is_alive(owner)
    }
    fn clock_ms() -> u32 {
        Futex::clock_ms()
    }
}

fn sleeps() -> Vec<Option<Duration>> {
    SLEEPS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// Waits on a fresh eventcount for a condition that turns true, without a
/// notify, right after the first look; returns the sleeps it took.
fn wait_for_an_unseen_publication(
    deadline: Deadline,
    settle: Option<Duration>,
) -> Vec<Option<Duration>> {
    let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
    let ec = RawEventCount {
        seq: &seq,
        waiters: &waiters,
    };
    let mut looks = 0;
    let ready = || {
        looks += 1;
        looks > 1 // published (unseen) just after the first look
    };
    assert!(ec.wait_until::<Recording>(deadline, settle, ready));
    assert_eq!(waiters.load(Ordering::SeqCst), 0, "unregistered");
    sleeps()
}

#[test]
fn a_settling_wait_finds_an_unseen_publication_after_one_short_sleep() {
    let far = Deadline::after(Some(Duration::from_secs(60)));
    assert_eq!(
        wait_for_an_unseen_publication(far, Some(SETTLE)),
        [Some(SETTLE)]
    );
}

#[test]
fn without_settle_the_first_sleep_is_the_whole_wait() {
    // The control: the same race costs the whole timeout.
    let sleeps =
        wait_for_an_unseen_publication(Deadline::after(Some(Duration::from_millis(30))), None);
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0].unwrap() > SETTLE, "{sleeps:?}");
}

#[test]
fn a_settling_wait_shorter_than_the_settle_sleeps_once() {
    let sleeps = wait_for_an_unseen_publication(Deadline::after(Some(SETTLE / 2)), Some(SETTLE));
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0].unwrap() <= SETTLE / 2, "{sleeps:?}");
}

/// Waits for a mutex that its holder releases with a plain store, waking
/// nobody, just as the waiter goes to sleep; returns the sleeps it took.
fn wait_for_a_release_during_the_first_sleep(asymmetric: bool) -> Vec<Option<Duration>> {
    let state = Arc::new(AtomicU64::new(7)); // held by "7"
    let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
    let mutex = RawMutex {
        state: &state,
        wake: RawEventCount {
            seq: &seq,
            waiters: &waiters,
        },
    };
    let holder = Arc::clone(&state);
    ON_SLEEP.with(|f| *f.borrow_mut() = Some(Box::new(move || holder.store(0, Ordering::SeqCst))));
    let far = Deadline::after(Some(Duration::from_secs(60)));
    let took = match asymmetric {
        true => mutex.lock_asymmetric::<Recording>(9, far),
        false => mutex.lock::<Recording>(9, far),
    };
    assert_eq!(took, Ok(Acquired::Clean));
    assert_eq!(state.load(Ordering::SeqCst), 9);
    sleeps()
}

#[test]
fn an_asymmetric_waiter_takes_a_release_it_was_not_woken_for_after_one_short_sleep() {
    assert_eq!(
        wait_for_a_release_during_the_first_sleep(true),
        [Some(SETTLE)]
    );
}

/// The control: a plain mutex's waiter (whose holder releases with a swap
/// and so always sees it) sleeps a whole slice at a time.
#[test]
fn a_plain_waiter_sleeps_a_whole_slice() {
    assert_eq!(
        wait_for_a_release_during_the_first_sleep(false),
        [Some(SLICE)]
    );
}

/// The async form: a future awaiting a condition published unseen is done
/// after its first, short await, not at its deadline.
#[cfg(feature = "async")]
#[test]
fn a_settling_async_wait_finds_an_unseen_publication() {
    use crate::async_wait::wait_for_settling;
    let (seq, waiters) = (AtomicU32::new(0), AtomicU32::new(0));
    let ec = RawEventCount {
        seq: &seq,
        waiters: &waiters,
    };
    let mut looks = 0;
    let attempt = |_| {
        looks += 1;
        (looks > 2).then_some(looks) // the first look, then the one after registering
    };
    let deadline = Deadline::after(Some(Duration::from_secs(60)));
    let started = std::time::Instant::now();
    let got = smol::block_on(wait_for_settling(ec, deadline, None, Some(SETTLE), attempt));
    assert_eq!(got, Some(3));
    // Not at the deadline (60 s): after the settle.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(waiters.load(Ordering::SeqCst), 0);
}
