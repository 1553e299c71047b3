//! [`AuthKey`]: an authentication key's bytes behind a type whose `Debug`
//! never shows them, so a key held in a struct cannot reach a log through
//! `{:?}`. It lives here, the lowest crate that both mp-process (the
//! process authkey) and mp-channel (`Listener`) stand on; mp-process
//! re-exports it as `mp_process::AuthKey`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;

use serde::{Deserialize, Serialize};

/// An authentication key (Python's `authkey`): the secret that guards
/// managers and listeners. Its `Debug` prints `AuthKey(<redacted>)`; it has
/// no `Display`. The bytes are overwritten with zeros when it is dropped.
/// Two keys compare equal when their bytes do, compared without an early
/// exit.
///
/// ```
/// use mp_wire::AuthKey; // also `mp_process::AuthKey`
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

    /// A new key of `len` bytes from the OS CSPRNG.
    ///
    /// # Errors
    /// The OS's error if it has no random bytes (there is no weaker fallback).
    pub fn random(len: usize) -> io::Result<AuthKey> {
        let mut key = AuthKey(vec![0u8; len]);
        mp_sys::random::fill(&mut key.0)?;
        Ok(key)
    }

    /// Whether `text` shows this key: its first bytes (up to four) as a
    /// run of decimal numbers with any separators between them (as
    /// `Vec<u8>`'s `{:?}` and `{:#?}` print bytes) or as hex digits. For
    /// tests that check that no output of a type holding a key shows it.
    ///
    /// ```
    /// use mp_wire::AuthKey;
    ///
    /// let key = AuthKey::from(vec![0xa5, 0x5a, 0xc3, 0x3c, 7]);
    /// assert!(key.is_shown_in(&format!("{:#?}", key.to_vec())));
    /// assert!(key.is_shown_in("key=A55AC33C07"));
    /// assert!(!key.is_shown_in(&format!("{key:?}")));
    /// ```
    pub fn is_shown_in(&self, text: &str) -> bool {
        let head = &self.0[..self.0.len().min(4)];
        if head.is_empty() {
            return false;
        }
        let numbers: Vec<u32> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        let decimal = numbers
            .windows(head.len())
            .any(|w| w.iter().zip(head).all(|(&n, &b)| n == u32::from(b)));
        let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
        decimal || text.to_ascii_lowercase().contains(&hex)
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

impl PartialEq for AuthKey {
    fn eq(&self, other: &AuthKey) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .fold(0u8, |d, (a, b)| d | (a ^ b))
                == 0
    }
}

impl Eq for AuthKey {}

impl Hash for AuthKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
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

    #[test]
    fn equal_bytes_are_equal_keys() {
        assert_eq!(AuthKey::from(&b"k1"[..]), AuthKey::from(b"k1".to_vec()));
        assert_ne!(AuthKey::from(&b"k1"[..]), AuthKey::from(&b"k2"[..]));
        assert_ne!(AuthKey::from(&b"k1"[..]), AuthKey::from(&b"k1x"[..]));
        let random = AuthKey::random(32).unwrap();
        assert_eq!(random.as_bytes().len(), 32);
        assert_ne!(random, AuthKey::random(32).unwrap());
    }
}
