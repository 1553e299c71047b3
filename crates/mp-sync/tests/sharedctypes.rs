//! `SynchronizedString` (`CharArray`), `sharedctypes::copy` and
//! `sharedctypes::synchronized` across processes, under the start method
//! chosen by `MULTIPROCESS_START_METHOD`: children see and make the writes,
//! copies stay independent, and a wrapper made by `synchronized` shares both
//! the raw memory and the lock it was given.

use std::time::Duration;

use mp_process::Process;
use mp_sync::sharedctypes::{copy, synchronized};
use mp_sync::*;

const DEADLINE: Duration = Duration::from_secs(30);

fn finish(mut p: Process) {
    p.join_timeout(DEADLINE).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("child did not finish within {DEADLINE:?}");
    }
    assert_eq!(p.exitcode(), Some(0), "child failed");
}

fn run_all(mut procs: Vec<Process>) {
    for p in &mut procs {
        p.start().unwrap();
    }
    procs.into_iter().for_each(finish);
}

fn shorten_string(a: Array<u8>) {
    assert_eq!(a.value(), b"hello");
    a.set_value(b"hi").unwrap();
    let too_long = a.set_value(b"hello!").unwrap_err();
    assert_eq!((too_long.len, too_long.capacity), (6, 5));
}

#[test]
fn child_sets_a_synchronized_string() {
    let a = Array::from_slice(b"hello").unwrap();
    run_all(vec![Process::new(shorten_string, (a.clone(),))]);
    assert_eq!(a.value(), b"hi");
    assert_eq!(a.raw(), b"hi\0lo");
}

fn overwrite_raw(a: RawArray<u8>) {
    assert_eq!(a.value(), b"");
    a.set_raw(b"abc").unwrap();
    assert!(a.set_raw(&[b'x'; 9]).is_err());
}

#[test]
fn child_sets_a_raw_char_array() {
    let a = RawArray::<u8>::new(8).unwrap();
    run_all(vec![Process::new(overwrite_raw, (a.clone(),))]);
    assert_eq!(a.raw(), b"abc\0\0\0\0\0");
    assert_eq!(a.value(), b"abc");
}

fn increment(v: Value<u64>, n: u32) {
    for _ in 0..n {
        let g = v.lock().unwrap();
        g.set(g.get() + 1);
    }
}

/// Wraps the raw value itself, with the lock the parent used.
fn wrap_and_increment(raw: RawValue<u64>, lock: SyncLock, n: u32) {
    increment(synchronized(raw, Some(lock)).unwrap(), n);
}

#[test]
fn synchronized_raw_value_shares_memory_and_lock() {
    const N: u32 = 5_000;
    let raw = RawValue::new(0u64).unwrap();
    let v = synchronized(raw.clone(), None).unwrap();
    let lock = v.get_lock().clone();
    run_all(vec![
        Process::new(increment, (v.clone(), N)),
        Process::new(wrap_and_increment, (raw.clone(), lock.clone(), N)),
        Process::new(wrap_and_increment, (raw.clone(), lock, N)),
    ]);
    // Exact only if all three used one lock over one memory.
    assert_eq!(raw.get(), 3 * u64::from(N));
    assert_eq!(v.value(), 3 * u64::from(N));
}

/// Reports in `out` whether the wrapper's lock could be taken (it is held
/// by the parent), then writes a string through the wrapper once it can.
fn try_then_write(s: Array<u8>, out: RawValue<u8>, tried: Event, go: Event) {
    out.set(u8::from(s.get_lock().acquire(false, None).unwrap()));
    tried.set();
    assert!(go.wait(Some(DEADLINE)), "parent never released the lock");
    s.set_value(b"child").unwrap();
}

#[test]
fn synchronized_raw_array_uses_the_given_lock() {
    let raw = RawArray::<u8>::new(8).unwrap();
    let lock = Lock::new().unwrap();
    let s = synchronized(raw.clone(), Some(lock.clone().into())).unwrap();
    let taken = RawValue::new(2u8).unwrap(); // 0 = not taken, 1 = taken
    let (tried, go) = (Event::new().unwrap(), Event::new().unwrap());
    let mut p = Process::new(
        try_then_write,
        (s, taken.clone(), tried.clone(), go.clone()),
    );
    let held = lock.lock().unwrap();
    p.start().unwrap();
    assert!(tried.wait(Some(DEADLINE)), "child never tried the lock");
    assert_eq!(taken.get(), 0, "the child took a lock the parent holds");
    drop(held);
    go.set();
    finish(p);
    assert_eq!(raw.value(), b"child");
    assert_eq!(raw.raw(), b"child\0\0\0");
}

fn write_both(original: Array<i32>, dup: RawArray<i32>, value_dup: RawValue<f64>) {
    assert_eq!(dup.to_vec(), [1, 2, 3]);
    assert_eq!(value_dup.get(), 1.5);
    dup.set(0, 100).unwrap();
    original.set(1, 200).unwrap();
    value_dup.set(-1.0);
    assert_eq!(
        dup.get(1).unwrap(),
        2,
        "the copy saw a write to the original"
    );
}

#[test]
fn copies_stay_independent_across_processes() {
    let original = Array::from_slice(&[1i32, 2, 3]).unwrap();
    let dup = copy(&original).unwrap();
    let value = Value::new(1.5f64).unwrap();
    let value_dup = copy(&value).unwrap();
    run_all(vec![Process::new(
        write_both,
        (original.clone(), dup.clone(), value_dup.clone()),
    )]);
    assert_eq!(original.to_vec(), [1, 200, 3]);
    assert_eq!(dup.to_vec(), [100, 2, 3]);
    assert_eq!((value.value(), value_dup.get()), (1.5, -1.0));
    // A copy of a copy is independent too.
    let again = copy(&dup).unwrap();
    dup.set(2, 0).unwrap();
    assert_eq!(again.to_vec(), [100, 2, 3]);
}
