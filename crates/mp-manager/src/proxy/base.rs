//! [`BaseProxy`]: the token every proxy holds (server, address, object id,
//! key), its process's reference to the object, and the one call that
//! every method goes through; the [`Proxy`] trait the typed proxies
//! implement.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

use crate::client::{self, Origin};
use crate::error::Result;
use crate::protocol;
use crate::refs::{self, Ref};
use mp_channel::Address;
use mp_process::AuthKey;

#[cfg(feature = "async")]
#[path = "base_async.rs"]
mod async_call;

/// The reference to one object in one manager server, and the channel to
/// call its methods: Python's `BaseProxy` with its `Token`.
///
/// A proxy is serde: as a [`Process`](mp_process::Process) argument, in a
/// queue message or stored inside another managed container, it arrives as
/// a working proxy to the same object. It carries the server's address and
/// the authkey (the key is left out when it is the receiving family's
/// default, `current_process().authkey()`, which children inherit). A
/// proxy decoded from a reply of the server it refers to always uses the
/// address and key its parent proxy used, so nested proxies keep working
/// for remote clients.
///
/// A proxy holds a reference to its object (Python's incref/decref), shared
/// by its clones and given back when the last one is dropped; the server
/// frees an object when no process holds a reference to it any more, and a
/// process that dies gives its references back. A proxy on its way to
/// another process (a `Process` argument, a queue or pipe message) keeps
/// its object alive until it arrives; a proxy stored in a managed value
/// keeps it alive until [`Manager::release`](crate::Manager::release) or
/// shutdown.
#[derive(Clone)]
pub struct BaseProxy {
    typeid: String,
    id: u128,
    /// Which server run, where, with which key: shared by the proxy's
    /// clones and lent to the decode of each reply without a copy.
    origin: Arc<Origin>,
    /// This process's reference (`None` if none could be taken: the
    /// server was gone, or the object was).
    _held: Option<Arc<Ref>>,
}

impl PartialEq for BaseProxy {
    /// The same object in the same server, reached the same way.
    fn eq(&self, other: &Self) -> bool {
        (&self.typeid, self.id, &*self.origin) == (&other.typeid, other.id, &*other.origin)
    }
}

impl Eq for BaseProxy {}

/// A typed proxy: how a manager makes one from a [`BaseProxy`], and the
/// typeid its referent must have.
pub trait Proxy: Serialize + DeserializeOwned + Sized {
    /// The server-side type of the referent (`"dict"`, `"Queue"`, a custom
    /// type's name).
    const TYPEID: &'static str;
    /// Wraps a base proxy (whose typeid the caller has checked).
    fn from_base(base: BaseProxy) -> Self;
    /// The base proxy inside.
    fn base(&self) -> &BaseProxy;
}

impl BaseProxy {
    pub(crate) fn new(
        typeid: &str,
        id: u128,
        server: u128,
        address: Address,
        key: AuthKey,
        held: Option<Ref>,
    ) -> Self {
        Self::with_origin(
            typeid,
            id,
            Arc::new(Origin {
                server,
                address,
                key,
            }),
            held,
        )
    }

    fn with_origin(typeid: &str, id: u128, origin: Arc<Origin>, held: Option<Ref>) -> Self {
        Self {
            typeid: typeid.to_string(),
            id,
            origin,
            _held: held.map(Arc::new),
        }
    }

    /// The referent's typeid.
    pub fn typeid(&self) -> &str {
        &self.typeid
    }

    /// The referent's id in the server (random, 128 bits: a capability).
    pub fn id(&self) -> u128 {
        self.id
    }

    /// The id of the server run the referent lives in.
    pub(crate) fn server_id(&self) -> u128 {
        self.origin.server
    }

    /// The server's address.
    pub fn address(&self) -> &Address {
        &self.origin.address
    }

    /// Calls `method` with postcard-encoded `args` and returns the raw
    /// result bytes (Python's `_callmethod`).
    pub fn call_raw(&self, method: &str, args: &[u8]) -> Result<Vec<u8>> {
        client::call_from(&self.origin, self.id, method, args, |out| Ok(out.to_vec()))
    }

    /// Calls `method` with `args` (a tuple) and decodes the result as `R`.
    pub fn call<A: Serialize, R: DeserializeOwned>(&self, method: &str, args: &A) -> Result<R> {
        let args = protocol::to_bytes(args)?;
        self.call_encoded(method, &args, |out| self.decode(out))
    }

    /// Calls `method` with arguments already encoded, handing the result's
    /// bytes to `then` where they lie in the reply.
    pub(crate) fn call_encoded<R>(
        &self,
        method: &str,
        args: &[u8],
        then: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        client::call_from(&self.origin, self.id, method, args, then)
    }

    /// Decodes bytes that came from this proxy's server; proxies inside
    /// them are bound to this proxy's address and key.
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        Ok(client::with_origin(&self.origin, || {
            protocol::from_bytes::<T>(bytes)
        })?)
    }

    /// Decodes a stored value that the server returned as bytes.
    pub(crate) fn decode_value<T: DeserializeOwned>(&self, value: ByteBuf) -> Result<T> {
        self.decode(&value)
    }
}

impl fmt::Debug for BaseProxy {
    /// Python's repr: `<BaseProxy object, typeid 'dict' at 1f2e...>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<BaseProxy object, typeid '{}' at {:x}>",
            self.typeid, self.id
        )
    }
}

#[derive(Serialize)]
struct TokenRef<'a> {
    typeid: &'a str,
    id: u128,
    server: u128,
    #[serde(serialize_with = "crate::address_serde::serialize")]
    address: &'a Address,
    #[serde(with = "serde_bytes")]
    key: Option<&'a [u8]>,
    /// The sender's lease on the object, for the receiver to adopt.
    lease: Option<u64>,
}

#[derive(Deserialize)]
struct Token {
    typeid: String,
    id: u128,
    server: u128,
    #[serde(deserialize_with = "crate::address_serde::deserialize")]
    address: Address,
    key: Option<ByteBuf>,
    lease: Option<u64>,
}

impl Serialize for BaseProxy {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let default = client::default_key();
        // Going to the server, which keeps it: the server holds a
        // reference. Going elsewhere: lend one until the receiver adopts it.
        // A server that is gone takes no reference, and the proxy still
        // travels (its calls will say the server is gone).
        let lease = match protocol::destination() {
            protocol::Destination::Server => {
                let _ = refs::pin(&self.origin.address, &self.origin.key, self.id);
                None
            }
            protocol::Destination::Elsewhere => {
                refs::lease(&self.origin.address, &self.origin.key, self.id).ok()
            }
            protocol::Destination::Display => None,
        };
        TokenRef {
            lease,
            typeid: &self.typeid,
            id: self.id,
            server: self.origin.server,
            address: &self.origin.address,
            key: (self.origin.key != *default).then_some(self.origin.key.as_bytes()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for BaseProxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let t = Token::deserialize(d)?;
        let origin = match (client::origin_of(t.server), t.key) {
            (Some(origin), _) => origin,
            (None, key) => {
                let key = match key {
                    Some(k) => AuthKey::from(k.into_vec()),
                    None => client::key_for(&t.address),
                };
                Arc::new(Origin {
                    server: t.server,
                    address: t.address,
                    key,
                })
            }
        };
        // This process's own reference (adopting the sender's lease). If it
        // cannot be taken, the proxy is still made: its calls report why.
        let held = match refs::incref(&origin.address, &origin.key, t.id, t.lease) {
            Ok(r) => Some(r),
            Err(e) => {
                log::debug!(target: mp_process::LOG_TARGET, "manager: no reference taken for a received proxy: {e}");
                None
            }
        };
        Ok(BaseProxy::with_origin(&t.typeid, t.id, origin, held))
    }
}

/// Implements `Serialize`/`Deserialize` (as the base proxy) and [`Proxy`]
/// for a typed proxy `struct Name<..> { base: BaseProxy, .. }` whose other
/// fields are `PhantomData`.
macro_rules! typed_proxy {
    ($name:ident $(<$($p:ident),*>)?, $typeid:expr) => {
        impl$(<$($p),*>)? ::serde::Serialize for $name$(<$($p),*>)? {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                self.base.serialize(s)
            }
        }
        impl<'de $($(, $p)*)?> ::serde::Deserialize<'de> for $name$(<$($p),*>)? {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                Ok(<Self as $crate::Proxy>::from_base($crate::BaseProxy::deserialize(d)?))
            }
        }
        impl$(<$($p),*>)? $crate::Proxy for $name$(<$($p),*>)? {
            const TYPEID: &'static str = $typeid;
            fn from_base(base: $crate::BaseProxy) -> Self {
                Self { base, _types: ::std::marker::PhantomData }
            }
            fn base(&self) -> &$crate::BaseProxy {
                &self.base
            }
        }
        impl$(<$($p),*>)? ::std::clone::Clone for $name$(<$($p),*>)? {
            fn clone(&self) -> Self {
                <Self as $crate::Proxy>::from_base(self.base.clone())
            }
        }
    };
}
pub(crate) use typed_proxy;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip_keeps_foreign_keys_and_drops_default() {
        let addr = Address::Unix("/tmp/x".into());
        let p = BaseProxy::new(
            "dict",
            5,
            9,
            addr.clone(),
            AuthKey::from(&b"other"[..]),
            None,
        );
        let back: BaseProxy = protocol::from_bytes(&protocol::to_bytes(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let default = client::default_key().clone();
        let q = BaseProxy::new("list", 6, 9, addr, default.clone(), None);
        let bytes = protocol::to_bytes(&q).unwrap();
        assert!(bytes
            .windows(default.as_bytes().len())
            .all(|w| w != default.as_bytes()));
        let back: BaseProxy = protocol::from_bytes(&bytes).unwrap();
        assert_eq!(back.origin.key, default);
        assert_eq!(
            format!("{back:?}"),
            "<BaseProxy object, typeid 'list' at 6>"
        );
    }
}
