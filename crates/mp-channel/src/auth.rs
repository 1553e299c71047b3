//! The authkey handshake: a mutual HMAC challenge–response, byte for byte
//! CPython 3.12's `deliver_challenge` / `answer_challenge`, so a
//! `multiprocessing.connection` peer (3.12 and later, or an older one in its
//! legacy mode) can authenticate with us in either role.
//!
//! One direction goes:
//!
//! | step | from | message |
//! |------|------|---------|
//! | 1 | challenger | `#CHALLENGE#` + `{sha256}` + 40 fresh random bytes (`mp_sys::random`) |
//! | 2 | responder | `{sha256}` + HMAC-SHA256(authkey, step 1 without `#CHALLENGE#`) |
//! | 3 | challenger | `#WELCOME#` if the digest verifies (constant-time), else `#FAILURE#` |
//!
//! The MAC covers the `{sha256}` tag, so a responder cannot pick a weaker
//! digest than the challenge names. The server challenges first, then
//! answers the client's challenge, so each side proves it knows the key
//! without sending it.
//!
//! Each message travels in CPython's framing (a 4-byte big-endian length,
//! see [`py_frame`]) on the raw stream, before the
//! connection's first `mp_wire` frame; at most 256 bytes are accepted, and
//! nothing but handshake messages is read before both directions succeed.
//!
//! # Legacy peers
//! As CPython 3.12 does, we accept the legacy form of Python 3.11 and
//! earlier: a 20-byte challenge without a digest tag is answered with the
//! raw 16-byte HMAC-MD5 of it, and a raw 16-byte answer to our challenge is
//! checked as HMAC-MD5 of our challenge (tag included). We always challenge
//! with `{sha256}`. Of CPython's other digests, `{md5}` is accepted too;
//! `{sha384}` and the `sha3` ones are refused with a protocol error.

use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::Sha256;

use crate::connection::Connection;
use crate::error::AuthenticationError;
use crate::py_frame::{self, PyFrameReader};
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
/// Length of a legacy (untagged, HMAC-MD5) challenge, and the fewest bytes
/// accepted after `#CHALLENGE#`.
const LEGACY_CHALLENGE_LEN: usize = 20;
/// Length of a legacy answer: a raw HMAC-MD5.
const LEGACY_ANSWER_LEN: usize = 16;
/// Longest digest name CPython looks for between `{` and `}`.
const MAX_DIGEST_NAME: usize = 8;
/// Longest handshake message accepted.
const MAX_MESSAGE: usize = 256;

/// The digests a peer may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Md5,
    Sha256,
}

impl Digest {
    /// The HMAC of `message` under `authkey`.
    fn mac(self, authkey: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Digest::Md5 => keyed::<Hmac<Md5>>(authkey, message)
                .finalize()
                .into_bytes()
                .to_vec(),
            Digest::Sha256 => keyed::<Hmac<Sha256>>(authkey, message)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// Whether `tag` is the HMAC of `message` under `authkey` (compared in
    /// constant time; a wrong length is simply wrong).
    fn verify(self, authkey: &[u8], message: &[u8], tag: &[u8]) -> bool {
        match self {
            Digest::Md5 => keyed::<Hmac<Md5>>(authkey, message)
                .verify_slice(tag)
                .is_ok(),
            Digest::Sha256 => keyed::<Hmac<Sha256>>(authkey, message)
                .verify_slice(tag)
                .is_ok(),
        }
    }

    /// The tag naming this digest.
    fn tag(self) -> &'static [u8] {
        match self {
            Digest::Md5 => b"{md5}",
            Digest::Sha256 => DIGEST,
        }
    }
}

/// An HMAC of `message` under `authkey`, ready to finish or verify.
fn keyed<M: Mac + hmac::digest::KeyInit>(authkey: &[u8], message: &[u8]) -> M {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <M as Mac>::new_from_slice(authkey).expect("HMAC takes any key length");
    mac.update(message);
    mac
}

/// How a challenge or an answer names its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Python 3.11 and earlier: no tag, HMAC-MD5.
    Legacy,
    /// `{name}` before the payload.
    Tagged(Digest),
}

/// Splits a challenge (without `#CHALLENGE#`) or an answer into its form
/// and payload, as CPython's `_get_digest_name_and_payload`.
fn form_and_payload(message: &[u8]) -> Result<(Form, &[u8]), AuthenticationError> {
    if message.len() == LEGACY_CHALLENGE_LEN || message.len() == LEGACY_ANSWER_LEN {
        return Ok((Form::Legacy, message));
    }
    let name_end = message
        .iter()
        .take(MAX_DIGEST_NAME + 2)
        .position(|&b| b == b'}')
        .filter(|&end| message.first() == Some(&b'{') && end > 1);
    let Some(end) = name_end else {
        return Err(AuthenticationError::Protocol(format!(
            "unsupported message length ({} bytes) or missing digest tag",
            message.len()
        )));
    };
    let digest = match &message[1..end] {
        b"sha256" => Digest::Sha256,
        b"md5" => Digest::Md5,
        other => {
            return Err(AuthenticationError::Protocol(format!(
                "unsupported digest {:?}: only sha256 (and md5) are accepted",
                String::from_utf8_lossy(other)
            )))
        }
    };
    Ok((Form::Tagged(digest), &message[end + 1..]))
}

/// A fresh challenge, without the `#CHALLENGE#` prefix: `{sha256}` + nonce.
fn new_challenge() -> Result<Vec<u8>, AuthenticationError> {
    let mut nonce = [0u8; NONCE_LEN];
    mp_sys::random::fill(&mut nonce).map_err(|e| {
        AuthenticationError::Protocol(format!("cannot get random bytes for a challenge: {e}"))
    })?;
    Ok([DIGEST, &nonce[..]].concat())
}

/// The answer to a challenge message (`#CHALLENGE#` included), as
/// CPython's `_create_response`.
fn respond(authkey: &[u8], message: &[u8]) -> Result<Vec<u8>, AuthenticationError> {
    let Some(challenge) = message.strip_prefix(CHALLENGE) else {
        return Err(AuthenticationError::Protocol(
            "expected a challenge message".into(),
        ));
    };
    if challenge.len() < LEGACY_CHALLENGE_LEN {
        return Err(AuthenticationError::Protocol(format!(
            "challenge too short: {} bytes",
            challenge.len()
        )));
    }
    // The MAC covers the whole challenge, digest tag included.
    Ok(match form_and_payload(challenge)?.0 {
        Form::Legacy => Digest::Md5.mac(authkey, challenge),
        Form::Tagged(digest) => [digest.tag(), &digest.mac(authkey, challenge)].concat(),
    })
}

/// Checks `answer` to our `challenge` (without `#CHALLENGE#`), as CPython's
/// `_verify_challenge`, in constant time.
fn verify(authkey: &[u8], challenge: &[u8], answer: &[u8]) -> Result<(), AuthenticationError> {
    let (form, mac) = form_and_payload(answer)?;
    let digest = match form {
        Form::Legacy => Digest::Md5,
        Form::Tagged(digest) => digest,
    };
    if digest.verify(authkey, challenge, mac) {
        Ok(())
    } else {
        Err(AuthenticationError::DigestWrong)
    }
}

/// Verifies the answer to our challenge and tells the peer the verdict.
fn judge(
    conn: &Connection,
    authkey: &[u8],
    challenge: &[u8],
    answer: &[u8],
    deadline: Deadline,
) -> Result<(), AuthenticationError> {
    match verify(authkey, challenge, answer) {
        Ok(()) => send(conn, WELCOME, deadline),
        Err(e) => {
            // Best effort: the peer learns why before we hang up.
            let _ = send(conn, FAILURE, deadline);
            Err(e)
        }
    }
}

/// Reads the challenger's verdict on our answer.
fn verdict(message: &[u8]) -> Result<(), AuthenticationError> {
    match message {
        WELCOME => Ok(()),
        FAILURE => Err(AuthenticationError::DigestRejected),
        _ => Err(AuthenticationError::Protocol(
            "expected a welcome or failure message".into(),
        )),
    }
}

/// Receives one handshake message before `deadline`.
fn recv(conn: &Connection, deadline: Deadline) -> Result<Vec<u8>, AuthenticationError> {
    let mut reader = PyFrameReader::new();
    match reader.read(conn, MAX_MESSAGE, Some(deadline)) {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(AuthenticationError::Recv(crate::RecvError::Timeout)),
        Err(e) => Err(AuthenticationError::Recv(e)),
    }
}

/// Sends one handshake message.
fn send(conn: &Connection, bytes: &[u8], deadline: Deadline) -> Result<(), AuthenticationError> {
    py_frame::send(conn, bytes, deadline).map_err(AuthenticationError::Send)
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
    let challenge = new_challenge()?;
    send(conn, &[CHALLENGE, &challenge].concat(), deadline)?;
    let answer = recv(conn, deadline)?;
    judge(conn, authkey, &challenge, &answer, deadline)
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
    send(conn, &respond(authkey, &message)?, deadline)?;
    verdict(&recv(conn, deadline)?)
}

/// The server's side of the handshake (challenge, then answer) as a state
/// machine driven without blocking on the peer, so a listener can run many
/// at once: [`start`](Self::start) sends the challenge,
/// [`advance`](Self::advance) takes whatever has arrived.
#[derive(Debug)]
pub(crate) struct ServerHandshake {
    step: Awaiting,
    reader: PyFrameReader,
    deadline: Deadline,
}

/// What a [`ServerHandshake`] waits for from the client.
#[derive(Debug)]
enum Awaiting {
    /// Our challenge (without `#CHALLENGE#`) is out; waiting for the answer.
    Answer(Vec<u8>),
    /// We welcomed the client; waiting for its challenge.
    Challenge,
    /// Our answer is out; waiting for the verdict.
    Verdict,
}

impl ServerHandshake {
    /// Sends our challenge on `conn`; the whole handshake must finish by
    /// `deadline`.
    ///
    /// # Errors
    /// Send errors, or no random bytes.
    pub(crate) fn start(
        conn: &Connection,
        deadline: Deadline,
    ) -> Result<ServerHandshake, AuthenticationError> {
        let challenge = new_challenge()?;
        send(conn, &[CHALLENGE, &challenge].concat(), deadline)?;
        Ok(ServerHandshake {
            step: Awaiting::Answer(challenge),
            reader: PyFrameReader::new(),
            deadline,
        })
    }

    /// When the handshake must have finished.
    pub(crate) fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Takes what the client sent without waiting for more, replying as it
    /// goes; `true` once both directions succeeded.
    ///
    /// # Errors
    /// As [`deliver_challenge`] and [`answer_challenge`].
    pub(crate) fn advance(
        &mut self,
        conn: &Connection,
        authkey: &[u8],
    ) -> Result<bool, AuthenticationError> {
        loop {
            let Some(message) = self
                .reader
                .read(conn, MAX_MESSAGE, None)
                .map_err(AuthenticationError::Recv)?
            else {
                return Ok(false);
            };
            self.step = match &self.step {
                Awaiting::Answer(challenge) => {
                    judge(conn, authkey, challenge, &message, self.deadline)?;
                    Awaiting::Challenge
                }
                Awaiting::Challenge => {
                    send(conn, &respond(authkey, &message)?, self.deadline)?;
                    Awaiting::Verdict
                }
                Awaiting::Verdict => return verdict(&message).map(|()| true),
            };
        }
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

    /// Sends `bytes` in CPython's framing, as a Python peer would.
    fn py_send(conn: &Connection, bytes: &[u8]) {
        py_frame::send(conn, bytes, Deadline::NEVER).unwrap();
    }

    #[test]
    fn garbage_instead_of_a_challenge_is_a_protocol_error() {
        let (a, b) = crate::pipe(true).unwrap();
        py_send(&a, b"#CHALLENGE#{sha3_256}012345678901234567890123");
        let err = answer_challenge(&b, b"k", Some(Duration::from_secs(5))).unwrap_err();
        assert!(matches!(err, AuthenticationError::Protocol(_)), "{err}");
        assert!(err.to_string().contains("sha3_256"), "{err}");
        py_send(&a, b"#CHALLENGE#short");
        let err = answer_challenge(&b, b"k", Some(Duration::from_secs(5))).unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
        // Our own frame layout is not the handshake's framing, and more than
        // 256 bytes is refused unread: both read as a too-long message.
        let too_long: [&dyn Fn(&Connection); 2] = [
            &|a| {
                a.send_bytes(b"#CHALLENGE#{sha256}0123456789012345678901234")
                    .unwrap()
            },
            &|a| py_send(a, &[b'x'; 300]),
        ];
        for send in too_long {
            let (a, b) = crate::pipe(true).unwrap();
            send(&a);
            let err = answer_challenge(&b, b"k", Some(Duration::from_secs(5))).unwrap_err();
            assert!(
                matches!(
                    err,
                    AuthenticationError::Recv(crate::RecvError::TooLarge { .. })
                ),
                "{err}"
            );
        }
    }

    /// The bytes CPython 3.12 computes: the MAC covers the challenge without
    /// `#CHALLENGE#` but with its tag, and a 20-byte untagged challenge gets
    /// a raw HMAC-MD5 (the HMAC-MD5 itself pinned by RFC 2202's test case 2).
    #[test]
    fn responses_are_cpythons_bytes() {
        let challenge = [b"{sha256}".as_slice(), &[7u8; 40]].concat();
        let answer = respond(b"key", &[CHALLENGE, &challenge].concat()).unwrap();
        let expected = [DIGEST, &Digest::Sha256.mac(b"key", &challenge)].concat();
        assert_eq!(answer, expected);
        assert_eq!(answer.len(), 8 + 32);
        assert!(verify(b"key", &challenge, &answer).is_ok());
        // A legacy (Python <= 3.11) answer to our tagged challenge: raw MD5.
        let legacy = Digest::Md5.mac(b"key", &challenge);
        assert_eq!(legacy.len(), 16);
        assert!(verify(b"key", &challenge, &legacy).is_ok());
        assert!(matches!(
            verify(b"other", &challenge, &legacy),
            Err(AuthenticationError::DigestWrong)
        ));
        // RFC 2202, HMAC-MD5 test case 2.
        assert_eq!(
            Digest::Md5.mac(b"Jefe", b"what do ya want for nothing?"),
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
        // A legacy challenge is 20 untagged bytes, answered untagged.
        let old = respond(b"key", &[CHALLENGE, &[1u8; 20]].concat()).unwrap();
        assert_eq!(old, Digest::Md5.mac(b"key", &[1u8; 20]));
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
