//! The process tree's secret key: 128 bits from the OS CSPRNG, private to
//! `mp-sys`, under which [`EntryPoint`](crate::entry::EntryPoint) parts are
//! authenticated.
//!
//! A root process creates the key the first time it is needed (and at the
//! latest just before [`fork`](crate::process::fork), so forked children
//! inherit it); a child started by
//! [`spawn_self`](crate::bootstrap::spawn_self) receives it in its bootstrap
//! record, read by `mp-sys` before any other code of the child runs. No
//! function outside this crate can read or set it.

use std::fmt;
use std::hash::Hasher;
use std::io;

use once_cell::race::OnceBox;
use siphasher::sip::SipHasher24;

/// Length of the key in bytes (SipHash-2-4's 128-bit key).
pub(crate) const KEY_LEN: usize = 16;

/// The key. Never printed.
pub(crate) struct TreeKey([u8; KEY_LEN]);

impl fmt::Debug for TreeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TreeKey(..)")
    }
}

impl TreeKey {
    /// The key's bytes, for the bootstrap record of a spawned child.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// SipHash-2-4 under this key of what `feed` writes: a 64-bit PRF, used
    /// as a MAC over short fixed-layout inputs.
    pub(crate) fn mac(&self, feed: impl FnOnce(&mut SipHasher24)) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.0);
        feed(&mut h);
        h.finish()
    }
}

/// The key, or the OS error (`errno`) met when creating it; set once. A
/// racing cell: threads creating it at once each draw a key and one wins
/// (every caller gets the winner's), and a fork meanwhile cannot leave the
/// child waiting for an initialiser it does not have (see `fork_hooks`).
static KEY: OnceBox<Result<TreeKey, i32>> = OnceBox::new();

/// This process tree's key, creating it (root process) on first use.
/// A failure to get entropy is returned, and remembered: the process then
/// has no key, and neither have its forked children.
pub(crate) fn get() -> io::Result<&'static TreeKey> {
    match KEY.get_or_init(|| {
        Box::new(
            crate::random::bytes::<KEY_LEN>()
                .map(TreeKey)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)),
        )
    }) {
        Ok(k) => Ok(k),
        Err(errno) => Err(io::Error::from_raw_os_error(*errno)),
    }
}

/// Makes sure the key exists (or its failure is recorded) before this
/// process forks, so parent and child agree on it.
pub(crate) fn settle() {
    let _ = get();
}

/// Installs the key a spawned child received from its parent. Returns false
/// if this process already had a key (then nothing is changed).
pub(crate) fn install(bytes: [u8; KEY_LEN]) -> bool {
    KEY.set(Box::new(Ok(TreeKey(bytes)))).is_ok()
}
