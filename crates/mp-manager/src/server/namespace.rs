//! The server side of a managed `Namespace`: named values (their encodings),
//! kept sorted by name as Python's `str(ns)` shows them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_bytes::ByteBuf;

use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

struct Namespace(Mutex<BTreeMap<String, ByteBuf>>);

pub(crate) fn create(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    let items: Vec<(String, ByteBuf)> = args(init, "Namespace")?;
    Ok(Arc::new(Namespace(Mutex::new(items.into_iter().collect()))))
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
                    Some(v) => ret(v),
                    None => Err(no_attribute(&name)),
                }
            }
            "__setattr__" => {
                let (name, v): (String, ByteBuf) = args(a, method)?;
                m.insert(name, v);
                ret(&())
            }
            "__delattr__" => {
                let name: String = args(a, method)?;
                match m.remove(&name) {
                    Some(_) => ret(&()),
                    None => Err(no_attribute(&name)),
                }
            }
            "__contains__" => ret(&m.contains_key(&args::<String>(a, method)?)),
            "names" => ret(&m.keys().collect::<Vec<_>>()),
            "items" => ret(&m.iter().collect::<Vec<_>>()),
            other => Err(no_method("Namespace", other)),
        }
    }
}
