//! Waiting for a futex word to change as a future ([`changed`]), for the
//! async forms of the futex-based waits (mp-sync's primitives, mp-channel's
//! queues), on any executor and without a thread per pending wait.
//!
//! A futex wait cannot be polled: the kernel offers no fd for "this word
//! changed". So a few *watcher* threads per process sleep in
//! `futex_waitv(2)` (Linux ≥ 5.16) on up to 127 words each plus a control
//! word of their own, and turn a wake-up on a word into `Waker` calls. The
//! notifying side is the blocking one, unchanged: it already bumps the
//! word and calls `FUTEX_WAKE` whenever a waiter is registered in its
//! eventcount, and an async waiter registers like a blocking one. So the
//! blocking paths pay nothing for this, and nothing is added to the shared
//! memory or to the handles that travel between processes.
//!
//! Waits on the same word with the same expected value share one slot, so
//! 10,000 tasks waiting on one queue cost one slot of one thread; 10,000
//! waits on 10,000 different words cost ⌈10,000 / 127⌉ = 79 threads. A
//! watcher left without slots for 10 s exits (its place is reused).
//! `docs/performance.md` ("Async waits on futex words") compares this with
//! an eventfd per primitive.
//!
//! # Soundness
//! A watcher keeps the *addresses* of the words, never references: the
//! addresses are handed to the kernel, which reads them (a word unmapped in
//! the meantime gives `EFAULT`; one mapped anew at the same address is
//! merely a different word to sleep on), and this module never reads or
//! writes through them. A registration is removed when its future is
//! dropped, which happens before the caller's word may go away.
//!
//! # A wake-up the watcher takes
//! A notifier that wakes one sleeper (a lock's release) may pick the
//! watcher. If every task it watched for that word was dropped just
//! before, that wake-up is consumed with no one to use it: a blocking
//! sleeper on the same word then sees the release at its next liveness
//! slice (mp-sync's locks and semaphores sleep in 50 ms slices), not at
//! once. A future dropped after its word changed passes the wake-up on
//! itself (see mp-sync's `async_wait`), which leaves only the window of a
//! few microseconds between the deregistration and the watcher's next
//! rebuild, which deregistration asks for at once.
//!
//! # Timeouts
//! A wait's deadline is kept beside its waker, and its watcher sleeps no
//! later than the earliest deadline of its slots, then wakes the tasks
//! whose time is up. So a timeout needs no timer of an executor's reactor:
//! it fires under any executor, in a forked child too.
//!
//! # Fork
//! The watchers are threads, which a forked child does not have: a fork
//! hook empties the registry in the child (its pending futures then
//! register anew with new watchers when polled).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::thread::futex::{self, Wait, WaitFlags, WaitPtr, WaitvFlags};
use rustix::time::ClockId;

use crate::fork_hooks::{self, ForkHook};

/// Words one watcher sleeps on besides its control word
/// (`FUTEX_WAITV_MAX` is 128).
pub const WORDS_PER_WATCHER: usize = 127;

/// How a [`changed`] wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The word no longer held the expected value (or a wake-up came that
    /// may be spurious: re-check the condition, as after a futex wait).
    Woken,
    /// The timeout elapsed first.
    TimedOut,
}

/// Resolves when `word` no longer holds `expected` (or on a wake-up of the
/// word, which may be spurious), or when `timeout` elapses (`None`: no
/// limit). The async twin of [`futex::wait`](crate::futex::wait), for a
/// word that may be shared with other processes (its notifier calls
/// [`futex::wake`](crate::futex::wake) as usual).
///
/// Cancellation-safe: dropping the future removes its registration.
pub fn changed(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WordChanged<'_> {
    WordChanged {
        word,
        expected,
        registration: None,
        deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
    }
}

/// The future of [`changed`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WordChanged<'a> {
    word: &'a AtomicU32,
    expected: u32,
    registration: Option<Registration>,
    /// `None`: no limit (or one too far to represent).
    deadline: Option<Instant>,
}

impl Future for WordChanged<'_> {
    type Output = Changed;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Changed> {
        let this = self.get_mut();
        if this.word.load(Ordering::SeqCst) != this.expected {
            this.registration = None;
            return Poll::Ready(Changed::Woken);
        }
        if this.deadline.is_some_and(|d| Instant::now() >= d) {
            this.registration = None;
            return Poll::Ready(Changed::TimedOut);
        }
        if this.registration.is_none() && spin_until_changed(this.word, this.expected) {
            return Poll::Ready(Changed::Woken);
        }
        let current = this
            .registration
            .as_ref()
            .is_some_and(|r| r.set_waker(cx.waker()));
        if !current {
            // Not registered yet, or the watcher fired (spuriously: the
            // word still holds `expected`) and dropped the slot.
            this.registration = register(this.word, this.expected, cx.waker(), this.deadline);
            if this.registration.is_none() {
                // No watcher thread could be started: poll again soon (a
                // busy wait, never a lost wake-up).
                cx.waker().wake_by_ref();
            }
        }
        // Changed between the first look and the registration: the watcher
        // may have slept on the new value already.
        if this.word.load(Ordering::SeqCst) != this.expected {
            this.registration = None;
            return Poll::Ready(Changed::Woken);
        }
        Poll::Pending
    }
}

/// Looks at `word` for a few microseconds before the first registration:
/// a change that comes that soon (the other side of a ping-pong is
/// usually that close) costs no trip through a watcher thread, whose two
/// wake-ups (the registration's and the notify's) are the async form's
/// price over a blocking wait.
fn spin_until_changed(word: &AtomicU32, expected: u32) -> bool {
    for _ in 0..SPINS {
        if word.load(Ordering::SeqCst) != expected {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

/// Looks of [`spin_until_changed`] (a few microseconds, like the queue
/// ring's spin before it sleeps).
const SPINS: u32 = 200;

/// One task's place in a watcher's slot; dropping it leaves.
#[derive(Debug)]
struct Registration {
    generation: u64,
    watcher: usize,
    addr: usize,
    expected: u32,
    id: u64,
}

impl Registration {
    /// Replaces this task's waker; `false` if the slot was fired (and so
    /// removed) since.
    fn set_waker(&self, waker: &Waker) -> bool {
        let mut state = state();
        if state.generation != self.generation {
            return false;
        }
        let Some(slot) = state.watchers[self.watcher].find(self.addr, self.expected) else {
            return false;
        };
        match slot.wakers.iter_mut().find(|t| t.id == self.id) {
            Some(t) => {
                t.waker.clone_from(waker);
                true
            }
            None => false,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = state();
        if state.generation != self.generation {
            return;
        }
        let watcher = &mut state.watchers[self.watcher];
        let Some(i) = watcher.position(self.addr, self.expected) else {
            return;
        };
        let slot = &mut watcher.slots[i];
        slot.wakers.retain(|t| t.id != self.id);
        if slot.wakers.is_empty() {
            watcher.slots.swap_remove(i);
            // Have the watcher stop sleeping on the word (see the module
            // docs: a wake-up it takes for nobody is one a blocking sleeper
            // misses).
            watcher.control.poke();
        }
    }
}

/// Words, expected values and tasks: the whole process's registry.
#[derive(Debug, Default)]
struct State {
    /// Bumped when a fork empties the registry, so registrations copied
    /// into the child don't touch the new one.
    generation: u64,
    next_id: u64,
    watchers: Vec<Watcher>,
}

/// One watcher thread's part of the registry.
#[derive(Debug)]
struct Watcher {
    control: Arc<Control>,
    slots: Vec<Slot>,
    /// Its thread exited after [`IDLE`] without a slot; the place is
    /// reused (with a new thread) when one is needed.
    retired: bool,
}

/// How long a watcher thread without slots stays before it exits (a
/// tenth of a second in this crate's unit tests, to see it happen).
const IDLE: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(10)
};

/// One watched (word, expected value) and the tasks waiting on it.
#[derive(Debug)]
struct Slot {
    addr: usize,
    expected: u32,
    wakers: Vec<Task>,
}

/// One task waiting on a slot's word.
#[derive(Debug)]
struct Task {
    id: u64,
    waker: Waker,
    /// When its wait times out (its watcher wakes it then).
    deadline: Option<Instant>,
}

impl Slot {
    /// The earliest deadline of its tasks.
    fn deadline(&self) -> Option<Instant> {
        self.wakers.iter().filter_map(|t| t.deadline).min()
    }
}

/// A watcher's control word: bumped and woken to make it rebuild its list.
#[derive(Debug, Default)]
struct Control(AtomicU32);

impl Control {
    fn poke(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        crate::futex::wake(&self.0, 1);
    }
}

impl Watcher {
    fn position(&self, addr: usize, expected: u32) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.addr == addr && s.expected == expected)
    }

    fn find(&mut self, addr: usize, expected: u32) -> Option<&mut Slot> {
        let i = self.position(addr, expected)?;
        Some(&mut self.slots[i])
    }
}

static STATE: Mutex<State> = Mutex::new(State {
    generation: 0,
    next_id: 0,
    watchers: Vec::new(),
});

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds the task of `waker` (timing out at `deadline`) to the slot of
/// (`word`, `expected`), making a slot (and, when every watcher is full, a
/// watcher) if needed. `None` if a watcher was needed and no thread could
/// be started.
fn register(
    word: &AtomicU32,
    expected: u32,
    waker: &Waker,
    deadline: Option<Instant>,
) -> Option<Registration> {
    static HOOK: AtomicBool = AtomicBool::new(false);
    fork_hooks::register_once(
        &HOOK,
        ForkHook {
            prepare: hold_for_fork,
            parent: release_after_fork,
            child: reset_after_fork,
        },
    );
    let addr = word as *const AtomicU32 as usize;
    let mut state = state();
    state.next_id += 1;
    let id = state.next_id;
    let generation = state.generation;
    let entry = Task {
        id,
        waker: waker.clone(),
        deadline,
    };
    if let Some(w) = state
        .watchers
        .iter()
        .position(|w| w.position(addr, expected).is_some())
    {
        let watcher = &mut state.watchers[w];
        let slot = watcher.find(addr, expected).expect("just found");
        let sooner = deadline.is_some_and(|d| slot.deadline().is_none_or(|s| d < s));
        slot.wakers.push(entry);
        if sooner {
            // Its watcher may sleep past this deadline: have it look again.
            watcher.control.poke();
        }
        return Some(Registration {
            generation,
            watcher: w,
            addr,
            expected,
            id,
        });
    }
    let free = state
        .watchers
        .iter()
        .position(|w| !w.retired && w.slots.len() < WORDS_PER_WATCHER);
    let w = match free {
        Some(w) => w,
        None => {
            let control = Arc::new(Control::default());
            let retired = state.watchers.iter().position(|w| w.retired);
            let index = retired.unwrap_or(state.watchers.len());
            // No thread (out of memory or a thread limit): no slot either;
            // the caller polls instead of sleeping.
            spawn_watcher(index, generation, Arc::clone(&control)).ok()?;
            let watcher = Watcher {
                control,
                slots: Vec::new(),
                retired: false,
            };
            match retired {
                Some(i) => state.watchers[i] = watcher,
                None => state.watchers.push(watcher),
            }
            index
        }
    };
    let watcher = &mut state.watchers[w];
    watcher.slots.push(Slot {
        addr,
        expected,
        wakers: vec![entry],
    });
    watcher.control.poke();
    Some(Registration {
        generation,
        watcher: w,
        addr,
        expected,
        id,
    })
}

/// Starts the thread of watcher `index`.
fn spawn_watcher(index: usize, generation: u64, control: Arc<Control>) -> io::Result<()> {
    crate::thread_spawn::Builder::new("mp-futex-watch")
        .spawn(move || watch(index, generation, &control))
        .map(drop)
}

/// A watcher thread: sleeps on its control word and its slots' words,
/// fires the slots whose word changed, and rebuilds its list whenever the
/// control word is poked.
fn watch(index: usize, generation: u64, control: &Control) {
    let mut list: Vec<(usize, u32)> = Vec::new();
    loop {
        let (seen, deadline) = {
            let state = state();
            if state.generation != generation {
                return; // a fork's child: this thread is not there anyway
            }
            let slots = &state.watchers[index].slots;
            list.clear();
            list.extend(slots.iter().map(|s| (s.addr, s.expected)));
            let deadline = slots.iter().filter_map(Slot::deadline).min();
            (control.0.load(Ordering::SeqCst), deadline)
        };
        let mut waits = Vec::with_capacity(list.len() + 1);
        waits.push(wait_entry(&control.0 as *const AtomicU32 as usize, seen));
        waits.extend(list.iter().map(|&(a, e)| wait_entry(a, e)));
        // Sleep until the earliest deadline of a task here; without slots,
        // at most `IDLE`, then leave if still idle.
        let wake_at = match deadline {
            Some(d) => Some(monotonic_at(d)),
            None if list.is_empty() => Some(monotonic_at(Instant::now() + IDLE)),
            None => None,
        };
        match futex::waitv(
            &waits,
            WaitvFlags::empty(),
            wake_at.as_ref(),
            ClockId::Monotonic,
        ) {
            Err(Errno::TIMEDOUT) => {
                let mut state = state();
                if state.generation != generation {
                    return;
                }
                let watcher = &mut state.watchers[index];
                if watcher.slots.is_empty() {
                    watcher.retired = true;
                    return;
                }
                drop(state);
                time_out(index, generation);
            }
            Ok(0) => {}
            Ok(i) => fire(index, generation, &list[i - 1..i]),
            Err(Errno::AGAIN) if control.0.load(Ordering::SeqCst) != seen => {}
            Err(Errno::INTR) => {}
            Err(Errno::NOSYS) => {
                // Before Linux 5.16: wake every task every millisecond; each
                // re-checks its word (a poll, not a lost wake-up).
                std::thread::sleep(Duration::from_millis(1));
                fire(index, generation, &list);
            }
            Err(_) => {
                // `EAGAIN` (some word differs: which one is not said) or
                // `EFAULT` (a word went away): ask each word alone.
                let stale: Vec<_> = list.iter().copied().filter(|&w| is_stale(w)).collect();
                fire(index, generation, &stale);
            }
        }
    }
}

/// `at` as an absolute `CLOCK_MONOTONIC` time for `futex_waitv` (std's
/// `Instant` is that clock, but does not show its value).
fn monotonic_at(at: Instant) -> futex::Timespec {
    let left = at.saturating_duration_since(Instant::now());
    let now = rustix::time::clock_gettime(ClockId::Monotonic);
    let now = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32);
    let until = now.saturating_add(left);
    futex::Timespec {
        tv_sec: i64::try_from(until.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(until.subsec_nanos()),
    }
}

/// Wakes (and removes) the tasks of watcher `index` whose deadline has
/// passed; their futures then report [`Changed::TimedOut`].
fn time_out(index: usize, generation: u64) {
    let now = Instant::now();
    let mut woken = Vec::new();
    {
        let mut state = state();
        if state.generation != generation {
            return;
        }
        let slots = &mut state.watchers[index].slots;
        for slot in slots.iter_mut() {
            let (due, kept): (Vec<Task>, Vec<Task>) = std::mem::take(&mut slot.wakers)
                .into_iter()
                .partition(|t| t.deadline.is_some_and(|d| d <= now));
            slot.wakers = kept;
            woken.extend(due);
        }
        slots.retain(|s| !s.wakers.is_empty());
    }
    for t in woken {
        t.waker.wake();
    }
}

/// Whether the word at `addr` no longer holds `expected` (or cannot be
/// read), asked of the kernel with an already expired wait.
fn is_stale((addr, expected): (usize, u32)) -> bool {
    let expired = futex::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    !matches!(
        futex::waitv(
            &[wait_entry(addr, expected)],
            WaitvFlags::empty(),
            Some(&expired),
            ClockId::Monotonic,
        ),
        Err(Errno::TIMEDOUT)
    )
}

/// A `futex_waitv` entry for the shared (never `FUTEX2_PRIVATE`) 32-bit
/// word at `addr`, as the notifiers' `FUTEX_WAKE` keys it.
fn wait_entry(addr: usize, expected: u32) -> Wait {
    let mut w = Wait::new();
    w.val = u64::from(expected);
    w.uaddr = WaitPtr::new(addr as *mut std::ffi::c_void);
    w.flags = WaitFlags::SIZE_U32;
    w
}

/// Removes the slots `which` of watcher `index` and wakes their tasks.
fn fire(index: usize, generation: u64, which: &[(usize, u32)]) {
    let mut woken = Vec::new();
    {
        let mut state = state();
        if state.generation != generation {
            return;
        }
        let watcher = &mut state.watchers[index];
        for &(addr, expected) in which {
            if let Some(i) = watcher.position(addr, expected) {
                woken.extend(watcher.slots.swap_remove(i).wakers);
            }
        }
    }
    for t in woken {
        t.waker.wake();
    }
}

thread_local! {
    /// The registry, held by the forking thread across a fork.
    static HELD: std::cell::RefCell<Option<MutexGuard<'static, State>>> =
        const { std::cell::RefCell::new(None) };
}

fn hold_for_fork() {
    HELD.with(|h| *h.borrow_mut() = Some(state()));
}

fn release_after_fork() {
    HELD.with(|h| drop(h.borrow_mut().take()));
}

fn reset_after_fork() {
    HELD.with(|h| {
        if let Some(mut state) = h.borrow_mut().take() {
            // The watcher threads are the parent's; their wakers belong to
            // executors of the parent's threads. Forget both.
            std::mem::forget(std::mem::take(&mut state.watchers));
            state.generation += 1;
        }
    });
}

/// Threads watching futex words now (for tests and benchmarks).
pub fn watcher_count() -> usize {
    state().watchers.iter().filter(|w| !w.retired).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awaits a word that another thread sets to 1 (and wakes) a little
    /// later.
    fn await_a_wake_from_another_thread() {
        let word = Arc::new(AtomicU32::new(0));
        let w2 = Arc::clone(&word);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.store(1, Ordering::SeqCst);
            crate::futex::wake(&w2, u32::MAX);
        });
        let how = async_io::block_on(changed(&word, 0, None));
        assert_eq!(how, Changed::Woken);
        assert_eq!(word.load(Ordering::SeqCst), 1);
        t.join().unwrap();
    }

    #[test]
    fn a_wake_from_another_thread_completes_the_future() {
        await_a_wake_from_another_thread();
    }

    #[test]
    fn an_unchanged_word_times_out_and_a_changed_one_is_ready_at_once() {
        let word = AtomicU32::new(5);
        let how = async_io::block_on(changed(&word, 5, Some(Duration::from_millis(5))));
        assert_eq!(how, Changed::TimedOut);
        let how = async_io::block_on(changed(&word, 4, Some(Duration::from_secs(60))));
        assert_eq!(how, Changed::Woken);
    }

    /// Runs `f` on this thread with an unparking waker and no reactor.
    fn park_on<F: Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn timeouts_fire_without_a_reactor_each_at_its_own_deadline() {
        let word = Arc::new(AtomicU32::new(5));
        // A wait with a far deadline on the same word, from another thread:
        // it must not delay the near one, and stays pending.
        let far_word = Arc::clone(&word);
        let far = std::thread::spawn(move || {
            park_on(changed(&far_word, 5, Some(Duration::from_secs(60))))
        });
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        assert_eq!(
            park_on(changed(&word, 5, Some(Duration::from_millis(30)))),
            Changed::TimedOut
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(!far.is_finished());
        word.store(6, Ordering::SeqCst);
        crate::futex::wake(&word, u32::MAX);
        assert_eq!(far.join().unwrap(), Changed::Woken);
    }

    #[test]
    fn a_wait_after_the_watchers_retired_still_completes() {
        for _ in 0..2 {
            await_a_wake_from_another_thread();
            // Long enough for an idle watcher to exit (`IDLE` is 100 ms here).
            std::thread::sleep(IDLE * 3);
        }
    }

    #[test]
    fn more_words_than_one_watcher_holds_all_complete() {
        let n = WORDS_PER_WATCHER * 2 + 5;
        let words: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
        let w2 = Arc::clone(&words);
        async_io::block_on(async {
            let mut waits: Vec<_> = words
                .iter()
                .map(|w| Box::pin(changed(w, 0, None)))
                .collect();
            let mut cx = Context::from_waker(Waker::noop());
            for w in &mut waits {
                assert!(w.as_mut().poll(&mut cx).is_pending());
            }
            assert!(watcher_count() >= 3, "{} watchers", watcher_count());
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                for w in w2.iter() {
                    w.store(1, Ordering::SeqCst);
                    crate::futex::wake(w, u32::MAX);
                }
            });
            for w in waits {
                assert_eq!(w.await, Changed::Woken);
            }
            t.join().unwrap();
        });
    }
}
