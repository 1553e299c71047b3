//! Connection authentication with a shared key: Python's
//! `deliver_challenge` / `answer_challenge` (an HMAC-SHA256 of a random
//! challenge), run in both directions so each side proves it knows the key.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use hmac::{Hmac, Mac};
use mp_wire::{Limits, Message, WireError};
use sha2::Sha256;

use crate::error::ManagerError;

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";

/// Random bytes per challenge.
const NONCE_LEN: usize = 32;

/// How long one side waits for the other during the handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Frames before authentication are tiny: refuse anything bigger unread.
const HANDSHAKE_LIMITS: Limits = Limits {
    max_frame: 256,
    max_fds: 0,
};

type HmacSha256 = Hmac<Sha256>;

/// A random `u64` from the OS.
pub(crate) fn random_u64() -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(u64::from_le_bytes(b))
}

/// A random `u128` from the OS.
pub(crate) fn random_u128() -> std::io::Result<u128> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(u128::from_le_bytes(b))
}

fn digest(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn send(sock: BorrowedFd<'_>, bytes: Vec<u8>) -> Result<(), WireError> {
    mp_wire::send_timeout(sock, &Message::from_bytes(bytes), Some(HANDSHAKE_TIMEOUT))
}

fn recv(sock: BorrowedFd<'_>) -> Result<Vec<u8>, WireError> {
    Ok(mp_wire::recv(sock, &HANDSHAKE_LIMITS, Some(HANDSHAKE_TIMEOUT))?.bytes)
}

fn wire(e: WireError) -> ManagerError {
    match e {
        WireError::Io(e) => ManagerError::Io(e),
        other => ManagerError::Authentication(format!("handshake failed: {other}")),
    }
}

/// Sends a challenge and checks the answer; tells the peer the verdict.
pub(crate) fn deliver_challenge(sock: BorrowedFd<'_>, key: &[u8]) -> Result<(), ManagerError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce)
        .map_err(|e| ManagerError::Io(std::io::Error::other(e.to_string())))?;
    let mut challenge = CHALLENGE.to_vec();
    challenge.extend_from_slice(&nonce);
    send(sock, challenge.clone()).map_err(wire)?;
    let answer = recv(sock).map_err(wire)?;
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(&challenge);
    if mac.verify_slice(&answer).is_ok() {
        send(sock, WELCOME.to_vec()).map_err(wire)
    } else {
        let _ = send(sock, FAILURE.to_vec());
        Err(ManagerError::Authentication(
            "digest received was wrong".into(),
        ))
    }
}

/// Answers the peer's challenge; fails if the peer rejects the answer.
pub(crate) fn answer_challenge(sock: BorrowedFd<'_>, key: &[u8]) -> Result<(), ManagerError> {
    let challenge = recv(sock).map_err(wire)?;
    if !challenge.starts_with(CHALLENGE) {
        return Err(ManagerError::Authentication(
            "protocol error: expected a challenge".into(),
        ));
    }
    send(sock, digest(key, &challenge)).map_err(wire)?;
    match recv(sock).map_err(wire)?.as_slice() {
        WELCOME => Ok(()),
        _ => Err(ManagerError::Authentication(
            "digest sent was rejected".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn handshake(server_key: &'static [u8], client_key: &'static [u8]) -> (bool, bool) {
        let (a, b) = mp_sys::socket::socketpair().unwrap();
        let t = std::thread::spawn(move || {
            deliver_challenge(a.as_fd(), server_key).is_ok()
                && answer_challenge(a.as_fd(), server_key).is_ok()
        });
        let client = answer_challenge(b.as_fd(), client_key).is_ok()
            && deliver_challenge(b.as_fd(), client_key).is_ok();
        drop(b);
        (t.join().unwrap(), client)
    }

    #[test]
    fn same_key_welcomes_both_ways() {
        assert_eq!(handshake(b"abracadabra", b"abracadabra"), (true, true));
    }

    #[test]
    fn wrong_key_is_rejected() {
        assert_eq!(handshake(b"abracadabra", b"open sesame"), (false, false));
    }
}
