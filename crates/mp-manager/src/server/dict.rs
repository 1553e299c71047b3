//! The server side of a managed `dict`: an insertion-ordered map from the
//! encodings of keys to the encodings of values (equal keys encode to equal
//! bytes, so byte equality is key equality).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_bytes::{ByteBuf, Bytes};

use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

/// An insertion-ordered map (Python's dict order) with removal by tombstone.
#[derive(Debug, Default)]
pub(crate) struct OrderedMap {
    entries: Vec<Option<(ByteBuf, ByteBuf)>>,
    index: HashMap<Vec<u8>, usize>,
    /// Bumped whenever a key is added or removed (entries may move): what
    /// a live iteration checks.
    version: u64,
}

impl OrderedMap {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, k: &[u8]) -> Option<&ByteBuf> {
        let i = *self.index.get(k)?;
        self.entries[i].as_ref().map(|(_, v)| v)
    }

    pub(crate) fn insert(&mut self, k: ByteBuf, v: ByteBuf) -> Option<ByteBuf> {
        if let Some(&i) = self.index.get(&k[..]) {
            if let Some((_, old)) = self.entries[i].as_mut() {
                return Some(std::mem::replace(old, v));
            }
        }
        self.index.insert(k.to_vec(), self.entries.len());
        self.entries.push(Some((k, v)));
        self.version += 1;
        None
    }

    /// [`insert`](Self::insert) of a borrowed key and value, copied only
    /// where they are new: a value replacing one of about its size is
    /// copied into the old one's allocation (a `set` then allocates and
    /// frees nothing), a much smaller one gets its own (a value that
    /// shrank does not keep the old one's memory).
    pub(crate) fn set(&mut self, k: &[u8], v: &[u8]) {
        if let Some(&i) = self.index.get(k) {
            if let Some((_, old)) = self.entries[i].as_mut() {
                if old.capacity() >= v.len() && old.capacity() <= (2 * v.len()).max(64) {
                    old.clear();
                    old.extend_from_slice(v);
                } else {
                    *old = ByteBuf::from(v.to_vec());
                }
                return;
            }
        }
        self.insert(ByteBuf::from(k.to_vec()), ByteBuf::from(v.to_vec()));
    }

    pub(crate) fn remove(&mut self, k: &[u8]) -> Option<ByteBuf> {
        let i = self.index.remove(k)?;
        let (_, v) = self.entries[i].take()?;
        self.version += 1;
        if self.entries.len() > 32 && self.index.len() < self.entries.len() / 2 {
            self.compact();
        }
        Some(v)
    }

    fn compact(&mut self) {
        self.entries.retain(Option::is_some);
        for (i, e) in self.entries.iter().enumerate() {
            if let Some((k, _)) = e {
                self.index.insert(k.to_vec(), i);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
        self.version += 1;
    }

    /// One step of a live iteration from position `cursor`: the position
    /// after the next entry, and the entry. `seen` is the size and version
    /// of the first step; a change since is Python's `RuntimeError`.
    fn next_item(&self, cursor: u64, seen: Option<(u64, u64)>) -> Result<Vec<u8>, RemoteError> {
        if let Some((len, version)) = seen {
            let changed = if len != self.len() as u64 {
                Some("dictionary changed size during iteration")
            } else if version != self.version {
                Some("dictionary keys changed during iteration")
            } else {
                None
            };
            if let Some(why) = changed {
                return Err(RemoteError::new(RemoteErrorKind::Runtime, why));
            }
        }
        let start = usize::try_from(cursor).unwrap_or(usize::MAX);
        let next = self
            .entries
            .iter()
            .enumerate()
            .skip(start)
            .find_map(|(i, e)| e.as_ref().map(|(k, v)| (i, k, v)));
        ret(&next.map(|(i, k, v)| (i as u64 + 1, k, v, self.len() as u64, self.version)))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ByteBuf, &ByteBuf)> {
        self.entries.iter().flatten().map(|(k, v)| (k, v))
    }
}

struct Dict(Mutex<OrderedMap>);

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let items: Vec<(ByteBuf, ByteBuf)> = args(init, "dict")?;
    let mut map = OrderedMap::default();
    for (k, v) in items {
        map.insert(k, v);
    }
    Ok(Arc::new(Dict(Mutex::new(map))))
}

fn key_error() -> RemoteError {
    RemoteError::new(RemoteErrorKind::Key, "key not found")
}

impl Referent for Dict {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "get" => ret(&m.get(args::<&Bytes>(a, method)?)),
            "__getitem__" => match m.get(args::<&Bytes>(a, method)?) {
                Some(v) => ret(v),
                None => Err(key_error()),
            },
            "__setitem__" => {
                let (k, v): (&Bytes, &Bytes) = args(a, method)?;
                m.set(k, v);
                ret(&())
            }
            "__delitem__" => match m.remove(args::<&Bytes>(a, method)?) {
                Some(_) => ret(&()),
                None => Err(key_error()),
            },
            "pop" => ret(&m.remove(args::<&Bytes>(a, method)?)),
            "insert" => {
                let (k, v): (ByteBuf, ByteBuf) = args(a, method)?;
                ret(&m.insert(k, v))
            }
            "__contains__" => ret(&m.get(args::<&Bytes>(a, method)?).is_some()),
            "__len__" => ret(&(m.len() as u64)),
            "keys" => ret(&m.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            "values" => ret(&m.iter().map(|(_, v)| v).collect::<Vec<_>>()),
            "items" => ret(&m.iter().collect::<Vec<_>>()),
            "__next_item__" => {
                let (cursor, seen): (u64, Option<(u64, u64)>) = args(a, method)?;
                m.next_item(cursor, seen)
            }
            "update" => {
                let items: Vec<(ByteBuf, ByteBuf)> = args(a, method)?;
                for (k, v) in items {
                    m.insert(k, v);
                }
                ret(&())
            }
            "__or__" => {
                let items: Vec<(ByteBuf, ByteBuf)> = args(a, method)?;
                let mut merged = OrderedMap::default();
                for (k, v) in m.iter().chain(items.iter().map(|(k, v)| (k, v))) {
                    merged.insert(k.clone(), v.clone());
                }
                ret(&merged.iter().collect::<Vec<_>>())
            }
            "setdefault" => {
                let (k, default): (ByteBuf, ByteBuf) = args(a, method)?;
                if let Some(v) = m.get(&k) {
                    return ret(v);
                }
                let out = ret(&default);
                m.insert(k, default);
                out
            }
            "popitem" => {
                let last = m.iter().last().map(|(k, _)| k.clone());
                match last {
                    Some(k) => {
                        let v = m.remove(&k);
                        ret(&(k, v))
                    }
                    None => Err(RemoteError::new(
                        RemoteErrorKind::Key,
                        "'popitem(): dictionary is empty'",
                    )),
                }
            }
            "clear" => {
                m.clear();
                ret(&())
            }
            other => Err(no_method("dict", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: &[u8]) -> ByteBuf {
        ByteBuf::from(x.to_vec())
    }

    #[test]
    fn ordered_map_keeps_insertion_order_through_removals() {
        let mut m = OrderedMap::default();
        for i in 0..100u8 {
            m.insert(b(&[i]), b(&[i, i]));
        }
        for i in (0..100u8).filter(|i| i % 3 != 0) {
            assert_eq!(m.remove(&[i]), Some(b(&[i, i])));
        }
        assert_eq!(m.insert(b(&[3]), b(&[9])), Some(b(&[3, 3])));
        let keys: Vec<u8> = m.iter().map(|(k, _)| k[0]).collect();
        assert_eq!(keys, (0..100).filter(|i| i % 3 == 0).collect::<Vec<u8>>());
        assert_eq!(m.get(&[3]), Some(&b(&[9])));
        assert_eq!(m.len(), 34);
        assert_eq!(m.remove(&[1]), None);
    }

    #[test]
    fn set_replaces_in_place_and_appends_a_new_key() {
        let mut m = OrderedMap::default();
        m.set(&[1], &[10]);
        m.set(&[2], &[20]);
        let version = m.version;
        m.set(&[1], &[11]);
        assert_eq!(m.version, version, "a replaced value moves nothing");
        m.set(&[3], &[30]);
        let all: Vec<(u8, u8)> = m.iter().map(|(k, v)| (k[0], v[0])).collect();
        assert_eq!(all, [(1, 11), (2, 20), (3, 30)]);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn a_replaced_value_reuses_its_allocation_only_at_about_its_size() {
        let mut m = OrderedMap::default();
        m.set(&[1], &[7; 40]);
        let at = m.get(&[1]).unwrap().as_ptr();
        m.set(&[1], &[8; 30]);
        let v = m.get(&[1]).unwrap();
        assert_eq!((v.as_ptr(), &v[..]), (at, &[8; 30][..]), "copied in place");
        m.set(&[1], &[9; 100_000]);
        assert_eq!(m.get(&[1]).unwrap()[..], [9; 100_000]);
        m.set(&[1], &[5; 3]);
        let v = m.get(&[1]).unwrap();
        assert_eq!(&v[..], &[5; 3]);
        assert!(
            v.capacity() < 1000,
            "a shrunk value lets go of the large one"
        );
    }
}
