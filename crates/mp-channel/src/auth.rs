//! The authkey handshake: a mutual HMAC-SHA256 challenge–response, as
//! Python 3.12's `deliver_challenge` / `answer_challenge`.
//!
//! One direction goes:
//!
//! | step | from | message |
//! |------|------|---------|
//! | 1 | challenger | `#CHALLENGE#{sha256}` + 40 fresh random bytes (`getrandom`) |
//! | 2 | responder | `{sha256}` + HMAC-SHA256(authkey, the whole step-1 message) |
//! | 3 | challenger | `#WELCOME#` if the digest verifies (constant-time), else `#FAILURE#` |
//!
//! The server challenges first, then answers the client's challenge, so
//! each side proves it knows the key without sending it. Every handshake
//! message is at most 256 bytes; anything longer or shaped differently is a
//! protocol error, and nothing but handshake messages is read before both
//! directions succeed.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::connection::Connection;
use crate::error::AuthenticationError;
use crate::reader::Deadline;

/// Starts a challenge.
const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// Names the digest, in challenges and in answers.
const DIGEST: &[u8] = b"{sha256}";
/// Accepts an answer.
const WELCOME: &[u8] = b"#WELCOME#";
/// Rejects an answer.
const FAILURE: &[u8] = b"#FAILURE#";
/// Random bytes in a challenge.
const NONCE_LEN: usize = 40;
/// Fewest random bytes accepted in a peer's challenge.
const MIN_NONCE_LEN: usize = 20;
/// Longest handshake message accepted.
const MAX_MESSAGE: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// The HMAC-SHA256 of `message` under `authkey`, ready to finish.
fn mac(authkey: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(authkey).expect("HMAC takes any key length");
    mac.update(message);
    mac
}

/// Receives one handshake message before `deadline`.
fn recv(conn: &Connection, deadline: Deadline) -> Result<Vec<u8>, AuthenticationError> {
    match deadline.remaining() {
        None => conn.recv_bytes(Some(MAX_MESSAGE)),
        Some(left) => conn.recv_bytes_timeout(Some(MAX_MESSAGE), left),
    }
    .map_err(AuthenticationError::Recv)
}

/// Sends one handshake message.
fn send(conn: &Connection, bytes: &[u8]) -> Result<(), AuthenticationError> {
    conn.send_bytes(bytes).map_err(AuthenticationError::Send)
}

/// Challenges the peer to prove it knows `authkey` (Python's
/// `deliver_challenge`), waiting at most `timeout` for its answer.
///
/// # Errors
/// [`AuthenticationError::DigestWrong`] if the answer is wrong (the peer is
/// told `#FAILURE#`); protocol, send and receive errors.
pub fn deliver_challenge(
    conn: &Connection,
    authkey: &[u8],
    timeout: Option<Duration>,
) -> Result<(), AuthenticationError> {
    let deadline = Deadline::after(timeout);
    let mut nonce = [0u8; NONCE_LEN];
    mp_sys::random::fill(&mut nonce).map_err(|e| {
        AuthenticationError::Protocol(format!("cannot get random bytes for a challenge: {e}"))
    })?;
    let message = [CHALLENGE, DIGEST, &nonce[..]].concat();
    send(conn, &message)?;
    let answer = recv(conn, deadline)?;
    let verified = answer
        .strip_prefix(DIGEST)
        .is_some_and(|digest| mac(authkey, &message).verify_slice(digest).is_ok());
    if verified {
        send(conn, WELCOME)
    } else {
        // Best effort: the peer learns why before we hang up.
        let _ = send(conn, FAILURE);
        Err(AuthenticationError::DigestWrong)
    }
}

/// Answers the peer's challenge with `authkey` (Python's `answer_challenge`),
/// waiting at most `timeout` for each of its messages.
///
/// # Errors
/// [`AuthenticationError::DigestRejected`] if the peer refused the answer;
/// protocol, send and receive errors.
pub fn answer_challenge(
    conn: &Connection,
    authkey: &[u8],
    timeout: Option<Duration>,
) -> Result<(), AuthenticationError> {
    let deadline = Deadline::after(timeout);
    let message = recv(conn, deadline)?;
    let Some(rest) = message.strip_prefix(CHALLENGE) else {
        return Err(AuthenticationError::Protocol(
            "expected a challenge message".into(),
        ));
    };
    let Some(nonce) = rest.strip_prefix(DIGEST) else {
        return Err(AuthenticationError::Protocol(
            "challenge names an unsupported digest (only sha256 is accepted)".into(),
        ));
    };
    if nonce.len() < MIN_NONCE_LEN {
        return Err(AuthenticationError::Protocol(format!(
            "challenge has {} random bytes, fewer than {MIN_NONCE_LEN}",
            nonce.len()
        )));
    }
    let digest = mac(authkey, &message).finalize().into_bytes();
    send(conn, &[DIGEST, &digest[..]].concat())?;
    match recv(conn, deadline)?.as_slice() {
        WELCOME => Ok(()),
        FAILURE => Err(AuthenticationError::DigestRejected),
        _ => Err(AuthenticationError::Protocol(
            "expected a welcome or failure message".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn handshake(server_key: &'static [u8], client_key: &'static [u8]) -> (String, String) {
        let (s, c) = crate::pipe(true).unwrap();
        let t = Some(Duration::from_secs(10));
        let server = thread::spawn(move || {
            deliver_challenge(&s, server_key, t).and_then(|()| answer_challenge(&s, server_key, t))
        });
        let client =
            answer_challenge(&c, client_key, t).and_then(|()| deliver_challenge(&c, client_key, t));
        let fmt =
            |r: Result<(), AuthenticationError>| r.map_or_else(|e| e.to_string(), |()| "ok".into());
        (fmt(server.join().unwrap()), fmt(client))
    }

    #[test]
    fn same_key_passes_both_ways() {
        assert_eq!(handshake(b"secret", b"secret"), ("ok".into(), "ok".into()));
        assert_eq!(handshake(b"", b""), ("ok".into(), "ok".into()));
    }

    #[test]
    fn wrong_key_fails_on_both_sides_with_python_messages() {
        assert_eq!(
            handshake(b"secret", b"guess"),
            (
                "digest received was wrong".into(),
                "digest sent was rejected".into()
            )
        );
    }

    #[test]
    fn garbage_instead_of_a_challenge_is_a_protocol_error() {
        let (a, b) = crate::pipe(true).unwrap();
        a.send_bytes(b"#CHALLENGE#{md5}0123456789012345678901234")
            .unwrap();
        let err = answer_challenge(&b, b"k", Some(Duration::from_secs(5))).unwrap_err();
        assert!(matches!(err, AuthenticationError::Protocol(_)), "{err}");
        a.send_bytes(&[b'x'; 300]).unwrap();
        let err = answer_challenge(&b, b"k", Some(Duration::from_secs(5))).unwrap_err();
        assert!(
            matches!(
                err,
                AuthenticationError::Recv(crate::RecvError::TooLarge { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn silent_peer_times_out() {
        let (_a, b) = crate::pipe(true).unwrap();
        let err = answer_challenge(&b, b"k", Some(Duration::from_millis(50))).unwrap_err();
        assert!(matches!(
            err,
            AuthenticationError::Recv(crate::RecvError::Timeout)
        ));
    }
}
