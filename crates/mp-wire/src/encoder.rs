//! [`FrameEncoder`]: frames laid out in one buffer, so that several go out
//! with one write (the send side of the [`FrameDecoder`](crate::FrameDecoder)).

use crate::error::WireError;
use crate::header::{encode_header, HEADER_LEN};
use crate::limits::MAX_FDS_PER_FRAME;
use crate::message::Message;

/// Bytes of frames to be written together; the buffer is kept between
/// batches ([`clear`](Self::clear)), so batching allocates only while it grows.
///
/// The encoder lays out bytes only: the writer attaches the fds that headers
/// declare. The rule the [`FrameDecoder`](crate::FrameDecoder) enforces is
/// that one write carries the fds of at most one frame, attached to the
/// write's first byte, which must be that frame's first header byte: so only
/// the first frame of a batch may declare fds.
///
/// ```
/// use mp_wire::{FrameDecoder, FrameEncoder, Limits, Message};
///
/// let mut batch = FrameEncoder::new();
/// batch.push(&Message::from_bytes(b"one".to_vec()))?;
/// batch.push(&Message::from_bytes(b"two".to_vec()))?;
///
/// let mut decoder = FrameDecoder::new();
/// let room = decoder.spare();
/// room[..batch.len()].copy_from_slice(batch.as_bytes());
/// decoder.filled(batch.len(), Vec::new(), false)?;
/// let limits = Limits::default();
/// assert_eq!(decoder.next_frame(&limits)?.unwrap().bytes, b"one");
/// assert_eq!(decoder.next_frame(&limits)?.unwrap().bytes, b"two");
/// assert!(decoder.next_frame(&limits)?.is_none());
/// # Ok::<(), mp_wire::WireError>(())
/// ```
#[derive(Debug, Default)]
pub struct FrameEncoder {
    bytes: Vec<u8>,
}

impl FrameEncoder {
    /// An empty batch.
    pub fn new() -> FrameEncoder {
        FrameEncoder::default()
    }

    /// Appends `msg` as one frame (header and payload; its header declares
    /// `msg.fds`, which the writer attaches).
    ///
    /// # Errors
    /// [`WireError::TooManyFds`] past [`MAX_FDS_PER_FRAME`] (nothing appended).
    pub fn push(&mut self, msg: &Message) -> Result<(), WireError> {
        self.push_header(msg.bytes.len(), msg.fds.len())?;
        self.bytes.extend_from_slice(&msg.bytes);
        Ok(())
    }

    /// Appends only the header of a frame of `len` payload bytes declaring
    /// `fds` fds; the writer sends the payload right after these bytes (to
    /// write a large payload from where it is, without copying it).
    ///
    /// # Errors
    /// [`WireError::TooManyFds`] past [`MAX_FDS_PER_FRAME`] (nothing appended).
    pub fn push_header(&mut self, len: usize, fds: usize) -> Result<(), WireError> {
        if fds > MAX_FDS_PER_FRAME {
            return Err(WireError::TooManyFds {
                count: fds as u64,
                max: MAX_FDS_PER_FRAME,
            });
        }
        self.bytes.reserve(HEADER_LEN);
        self.bytes
            .extend_from_slice(&encode_header(len as u64, fds as u32));
        Ok(())
    }

    /// The bytes laid out so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Length of [`as_bytes`](Self::as_bytes).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was pushed since the last [`clear`](Self::clear).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Empties the batch, keeping its allocation.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }
}
