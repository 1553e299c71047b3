//! Size limits applied when receiving frames from another process.

/// The largest number of fds one frame can carry.
///
/// This is the kernel's `SCM_MAX_FD`: Linux refuses to pass more fds in one
/// `sendmsg`, and a frame's fds travel in exactly one.
pub const MAX_FDS_PER_FRAME: usize = 253;

/// Limits on what a peer may send: checked by [`recv`](crate::recv) before
/// anything is allocated, and by [`decode_with_limits`](crate::decode_with_limits)
/// while a value is decoded.
///
/// A peer is not trusted to declare sane sizes: a frame whose header declares
/// a payload above `max_frame` or more than `max_fds` fds is refused with
/// [`WireError::TooLarge`](crate::WireError::TooLarge) or
/// [`WireError::TooManyFds`](crate::WireError::TooManyFds) without reading
/// the payload. Nor is it trusted to nest values sanely: decoding a
/// recursive type recurses on the receiver's stack, so a value nesting more
/// than `max_depth` levels is refused with
/// [`DecodeError::TooDeep`](crate::DecodeError::TooDeep) instead of
/// overflowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted payload, in bytes. Default: 1 GiB (`1 << 30`).
    pub max_frame: usize,
    /// Largest accepted number of fds in one frame. Default (and ceiling):
    /// [`MAX_FDS_PER_FRAME`] (253).
    pub max_fds: usize,
    /// Deepest accepted nesting of a decoded value, in levels: each
    /// sequence, map, struct, tuple, enum, option or newtype inside another
    /// is one level deeper (a flat struct of numbers and strings is 1, a
    /// `Vec<Vec<u8>>` 2). Default: [`Limits::DEFAULT_MAX_DEPTH`] (256),
    /// which decodes in less than 512 KiB of stack even in a debug build
    /// (about 1.5 KiB a level; far less optimized).
    pub max_depth: usize,
}

impl Limits {
    /// The default payload limit: 1 GiB.
    pub const DEFAULT_MAX_FRAME: usize = 1 << 30;

    /// The default nesting limit: 256 levels.
    pub const DEFAULT_MAX_DEPTH: usize = 256;

    /// Limits allowing payloads up to `max_frame` bytes, the default fd
    /// count and the default nesting depth.
    pub const fn with_max_frame(max_frame: usize) -> Self {
        Self {
            max_frame,
            max_fds: MAX_FDS_PER_FRAME,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

impl Default for Limits {
    /// 1 GiB payloads, 253 fds, 256 levels of nesting.
    fn default() -> Self {
        Self::with_max_frame(Self::DEFAULT_MAX_FRAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let limits = Limits::default();
        assert_eq!(limits.max_frame, 1 << 30);
        assert_eq!(limits.max_fds, 253);
        assert_eq!(limits.max_depth, 256);
        assert_eq!(Limits::with_max_frame(10).max_frame, 10);
    }
}
