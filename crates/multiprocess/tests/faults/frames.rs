//! Hostile frames for the decoder fuzzing, and the raw writer that sends them
//! on a socket: the frame layout is `b"MPW\x01"`, the payload length (`u64`
//! LE), the fd count (`u32` LE), the payload; fds ride with `SCM_RIGHTS` on
//! the first byte.

use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use proptest::prelude::*;
use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// The frame magic and version.
const MAGIC: &[u8; 4] = b"MPW\x01";

/// A recursive type: `Deeper` nested `depth` times around a `Leaf`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Nest {
    /// The innermost value.
    Leaf,
    /// One more level.
    Deeper(Box<Nest>),
}

/// One hostile input.
#[derive(Debug, Clone)]
pub(crate) enum Case {
    /// A header declaring `len` bytes (far more than follow).
    HugeLength { len: u64 },
    /// A valid frame of `payload`, cut after `cut` bytes.
    Truncated { payload: Vec<u8>, cut: usize },
    /// A header claiming `claimed` fds, none attached.
    MissingFds { claimed: u32, payload: Vec<u8> },
    /// `attached` real fds, the header claiming `claimed`.
    WrongFdCount { attached: usize, claimed: u32 },
    /// A well-formed frame of random bytes.
    Garbage { payload: Vec<u8> },
    /// A `Nest` `depth` levels deep.
    Nested { depth: usize },
    /// Random bytes where the header should be.
    BadHeader { bytes: Vec<u8> },
}

/// Every kind of [`Case`], with sizes small enough to be quick.
pub(crate) fn any_case() -> impl Strategy<Value = Case> {
    let payload = || prop::collection::vec(any::<u8>(), 0..256);
    prop_oneof![
        (1u64 << 31..=u64::MAX).prop_map(|len| Case::HugeLength { len }),
        (payload(), any::<usize>()).prop_map(|(payload, cut)| {
            let cut = cut % (16 + payload.len()).max(1);
            Case::Truncated { payload, cut }
        }),
        (1u32..=u32::MAX, payload())
            .prop_map(|(claimed, payload)| Case::MissingFds { claimed, payload }),
        (1usize..4, 0u32..300)
            .prop_map(|(attached, claimed)| Case::WrongFdCount { attached, claimed }),
        payload().prop_map(|payload| Case::Garbage { payload }),
        (0usize..2000).prop_map(|depth| Case::Nested { depth }),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(|bytes| Case::BadHeader { bytes }),
    ]
}

/// A frame header.
fn header(len: u64, fds: u32) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&fds.to_le_bytes());
    h
}

/// A whole frame without fds.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = header(payload.len() as u64, 0);
    f.extend_from_slice(payload);
    f
}

/// The postcard encoding of a `Nest` `depth` levels deep, written directly
/// (encoding it with serde would itself recurse that deep).
pub(crate) fn nested(depth: usize) -> Vec<u8> {
    let mut p = vec![1u8; depth];
    p.push(0);
    p
}

/// Sends `bytes` with `n` fds (of `/dev/null`) attached to the first byte.
fn send_with_fds(sock: &UnixStream, bytes: &[u8], n: usize) -> std::io::Result<usize> {
    let files: Vec<std::fs::File> = (0..n)
        .map(|_| std::fs::File::open("/dev/null"))
        .collect::<Result<_, _>>()?;
    let fds: Vec<_> = files.iter().map(AsFd::as_fd).collect();
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    Ok(sendmsg(
        sock,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Writes `case` on `sock` and closes it. Write errors are ignored: the
/// receiver may rightly give up and close its end first.
pub(crate) fn send(case: &Case, sock: UnixStream) {
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    let mut s = &sock;
    let _ = match case {
        Case::HugeLength { len } => s.write_all(&header(*len, 0)),
        Case::Truncated { payload, cut } => s.write_all(&frame(payload)[..*cut]),
        Case::MissingFds { claimed, payload } => {
            let mut f = header(payload.len() as u64, *claimed);
            f.extend_from_slice(payload);
            s.write_all(&f)
        }
        Case::WrongFdCount { attached, claimed } => {
            send_with_fds(&sock, &header(0, *claimed), *attached).map(drop)
        }
        Case::Garbage { payload } => s.write_all(&frame(payload)),
        Case::Nested { depth } => s.write_all(&frame(&nested(*depth))),
        Case::BadHeader { bytes } => s.write_all(bytes),
    };
}
