//! The process's wipe-on-fork page: words that read 0 again in every child
//! of any fork, for caches of per-process facts (mp-shm's process identity
//! keeps its pid and start time in [`identity_word`]).
//!
//! One page per process, made on first use without blocking (a racing
//! cell: a `OnceLock` would leave a child forked during the initialisation
//! waiting for ever), and made by this crate's fork itself before it forks
//! (`ensure`): every child of such a fork then finds the page in place,
//! zeroed, instead of paying an `mmap` and a `madvise` (5–45 µs in a fresh
//! child) on its first lock or queue operation. A fork server's children
//! are the case this serves: the server itself never takes a lock.
//!
//! Without `MADV_WIPEONFORK` (Linux before 4.14) there is no page, and the
//! callers keep their facts some other way.

use std::sync::atomic::AtomicU64;

use once_cell::race::OnceBox;

use crate::mmap::Mapping;

/// The page, or `None` if the kernel refused it. Threads that race to make
/// it each map one; one wins and the others' are unmapped.
static PAGE: OnceBox<Option<Mapping>> = OnceBox::new();

/// Bytes of the page: one page (the kernel rounds up to it anyway).
const PAGE_BYTES: usize = 4096;

/// The page, made now if this is the first use in the process.
fn page() -> Option<&'static Mapping> {
    PAGE.get_or_init(|| Box::new(Mapping::private_wipe_on_fork(PAGE_BYTES).ok()))
        .as_ref()
}

/// Makes the page if the process has none yet (this crate's fork calls it
/// just before forking).
pub(crate) fn ensure() {
    let _ = page();
}

/// The word that caches this process's identity (mp-shm's `ProcessIdent`):
/// 0 until the process stores it, and 0 again in each child of a fork.
/// `None` without `MADV_WIPEONFORK`.
pub fn identity_word() -> Option<&'static AtomicU64> {
    page()?.atomic_u64(0).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::process::{exit_now, fork_unchecked, wait_pidfd, ExitStatus, Fork};

    #[test]
    #[allow(unsafe_code)] // the fork: `fork_unchecked` in the harness's threads
    fn a_forked_child_finds_the_page_made_and_zeroed() {
        let word = identity_word().expect("MADV_WIPEONFORK");
        word.store(42, Ordering::Relaxed);
        // SAFETY: the child only reads a word of its own page and calls
        // `_exit`: nothing that another thread of the harness may hold.
        match unsafe { fork_unchecked() }.unwrap() {
            Fork::Child => {
                let same = identity_word().is_some_and(|w| std::ptr::eq(w, word));
                let code = match (same, word.load(Ordering::Relaxed)) {
                    (true, 0) => 0,
                    (false, _) => 1,
                    (true, _) => 2,
                };
                exit_now(code)
            }
            Fork::Parent { pidfd, .. } => assert_eq!(
                wait_pidfd(&pidfd, true).unwrap(),
                Some(ExitStatus::Exited(0)),
                "1: the child found no page or another one; 2: not zeroed"
            ),
        }
        assert_eq!(word.load(Ordering::Relaxed), 42, "the parent's is kept");
    }
}
