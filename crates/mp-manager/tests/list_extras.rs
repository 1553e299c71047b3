//! `ListProxy`'s `sort` (atomic against other processes' edits), slices
//! with Python 3.11's bounds, and `+`, `*`, `*=`; under the start method
//! chosen by the environment.

mod common;

use std::ops::Bound::{Excluded, Included};
use std::time::{Duration, Instant};

use common::{finish, run};
use mp_manager::{EventProxy, ListProxy, Manager, ManagerError, RemoteErrorKind};
use mp_process::Process;

type R = Result<(), ManagerError>;

/// Appends `count` items of its own (all >= 1_000_000) one by one, a
/// little apart, after telling the parent it started.
fn appender(l: ListProxy<u64>, started: EventProxy, count: u64) -> R {
    started.set()?;
    for i in 0..count {
        l.append(1_000_000 + i)?;
        // Spread the appends over the parent's sorts.
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[test]
fn concurrent_sort_never_loses_an_append_from_a_child() {
    let manager = Manager::new().unwrap();
    // A long list widens the window between reading and writing back.
    let initial: Vec<u64> = (0..3000).rev().collect();
    let l = manager.list_from(initial.iter().copied()).unwrap();
    let started = manager.event().unwrap();
    const CHILD_ITEMS: u64 = 300;
    let mut child = Process::new(appender, (l.clone(), started.clone(), CHILD_ITEMS));
    child.start().unwrap();
    assert!(started.wait(Some(Duration::from_secs(30))).unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sorts = 0;
    while child.is_alive() && Instant::now() < deadline {
        l.sort(sorts % 2 == 1).unwrap();
        sorts += 1;
    }
    finish(&mut child);
    assert!(sorts > 0);
    l.sort(false).unwrap();
    let got = l.to_vec().unwrap();
    // (A read-sort-clear-extend sort loses some of the child's items here.)
    // Every item, the child's included, is there exactly once, in order.
    let mut want = initial.clone();
    want.extend((0..CHILD_ITEMS).map(|i| 1_000_000 + i));
    want.sort();
    assert_eq!(got.len(), want.len(), "items were lost or duplicated");
    assert_eq!(got, want);
}

#[test]
fn sort_variants() {
    let manager = Manager::new().unwrap();
    let l = manager.list_from([3i32, -1, 2, -5, 0]).unwrap();
    l.sort(false).unwrap();
    assert_eq!(l.to_vec().unwrap(), [-5, -1, 0, 2, 3]);
    l.sort(true).unwrap();
    assert_eq!(l.to_vec().unwrap(), [3, 2, 0, -1, -5]);
    // Stable, as Python's: equal keys keep their order, with reverse too.
    l.sort_by_key(|x| x.abs(), false).unwrap();
    assert_eq!(l.to_vec().unwrap(), [0, -1, 2, 3, -5]);
    let words = manager
        .list_from(["bb", "a", "cc", "d"].map(String::from))
        .unwrap();
    words.sort_by_key(|w| w.len(), true).unwrap();
    assert_eq!(words.to_vec().unwrap(), ["bb", "cc", "a", "d"]);
    words.sort_by(|a, b| a.cmp(b)).unwrap();
    assert_eq!(words.to_vec().unwrap(), ["a", "bb", "cc", "d"]);
    let empty = manager.list::<u8>().unwrap();
    empty.sort(false).unwrap();
    assert!(empty.is_empty().unwrap());
}

#[test]
fn slices_read_like_python() {
    let manager = Manager::new().unwrap();
    let l = manager.list_from(0..5i32).unwrap();
    // Expected values: Python 3.11 on [0, 1, 2, 3, 4].
    assert_eq!(l.get_slice(1..3).unwrap(), [1, 2]);
    assert_eq!(l.get_slice(-2..).unwrap(), [3, 4]);
    assert_eq!(l.get_slice(..).unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(l.get_slice(-10..2).unwrap(), [0, 1]);
    // A literal range whose start is above its end (`1..-1`, `3..0`) trips
    // clippy's `reversed_empty_ranges`; a `Bound` pair says the same.
    assert_eq!(l.get_slice((Included(1), Excluded(-1))).unwrap(), [1, 2, 3]);
    assert_eq!(
        l.get_slice((Included(1), Included(-1))).unwrap(),
        [1, 2, 3, 4]
    );
    assert_eq!(l.get_slice_step(.., 2).unwrap(), [0, 2, 4]);
    assert_eq!(l.get_slice_step(.., -1).unwrap(), [4, 3, 2, 1, 0]);
    assert_eq!(
        l.get_slice_step((Included(3), Excluded(0)), -1).unwrap(),
        [3, 2, 1]
    );
    let short = manager.list_from([0i32, 1]).unwrap();
    assert_eq!(short.get_slice(5..10).unwrap(), Vec::<i32>::new());
    let e = l.get_slice_step(.., 0).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Value));
    assert_eq!(e.to_string(), "slice step cannot be zero");
}

/// Replaces `l[1:3]` with three items, from a child.
fn splice_in_child(l: ListProxy<String>) -> R {
    l.set_slice(1..3, ["a", "b", "c"].map(String::from))
}

#[test]
fn slices_assign_and_delete_like_python() {
    let manager = Manager::new().unwrap();
    let l = manager.list_from((0..5).map(|i| i.to_string())).unwrap();
    run(Process::new(splice_in_child, (l.clone(),)));
    assert_eq!(l.to_vec().unwrap(), ["0", "a", "b", "c", "3", "4"]);
    l.del_slice(..).unwrap();
    assert!(l.is_empty().unwrap());

    let n = manager.list_from(0..4i32).unwrap();
    n.set_slice(10..20, [9]).unwrap();
    n.set_slice(-100..1, []).unwrap();
    assert_eq!(n.to_vec().unwrap(), [1, 2, 3, 9]);
    n.set_slice((Included(2), Excluded(0)), [7]).unwrap(); // an empty range inserts
    assert_eq!(n.to_vec().unwrap(), [1, 2, 7, 3, 9]);
    let m = manager.list_from(0..6i32).unwrap();
    m.set_slice_step(1..5, 2, [70, 80]).unwrap();
    assert_eq!(m.to_vec().unwrap(), [0, 70, 2, 80, 4, 5]);
    let e = m.set_slice_step(.., 2, [1]).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Value));
    assert_eq!(
        e.to_string(),
        "attempt to assign sequence of size 1 to extended slice of size 3"
    );
    m.del_slice_step(.., 2).unwrap();
    assert_eq!(m.to_vec().unwrap(), [70, 80, 5]);
    m.del_slice(-1..).unwrap();
    assert_eq!(m.to_vec().unwrap(), [70, 80]);
}

#[test]
fn add_mul_and_in_place_mul() {
    let manager = Manager::new().unwrap();
    let l = manager.list_from([1u8, 2, 3]).unwrap();
    assert_eq!(l.concat([9]).unwrap(), [1, 2, 3, 9]);
    assert_eq!(l.repeat(2).unwrap(), [1, 2, 3, 1, 2, 3]);
    assert_eq!(l.repeat(0).unwrap(), Vec::<u8>::new());
    assert_eq!(
        l.to_vec().unwrap(),
        [1, 2, 3],
        "+ and * leave the list alone"
    );
    l.imul(2).unwrap();
    assert_eq!(l.to_vec().unwrap(), [1, 2, 3, 1, 2, 3]);
    l.imul(1).unwrap();
    assert_eq!(l.len().unwrap(), 6);
    l.imul(0).unwrap();
    assert!(l.is_empty().unwrap());
}
