//! [`DroppedByMaker`]: a value that only the process that made it drops; a
//! forked child's copy is left as it is.
//!
//! Dropping a value may take locks that belong to the threads working with
//! it: dropping the last sender of a `std::sync::mpsc` channel wakes its
//! receiver under the channel's internal mutex, the mutex the receiving
//! thread holds while it registers to wait. A child forked at that instant
//! inherits the mutex locked by a thread it does not have, and its drop
//! waits for ever. The child's copy also owns nothing of its own (the
//! threads, the peers and the other end live in the parent), so it is
//! left undropped: its memory goes when the child ends.
//!
//! # Safety
//! `ManuallyDrop::drop` is called once, from `Drop`; the block says why it
//! holds.
#![allow(unsafe_code)]

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;

/// `value`, dropped only in the process that made this wrapper (see the
/// [module documentation](self)); in a process forked from it, never.
///
/// ```
/// use mp_sys::dropped_by_maker::DroppedByMaker;
///
/// let (tx, rx) = std::sync::mpsc::channel::<u8>();
/// let tx = DroppedByMaker::new(tx);
/// tx.send(1).unwrap();
/// drop(tx); // this process made it: the sender is dropped
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
/// ```
pub struct DroppedByMaker<T> {
    value: ManuallyDrop<T>,
    /// The process that made the wrapper.
    maker: u32,
}

impl<T> DroppedByMaker<T> {
    /// Wraps `value`; the calling process is its maker.
    pub fn new(value: T) -> Self {
        DroppedByMaker {
            value: ManuallyDrop::new(value),
            maker: crate::process::getpid(),
        }
    }

    /// Whether the calling process made this wrapper (and so drops it).
    pub fn in_maker(&self) -> bool {
        self.maker == crate::process::getpid()
    }
}

impl<T> Deref for DroppedByMaker<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Drop for DroppedByMaker<T> {
    fn drop(&mut self) {
        if self.in_maker() {
            // SAFETY: this is the only place `value` is dropped, and `drop`
            // runs once; `value` is not used after it (the wrapper is
            // going away).
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for DroppedByMaker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DroppedByMaker")
            .field("value", &*self.value)
            .field("maker", &self.maker)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{exit_now, fork_unchecked, send_signal, wait_pidfd, ExitStatus, Fork};
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier, Mutex};
    use std::time::{Duration, Instant};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// Takes `lock` when dropped, as a channel's last sender takes the
    /// channel's waker lock.
    struct LocksOnDrop(Arc<Mutex<()>>);

    impl Drop for LocksOnDrop {
        fn drop(&mut self) {
            let _held = self.0.lock().unwrap();
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// How a forked child ended within `wait` (`None`: still running; then
    /// it is killed).
    fn outcome(pidfd: &OwnedFd, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = wait_pidfd(pidfd, false).unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                send_signal(pidfd, libc::SIGKILL).unwrap();
                let _ = wait_pidfd(pidfd, true);
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A child forked while another thread holds the lock the value's drop
    /// takes: dropping the plain value there waits for ever (the control),
    /// dropping it wrapped returns; the maker drops it once the lock is
    /// free.
    #[test]
    fn a_forked_child_leaves_the_value_and_the_maker_drops_it() {
        let lock = Arc::new(Mutex::new(()));
        let (held, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let holder = {
            let (lock, held, release) = (lock.clone(), held.clone(), release.clone());
            std::thread::spawn(move || {
                let _guard = lock.lock().unwrap();
                held.wait();
                release.wait();
            })
        };
        held.wait();
        let mut endings = Vec::new();
        for wrapped in [false, true] {
            let value = LocksOnDrop(lock.clone());
            let value = if wrapped {
                Ok(DroppedByMaker::new(value))
            } else {
                Err(value)
            };
            // SAFETY: the child drops `value` (taking `lock` if it is not
            // wrapped: the case this test expects to hang, and kills) and
            // calls `_exit`; nothing else of the parent's threads is used.
            match unsafe { fork_unchecked() }.unwrap() {
                Fork::Child => {
                    drop(value);
                    exit_now(0);
                }
                Fork::Parent { pidfd, .. } => {
                    let wait = Duration::from_millis(if wrapped { 10_000 } else { 300 });
                    endings.push(outcome(&pidfd, wait));
                    // The parent's copy: not dropped until the lock is free.
                    std::mem::forget(value);
                }
            }
        }
        assert_eq!(
            endings,
            [None, Some(ExitStatus::Exited(0))],
            "the plain value's drop hangs in the child, the wrapped one's does not"
        );
        release.wait();
        holder.join().unwrap();
        let before = DROPS.load(Ordering::SeqCst);
        drop(DroppedByMaker::new(LocksOnDrop(lock)));
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            before + 1,
            "the maker drops it"
        );
    }
}
