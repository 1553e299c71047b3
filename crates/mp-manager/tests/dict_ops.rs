//! The `DictProxy` additions of Python 3.13 (`|`, `|=`, `reversed`,
//! `fromkeys`) and `copy`, used from the parent and from a child under the
//! start method chosen by the environment.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::run;
use mp_manager::{DictProxy, Manager, ManagerError};
use mp_process::Process;

type R = Result<(), ManagerError>;

fn merge_in_child(d: DictProxy<String, u32>) -> R {
    // `d |= {"b": 20, "c": 3}`
    d.update([("b".to_string(), 20), ("c".to_string(), 3)])
}

#[test]
fn fromkeys_then_a_child_merges_in_place() {
    let manager = Manager::new().unwrap();
    let d = manager
        .dict_fromkeys(["a", "b", "a"].map(String::from), 0u32)
        .unwrap();
    assert_eq!(d.to_string(), r#"{"a": 0, "b": 0}"#);
    run(Process::new(merge_in_child, (d.clone(),)));
    let copy: Vec<(String, u32)> = d.copy().unwrap();
    assert_eq!(
        copy,
        [("a".into(), 0), ("b".into(), 20), ("c".into(), 3)] as [(String, u32); 3]
    );
}

#[test]
fn union_is_a_snapshot_and_leaves_the_dict_alone() {
    let manager = Manager::new().unwrap();
    let pairs = |p: &[(u32, &str)]| -> Vec<(u32, String)> {
        p.iter().map(|&(k, v)| (k, v.to_string())).collect()
    };
    let d: DictProxy<u32, String> = manager.dict_from(pairs(&[(1, "one"), (2, "two")])).unwrap();
    // Python: {1: 'one', 2: 'two'} | {2: 'TWO', 3: 'three'}
    //      == {1: 'one', 2: 'TWO', 3: 'three'}
    let u: Vec<(u32, String)> = d.union(pairs(&[(2, "TWO"), (3, "three")])).unwrap();
    assert_eq!(u, pairs(&[(1, "one"), (2, "TWO"), (3, "three")]));
    let m: BTreeMap<u32, String> = d.union(pairs(&[(0, "zero")])).unwrap();
    assert_eq!(m.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(d.items().unwrap(), pairs(&[(1, "one"), (2, "two")]));
    let same: Vec<(u32, String)> = d.union([]).unwrap();
    assert_eq!(same, d.items().unwrap());
}

#[test]
fn reversed_keys_and_copy() {
    let manager = Manager::new().unwrap();
    let d: DictProxy<u8, u8> = manager.dict_from([(3, 30), (1, 10), (2, 20)]).unwrap();
    d.remove(&1).unwrap();
    d.set(1, 11).unwrap();
    assert_eq!(d.keys_reversed().unwrap(), [1, 2, 3]);
    let copy: HashMap<u8, u8> = d.copy().unwrap();
    assert_eq!(copy, HashMap::from([(1, 11), (2, 20), (3, 30)]));
    // A copy is not a view: changing the dict does not change it.
    d.clear().unwrap();
    assert_eq!(copy.len(), 3);
    assert!(d.keys_reversed().unwrap().is_empty());
    let none: Vec<(u8, u8)> = d.copy().unwrap();
    assert!(none.is_empty());
    let e: DictProxy<u8, Option<u8>> = manager.dict_fromkeys(Vec::<u8>::new(), None).unwrap();
    assert!(e.is_empty().unwrap());
}
