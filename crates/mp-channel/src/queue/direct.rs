//! [`Direct`]: where an unbounded [`Queue`](crate::Queue)'s `put` (and a
//! [`SimpleQueue`](crate::SimpleQueue)'s) encodes an item — the stack
//! for a small one, this thread's encode buffer, and for a large item
//! (from [`LARGE`] bytes of encoding on) straight into the ring, so that
//! its bytes are copied once instead of into the buffer and then again.
//!
//! A small encoding (at most [`SMALL_ITEM`] bytes) stays on the stack:
//! the buffer is taken only when the encoding outgrows that, so a small
//! item's `put` touches no thread-local and writes its record straight
//! from the stack ([`Direct::small_record`]: the encoding lies after room
//! for the record's header, so the record is copied into the ring once;
//! it goes to the buffer after all if it carries fds or cannot be
//! written now).
//!
//! The encoding goes into the buffer next. For a `Queue`'s `put` only
//! (`SimpleQueue`'s passes `may_write = false`): when it is about to pass
//! [`LARGE`] bytes, and the straight write is allowed (nothing this
//! process put waits in its feeder), the writer lock is free, and the ring
//! has room, the sink takes the writer lock, copies what it has into a
//! record begun at `tail`, and writes the rest there as the item's
//! `Serialize` produces it. A ring without room for the bytes known at
//! that point is waited for, holding nothing, about as long as copying
//! them aside would take ([`room_in_time`]): a consumer that keeps
//! up frees it sooner than the copy aside and the feeder's second copy
//! would move the item. At the end the record is published as a whole
//! message, unless one of these says otherwise, in which case the bytes
//! are copied back out into the buffer (the lock released unpublished) and
//! `put` goes on as for any encoded item (buffered for the feeder):
//! - the ring runs out of room before the encoding ends;
//! - the item carries fds (they go out before the record, see `core`);
//! - this process has buffered an item meanwhile: a `Serialize` that puts
//!   on the same queue (its `put` finds the writer lock taken, by us, and
//!   buffers), or another thread's `put`. The item written in place must
//!   then not be published ahead of it: `put` keeps the order in which
//!   items of one process reach the ring, as when the item was encoded
//!   first and written after.
//!
//! While the record is open, the rest of the item's `Serialize` runs
//! holding the writer lock; nothing is published until it returns. A
//! `Serialize` that panics or fails leaves the record unpublished (the
//! lock is released as the sink drops), and a process killed meanwhile
//! leaves it as a dead writer's bytes beyond `tail`, which nobody reads
//! (see `ring`). Other producers of the queue wait for the lock meanwhile
//! (another process's unbounded `put` buffers instead), as they wait for
//! any large item's copy; so a `Serialize` that waits for another
//! producer's item on this queue (a `get` inside it) would wait for ever.

use std::time::Duration;

use mp_wire::{Message, Sink};

use super::core::{Core, Writer};
use super::ring::{copy_short, Wait, LARGE, RECORD_HEADER, SMALL_RECORD};
use crate::deadline::Deadline;
use crate::scratch;

/// The copy rate a full ring's wait for room is measured against: a large
/// item waits for room about as long as copying its bytes aside would
/// take at this rate (8 KiB a microsecond: 128 µs for 1 MiB).
const COPY_BYTES_PER_US: u64 = 8 << 10;

/// A wait for room shorter than this is not made: a sleep and a wake-up
/// cost about as much.
const MIN_ROOM_WAIT: Duration = Duration::from_micros(10);

/// The largest encoding kept on the stack (a record of at most 64 bytes
/// with its header), on `put` and on `get` (`Core::read_item`).
pub(crate) const SMALL_ITEM: usize = SMALL_RECORD - HEADER;

/// Where the encoding starts in [`Direct`]'s stack record.
const HEADER: usize = RECORD_HEADER as usize;

/// `small_len` once the encoding has moved to the buffer (far above
/// [`SMALL_ITEM`], and no append's length can wrap it below).
const SPILLED: usize = usize::MAX / 2;

/// What an encoding that outgrew the stack has: the buffer (and the fds,
/// at the end), and the record open in the ring, if any.
#[derive(Default)]
struct Spilled<'a> {
    msg: Message,
    open: Option<Open<'a>>,
}

/// A record open in the ring: the lock, where it starts, payload bytes
/// written, and payload bytes it can hold.
struct Open<'a> {
    writer: Writer<'a>,
    at: u64,
    len: u64,
    room: u64,
}

/// See the module docs.
pub(crate) struct Direct<'a> {
    core: &'a Core,
    /// The encoding while it is small: `small[HEADER..][..small_len]`
    /// (a record once its header is written in front), or
    /// `small_len == SPILLED` once it is in `spilled`.
    small: [u8; SMALL_RECORD],
    small_len: usize,
    /// The encoding once spilled (`Some` exactly when `small_len ==
    /// SPILLED`), while it is not in the ring. Made by the first spill, so
    /// a small item's `put` neither builds nor drops a buffer or a record.
    spilled: Option<Spilled<'a>>,
    /// Whether the item may go into the ring now.
    may_write: bool,
}

impl<'a> Direct<'a> {
    /// A sink on the stack, then on this thread's encode buffer;
    /// `may_write`: whether the item may be written straight into the ring
    /// (nothing of this process waits in its feeder).
    #[inline]
    pub(crate) fn new(core: &'a Core, may_write: bool) -> Direct<'a> {
        Direct {
            core,
            small: [0; SMALL_RECORD],
            small_len: 0,
            spilled: None,
            may_write,
        }
    }

    /// The whole encoding, if it stayed on the stack (after
    /// [`finish`](Self::finish): then it carries no fds), as a record to
    /// write ([`Ring::push_small`](super::ring::Ring::push_small)): the
    /// stack record, whose encoding starts after room for its header, and
    /// the encoding's length.
    #[inline]
    pub(crate) fn small_record(&mut self) -> Option<(&mut [u8; SMALL_RECORD], usize)> {
        (self.small_len <= SMALL_ITEM).then_some((&mut self.small, self.small_len))
    }

    /// Moves the encoding from the stack into this thread's encode
    /// buffer ([`msg`](Self::msg)).
    #[inline(never)]
    pub(crate) fn spill(&mut self) {
        if let Some(small) = self.small[HEADER..].get(..self.small_len) {
            let mut bytes = scratch::encode_buffer();
            bytes.extend_from_slice(small);
            self.spilled = Some(Spilled {
                msg: Message {
                    bytes,
                    fds: Vec::new(),
                },
                open: None,
            });
            self.small_len = SPILLED;
        }
    }

    /// The encoding (spilled first if it is on the stack) and its fds, as
    /// a message.
    pub(crate) fn msg(&mut self) -> &mut Message {
        &mut self.spilled_mut().msg
    }

    /// The spilled encoding's state (spilling it first).
    fn spilled_mut(&mut self) -> &mut Spilled<'a> {
        self.spill();
        self.spilled.get_or_insert_with(Spilled::default)
    }

    /// Gives a spilled encoding's buffer back to this thread (see
    /// `scratch`); an encoding that stayed on the stack took none.
    #[inline]
    pub(crate) fn recycle(&mut self) {
        if let Some(spilled) = self.spilled.take() {
            scratch::recycle(spilled.msg.bytes);
        }
    }

    /// The record open in the ring, if any.
    #[inline]
    fn open_record(&mut self) -> Option<&mut Open<'a>> {
        self.spilled.as_mut()?.open.as_mut()
    }

    /// After the encoding: publishes the record written in place if it may
    /// (`fds` is empty and `still_may_write()` says nothing of this process
    /// was buffered meanwhile) and returns `true`; otherwise leaves the
    /// whole encoding on the stack ([`small`](Self::small), if it is small
    /// and `fds` is empty) or, with `fds`, in [`msg`](Self::msg).
    #[inline]
    pub(crate) fn finish(
        &mut self,
        fds: Vec<std::os::fd::OwnedFd>,
        still_may_write: impl FnOnce() -> bool,
    ) -> bool {
        if let Some(spilled) = &mut self.spilled {
            if let Some(open) = spilled.open.take() {
                if fds.is_empty() && still_may_write() {
                    open.writer.publish_in_place(open.at, open.len);
                    return true;
                }
                spilled.open = Some(open);
                self.take_back();
            }
        }
        // Moved only if there are some: the move of an empty `Vec` just
        // returned through memory was a store-forwarding stall per item.
        if !fds.is_empty() {
            self.msg().fds = fds;
        }
        false
    }

    /// Opens a record in the ring for an encoding of `bytes.len()` more
    /// bytes than the buffer holds, copying the buffer into it; returns
    /// whether it did (if not, the item stays in the buffer for good).
    #[cold]
    fn open(&mut self, more: usize) -> bool {
        self.may_write = false;
        let core = self.core;
        let spilled = self.spilled_mut();
        if !room_in_time(core, spilled.msg.bytes.len() as u64 + more as u64) {
            return false;
        }
        let Some(writer) = core.try_lock_writer() else {
            return false;
        };
        let ring = writer.ring();
        let Some((at, room)) = ring.in_place_room() else {
            return false;
        };
        let len = spilled.msg.bytes.len() as u64;
        if len + more as u64 > room {
            return false;
        }
        ring.write_payload(at, 0, &spilled.msg.bytes);
        spilled.msg.bytes.clear();
        spilled.open = Some(Open {
            writer,
            at,
            len,
            room,
        });
        true
    }

    /// Copies the open record's bytes back into the buffer and releases the
    /// writer lock without publishing them.
    #[cold]
    fn take_back(&mut self) {
        let Some(Spilled { msg, open }) = &mut self.spilled else {
            return;
        };
        let Some(open) = open.take() else {
            return;
        };
        let bytes = &mut msg.bytes;
        bytes.clear();
        open.writer
            .ring()
            .append_payload(open.at, 0, open.len, bytes);
        self.may_write = false;
    }

    /// Appends to the open record if it has room (looking at the ring's
    /// free space again first if not); returns whether it did.
    #[inline]
    fn append_in_ring(&mut self, bytes: &[u8]) -> bool {
        let Some(open) = self.open_record() else {
            return false;
        };
        let n = bytes.len() as u64;
        if open.len + n > open.room {
            let room = open
                .writer
                .ring()
                .in_place_room()
                .map_or(0, |(_, room)| room);
            if open.len + n > room {
                return false;
            }
            open.room = room;
        }
        open.writer.ring().write_payload(open.at, open.len, bytes);
        open.len += n;
        true
    }
}

/// Whether the ring has room for a record of `payload` bytes written
/// in place: now, or after a wait of about as long as copying them
/// aside would take ([`COPY_BYTES_PER_US`]), holding nothing, on the
/// ring's `space` eventcount (as a bounded `put` waits). The copy aside
/// is what a full ring costs an unbounded `put` otherwise: the item is
/// encoded into the buffer, and copied again into the ring by the next
/// `put` or the feeder thread, so a consumer that frees the room within
/// that time takes the item sooner and with one copy. A ring that stays
/// full (a consumer that is slow or gone) costs the wait once per
/// buffering episode: later `put`s find this one's item buffered and
/// never get here.
fn room_in_time(core: &Core, payload: u64) -> bool {
    if payload > core.max_chunk() {
        // Never in place (see `Ring::in_place_room`).
        return false;
    }
    let ring = &core.ring;
    let need = ring.need(payload);
    if ring.has_room(need) {
        return true;
    }
    let wait = room_wait(payload);
    if wait < MIN_ROOM_WAIT {
        return false;
    }
    let want = Wait::Space(ring.space_to_want(need));
    core.wait_until(want, false, Deadline::after(Some(wait)), || {
        ring.has_room(need)
    })
}

/// How long a `put` waits for room for `payload` bytes (see
/// [`room_in_time`]).
fn room_wait(payload: u64) -> Duration {
    #[cfg(test)]
    if let Some(wait) = ROOM_WAIT.with(std::cell::Cell::get) {
        return wait;
    }
    Duration::from_micros(payload / COPY_BYTES_PER_US)
}

#[cfg(test)]
thread_local! {
    /// Tests: the wait for room this thread's `put`s make instead of
    /// [`room_wait`]'s.
    pub(super) static ROOM_WAIT: std::cell::Cell<Option<Duration>> =
        const { std::cell::Cell::new(None) };
}

impl Sink for Direct<'_> {
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        let end = self.small_len.wrapping_add(bytes.len());
        if end <= SMALL_ITEM {
            copy_short(
                &mut self.small[HEADER + self.small_len..HEADER + end],
                bytes,
            );
            self.small_len = end;
            return;
        }
        if self.open_record().is_some() {
            if self.append_in_ring(bytes) {
                return;
            }
            self.take_back();
        } else if self.may_write
            && (self.msg().bytes.len() + bytes.len()) as u64 >= LARGE
            && self.open(bytes.len())
        {
            self.append_in_ring(bytes);
            return;
        }
        Sink::append(&mut self.msg().bytes, bytes);
    }

    /// On the stack while eight bytes fit there: one store of the whole
    /// word, `len` of its bytes counted (the rest are overwritten by the
    /// next append, or lie past the encoding in the record's padding).
    #[inline]
    fn append_le(&mut self, word: u64, len: usize) {
        let at = HEADER + self.small_len;
        if let Some(slot) = self.small.get_mut(at..at.wrapping_add(8)) {
            slot.copy_from_slice(&word.to_le_bytes());
            self.small_len += len.min(8);
            return;
        }
        self.append(&word.to_le_bytes()[..len.min(8)]);
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.small[HEADER..].get_mut(self.small_len) {
            *slot = byte;
            self.small_len += 1;
            return;
        }
        let spilled = self.spilled_mut();
        if spilled.open.is_none() && spilled.msg.bytes.len() + 1 < LARGE as usize {
            spilled.msg.bytes.push(byte);
        } else {
            self.append(&[byte]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_short_copies_every_length() {
        for n in 0..=40 {
            let src: Vec<u8> = (0..n as u8).map(|i| i ^ 0x5a).collect();
            let mut dst = vec![0u8; n];
            copy_short(&mut dst, &src);
            assert_eq!(dst, src, "{n} bytes");
        }
    }

    #[test]
    fn a_small_encoding_stays_on_the_stack_until_it_outgrows_it() {
        let core = Core::new(4096, 0).unwrap();
        let mut sink = Direct::new(&core, false);
        let fds = mp_wire::encode_to_sink(&[7u8; 55][..], &mut sink).unwrap();
        assert!(!sink.finish(fds, || false));
        let (record, len) = sink.small_record().expect("on the stack");
        assert_eq!(len, SMALL_ITEM);
        // The encoding after room for the record's header, left unwritten.
        assert_eq!(record[..HEADER], [0; HEADER]);
        assert_eq!(
            record[HEADER..],
            mp_wire::encode(&[7u8; 55][..]).unwrap().bytes[..]
        );
        assert!(sink.spilled.is_none());
        let mut sink = Direct::new(&core, false);
        let fds = mp_wire::encode_to_sink(&[7u8; 56][..], &mut sink).unwrap();
        assert!(!sink.finish(fds, || false));
        assert!(sink.small_record().is_none());
        assert_eq!(
            sink.msg().bytes,
            mp_wire::encode(&[7u8; 56][..]).unwrap().bytes
        );
        // Spilled on the stack's last byte too: pushes, not appends.
        let mut sink = Direct::new(&core, false);
        for b in 0..57u8 {
            Sink::push(&mut sink, b);
        }
        assert!(sink.small_record().is_none());
        assert_eq!(sink.msg().bytes, (0..57u8).collect::<Vec<_>>());
    }

    /// A varint stored as a whole word on the stack, or appended byte by
    /// byte once eight bytes no longer fit there: the same encoding either
    /// way, on the stack or spilled, at every distance from the stack's end.
    #[test]
    fn word_appends_at_every_distance_from_the_stacks_end() {
        let core = Core::new(4096, 0).unwrap();
        for lead in 0..=SMALL_ITEM {
            for tail in [0u64, 1 << 20, 1 << 55, u64::MAX] {
                let value = (vec![3u8; lead], tail);
                let mut sink = Direct::new(&core, false);
                let fds = mp_wire::encode_to_sink(&value, &mut sink).unwrap();
                assert!(!sink.finish(fds, || false));
                let want = mp_wire::encode(&value).unwrap().bytes;
                match sink.small_record() {
                    Some((record, len)) => {
                        assert_eq!(record[HEADER..][..len], want[..], "{lead} {tail}")
                    }
                    None => assert_eq!(sink.msg().bytes, want, "{lead} {tail}"),
                }
            }
        }
    }
}
