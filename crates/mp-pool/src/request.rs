//! A request on a worker's link, in the fixed layout the parent writes and
//! the worker reads: a kind byte, then for a run the chunk entry's 36 bytes
//! and the task to start from, the rare parts if any, and the inputs' bytes
//! to the end of the message.
//!
//! ```text
//! run:            0 | entry (36) | skip (u64 LE) | inputs…
//! run, rare part: 1 | entry (36) | skip (u64 LE) | n (u32 LE) | rare (n, mp-wire) | inputs…
//! exit:           2
//! ```
//!
//! Every chunk an `apply` or a `map` hands out is one such request, so its
//! form is on the pool's shortest path: as a serde enum through mp-wire's
//! decoder it cost the worker about 340 instructions a request and the
//! parent about 180 (`valgrind --tool=callgrind`, docs/performance.md).
//! The rare part (the fds the inputs carry, the tasks not to run) keeps
//! mp-wire's encoding, fds included; the inputs stay where they are read,
//! so the worker's trampoline decodes them in place.

use std::fmt;
use std::ops::Range;
use std::os::fd::OwnedFd;

use mp_wire::{DecodeError, EncodeError, Message, SharedFd};
use serde::{Deserialize, Serialize};

use crate::func::EntryParts;
use crate::TaskError;

/// The kind byte of a run without rare parts.
const RUN: u8 = 0;
/// The kind byte of a run with rare parts.
const RUN_RARE: u8 = 1;
/// The kind byte of an exit request.
const EXIT: u8 = 2;

/// The entry's bytes: offset and tag little-endian, then the build-id.
const ENTRY_LEN: usize = 8 + 8 + 20;
/// Where the entry starts.
const ENTRY_AT: usize = 1;
/// Where `skip` starts.
const SKIP_AT: usize = ENTRY_AT + ENTRY_LEN;
/// Where the rare part's length (or, without one, the inputs) starts.
const AFTER_HEADER: usize = SKIP_AT + 8;

/// What a run request carries beyond its inputs' bytes, as the parent
/// encodes it (borrowing the chunk's).
#[derive(Serialize)]
pub(crate) struct RunRareRef<'a> {
    /// The fds the inputs carry.
    pub(crate) fds: &'a [SharedFd],
    /// See [`RunRare::holes`].
    pub(crate) holes: &'a [(usize, TaskError)],
}

/// What a run request carries beyond its inputs' bytes, as the worker
/// decodes it.
#[derive(Deserialize)]
pub(crate) struct RunRare {
    /// The fds the inputs carry.
    pub(crate) fds: Vec<SharedFd>,
    /// Tasks not to run, with the error each reports instead (they timed
    /// out on an earlier worker).
    pub(crate) holes: Vec<(usize, TaskError)>,
}

/// A request as the worker decodes it.
pub(crate) enum Request {
    /// Run a chunk: the chunk entry, where in the message's bytes its
    /// encoded inputs are, from task `skip` on (the ones before it were
    /// settled when an earlier worker died running this chunk).
    Run {
        entry: EntryParts,
        inputs: Range<usize>,
        skip: usize,
        rare: Option<RunRare>,
    },
    /// Finish and exit with code 0.
    Exit,
}

/// A request the worker cannot read.
#[derive(Debug)]
pub(crate) enum BadRequest {
    /// Shorter than its kind's fixed part.
    Truncated { len: usize },
    /// An unknown kind byte.
    Kind(u8),
    /// Fds beside a request whose kind carries none.
    UnexpectedFds(usize),
    /// A task index past what this platform can count.
    Skip(u64),
    /// The rare part does not decode.
    Rare(DecodeError),
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::Truncated { len } => write!(f, "a request of {len} bytes is truncated"),
            BadRequest::Kind(k) => write!(f, "unknown request kind {k}"),
            BadRequest::UnexpectedFds(n) => write!(f, "{n} fds beside a request without any"),
            BadRequest::Skip(s) => write!(f, "task index {s} out of range"),
            BadRequest::Rare(e) => write!(f, "the request's fds and holes: {e}"),
        }
    }
}

/// Encodes a run request into `buf` (cleared first, so a worker's request
/// buffer is kept from one to the next).
///
/// # Errors
/// The rare part's fds cannot be shared or encoded.
pub(crate) fn encode_run(
    mut buf: Vec<u8>,
    entry: &EntryParts,
    skip: usize,
    rare: Option<RunRareRef<'_>>,
    inputs: &[u8],
) -> Result<Message, EncodeError> {
    buf.clear();
    let rare = rare.map(|r| mp_wire::encode(&r)).transpose()?;
    let rare_len = match &rare {
        Some(r) => 4 + r.bytes.len(),
        None => 0,
    };
    buf.reserve(AFTER_HEADER + rare_len + inputs.len());
    buf.push(if rare.is_some() { RUN_RARE } else { RUN });
    buf.extend_from_slice(&entry_block(entry));
    buf.extend_from_slice(&(skip as u64).to_le_bytes());
    let fds = match rare {
        Some(r) => {
            let n = u32::try_from(r.bytes.len())
                .map_err(|_| EncodeError::Custom("a request's holes exceed 4 GiB".into()))?;
            buf.extend_from_slice(&n.to_le_bytes());
            buf.extend_from_slice(&r.bytes);
            r.fds
        }
        None => Vec::new(),
    };
    buf.extend_from_slice(inputs);
    Ok(Message { bytes: buf, fds })
}

/// The exit request.
pub(crate) fn exit() -> Message {
    Message::from_bytes(vec![EXIT])
}

/// Decodes a request from `bytes` and `fds` (a run's inputs stay in
/// `bytes`, at the range it names).
///
/// # Errors
/// See [`BadRequest`].
pub(crate) fn decode(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<Request, BadRequest> {
    let truncated = || BadRequest::Truncated { len: bytes.len() };
    let (&kind, _) = bytes.split_first().ok_or_else(truncated)?;
    if kind == EXIT {
        return match fds.len() {
            0 => Ok(Request::Exit),
            n => Err(BadRequest::UnexpectedFds(n)),
        };
    }
    if kind != RUN && kind != RUN_RARE {
        return Err(BadRequest::Kind(kind));
    }
    let header = bytes.get(ENTRY_AT..AFTER_HEADER).ok_or_else(truncated)?;
    let (entry, skip) = header.split_at(ENTRY_LEN);
    let entry = entry_parts(entry.try_into().map_err(|_| truncated())?);
    let skip = u64::from_le_bytes(skip.try_into().map_err(|_| truncated())?);
    let skip = usize::try_from(skip).map_err(|_| BadRequest::Skip(skip))?;
    if kind == RUN {
        if !fds.is_empty() {
            return Err(BadRequest::UnexpectedFds(fds.len()));
        }
        return Ok(Request::Run {
            entry,
            inputs: AFTER_HEADER..bytes.len(),
            skip,
            rare: None,
        });
    }
    let len = bytes
        .get(AFTER_HEADER..AFTER_HEADER + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(truncated)? as usize;
    let start = AFTER_HEADER + 4;
    let end = start.checked_add(len).ok_or_else(truncated)?;
    let rare_bytes = bytes.get(start..end).ok_or_else(truncated)?;
    let rare: RunRare = mp_wire::decode_seed(rare_bytes, fds, std::marker::PhantomData)
        .map_err(BadRequest::Rare)?;
    Ok(Request::Run {
        entry,
        inputs: end..bytes.len(),
        skip,
        rare: Some(rare),
    })
}

/// The 36 bytes of an entry on the wire.
fn entry_block(parts: &EntryParts) -> [u8; ENTRY_LEN] {
    let mut block = [0u8; ENTRY_LEN];
    block[..8].copy_from_slice(&parts.0.to_le_bytes());
    block[8..16].copy_from_slice(&parts.1.to_le_bytes());
    block[16..].copy_from_slice(&parts.2);
    block
}

/// An entry from its 36 bytes.
fn entry_parts(block: &[u8; ENTRY_LEN]) -> EntryParts {
    let mut offset = [0u8; 8];
    let mut tag = [0u8; 8];
    let mut binary = [0u8; 20];
    offset.copy_from_slice(&block[..8]);
    tag.copy_from_slice(&block[8..16]);
    binary.copy_from_slice(&block[16..]);
    (i64::from_le_bytes(offset), u64::from_le_bytes(tag), binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: EntryParts = (-5, 0x0102_0304_0506_0708, [9; 20]);

    fn run_parts(req: Request) -> (EntryParts, Range<usize>, usize, Option<RunRare>) {
        match req {
            Request::Run {
                entry,
                inputs,
                skip,
                rare,
            } => (entry, inputs, skip, rare),
            Request::Exit => panic!("not a run"),
        }
    }

    #[test]
    fn a_run_round_trips_with_its_inputs_in_place() {
        let msg = encode_run(vec![7; 100], &ENTRY, 3, None, b"inputs").unwrap();
        assert!(msg.fds.is_empty());
        assert_eq!(msg.bytes.len(), AFTER_HEADER + 6);
        let (entry, inputs, skip, rare) = run_parts(decode(&msg.bytes, msg.fds).unwrap());
        assert_eq!(entry, ENTRY);
        assert_eq!(&msg.bytes[inputs], b"inputs");
        assert_eq!(skip, 3);
        assert!(rare.is_none());
    }

    /// A run request with one fd (of `/dev/null`) and one hole, at `hole`.
    fn with_rare(hole: usize, skip: usize, inputs: &[u8]) -> Message {
        let file = std::fs::File::open("/dev/null").unwrap();
        let fds = [SharedFd::from(OwnedFd::from(file))];
        let holes = [(hole, TaskError::Cancelled)];
        let rare = RunRareRef {
            fds: &fds,
            holes: &holes,
        };
        encode_run(Vec::new(), &ENTRY, skip, Some(rare), inputs).unwrap()
    }

    #[test]
    fn a_run_with_holes_and_fds_round_trips() {
        let msg = with_rare(1, 0, b"xyz");
        assert_eq!(msg.bytes[0], RUN_RARE);
        assert_eq!(msg.fds.len(), 1);
        let (entry, inputs, skip, rare) = run_parts(decode(&msg.bytes, msg.fds).unwrap());
        assert_eq!((entry, skip), (ENTRY, 0));
        assert_eq!(&msg.bytes[inputs], b"xyz");
        let rare = rare.expect("the rare part");
        assert_eq!(rare.fds.len(), 1);
        assert!(matches!(rare.holes[..], [(1, TaskError::Cancelled)]));
    }

    #[test]
    fn exit_round_trips() {
        let msg = exit();
        assert!(matches!(decode(&msg.bytes, msg.fds), Ok(Request::Exit)));
    }

    #[test]
    fn every_cut_of_a_request_is_refused_or_keeps_its_fixed_part() {
        let plain = encode_run(Vec::new(), &ENTRY, 1, None, b"ab").unwrap();
        let rare = with_rare(4, 1, b"ab");
        for cut in 0..AFTER_HEADER {
            assert!(matches!(
                decode(&plain.bytes[..cut], Vec::new()),
                Err(BadRequest::Truncated { .. })
            ));
        }
        // Cut inside the inputs: still a run, with fewer input bytes (the
        // trampoline refuses them).
        let (_, inputs, _, _) =
            run_parts(decode(&plain.bytes[..AFTER_HEADER + 1], Vec::new()).unwrap());
        assert_eq!(inputs.len(), 1);
        let rare_end = rare.bytes.len() - 2;
        for cut in 0..rare_end {
            let fds = rare.fds.iter().map(|fd| fd.try_clone().unwrap()).collect();
            assert!(
                decode(&rare.bytes[..cut], fds).is_err(),
                "a cut at {cut} of {rare_end} decoded"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_decode_or_are_refused_and_name_inputs_within_them() {
        // A fixed xorshift: the same 20,000 byte strings each run, biased
        // toward the kinds that exist so the decoder gets past the first
        // byte.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut runs = 0;
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(kind) = bytes.first_mut() {
                *kind %= 4;
            }
            if let Ok(Request::Run { inputs, .. }) = decode(&bytes, Vec::new()) {
                assert!(bytes.get(inputs).is_some(), "inputs outside {bytes:?}");
                runs += 1;
            }
        }
        assert!(runs > 1000, "only {runs} strings decoded as runs");
    }

    #[test]
    fn odd_requests_are_refused_with_what_is_wrong() {
        assert!(matches!(decode(&[9], Vec::new()), Err(BadRequest::Kind(9))));
        let msg = encode_run(Vec::new(), &ENTRY, 0, None, b"").unwrap();
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        assert!(matches!(
            decode(&msg.bytes, vec![fd]),
            Err(BadRequest::UnexpectedFds(1))
        ));
        let mut huge = msg.bytes.clone();
        huge[0] = RUN_RARE;
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&huge, Vec::new()),
            Err(BadRequest::Truncated { .. })
        ));
        let mut garbage = msg.bytes.clone();
        garbage[0] = RUN_RARE;
        garbage.extend_from_slice(&2u32.to_le_bytes());
        garbage.extend_from_slice(&[0xFF, 0xFF]);
        assert!(matches!(
            decode(&garbage, Vec::new()),
            Err(BadRequest::Rare(_))
        ));
        assert_eq!(BadRequest::Kind(9).to_string(), "unknown request kind 9");
    }
}
