//! [`AuthKey`]: an authentication key's bytes behind a type whose `Debug`
//! never shows them, so a key held in a struct cannot reach a log through
//! `{:?}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An authentication key (Python's `authkey`): the secret that guards
/// managers and listeners. Its `Debug` prints `AuthKey(<redacted>)`; it has
/// no `Display`. The bytes are overwritten with zeros when it is dropped.
///
/// ```
/// use mp_process::AuthKey;
///
/// let key = AuthKey::from(b"secret".to_vec());
/// assert_eq!(key.as_bytes(), b"secret");
/// assert_eq!(format!("{key:?}"), "AuthKey(<redacted>)");
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AuthKey(#[serde(with = "serde_bytes")] Vec<u8>);

impl AuthKey {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key's bytes, to fill in place (a new key from the OS CSPRNG).
    pub(crate) fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// A copy of the key's bytes (for an API that takes a `Vec<u8>`).
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.clone()
    }
}

impl From<Vec<u8>> for AuthKey {
    fn from(bytes: Vec<u8>) -> AuthKey {
        AuthKey(bytes)
    }
}

impl From<&[u8]> for AuthKey {
    fn from(bytes: &[u8]) -> AuthKey {
        AuthKey(bytes.to_vec())
    }
}

impl AsRef<[u8]> for AuthKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

impl Drop for AuthKey {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the zeroing from being optimised away as a dead store.
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_bytes() {
        let key = AuthKey::from(vec![0xab; 32]);
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
        assert_eq!(key.as_bytes(), &[0xab; 32][..]);
    }
}
