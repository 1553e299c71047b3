//! The one source of randomness of the workspace: the kernel's CSPRNG
//! (`getrandom(2)`), which fails with an error instead of degrading.
//!
//! Keys (the process authkey, the process tree's entry-point key), the
//! challenges of the authkey handshake and the names of shared-memory blocks
//! all come from here. There is no fallback: when the kernel cannot give
//! entropy, the caller gets the error at the point the bytes are needed.
//!
//! # Safety
//! `getrandom` is called through `libc` (rustix's `rand` feature is not
//! enabled in this workspace); the one block says why it holds.
#![allow(unsafe_code)]

use std::io;

/// Fills `buf` with bytes from the kernel's CSPRNG (`getrandom(2)`, flags 0:
/// blocks only until the pool is initialised at boot, then never).
///
/// Retries on `EINTR` and on short reads; any other failure (for example
/// `ENOSYS` under a seccomp filter) is returned.
///
/// ```
/// let mut key = [0u8; 16];
/// mp_sys::random::fill(&mut key).unwrap();
/// ```
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid writable memory of `rest.len()` bytes for
        // the duration of the call; the kernel writes at most that many.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// `N` random bytes from [`fill`].
pub fn bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_large_buffers_and_differs_between_calls() {
        let mut a = vec![0u8; 1 << 20];
        fill(&mut a).unwrap();
        // 1 MiB of zeros from a working CSPRNG is not a thing that happens.
        assert!(a.iter().any(|&b| b != 0));
        let (x, y) = (bytes::<16>().unwrap(), bytes::<16>().unwrap());
        assert_ne!(x, y);
        fill(&mut []).unwrap();
    }
}
