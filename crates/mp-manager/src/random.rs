//! Random numbers for the manager's ids (object ids, server ids, the tag
//! naming this program run), all from the OS CSPRNG through [`fill`].

use std::io;

/// Fills `buf` from the OS CSPRNG (the workspace's one source,
/// [`mp_sys::random::fill`]); fails rather than degrading.
fn fill(buf: &mut [u8]) -> io::Result<()> {
    mp_sys::random::fill(buf)
}

/// A random `u64`.
pub(crate) fn random_u64() -> io::Result<u64> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// A random `u128`.
pub(crate) fn random_u128() -> io::Result<u128> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    Ok(u128::from_le_bytes(b))
}
