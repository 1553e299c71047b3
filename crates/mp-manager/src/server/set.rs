//! The server side of a managed `set` (Python 3.14's `SyncManager.set()`):
//! the encodings of the elements, in insertion order (equal elements encode
//! to equal bytes, so byte equality is element equality, as for dict keys).
//!
//! Methods that take "another collection" get its elements encoded, as a
//! list; duplicates in it count once, as Python turns the argument into a
//! set first.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_bytes::ByteBuf;

use super::dict::OrderedMap;
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

/// An insertion-ordered set of encodings (an [`OrderedMap`] with empty
/// values, which do not allocate).
#[derive(Debug, Default)]
struct OrderedSet(OrderedMap);

impl OrderedSet {
    fn contains(&self, x: &[u8]) -> bool {
        self.0.get(x).is_some()
    }

    /// Adds `x`; whether it was not there yet.
    fn add(&mut self, x: ByteBuf) -> bool {
        self.0.insert(x, ByteBuf::new()).is_none()
    }

    /// Removes `x`; whether it was there.
    fn discard(&mut self, x: &[u8]) -> bool {
        self.0.remove(x).is_some()
    }

    fn iter(&self) -> impl Iterator<Item = &ByteBuf> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Removes and returns the first element in iteration order.
    fn pop(&mut self) -> Option<ByteBuf> {
        let first = self.iter().next()?.clone();
        self.0.remove(&first);
        Some(first)
    }
}

/// The distinct elements of `other`, in their first-seen order.
fn distinct(other: &[ByteBuf]) -> Vec<&ByteBuf> {
    let mut seen = HashSet::new();
    other.iter().filter(|x| seen.insert(&x[..])).collect()
}

fn lookup(other: &[ByteBuf]) -> HashSet<&[u8]> {
    other.iter().map(|x| &x[..]).collect()
}

struct Set(Mutex<OrderedSet>);

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let items: Vec<ByteBuf> = args(init, "set")?;
    let mut s = OrderedSet::default();
    for x in items {
        s.add(x);
    }
    Ok(Arc::new(Set(Mutex::new(s))))
}

/// Runs a method that reads the set and another collection.
fn binary(s: &OrderedSet, method: &str, other: &[ByteBuf]) -> Result<Vec<u8>, RemoteError> {
    let theirs = lookup(other);
    let ours = || s.iter().filter(|x| theirs.contains(&x[..]));
    match method {
        "union" => {
            let extra = distinct(other).into_iter().filter(|x| !s.contains(x));
            ret(&s.iter().chain(extra).collect::<Vec<_>>())
        }
        "intersection" => ret(&ours().collect::<Vec<_>>()),
        "difference" => ret(&s
            .iter()
            .filter(|x| !theirs.contains(&x[..]))
            .collect::<Vec<_>>()),
        "symmetric_difference" => {
            let extra = distinct(other).into_iter().filter(|x| !s.contains(x));
            let kept = s.iter().filter(|x| !theirs.contains(&x[..]));
            ret(&kept.chain(extra).collect::<Vec<_>>())
        }
        "isdisjoint" => ret(&ours().next().is_none()),
        "issubset" => ret(&s.iter().all(|x| theirs.contains(&x[..]))),
        "issuperset" => ret(&other.iter().all(|x| s.contains(x))),
        other => Err(no_method("set", other)),
    }
}

impl Referent for Set {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "add" => ret(&s.add(args(a, method)?)),
            "discard" => ret(&s.discard(&args::<ByteBuf>(a, method)?)),
            "remove" => {
                if s.discard(&args::<ByteBuf>(a, method)?) {
                    ret(&())
                } else {
                    // The server cannot show the element; the proxy puts
                    // its repr in place of this text.
                    Err(RemoteError::new(
                        RemoteErrorKind::Key,
                        "set.remove(x): x not in set",
                    ))
                }
            }
            "pop" => match s.pop() {
                Some(x) => ret(&x),
                None => Err(RemoteError::new(
                    RemoteErrorKind::Key,
                    "'pop from an empty set'",
                )),
            },
            "clear" => {
                s.0.clear();
                ret(&())
            }
            "__contains__" => ret(&s.contains(&args::<ByteBuf>(a, method)?)),
            "__len__" => ret(&(s.0.len() as u64)),
            "copy" => ret(&s.iter().collect::<Vec<_>>()),
            "update" => {
                let items: Vec<ByteBuf> = args(a, method)?;
                for x in items {
                    s.add(x);
                }
                ret(&())
            }
            "difference_update" => {
                let items: Vec<ByteBuf> = args(a, method)?;
                for x in &items {
                    s.discard(x);
                }
                ret(&())
            }
            "intersection_update" => {
                let items: Vec<ByteBuf> = args(a, method)?;
                let keep = lookup(&items);
                let gone: Vec<ByteBuf> = s
                    .iter()
                    .filter(|x| !keep.contains(&x[..]))
                    .cloned()
                    .collect();
                for x in &gone {
                    s.discard(x);
                }
                ret(&())
            }
            "symmetric_difference_update" => {
                let items: Vec<ByteBuf> = args(a, method)?;
                for x in distinct(&items) {
                    if !s.discard(x) {
                        s.add(x.clone());
                    }
                }
                ret(&())
            }
            "union"
            | "intersection"
            | "difference"
            | "symmetric_difference"
            | "isdisjoint"
            | "issubset"
            | "issuperset" => binary(&s, method, &args::<Vec<ByteBuf>>(a, method)?),
            other => Err(no_method("set", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: u8) -> ByteBuf {
        ByteBuf::from(vec![x])
    }

    fn elems(s: &OrderedSet) -> Vec<u8> {
        s.iter().map(|x| x[0]).collect()
    }

    fn run(s: &OrderedSet, method: &str, other: &[u8]) -> Vec<u8> {
        let other: Vec<ByteBuf> = other.iter().map(|&x| b(x)).collect();
        binary(s, method, &other).unwrap()
    }

    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
        crate::protocol::from_bytes(bytes).unwrap()
    }

    #[test]
    fn ordered_set_keeps_insertion_order_and_pops_the_first() {
        let mut s = OrderedSet::default();
        for x in [3, 1, 2, 1] {
            s.add(b(x));
        }
        assert_eq!(elems(&s), [3, 1, 2]);
        assert!(!s.add(b(3)));
        assert!(s.discard(&[1]));
        assert!(!s.discard(&[1]));
        assert_eq!(s.pop(), Some(b(3)));
        assert_eq!(s.pop(), Some(b(2)));
        assert_eq!(s.pop(), None);
    }

    #[test]
    fn binary_operations_follow_python() {
        let mut s = OrderedSet::default();
        for x in [1, 2, 3] {
            s.add(b(x));
        }
        let snap = |m, o: &[u8]| -> Vec<u8> {
            decode::<Vec<ByteBuf>>(&run(&s, m, o))
                .iter()
                .map(|x| x[0])
                .collect()
        };
        assert_eq!(snap("union", &[4, 2, 4, 5]), [1, 2, 3, 4, 5]);
        assert_eq!(snap("intersection", &[3, 1, 9]), [1, 3]);
        assert_eq!(snap("difference", &[2]), [1, 3]);
        assert_eq!(snap("symmetric_difference", &[3, 4, 4]), [1, 2, 4]);
        let yes = |m, o: &[u8]| decode::<bool>(&run(&s, m, o));
        assert!(yes("isdisjoint", &[4, 5]));
        assert!(!yes("isdisjoint", &[5, 3]));
        assert!(yes("issubset", &[1, 2, 3, 4]));
        assert!(!yes("issubset", &[1, 2]));
        assert!(yes("issuperset", &[1, 1, 3]));
        assert!(!yes("issuperset", &[1, 4]));
        assert!(yes("issubset", &[3, 2, 1]) && yes("issuperset", &[]));
        assert!(binary(&s, "nope", &[]).is_err());
    }
}
