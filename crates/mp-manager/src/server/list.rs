//! The server side of a managed `list`: a vector of value encodings, with
//! Python's index and slice rules (negative indices count from the end) and
//! messages, and a version number that every change bumps, so a client can
//! replace the contents only if nobody changed them since it read them
//! (`copy_versioned` then `replace_if`: how `sort` stays atomic).

use std::sync::{Arc, Mutex};

use serde_bytes::ByteBuf;

use super::slice::Slice;
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

struct State {
    items: Vec<ByteBuf>,
    /// Bumped by every successful change.
    version: u64,
}

struct List(Mutex<State>);

/// The methods that change nothing (every other one bumps the version when
/// it succeeds; `replace_if` bumps it itself, only when it replaces).
const READ_ONLY: &[&str] = &[
    "__getitem__",
    "__len__",
    "index",
    "count",
    "__contains__",
    "copy",
    "copy_versioned",
    "get_slice",
    "replace_if",
];

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let items: Vec<ByteBuf> = args(init, "list")?;
    Ok(Arc::new(List(Mutex::new(State { items, version: 0 }))))
}

/// Python's index normalisation: `i` or `len + i`, if in range.
pub(crate) fn resolve(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let j = if i < 0 { i.checked_add(len)? } else { i };
    (0..len).contains(&j).then_some(j as usize)
}

fn index_error(what: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Index, what)
}

impl Referent for List {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let out = Self::call_locked(&mut st, method, a)?;
        if !READ_ONLY.contains(&method) {
            st.version = st.version.wrapping_add(1);
        }
        Ok(out)
    }
}

impl List {
    fn call_locked(st: &mut State, method: &str, a: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let v = &mut st.items;
        match method {
            "append" => {
                v.push(args(a, method)?);
                ret(&())
            }
            "extend" => {
                let items: Vec<ByteBuf> = args(a, method)?;
                v.extend(items);
                ret(&())
            }
            "__getitem__" => {
                let i = resolve(args(a, method)?, v.len())
                    .ok_or_else(|| index_error("list index out of range"))?;
                ret(&v[i])
            }
            "__setitem__" => {
                let (i, x): (i64, ByteBuf) = args(a, method)?;
                let i = resolve(i, v.len())
                    .ok_or_else(|| index_error("list assignment index out of range"))?;
                v[i] = x;
                ret(&())
            }
            "__len__" => ret(&(v.len() as u64)),
            "pop" => {
                let i: Option<i64> = args(a, method)?;
                if v.is_empty() {
                    return Err(index_error("pop from empty list"));
                }
                let i = resolve(i.unwrap_or(-1), v.len())
                    .ok_or_else(|| index_error("pop index out of range"))?;
                ret(&v.remove(i))
            }
            "remove" => {
                let x: ByteBuf = args(a, method)?;
                let i = v.iter().position(|y| *y == x).ok_or_else(|| {
                    RemoteError::new(RemoteErrorKind::Value, "list.remove(x): x not in list")
                })?;
                v.remove(i);
                ret(&())
            }
            "insert" => {
                let (i, x): (i64, ByteBuf) = args(a, method)?;
                // Python clamps the position instead of failing.
                let len = v.len() as i64;
                let j = if i < 0 { (len + i).max(0) } else { i.min(len) };
                v.insert(j as usize, x);
                ret(&())
            }
            "index" => {
                let x: ByteBuf = args(a, method)?;
                let i = v.iter().position(|y| *y == x).ok_or_else(|| {
                    RemoteError::new(RemoteErrorKind::Value, "value is not in list")
                })?;
                ret(&(i as u64))
            }
            "count" => {
                let x: ByteBuf = args(a, method)?;
                ret(&(v.iter().filter(|y| **y == x).count() as u64))
            }
            "__contains__" => {
                let x: ByteBuf = args(a, method)?;
                ret(&v.contains(&x))
            }
            "reverse" => {
                v.reverse();
                ret(&())
            }
            "clear" => {
                v.clear();
                ret(&())
            }
            "copy" => ret(&*v),
            "copy_versioned" => ret(&(st.version, &st.items)),
            "replace_if" => {
                let (version, items): (u64, Vec<ByteBuf>) = args(a, method)?;
                if version != st.version {
                    return ret(&false);
                }
                st.items = items;
                st.version = st.version.wrapping_add(1);
                ret(&true)
            }
            "get_slice" => ret(&args::<Slice>(a, method)?.get(v)?),
            "set_slice" => {
                let (slice, items): (Slice, Vec<ByteBuf>) = args(a, method)?;
                slice.set(v, items)?;
                ret(&())
            }
            "del_slice" => {
                args::<Slice>(a, method)?.delete(v)?;
                ret(&())
            }
            "__imul__" => {
                let n: u64 = args(a, method)?;
                let total = usize::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_mul(v.len()))
                    .filter(|&t| t <= isize::MAX as usize / 8)
                    .ok_or_else(|| {
                        RemoteError::new(RemoteErrorKind::Value, "list too large to repeat")
                    })?;
                if n == 0 {
                    v.clear();
                } else {
                    let once = v.clone();
                    v.reserve(total - once.len());
                    for _ in 1..n {
                        v.extend(once.iter().cloned());
                    }
                }
                ret(&())
            }
            other => Err(no_method("list", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn python_indices() {
        assert_eq!(resolve(0, 3), Some(0));
        assert_eq!(resolve(-1, 3), Some(2));
        assert_eq!(resolve(-3, 3), Some(0));
        assert_eq!(resolve(-4, 3), None);
        assert_eq!(resolve(3, 3), None);
        assert_eq!(resolve(i64::MIN, 3), None);
        assert_eq!(resolve(0, 0), None);
    }
}
