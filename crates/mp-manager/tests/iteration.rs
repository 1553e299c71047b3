//! Live iteration of managed lists and dicts, as CPython iterates their
//! proxies: a list by index until `IndexError`, a dict failing when its
//! size changes during the iteration; under the start method chosen by the
//! environment.

mod common;

use common::run;
use mp_manager::{DictProxy, ListProxy, Manager, ManagerError, RemoteErrorKind, ValueProxy};
use mp_process::Process;

type R = Result<(), ManagerError>;

/// Sums the list by iterating it in a child.
fn sum_in_child(l: ListProxy<u32>, out: ValueProxy<u32>) -> R {
    let sum = l.iter().sum::<Result<u32, _>>()?;
    out.set(sum)
}

/// Iterates the dict in a child, adding a key on the way: the next step
/// must fail as Python's does.
fn grow_while_iterating(d: DictProxy<String, u32>) -> R {
    let mut it = d.iter();
    let first = it.next().unwrap()?;
    d.set("new".into(), 0)?;
    let e = it.next().unwrap().unwrap_err();
    if first.0 != "a" || e.remote_kind() != Some(RemoteErrorKind::Runtime) {
        return Err(ManagerError::State(format!("unexpected: {first:?}, {e}")));
    }
    Ok(())
}

#[test]
fn lists_iterate_live() {
    let manager = Manager::new().unwrap();
    let l = manager.list_from([1u32, 2, 3]).unwrap();
    let items: Vec<u32> = l.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(items, [1, 2, 3]);
    // Live: an item appended during the iteration is reached.
    let mut seen = Vec::new();
    for item in &l {
        let item = item.unwrap();
        if item == 3 {
            l.append(4).unwrap();
        }
        seen.push(item);
    }
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!(manager.list::<u8>().unwrap().iter().count(), 0);
    let out = manager.value(0u32).unwrap();
    run(Process::new(sum_in_child, (l.clone(), out.clone())));
    assert_eq!(out.get().unwrap(), 10);
}

#[test]
fn dicts_iterate_live_and_fail_when_changed() {
    let manager = Manager::new().unwrap();
    let d = manager
        .dict_from([("a".to_string(), 1u32), ("b".into(), 2), ("c".into(), 3)])
        .unwrap();
    let pairs: Vec<(String, u32)> = d.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(pairs, [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]);
    // Changing values meanwhile is allowed, and seen.
    let mut values = Vec::new();
    for pair in &d {
        let (k, v) = pair.unwrap();
        if k == "a" {
            d.set("c".into(), 30).unwrap();
        }
        values.push(v);
    }
    assert_eq!(values, [1, 2, 30]);
    // Removing a key: Python's RuntimeError, and the iterator ends.
    let mut it = d.iter();
    it.next().unwrap().unwrap();
    d.remove("b").unwrap();
    let e = it.next().unwrap().unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Runtime));
    assert_eq!(e.to_string(), "dictionary changed size during iteration");
    assert!(it.next().is_none());
    // Same size, other keys.
    let mut it = d.iter();
    it.next().unwrap().unwrap();
    d.remove("c").unwrap();
    d.set("d".into(), 4).unwrap();
    let e = it.next().unwrap().unwrap_err();
    assert_eq!(e.to_string(), "dictionary keys changed during iteration");
    // In a child.
    run(Process::new(grow_while_iterating, (d.clone(),)));
    assert_eq!(d.len().unwrap(), 3);
}
