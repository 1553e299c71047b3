//! The 16-byte frame header: writing one, and checking one against the
//! magic and the [`Limits`] (layout in the [`frame`](crate::frame) module).

use crate::error::WireError;
use crate::limits::{Limits, MAX_FDS_PER_FRAME};

/// The first four bytes of every frame: protocol name and version 1.
pub(crate) const MAGIC: [u8; 4] = *b"MPW\x01";

/// Length of a frame header in bytes.
pub(crate) const HEADER_LEN: usize = 16;

/// The header for a payload of `len` bytes carrying `fds` fds.
pub(crate) fn encode_header(len: u64, fds: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4..12].copy_from_slice(&len.to_le_bytes());
    header[12..].copy_from_slice(&fds.to_le_bytes());
    header
}

/// Checks a frame header against the magic and `limits` and returns (payload
/// length, fd count): [`WireError::Malformed`] for a wrong magic,
/// [`WireError::TooManyFds`] or [`WireError::TooLarge`] past the limits.
pub(crate) fn check_header(
    header: &[u8; HEADER_LEN],
    limits: &Limits,
) -> Result<(usize, usize), WireError> {
    let (len, count) = decode_header(header)?;
    let max_fds = limits.max_fds.min(MAX_FDS_PER_FRAME);
    if count as usize > max_fds {
        return Err(WireError::TooManyFds {
            count: count.into(),
            max: max_fds,
        });
    }
    if len > limits.max_frame as u64 {
        return Err(WireError::TooLarge {
            len,
            max: limits.max_frame,
        });
    }
    Ok((len as usize, count as usize))
}

/// Checks the magic and returns (payload length, fd count).
fn decode_header(header: &[u8; HEADER_LEN]) -> Result<(u64, u32), WireError> {
    let (magic, rest) = header.split_at(4);
    if magic != MAGIC {
        return Err(WireError::Malformed(format!(
            "bad magic {magic:02x?}, expected {MAGIC:02x?} (not an mp-wire stream, or out of step)"
        )));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&rest[..8]);
    let mut count = [0u8; 4];
    count.copy_from_slice(&rest[8..]);
    Ok((u64::from_le_bytes(len), u32::from_le_bytes(count)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let header = encode_header(0x0102_0304_0506_0708, 3);
        assert_eq!(&header[..4], b"MPW\x01");
        assert_eq!(decode_header(&header).unwrap(), (0x0102_0304_0506_0708, 3));
    }

    #[test]
    fn other_versions_are_malformed() {
        let mut header = encode_header(1, 0);
        header[3] = 2;
        assert!(matches!(
            decode_header(&header),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn limits_are_checked() {
        let limits = Limits {
            max_frame: 10,
            max_fds: 2,
            ..Limits::default()
        };
        assert_eq!(
            check_header(&encode_header(10, 2), &limits).unwrap(),
            (10, 2)
        );
        assert!(matches!(
            check_header(&encode_header(11, 0), &limits),
            Err(WireError::TooLarge { len: 11, max: 10 })
        ));
        assert!(matches!(
            check_header(&encode_header(0, 3), &limits),
            Err(WireError::TooManyFds { count: 3, max: 2 })
        ));
    }
}
