//! The resource tracker's wire format: one message per `register` or
//! `unregister`, small enough that one `send` writes it whole.
//!
//! `[op: b'R' | b'U'] [creator: u64 LE, ProcessIdent bits] [len: u8] [name]`
//!
//! A name is at most [`MAX_NAME`] bytes of UTF-8 (`NAME_MAX`; `shm_open`
//! refuses longer names anyway), so a message is at most 265 bytes: one
//! socket buffer, never split between writers sharing the socket.

use std::fmt;

/// The longest name a message carries (`NAME_MAX`).
pub(crate) const MAX_NAME: usize = 255;
const HEADER: usize = 1 + 8 + 1;

/// What a message asks the tracker to do with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Unlink the name if its creator ends without unregistering it.
    Register,
    /// Forget the name: it was unlinked or handed over.
    Unregister,
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) op: Op,
    /// The sender's [`ProcessIdent`](crate::ProcessIdent) bits.
    pub(crate) creator: u64,
    pub(crate) name: String,
}

/// Bytes that are not a message: the stream can no longer be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed resource tracker message: {}", self.0)
    }
}

/// Encodes one message, or `None` if the name is too long to track.
pub(crate) fn encode(op: Op, creator: u64, name: &str) -> Option<Vec<u8>> {
    if name.len() > MAX_NAME {
        return None;
    }
    let len = u8::try_from(name.len()).ok()?;
    let mut out = Vec::with_capacity(HEADER + name.len());
    out.push(match op {
        Op::Register => b'R',
        Op::Unregister => b'U',
    });
    out.extend_from_slice(&creator.to_le_bytes());
    out.push(len);
    out.extend_from_slice(name.as_bytes());
    Some(out)
}

/// Decodes the message at the start of `buf`: `Ok(None)` if it is not all
/// there yet, else the message and how many bytes it took.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, Malformed> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    let op = match tag {
        b'R' => Op::Register,
        b'U' => Op::Unregister,
        _ => return Err(Malformed("unknown operation")),
    };
    if buf.len() < HEADER {
        return Ok(None);
    }
    let len = usize::from(buf[HEADER - 1]);
    if buf.len() < HEADER + len {
        return Ok(None);
    }
    let mut creator = [0u8; 8];
    creator.copy_from_slice(&buf[1..9]);
    let name = std::str::from_utf8(&buf[HEADER..HEADER + len])
        .map_err(|_| Malformed("name is not UTF-8"))?;
    if name.is_empty() || name.contains('/') {
        return Err(Malformed("not a shared memory name"));
    }
    Ok(Some((
        Message {
            op,
            creator: u64::from_le_bytes(creator),
            name: name.to_owned(),
        },
        HEADER + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_partial_and_malformed() {
        let a = encode(Op::Register, 42, "mp-1-2-0000000a").unwrap();
        let b = encode(Op::Unregister, 7, "x").unwrap();
        let both = [a.clone(), b].concat();
        let (m, n) = decode(&both).unwrap().unwrap();
        assert_eq!(
            (m.op, m.creator, m.name.as_str(), n),
            (Op::Register, 42, "mp-1-2-0000000a", a.len())
        );
        let (m, _) = decode(&both[n..]).unwrap().unwrap();
        assert_eq!((m.op, m.creator, m.name.as_str()), (Op::Unregister, 7, "x"));
        for cut in 0..a.len() {
            assert_eq!(decode(&a[..cut]), Ok(None), "{cut}");
        }
        assert!(encode(Op::Register, 1, &"n".repeat(MAX_NAME + 1)).is_none());
        assert!(decode(b"X").is_err());
        let mut bad = encode(Op::Register, 1, "a/b").unwrap();
        assert!(decode(&bad).is_err());
        bad = encode(Op::Register, 1, "ab").unwrap();
        bad[10] = 0xff;
        assert!(decode(&bad).is_err());
        assert!(decode(&encode(Op::Register, 1, "").unwrap()).is_err());
    }
}
