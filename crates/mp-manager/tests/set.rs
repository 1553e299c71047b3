//! The managed set (Python 3.14's `SyncManager.set()` / `SetProxy`), used
//! from the parent and from children under the start method chosen by the
//! environment.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{finish, run};
use mp_manager::{DictProxy, Manager, ManagerError, Proxy, RemoteErrorKind, SetProxy};
use mp_process::Process;

type R = Result<(), ManagerError>;

fn add_in_child(s: SetProxy<u32>, from: u32) -> R {
    for x in from..from + 10 {
        s.add(x)?;
    }
    // Overlapping ranges: a second add of an element is not new.
    if s.add(from)? {
        return Err(ManagerError::State("re-adding was reported new".into()));
    }
    Ok(())
}

#[test]
fn children_add_and_the_parent_sees_each_element_once() {
    let manager = Manager::new().unwrap();
    let s: SetProxy<u32> = manager.set().unwrap();
    let mut jobs: Vec<Process> = [0, 5, 10]
        .into_iter()
        .map(|from| Process::new(add_in_child, (s.clone(), from)))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(s.len().unwrap(), 20);
    let all: BTreeSet<u32> = s.to_vec().unwrap().into_iter().collect();
    assert_eq!(all, (0..20).collect());
    assert_eq!(s.to_vec().unwrap().len(), 20, "no duplicates");
}

fn mutate_in_child(s: SetProxy<String>) -> R {
    s.discard(&"b".to_string())?;
    s.remove(&"c".to_string())?;
    s.update(["x", "y"].map(String::from))?;
    s.symmetric_difference_update(["y", "z"].map(String::from))
}

#[test]
fn a_child_mutates_and_the_parent_sees_it() {
    let manager = Manager::new().unwrap();
    let s: SetProxy<String> = manager.set_from(["a", "b", "c"].map(String::from)).unwrap();
    run(Process::new(mutate_in_child, (s.clone(),)));
    assert_eq!(s.to_vec().unwrap(), ["a", "x", "z"]);
    assert_eq!(s.to_string(), r#"{"a", "x", "z"}"#);
}

#[test]
fn every_method_in_insertion_order() {
    let manager = Manager::new().unwrap();
    let s: SetProxy<i32> = manager.set_from([3, 1, 2, 1]).unwrap();
    assert_eq!(s.to_vec().unwrap(), [3, 1, 2]);
    assert_eq!(s.to_string(), "{3, 1, 2}");
    assert!(s.add(4).unwrap());
    assert!(!s.add(4).unwrap());
    assert!(s.contains(&4).unwrap());
    assert!(!s.contains(&5).unwrap());
    assert!(s.discard(&4).unwrap());
    assert!(!s.discard(&4).unwrap());
    s.remove(&1).unwrap();
    assert_eq!(s.len().unwrap(), 2);

    // Snapshots leave the set alone, in any collection.
    let u: Vec<i32> = s.union([5, 3, 5, 6]).unwrap();
    assert_eq!(u, [3, 2, 5, 6]);
    // Borrowed collections work too.
    let other = HashSet::from([7]);
    let u: HashSet<i32> = s.union(&other).unwrap();
    assert_eq!(u, HashSet::from([2, 3, 7]));
    let other = vec![2, 9];
    let i: Vec<i32> = s.intersection(&other).unwrap();
    assert_eq!(i, [2]);
    assert_eq!(other.len() + u.len(), 5);
    let d: BTreeSet<i32> = s.difference([2]).unwrap();
    assert_eq!(d, BTreeSet::from([3]));
    let x: Vec<i32> = s.symmetric_difference([2, 8]).unwrap();
    assert_eq!(x, [3, 8]);
    assert_eq!(s.to_vec().unwrap(), [3, 2]);

    assert!(s.is_disjoint([1, 4]).unwrap());
    assert!(!s.is_disjoint([1, 2]).unwrap());
    assert!(s.is_subset([1, 2, 3]).unwrap());
    assert!(!s.is_subset([3]).unwrap());
    assert!(s.is_superset([3, 3]).unwrap());
    assert!(!s.is_superset([3, 4]).unwrap());
    assert!(s.is_superset(Vec::<i32>::new()).unwrap());

    s.update([10, 11, 12]).unwrap();
    s.difference_update([2, 11]).unwrap();
    assert_eq!(s.to_vec().unwrap(), [3, 10, 12]);
    s.intersection_update(HashSet::from([12, 3, 99])).unwrap();
    assert_eq!(s.to_vec().unwrap(), [3, 12]);
    s.symmetric_difference_update([12, 13, 13]).unwrap();
    assert_eq!(s.to_vec().unwrap(), [3, 13]);

    assert_eq!(s.pop().unwrap(), 3, "pop takes the oldest element");
    s.clear().unwrap();
    assert!(s.is_empty().unwrap());
    assert_eq!(s.to_string(), "set()");
}

#[test]
fn errors_have_python_kinds_and_texts() {
    let manager = Manager::new().unwrap();
    let s: SetProxy<i32> = manager.set().unwrap();
    // Python: set().remove(1) -> KeyError: 1
    let e = s.remove(&1).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Key));
    assert_eq!(e.to_string(), "1");
    // Python: set().pop() -> KeyError: 'pop from an empty set'
    let e = s.pop().unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Key));
    assert_eq!(e.to_string(), "'pop from an empty set'");
    let t: SetProxy<String> = manager.set().unwrap();
    assert_eq!(t.remove(&"a".into()).unwrap_err().to_string(), r#""a""#);
    // A method the set does not have is refused; the set keeps working.
    let e = s.base().call::<_, ()>("sort", &()).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Protocol));
    assert_eq!(e.to_string(), "method 'sort' of set object is not exposed");
    // Wrong element type for the stored bytes: a decode error.
    let wrong: SetProxy<String> = SetProxy::from_base(s.base().clone());
    s.add(-1).unwrap();
    assert!(matches!(wrong.pop(), Err(ManagerError::Decode(_))));
    assert!(s.is_empty().unwrap());
    assert_eq!(
        format!("{s:?}"),
        format!("<SetProxy object, typeid 'set' at {:x}>", s.base().id())
    );
}

fn fill_nested(d: DictProxy<String, SetProxy<u8>>) -> R {
    let inner = d.get_item("tags")?;
    inner.add(7)?;
    inner.add(8).map(drop)
}

#[test]
fn a_set_inside_a_dict_stays_live() {
    let manager = Manager::new().unwrap();
    let d: DictProxy<String, SetProxy<u8>> = manager.dict().unwrap();
    let inner: SetProxy<u8> = manager.set().unwrap();
    d.set("tags".into(), inner.clone()).unwrap();
    run(Process::new(fill_nested, (d.clone(),)));
    assert_eq!(inner.to_vec().unwrap(), [7, 8]);
}

#[test]
fn a_dead_server_is_an_error_in_display() {
    let mut manager = Manager::new().unwrap();
    let s: SetProxy<u8> = manager.set_from([1]).unwrap();
    manager.shutdown().unwrap();
    assert!(s.len().unwrap_err().is_server_gone());
    assert!(s.to_string().starts_with("<SetProxy: "), "{s}");
}
