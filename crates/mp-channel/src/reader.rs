//! The receiving half of a [`Connection`](crate::Connection): a
//! [`FrameDecoder`] plus what only a channel has — a pipe's fds taken from
//! its side socket, waiting with deadlines, and the flag that an error left
//! the stream out of step. The buffer, the limits, the rule that gives fds
//! to frames and large payloads are the decoder's (see `mp_wire`).
//!
//! State survives a timeout: bytes already read stay in the decoder, so the
//! next call finishes the message.

use mp_wire::{Frame, FrameDecoder, Limits, WireError, MAX_FDS_PER_FRAME};

use crate::error::RecvError;
use crate::transport::{take_side_fds, Source};

// The deadline types moved to `deadline.rs`; modules that still name them
// through here keep working.
pub(crate) use crate::deadline::{Deadline, LazyDeadline};

/// The buffered reader; one per connection end.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    decoder: FrameDecoder,
    /// Set by an error that leaves the stream out of step.
    broken: Option<String>,
}

/// How long a receive may wait for data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Until the deadline.
    Until(Deadline),
    /// Not at all: take what has arrived (`None` if no whole frame has).
    No,
    /// Not at all, and make no system call: only frames already buffered.
    Buffered,
}

impl Reader {
    /// Whether an error left the stream out of step (receiving fails).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Whether bytes (or fds) that arrived are waiting here, unread.
    pub(crate) fn has_buffered(&self) -> bool {
        self.decoder.has_buffered()
    }

    /// Receives one whole frame and returns what `map` makes of it (`None`
    /// only when `wait` says not to wait and none is complete): a frame
    /// that lies whole in the read buffer is lent from there (see
    /// [`FrameDecoder::next_frame_map`]). Payloads longer than `max` fail
    /// with [`RecvError::TooLarge`] before being read.
    pub(crate) fn recv<R>(
        &mut self,
        src: Source<'_>,
        limits: &Limits,
        max: usize,
        wait: Wait,
        map: impl FnMut(Frame<'_>) -> R,
    ) -> Result<Option<R>, RecvError> {
        if let Some(why) = &self.broken {
            return Err(RecvError::Unusable(why.clone()));
        }
        let limits = Limits {
            max_frame: max.min(limits.max_frame),
            ..*limits
        };
        let result = self.recv_inner(src, &limits, wait, map);
        if let Err(e) = &result {
            if e.is_fatal() {
                self.broken = Some(e.to_string());
            }
        }
        result
    }

    fn recv_inner<R>(
        &mut self,
        src: Source<'_>,
        limits: &Limits,
        wait: Wait,
        mut map: impl FnMut(Frame<'_>) -> R,
    ) -> Result<Option<R>, RecvError> {
        loop {
            // With nothing buffered there is no frame to look for (the
            // usual case before a read): no call into the decoder.
            if self.decoder.has_buffered() {
                let next = match src {
                    Source::Socket(_) => self.decoder.next_frame_map(limits, None, &mut map),
                    Source::Pipe { side, .. } => self.decoder.next_frame_map(
                        limits,
                        Some(&mut |n| take_side_fds(side, n)),
                        &mut map,
                    ),
                };
                if let Some(msg) = next.map_err(recv_error)? {
                    return Ok(Some(msg));
                }
            }
            let received = match wait {
                Wait::Buffered => return Ok(None),
                Wait::Until(deadline) => {
                    src.read_some(self.decoder.spare(), MAX_FDS_PER_FRAME, deadline)?
                }
                Wait::No => match src.read_now(self.decoder.spare(), MAX_FDS_PER_FRAME)? {
                    Some(received) => received,
                    None => return Ok(None),
                },
            };
            self.decoder
                .filled(received.bytes, received.fds, received.fds_truncated)
                .map_err(recv_error)?;
        }
    }
}

/// A decoder's error as a connection reports it.
fn recv_error(e: WireError) -> RecvError {
    match e {
        WireError::Eof => RecvError::Eof,
        WireError::Truncated { expected, got } => RecvError::Truncated { expected, got },
        WireError::TooLarge { len, max } => RecvError::TooLarge { len, max },
        WireError::Timeout => RecvError::Timeout,
        WireError::Io(e) => RecvError::Io(e),
        WireError::Malformed(why) => RecvError::Malformed(why),
        other => RecvError::Malformed(other.to_string()),
    }
}
