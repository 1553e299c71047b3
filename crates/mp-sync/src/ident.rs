//! Who is calling: the process identity stored in lock words, and a
//! per-thread token for `RLock` ownership.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// This process's `ProcessIdent` bits (cached; right after `fork`).
#[inline]
pub(crate) fn process() -> u64 {
    mp_shm::ProcessIdent::current().to_bits()
}

/// A token unique among this process's threads (never 0). A forked child's
/// thread keeps its parent's token, which is fine: ownership is checked
/// together with the process identity, which differs.
#[inline]
pub(crate) fn thread() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        // `const` and without `Drop`: a plain thread-local load, no lazy
        // initialisation check; 0 means "not assigned yet".
        static TOKEN: Cell<u64> = const { Cell::new(0) };
    }
    TOKEN.with(|t| match t.get() {
        0 => {
            let token = NEXT.fetch_add(1, Ordering::Relaxed);
            t.set(token);
            token
        }
        token => token,
    })
}
