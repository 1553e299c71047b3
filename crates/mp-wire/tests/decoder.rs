//! Property tests of the [`FrameDecoder`] itself, without sockets: frames
//! split at every byte boundary or many per read, truncation anywhere,
//! garbage and lying headers, and fd batches in the right and wrong places,
//! in both reading modes (`spare` and `spare_exact`).

use std::borrow::Cow;
use std::os::fd::OwnedFd;

use mp_wire::{FrameDecoder, FrameEncoder, Limits, Message, WireError};
use proptest::prelude::*;

const HEADER_LEN: usize = 16;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    }
}

fn null_fds(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect()
}

/// What the sender wrote: the bytes, cut into `sendmsg`s at `cuts` (sorted
/// stream offsets), with `fds[k]` fds attached to the `sendmsg` that starts
/// at offset `k`.
struct Wire {
    bytes: Vec<u8>,
    cuts: Vec<usize>,
    fds: Vec<(usize, usize)>,
}

/// Feeds `wire` to a decoder the way Linux hands it to a reader: a read
/// never spans two `sendmsg`s, and a `sendmsg`'s fds come with its first
/// read. `limit` caps each read (on top of the space the decoder offers).
/// Returns the frames decoded and the error that ended the stream.
fn run(wire: &Wire, exact: bool, limit: usize) -> (Vec<Message>, WireError) {
    let limits = Limits {
        max_frame: 1 << 20,
        max_fds: 8,
        ..Limits::default()
    };
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        loop {
            match decoder.next_frame(&limits) {
                Ok(Some(m)) => frames.push(m),
                Ok(None) => break,
                Err(e) => return (frames, e),
            }
            assert!(
                frames.len() <= wire.bytes.len() / HEADER_LEN,
                "frames from nothing"
            );
        }
        let end = wire
            .cuts
            .iter()
            .copied()
            .find(|&c| c > at)
            .unwrap_or(wire.bytes.len());
        let room = if exact {
            decoder.spare_exact()
        } else {
            decoder.spare()
        };
        assert!(!room.is_empty(), "no room to read into");
        let n = room.len().min(end - at).min(limit);
        room[..n].copy_from_slice(&wire.bytes[at..at + n]);
        let fds = match wire.fds.iter().find(|&&(k, _)| k == at) {
            Some(&(_, count)) if n > 0 && (at == 0 || wire.cuts.contains(&at)) => null_fds(count),
            _ => Vec::new(),
        };
        if let Err(e) = decoder.filled(n, fds, false) {
            return (frames, e);
        }
        at += n;
    }
}

/// Frames (payload, fd count) laid out as one stream; returns the bytes and
/// each frame's start offset.
fn layout(frames: &[(Vec<u8>, usize)]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut starts = Vec::new();
    for (payload, fds) in frames {
        starts.push(bytes.len());
        let mut enc = FrameEncoder::new();
        enc.push_header(payload.len(), *fds).unwrap();
        bytes.extend_from_slice(enc.as_bytes());
        bytes.extend_from_slice(payload);
    }
    (bytes, starts)
}

fn frames_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, usize)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..40),
                prop::collection::vec(any::<u8>(), 0..3000),
                // Larger than the decoder's buffer: read into its own allocation.
                (65_520usize..70_000).prop_map(|n| (0..n).map(|i| i as u8).collect()),
            ],
            prop_oneof![Just(0usize), Just(0usize), 1usize..4],
        ),
        0..12,
    )
}

/// The sender's cuts: arbitrary ones, plus a cut at every frame that carries
/// fds (the sender attaches them to the `sendmsg` starting at its header).
fn sender_wire(frames: &[(Vec<u8>, usize)], extra: &[usize]) -> Wire {
    let (bytes, starts) = layout(frames);
    let mut cuts: Vec<usize> = extra
        .iter()
        .map(|c| c % (bytes.len() + 1))
        .filter(|&c| c > 0 && c < bytes.len())
        .collect();
    let mut fds = Vec::new();
    for (start, (_, n)) in starts.iter().zip(frames) {
        if *n > 0 {
            cuts.push(*start);
            fds.push((*start, *n));
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    Wire { bytes, cuts, fds }
}

fn assert_same(got: &[Message], want: &[(Vec<u8>, usize)]) {
    assert_eq!(got.len(), want.len());
    for (m, (payload, fds)) in got.iter().zip(want) {
        assert_eq!(&m.bytes, payload);
        assert_eq!(m.fds.len(), *fds);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frames_survive_any_cuts(
        frames in frames_strategy(),
        extra in prop::collection::vec(any::<usize>(), 0..20),
        exact in any::<bool>(),
        limit in prop_oneof![Just(usize::MAX), 1usize..64],
    ) {
        let wire = sender_wire(&frames, &extra);
        let (got, end) = run(&wire, exact, limit);
        prop_assert!(matches!(end, WireError::Eof), "{end:?}");
        assert_same(&got, &frames);
    }

    #[test]
    fn truncation_anywhere_is_typed(
        frames in frames_strategy(),
        cut in any::<usize>(),
        exact in any::<bool>(),
    ) {
        let mut wire = sender_wire(&frames, &[]);
        let (_, starts) = layout(&frames);
        let t = cut % (wire.bytes.len() + 1);
        wire.bytes.truncate(t);
        wire.cuts.retain(|&c| c < t);
        wire.fds.retain(|&(k, _)| k < t);
        let (got, end) = run(&wire, exact, usize::MAX);
        let whole = starts.iter().zip(&frames)
            .take_while(|(s, (p, _))| *s + HEADER_LEN + p.len() <= t)
            .count();
        assert_same(&got, &frames[..whole]);
        match end {
            WireError::Eof => prop_assert!(whole == frames.len() || starts[whole] == t),
            WireError::Truncated { expected, got } => {
                let start = starts[whole];
                prop_assert_eq!(got as usize, t - start);
                let header_done = t - start >= HEADER_LEN;
                let full = HEADER_LEN + frames[whole].0.len();
                prop_assert_eq!(expected as usize, if header_done { full } else { HEADER_LEN });
            }
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn misplaced_fds_are_malformed(
        frames in frames_strategy().prop_filter("some frames", |f| !f.is_empty()),
        which in any::<usize>(),
        at in any::<usize>(),
        extra in prop::collection::vec(any::<usize>(), 0..6),
        exact in any::<bool>(),
    ) {
        // Frame `j` declares 2 fds; the sender attaches them at `p`.
        let mut frames: Vec<(Vec<u8>, usize)> = frames.into_iter().map(|(b, _)| (b, 0)).collect();
        let j = which % frames.len();
        frames[j].1 = 2;
        let (bytes, starts) = layout(&frames);
        let p = at % bytes.len();
        let mut cuts: Vec<usize> = extra.iter().map(|c| c % bytes.len()).filter(|&c| c > 0).collect();
        if p > 0 {
            cuts.push(p);
        }
        cuts.sort_unstable();
        cuts.dedup();
        let seg_end = cuts.iter().copied().find(|&c| c > p).unwrap_or(bytes.len());
        let wire = Wire { bytes, cuts, fds: vec![(p, 2)] };
        let (got, end) = run(&wire, exact, usize::MAX);
        if p == starts[j] {
            prop_assert!(matches!(end, WireError::Eof), "{end:?}");
            assert_same(&got, &frames);
        } else if !(p <= starts[j] && starts[j] < seg_end) {
            prop_assert!(matches!(end, WireError::Malformed(_)), "{end:?}");
            prop_assert!(got.len() <= j + 1);
        } else {
            // The batch's read may or may not reach the header: either way typed.
            prop_assert!(matches!(end, WireError::Eof | WireError::Malformed(_)), "{end:?}");
        }
    }

    #[test]
    fn garbage_gives_typed_errors(
        magic in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..600),
        extra in prop::collection::vec(any::<usize>(), 0..8),
        fds in prop::collection::vec((any::<usize>(), 1usize..12), 0..3),
        exact in any::<bool>(),
    ) {
        let mut bytes = if magic { b"MPW\x01".to_vec() } else { Vec::new() };
        bytes.extend(tail);
        let len = bytes.len().max(1);
        let mut cuts: Vec<usize> = extra.iter().map(|c| c % len).filter(|&c| c > 0).collect();
        let fds: Vec<(usize, usize)> = fds.into_iter().map(|(k, n)| (k % len, n)).collect();
        cuts.extend(fds.iter().map(|&(k, _)| k).filter(|&k| k > 0));
        cuts.sort_unstable();
        cuts.dedup();
        let wire = Wire { bytes, cuts, fds };
        let (_, end) = run(&wire, exact, usize::MAX);
        prop_assert!(matches!(
            end,
            WireError::Eof | WireError::Truncated { .. } | WireError::Malformed(_)
                | WireError::TooLarge { .. } | WireError::TooManyFds { .. }
        ), "{end:?}");
    }

    #[test]
    fn lying_headers_give_typed_errors(
        len in prop_oneof![0u64..64, any::<u64>()],
        count in prop_oneof![0u32..4, any::<u32>()],
        body in prop::collection::vec(any::<u8>(), 0..80),
        fds in 0usize..12,
        exact in any::<bool>(),
    ) {
        let mut bytes = b"MPW\x01".to_vec();
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend(body);
        let wire = Wire { bytes, cuts: Vec::new(), fds: vec![(0, fds)] };
        let (got, end) = run(&wire, exact, usize::MAX);
        prop_assert!(got.len() <= 1);
        prop_assert!(!matches!(end, WireError::Io(_) | WireError::Timeout), "{end:?}");
    }
}

#[test]
fn a_lying_length_costs_little_memory() {
    let mut enc = FrameEncoder::new();
    enc.push_header(1 << 29, 0).unwrap();
    let mut d = FrameDecoder::new();
    let room = d.spare();
    room[..HEADER_LEN].copy_from_slice(enc.as_bytes());
    d.filled(HEADER_LEN, Vec::new(), false).unwrap();
    assert!(d.next_frame(&Limits::default()).unwrap().is_none());
    assert!(d.has_partial());
    assert!(d.spare().len() <= 256 * 1024, "{}", d.spare().len());
    match d.filled(0, Vec::new(), false) {
        Err(WireError::Truncated { expected, got: 16 }) => assert_eq!(expected, 16 + (1 << 29)),
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn spare_exact_never_offers_the_next_frame() {
    let mut enc = FrameEncoder::new();
    enc.push(&Message::from_bytes(vec![1; 10])).unwrap();
    let mut d = FrameDecoder::new();
    assert_eq!(d.spare_exact().len(), HEADER_LEN);
    d.spare_exact()
        .copy_from_slice(&enc.as_bytes()[..HEADER_LEN]);
    d.filled(HEADER_LEN, Vec::new(), false).unwrap();
    assert!(d.next_frame(&Limits::default()).unwrap().is_none());
    assert_eq!(d.spare_exact().len(), 10);
    d.spare_exact()
        .copy_from_slice(&enc.as_bytes()[HEADER_LEN..]);
    d.filled(10, Vec::new(), false).unwrap();
    assert_eq!(
        d.next_frame(&Limits::default()).unwrap().unwrap().bytes,
        [1; 10]
    );
    assert!(!d.has_buffered());
}

/// Feeds all of `bytes` (with `fds` on the first read) to `d`, taking
/// frames with `next_frame_map` as they complete: for each, whether it was
/// lent from the read buffer, its payload and its fd count.
fn lend_all(
    d: &mut FrameDecoder,
    bytes: &[u8],
    mut fds: Vec<OwnedFd>,
) -> Vec<(bool, Vec<u8>, usize)> {
    let limits = Limits {
        max_frame: 1 << 20,
        max_fds: 8,
        ..Limits::default()
    };
    let mut got = Vec::new();
    let mut at = 0;
    loop {
        while let Some(frame) = d
            .next_frame_map(&limits, None, |f| {
                (
                    matches!(f.bytes, Cow::Borrowed(_)),
                    f.bytes.to_vec(),
                    f.fds.len(),
                )
            })
            .unwrap()
        {
            got.push(frame);
        }
        if at == bytes.len() {
            return got;
        }
        let room = d.spare();
        let n = room.len().min(bytes.len() - at);
        room[..n].copy_from_slice(&bytes[at..at + n]);
        d.filled(n, std::mem::take(&mut fds), false).unwrap();
        at += n;
    }
}

#[test]
fn a_frame_in_the_read_buffer_is_lent_and_a_large_one_handed_over() {
    let small = vec![3u8; 100];
    let large = vec![9u8; 200_000];
    let mut enc = FrameEncoder::new();
    let mut with_fds = Message::from_bytes(small.clone());
    with_fds.fds = null_fds(2);
    enc.push(&with_fds).unwrap();
    enc.push(&Message::from_bytes(large.clone())).unwrap();
    enc.push(&Message::from_bytes(small.clone())).unwrap();
    let mut d = FrameDecoder::new();
    let got = lend_all(&mut d, enc.as_bytes(), null_fds(2));
    assert_eq!(
        got,
        [
            (true, small.clone(), 2),
            (false, large, 0),
            (true, small, 0)
        ]
    );
    assert!(!d.has_buffered());
}

#[test]
fn a_bad_header_is_an_error_and_nothing_is_lent() {
    let mut bytes = vec![0xAB; HEADER_LEN + 4];
    bytes[HEADER_LEN..].copy_from_slice(b"junk");
    let mut d = FrameDecoder::new();
    d.spare()[..bytes.len()].copy_from_slice(&bytes);
    d.filled(bytes.len(), Vec::new(), false).unwrap();
    let mut called = false;
    let r = d.next_frame_map(&Limits::default(), None, |_| called = true);
    assert!(matches!(r, Err(WireError::Malformed(_))), "{r:?}");
    assert!(!called);
}

#[test]
fn more_fds_than_a_frame_declares_is_malformed() {
    let mut enc = FrameEncoder::new();
    enc.push(&Message::from_bytes(vec![7])).unwrap();
    let mut d = FrameDecoder::new();
    d.spare()[..enc.len()].copy_from_slice(enc.as_bytes());
    d.filled(enc.len(), null_fds(1), false).unwrap();
    assert!(matches!(
        d.next_frame(&Limits::default()),
        Err(WireError::Malformed(_))
    ));
    let mut enc = FrameEncoder::new();
    enc.push_header(0, 1).unwrap();
    let mut d = FrameDecoder::new();
    d.spare()[..enc.len()].copy_from_slice(enc.as_bytes());
    d.filled(enc.len(), null_fds(1), true).unwrap();
    assert!(matches!(
        d.next_frame(&Limits::default()),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn the_read_buffer_starts_at_a_page_and_doubles_when_reads_fill_it() {
    let mut d = FrameDecoder::new();
    assert_eq!(d.spare().len(), 4096);
    // Whole frames of 100 bytes' payload, as many as each read is offered.
    let mut enc = FrameEncoder::new();
    for _ in 0..2000 {
        enc.push(&Message::from_bytes(vec![9; 100])).unwrap();
    }
    let stream = enc.as_bytes().to_vec();
    let mut at = 0;
    let mut offered = Vec::new();
    let mut frames = 0;
    while at < stream.len() {
        while d.next_frame(&Limits::default()).unwrap().is_some() {
            frames += 1;
        }
        let room = d.spare();
        offered.push(room.len());
        let n = room.len().min(stream.len() - at);
        room[..n].copy_from_slice(&stream[at..at + n]);
        at += n;
        d.filled(n, Vec::new(), false).unwrap();
    }
    while d.next_frame(&Limits::default()).unwrap().is_some() {
        frames += 1;
    }
    assert_eq!(frames, 2000);
    // Each full read doubled the offer until it reached 64 KiB (the part of
    // a frame left over from the previous read takes a little of it).
    assert!(offered[1] > 4096 && offered[1] <= 8192, "{offered:?}");
    assert!(offered.iter().all(|&n| n <= 64 * 1024), "{offered:?}");
    assert!(offered.iter().any(|&n| n > 60 * 1024), "{offered:?}");
}

#[test]
fn a_stream_of_small_reads_keeps_the_buffer_at_a_page() {
    let mut d = FrameDecoder::new();
    let mut enc = FrameEncoder::new();
    enc.push(&Message::from_bytes(vec![1; 50])).unwrap();
    let frame = enc.as_bytes().to_vec();
    for _ in 0..100 {
        let room = d.spare();
        assert_eq!(room.len(), 4096);
        room[..frame.len()].copy_from_slice(&frame);
        d.filled(frame.len(), Vec::new(), false).unwrap();
        assert!(d.next_frame(&Limits::default()).unwrap().is_some());
    }
}
