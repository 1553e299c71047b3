//! The server side of managed `Value` (one encoded value) and `Array` (a
//! fixed-length sequence of encoded values).

use std::sync::{Arc, Mutex};

use serde_bytes::ByteBuf;

use super::list::resolve;
use super::{no_method, Cx, Referent};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{args, ret};

struct Value(Mutex<ByteBuf>);

pub(crate) fn create_value(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(Arc::new(Value(Mutex::new(args(init, "Value")?))))
}

impl Referent for Value {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "get" => ret(&*v),
            "set" => {
                *v = args(a, method)?;
                ret(&())
            }
            other => Err(no_method("Value", other)),
        }
    }
}

struct Array(Mutex<Vec<ByteBuf>>);

pub(crate) fn create_array(init: &[u8]) -> Result<Arc<dyn Referent>, RemoteError> {
    Ok(Arc::new(Array(Mutex::new(args(init, "Array")?))))
}

fn out_of_range(what: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Index, what)
}

impl Referent for Array {
    fn call(&self, method: &str, a: &[u8], _cx: &Cx<'_>) -> Result<Vec<u8>, RemoteError> {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            "__len__" => ret(&(v.len() as u64)),
            "__getitem__" => {
                let i = resolve(args(a, method)?, v.len())
                    .ok_or_else(|| out_of_range("array index out of range"))?;
                ret(&v[i])
            }
            "__setitem__" => {
                let (i, x): (i64, ByteBuf) = args(a, method)?;
                let i = resolve(i, v.len())
                    .ok_or_else(|| out_of_range("array assignment index out of range"))?;
                v[i] = x;
                ret(&())
            }
            "copy" => ret(&*v),
            other => Err(no_method("Array", other)),
        }
    }
}
