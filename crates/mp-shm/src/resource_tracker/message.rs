//! The resource tracker's socket messages. Names go through the shared
//! [table](super::table); the socket only tells the tracker which processes
//! to watch, once per process: `[b'W'] [creator: u64 LE, ProcessIdent bits]`.

use std::fmt;

/// The length of one message.
pub(crate) const WATCH_LEN: usize = 9;

/// Bytes that are not a message: the stream can no longer be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed resource tracker message")
    }
}

/// "Watch process `creator`".
pub(crate) fn encode_watch(creator: u64) -> [u8; WATCH_LEN] {
    let mut out = [0u8; WATCH_LEN];
    out[0] = b'W';
    out[1..].copy_from_slice(&creator.to_le_bytes());
    out
}

/// Decodes the message at the start of `buf`: `Ok(None)` if it is not all
/// there yet, else the creator to watch.
pub(crate) fn decode_watch(buf: &[u8]) -> Result<Option<u64>, Malformed> {
    match buf.first() {
        None => Ok(None),
        Some(b'W') if buf.len() < WATCH_LEN => Ok(None),
        Some(b'W') => {
            let mut creator = [0u8; 8];
            creator.copy_from_slice(&buf[1..WATCH_LEN]);
            Ok(Some(u64::from_le_bytes(creator)))
        }
        Some(_) => Err(Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_partial_and_malformed() {
        let m = encode_watch(42);
        for cut in 0..WATCH_LEN {
            assert_eq!(decode_watch(&m[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(decode_watch(&[m, encode_watch(7)].concat()), Ok(Some(42)));
        assert_eq!(decode_watch(b"Rxxxxxxxx"), Err(Malformed));
    }
}
