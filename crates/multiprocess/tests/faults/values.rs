//! Synchronized `Value` and `Array`: participants update them under their
//! lock in a loop; one is killed at a random moment. Asserts: the value
//! counts every finished update (plus at most the victim's), a clean
//! acquisition never sees a half-written array (only `OwnerDied` may), and a
//! fresh process updates both afterwards.

use std::time::Instant;

use multiprocess::{AcquireError, Array, Process, SyncLockGuard, Value};

use crate::crew::{self, add, bounded, get, progressed, stopped, Tally, FIRST_FREE, WAIT};
use crate::harness::{check, Outcome, Trial};

const DONE: usize = FIRST_FREE;
const LEN: usize = 16;

/// Takes a `Value`/`Array` lock; `true` if from a dead holder. A timeout is a
/// hang.
fn take<'a>(
    r: Result<SyncLockGuard<'a>, AcquireError<SyncLockGuard<'a>>>,
) -> (SyncLockGuard<'a>, bool) {
    match r {
        Ok(g) => (g, false),
        Err(AcquireError::OwnerDied(d)) => (d.into_inner(), true),
        Err(AcquireError::Timeout) => panic!("hang: lock not acquired within {WAIT:?}"),
    }
}

/// One counted increment.
fn increment(v: &Value<u64>, t: &Tally) {
    let start = Instant::now();
    let (g, _) = take(v.get_lock().lock_timeout(WAIT));
    bounded("Value lock", start, WAIT);
    let obj = v.get_obj();
    obj.set(obj.get() + 1);
    drop(g);
    add(t, DONE, 1);
}

fn value_party(v: Value<u64>, t: Tally) {
    while !stopped(&t) {
        increment(&v, &t);
        progressed(&t);
    }
}

fn value_fresh(v: Value<u64>, t: Tally) {
    increment(&v, &t);
}

pub(crate) fn value_killed_writer(trial: &mut Trial) -> Outcome {
    let v = Value::new(0u64).map_err(|e| e.to_string())?;
    let t = crew::tally(1);
    let procs = (0..3)
        .map(|_| Process::new(value_party, (v.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(value_fresh, (v.clone(), t.clone())))?;
    let (value, done) = (v.value(), get(&t, DONE));
    check(value >= done && value - done <= 1, || {
        format!("value {value} after {done} counted increments")
    })
}

/// One round: check the array is whole (unless its last writer died), then
/// write the next number into every element, one at a time.
fn rewrite(a: &Array<u64>) {
    let start = Instant::now();
    let (g, died) = take(a.get_lock().lock_timeout(WAIT));
    bounded("Array lock", start, WAIT);
    let obj = a.get_obj();
    let items = obj.to_vec();
    let top = items.iter().copied().max().unwrap_or(0);
    assert!(
        died || items.iter().all(|&x| x == top),
        "clean acquisition saw a half-written array: {items:?}"
    );
    for i in 0..LEN {
        obj.set(i, top + 1).expect("in bounds");
    }
    drop(g);
}

fn array_party(a: Array<u64>, t: Tally) {
    while !stopped(&t) {
        rewrite(&a);
        progressed(&t);
    }
}

fn array_fresh(a: Array<u64>) {
    rewrite(&a);
    rewrite(&a);
}

pub(crate) fn array_killed_writer(trial: &mut Trial) -> Outcome {
    let a = Array::<u64>::new(LEN).map_err(|e| e.to_string())?;
    let t = crew::tally(0);
    let procs = (0..3)
        .map(|_| Process::new(array_party, (a.clone(), t.clone())))
        .collect();
    crew::kill_one(trial, procs, &t)?;
    crew::fresh(Process::new(array_fresh, (a.clone(),)))?;
    let items = a.to_vec();
    check(items.iter().all(|&x| x == items[0]), || {
        format!("array not whole after the fresh round: {items:?}")
    })
}
