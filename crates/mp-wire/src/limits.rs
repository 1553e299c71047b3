//! Size limits applied when receiving frames from another process.

/// The largest number of fds one frame can carry.
///
/// This is the kernel's `SCM_MAX_FD`: Linux refuses to pass more fds in one
/// `sendmsg`, and a frame's fds travel in exactly one.
pub const MAX_FDS_PER_FRAME: usize = 253;

/// Limits checked by [`recv`](crate::recv) before anything is allocated.
///
/// A peer is not trusted to declare sane sizes: a frame whose header declares
/// a payload above `max_frame` or more than `max_fds` fds is refused with
/// [`WireError::TooLarge`](crate::WireError::TooLarge) or
/// [`WireError::TooManyFds`](crate::WireError::TooManyFds) without reading
/// the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted payload, in bytes. Default: 1 GiB (`1 << 30`).
    pub max_frame: usize,
    /// Largest accepted number of fds in one frame. Default (and ceiling):
    /// [`MAX_FDS_PER_FRAME`] (253).
    pub max_fds: usize,
}

impl Limits {
    /// The default payload limit: 1 GiB.
    pub const DEFAULT_MAX_FRAME: usize = 1 << 30;

    /// Limits allowing payloads up to `max_frame` bytes and the default fd count.
    pub const fn with_max_frame(max_frame: usize) -> Self {
        Self {
            max_frame,
            max_fds: MAX_FDS_PER_FRAME,
        }
    }
}

impl Default for Limits {
    /// 1 GiB payloads, 253 fds.
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
        assert_eq!(Limits::with_max_frame(10).max_frame, 10);
    }
}
