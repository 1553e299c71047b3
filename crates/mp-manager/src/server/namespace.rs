//! The server side of a managed `Namespace`: named values (their encodings,
//! and the text the client printed them as, for Python's
//! `Namespace(a=1, x=42)`), kept sorted by name.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_bytes::ByteBuf;

use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

/// A value: its encoding and its printed text.
type Attribute = (ByteBuf, String);

struct Namespace(Mutex<BTreeMap<String, Attribute>>);

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let items: Vec<(String, ByteBuf, String)> = args(init, "Namespace")?;
    Ok(Arc::new(Namespace(Mutex::new(
        items.into_iter().map(|(n, v, r)| (n, (v, r))).collect(),
    ))))
}

/// Python's `NamespaceProxy.__repr__`: `Namespace(a=1, x=42)`, the
/// `name=value` texts sorted, names starting with `_` left out.
fn repr(m: &BTreeMap<String, Attribute>) -> String {
    let mut parts: Vec<String> = m
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, (_, text))| format!("{name}={text}"))
        .collect();
    parts.sort();
    format!("Namespace({})", parts.join(", "))
}

/// Python's `AttributeError` text for a missing name.
pub(crate) fn no_attribute(name: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Attribute,
        format!("'Namespace' object has no attribute '{name}'"),
    )
}

impl Referent for Namespace {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "__getattribute__" => {
                let name: String = args(a, method)?;
                match m.get(&name) {
                    Some((v, _)) => ret(v),
                    None => Err(no_attribute(&name)),
                }
            }
            "__setattr__" => {
                let (name, v, text): (String, ByteBuf, String) = args(a, method)?;
                m.insert(name, (v, text));
                ret(&())
            }
            "__repr__" => ret(&repr(&m)),
            "__delattr__" => {
                let name: String = args(a, method)?;
                match m.remove(&name) {
                    Some(_) => ret(&()),
                    None => Err(no_attribute(&name)),
                }
            }
            "__contains__" => ret(&m.contains_key(&args::<String>(a, method)?)),
            "names" => ret(&m.keys().collect::<Vec<_>>()),
            "items" => ret(&m.iter().map(|(n, (v, _))| (n, v)).collect::<Vec<_>>()),
            other => Err(no_method("Namespace", other)),
        }
    }
}
