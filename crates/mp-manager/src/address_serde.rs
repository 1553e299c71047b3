//! Serde for [`Address`] inside the manager's own messages (proxy tokens,
//! the server's start-up configuration and its ready report):
//! `mp_channel::Address` is not serde itself, so it travels as this mirror.

use std::borrow::Borrow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mp_channel::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The encoded form, borrowing the address.
#[derive(Serialize)]
enum AddressRef<'a> {
    Unix(&'a Path),
    Tcp(SocketAddr),
}

/// The decoded form.
#[derive(Deserialize)]
enum AddressOwned {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// Serializes an address (for `#[serde(serialize_with)]` on an `Address`
/// or a `&Address` field).
pub(crate) fn serialize<A: Borrow<Address>, S: Serializer>(
    address: &A,
    s: S,
) -> Result<S::Ok, S::Error> {
    match address.borrow() {
        Address::Unix(p) => AddressRef::Unix(p),
        Address::Tcp(a) => AddressRef::Tcp(*a),
    }
    .serialize(s)
}

/// Deserializes an address written by [`serialize`].
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
    Ok(match AddressOwned::deserialize(d)? {
        AddressOwned::Unix(p) => Address::Unix(p),
        AddressOwned::Tcp(a) => Address::Tcp(a),
    })
}

/// The same for an `Option<Address>` field (`#[serde(with = "address_serde::option")]`).
pub(crate) mod option {
    use super::{Address, Deserialize, Deserializer, Serialize, Serializer};

    /// `Option<Address>` in the encoded form.
    #[derive(Serialize, Deserialize)]
    struct Wrapped(
        #[serde(
            serialize_with = "super::serialize",
            deserialize_with = "super::deserialize"
        )]
        Address,
    );

    /// Serializes an optional address.
    pub(crate) fn serialize<S: Serializer>(
        address: &Option<Address>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        address.clone().map(Wrapped).serialize(s)
    }

    /// Deserializes an optional address.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Address>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}
