//! `Queue` (bounded and unbounded), `SimpleQueue` and `JoinableQueue`: two
//! producers and two consumers; one of them is killed at a random moment, in
//! one round or in several rounds on the same queue. Items are numbered per
//! producer. Asserts, per producer: no item seen twice; a surviving producer's
//! items all arrive (but the one a killed consumer held); a killed producer's
//! items arrive as a prefix of what it put (its in-flight item and, for an
//! unbounded queue, the items still in its own feeder buffer — never in the
//! queue — are lost, as in Python); `qsize()` is 0 once drained; a
//! `JoinableQueue` joins; and a fresh process fills and empties the queue.
//!
//! Producers stop first, and consumers keep taking items until every
//! producer has exited; only then do they stop too. That is the queue's
//! contract (CPython's "joining processes that use queues"): a process that
//! put items does not exit until its feeder has moved them into the queue,
//! which needs a consumer to make room. Stopping everyone at once hung
//! surviving producers at exit whenever the backlog of several rounds
//! (consumers killed, producers faster than consumers) had filled the ring:
//! not a dead peer's doing, since no live process was reading either.

use std::time::Instant;

use multiprocess::{GetError, JoinableQueue, Process, PutError, Queue, SimpleQueue};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crew::{
    self, add, bounded, get, progressed, set, stopped, Crew, Tally, FIRST_FREE, POLL, WAIT,
};
use crate::harness::{check, Outcome, Trial};

/// Producers are participants 0 and 1 of each round, consumers 2 and 3.
const PRODUCERS: usize = 2;
/// Counters per producer: items put, items seen, highest number seen + 1.
const PER_PRODUCER: usize = 3;

/// Counter: set to 1 when producers must stop (consumers go on).
const HALT: usize = FIRST_FREE;

/// Counter `what` of producer `p`.
fn slot(p: u64, what: usize) -> usize {
    HALT + 1 + p as usize * PER_PRODUCER + what
}
const PUT: usize = 0;
const SEEN: usize = 1;
const TOP: usize = 2;

/// An item: its producer and its number.
fn item(p: u64, n: u64) -> u64 {
    p << 32 | n
}

/// Counts an item taken from the queue.
fn saw(t: &Tally, x: u64) {
    let (p, n) = (x >> 32, x & 0xffff_ffff);
    add(t, slot(p, SEEN), 1);
    t.slot()
        .atomic_u64(slot(p, TOP) * 8)
        .expect("counter")
        .fetch_max(n + 1, std::sync::atomic::Ordering::SeqCst);
}
/// The bounded queues' size (the reproduction used 2).
const MAXSIZE: usize = 2;

/// The queue kinds, as the participants use them.
pub(crate) trait Channel: Clone + Serialize + DeserializeOwned + Send + 'static {
    /// Puts `x`, waiting at most [`POLL`]; `false` if still full.
    fn put_for(&self, x: u64) -> bool;
    /// Takes an item, waiting at most [`POLL`].
    fn get_for(&self) -> Option<u64>;
    /// Marks a taken item done (`JoinableQueue` only).
    fn done(&self) {}
    /// Items it holds, if it can tell.
    fn size(&self) -> Option<usize>;
    /// How many items a fresh process puts and takes.
    fn round(&self) -> usize;
}

fn put_result(r: Result<(), PutError>) -> bool {
    match r {
        Ok(()) => true,
        Err(PutError::Full) => false,
        Err(e) => panic!("put: {e}"),
    }
}

fn get_result(r: Result<u64, GetError>) -> Option<u64> {
    match r {
        Ok(x) => Some(x),
        Err(GetError::Empty) => None,
        Err(e) => panic!("get: {e}"),
    }
}

impl Channel for Queue<u64> {
    fn put_for(&self, x: u64) -> bool {
        put_result(self.put_timeout(&x, true, Some(POLL)))
    }
    fn get_for(&self) -> Option<u64> {
        get_result(self.get_timeout(true, Some(POLL)))
    }
    fn size(&self) -> Option<usize> {
        Some(self.qsize())
    }
    fn round(&self) -> usize {
        if self.maxsize() == 0 {
            3
        } else {
            self.maxsize()
        }
    }
}

impl Channel for JoinableQueue<u64> {
    fn put_for(&self, x: u64) -> bool {
        put_result(self.put_timeout(&x, true, Some(POLL)))
    }
    fn get_for(&self) -> Option<u64> {
        get_result(self.get_timeout(true, Some(POLL)))
    }
    fn done(&self) {
        self.task_done().expect("task_done after get");
    }
    fn size(&self) -> Option<usize> {
        Some(self.qsize())
    }
    fn round(&self) -> usize {
        3
    }
}

impl Channel for SimpleQueue<u64> {
    fn put_for(&self, x: u64) -> bool {
        self.put(&x).expect("put");
        true
    }
    fn get_for(&self) -> Option<u64> {
        get_result(self.get_timeout(POLL))
    }
    fn size(&self) -> Option<usize> {
        None
    }
    fn round(&self) -> usize {
        3
    }
}

/// Puts numbered items until told to stop; a put blocked for longer than
/// [`WAIT`] while consumers live is a hang.
fn producer<Q: Channel>(q: Q, t: Tally, p: u64) {
    let mut blocked_since = Instant::now();
    let mut n = 0;
    while !stopped(&t) && get(&t, HALT) == 0 {
        if q.put_for(item(p, n)) {
            add(&t, slot(p, PUT), 1);
            progressed(&t);
            n += 1;
            blocked_since = Instant::now();
        } else {
            assert!(
                stopped(&t) || blocked_since.elapsed() < WAIT,
                "hang: put blocked for {WAIT:?} while consumers run"
            );
        }
    }
}

/// Takes items until told to stop.
fn consumer<Q: Channel>(q: Q, t: Tally, _role: u64) {
    while !stopped(&t) {
        let start = Instant::now();
        let got = q.get_for();
        bounded("get", start, POLL);
        if let Some(x) = got {
            saw(&t, x);
            q.done();
            progressed(&t);
        }
    }
}

/// The fresh round: fill (up to the bound), then empty.
fn fresh_round<Q: Channel>(q: Q) {
    let n = q.round();
    for x in 0..n as u64 {
        let start = Instant::now();
        while !q.put_for(x) {
            assert!(
                start.elapsed() < WAIT,
                "hang: fresh put of item {x} blocked for {WAIT:?}"
            );
        }
    }
    for i in 0..n {
        let start = Instant::now();
        while q.get_for().is_none() {
            assert!(
                start.elapsed() < WAIT,
                "hang: fresh get of item {i} found nothing for {WAIT:?}"
            );
        }
        q.done();
    }
    assert_eq!(
        q.size().unwrap_or(0),
        0,
        "size after a fresh fill and empty"
    );
}

/// Takes whatever is left, counting it.
fn drain<Q: Channel>(q: &Q, t: &Tally) {
    while let Some(x) = q.get_for() {
        saw(t, x);
        q.done();
    }
}

/// The per-producer accounting (see the module comment).
fn accounts(t: &Tally, p: u64, killed: bool, killed_consumers: u64) -> Outcome {
    let (put, seen, top) = (
        get(t, slot(p, PUT)),
        get(t, slot(p, SEEN)),
        get(t, slot(p, TOP)),
    );
    let what = || {
        format!(
            "producer {p} ({}): {put} put, {seen} seen, highest number seen {top} \
             ({killed_consumers} consumer(s) killed)",
            if killed { "killed" } else { "survived" }
        )
    };
    check(seen <= top, || format!("items seen twice: {}", what()))?;
    if killed {
        check(seen + killed_consumers >= top, || {
            format!("items lost: {}", what())
        })?;
        check(top <= put + 1, || format!("unknown items: {}", what()))
    } else {
        check(seen + killed_consumers >= put, || {
            format!("items lost: {}", what())
        })?;
        check(top <= put, || format!("unknown items: {}", what()))
    }
}

/// `rounds` rounds of two producers and two consumers on `q`, one killed
/// per round; then the accounting, the drain and a fresh round.
/// Returns the queue and how many consumers were killed.
fn trial_on<Q: Channel>(trial: &mut Trial, q: Q, rounds: usize) -> Result<(Q, u64), String> {
    let t = crew::tally(1 + rounds * PRODUCERS * PER_PRODUCER);
    let (mut killed, mut killed_consumers) = (Vec::new(), 0);
    for round in 0..rounds {
        crew::unstop(&t);
        set(&t, HALT, 0);
        let first = (round * PRODUCERS) as u64;
        let procs = (0..4)
            .map(|i| {
                let args = (q.clone(), t.clone(), first + i as u64);
                if i < PRODUCERS {
                    Process::new(producer::<Q>, args)
                } else {
                    Process::new(consumer::<Q>, args)
                }
            })
            .collect();
        let mut crew = Crew::start(procs, &t)?;
        let victim = crew.kill_random(trial, &[0, 1, 2, 3])?;
        if victim < PRODUCERS {
            killed.push(first + victim as u64);
        } else {
            killed_consumers += 1;
        }
        // Producers first, while consumers make room for their feeders.
        set(&t, HALT, 1);
        crew.await_exit(&[0, 1]);
        crew.stop_and_reap()?;
    }
    drain(&q, &t);
    for p in 0..(rounds * PRODUCERS) as u64 {
        accounts(&t, p, killed.contains(&p), killed_consumers)?;
    }
    if let Some(size) = q.size() {
        check(size == 0, || {
            format!("qsize() is {size} on a drained queue")
        })?;
    }
    crew::fresh(Process::new(fresh_round::<Q>, (q.clone(),)))?;
    Ok((q, killed_consumers))
}

pub(crate) fn queue_unbounded(trial: &mut Trial) -> Outcome {
    let q = Queue::<u64>::new().map_err(|e| e.to_string())?;
    trial_on(trial, q, 1).map(drop)
}

pub(crate) fn queue_bounded(trial: &mut Trial) -> Outcome {
    let q = Queue::<u64>::bounded(MAXSIZE).map_err(|e| e.to_string())?;
    trial_on(trial, q, 1).map(drop)
}

/// Issue 11 #1: ten kills on one bounded queue.
pub(crate) fn queue_bounded_many_kills(trial: &mut Trial) -> Outcome {
    let q = Queue::<u64>::bounded(MAXSIZE).map_err(|e| e.to_string())?;
    trial_on(trial, q, 10).map(drop)
}

/// Issue 11 #1: ten kills on one unbounded queue.
pub(crate) fn queue_unbounded_many_kills(trial: &mut Trial) -> Outcome {
    let q = Queue::<u64>::new().map_err(|e| e.to_string())?;
    trial_on(trial, q, 10).map(drop)
}

pub(crate) fn simple_queue(trial: &mut Trial) -> Outcome {
    let q = SimpleQueue::<u64>::new().map_err(|e| e.to_string())?;
    trial_on(trial, q, 1).map(drop)
}

/// Issue 11 #2 included: after the drain every task is done, so `join`
/// returns — except that a killed consumer may have taken an item and died
/// before `task_done`: that one task is marked done here.
pub(crate) fn joinable_queue(trial: &mut Trial) -> Outcome {
    let q = JoinableQueue::<u64>::new().map_err(|e| e.to_string())?;
    let (q, killed_consumers) = trial_on(trial, q, 1)?;
    for _ in 0..killed_consumers {
        if !q.join_timeout(Some(POLL)) {
            let _ = q.task_done(); // the task the killed consumer held
        }
    }
    let start = Instant::now();
    let joined = q.join_timeout(Some(WAIT));
    check(joined, || {
        format!(
            "join() did not return within {:?} of a full drain",
            start.elapsed()
        )
    })
}

/// Takes one item and holds its task (no `task_done`) until killed.
fn hold_a_task(q: JoinableQueue<u64>, t: Tally) {
    let start = Instant::now();
    let got = q.get_timeout(true, Some(WAIT));
    bounded("JoinableQueue::get_timeout", start, WAIT);
    assert!(got.is_ok(), "hang: the queued item never arrived");
    progressed(&t);
    while !stopped(&t) {
        std::thread::sleep(POLL);
    }
}

/// A `JoinableQueue` consumer killed between `get` and `task_done`. As in
/// CPython, nothing records who holds a task, so that task stays
/// unfinished: `join()` waits for it (here: `join_timeout` says `false`)
/// although the queue is empty, until someone calls `task_done` in the dead
/// consumer's place; then `join` returns and the queue works as before.
pub(crate) fn joinable_queue_task_holder_killed(_trial: &mut Trial) -> Outcome {
    let q = JoinableQueue::<u64>::new().map_err(|e| e.to_string())?;
    q.put(&7).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let mut crew = Crew::start(vec![Process::new(hold_a_task, (q.clone(), t.clone()))], &t)?;
    crew.await_progress(1)?;
    crew.kill(0)?;
    crew.reap()?;
    check(q.qsize() == 0, || {
        format!("qsize() is {} after the only item was taken", q.qsize())
    })?;
    check(!q.join_timeout(Some(POLL)), || {
        "join() returned although the dead consumer's task was never done".to_owned()
    })?;
    q.task_done()
        .map_err(|e| format!("task_done in the dead consumer's place: {e}"))?;
    let start = Instant::now();
    check(q.join_timeout(Some(WAIT)), || {
        format!(
            "join() did not return within {:?} once every task was done",
            start.elapsed()
        )
    })?;
    crew::fresh(Process::new(
        fresh_round::<JoinableQueue<u64>>,
        (q.clone(),),
    ))?;
    check(q.join_timeout(Some(WAIT)), || {
        "join() did not return after the fresh round".to_owned()
    })
}
