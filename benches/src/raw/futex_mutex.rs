//! The raw mutex the lock scenarios stand beside: std's futex mutex (`0`
//! unlocked, `1` locked, `2` locked with sleepers), with a bounded spin like
//! `mp_sync::Lock`'s, on a word that may live in shared memory. No owner,
//! no dead-holder checks.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, Ordering};

use mp_sys::futex;

/// A futex mutex on a borrowed word (which starts at 0).
#[derive(Debug, Clone, Copy)]
pub struct FutexMutex<'a>(pub &'a AtomicU32);

impl FutexMutex<'_> {
    /// Takes the lock, sleeping while another holds it.
    #[inline]
    pub fn lock(self) {
        if self
            .0
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[cold]
    fn lock_contended(self) {
        let mut state = self.spin();
        if state == 0 {
            match self
                .0
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        loop {
            if state != 2 && self.0.swap(2, Ordering::Acquire) == 0 {
                return;
            }
            let _ = futex::wait(self.0, 2, None);
            state = self.spin();
        }
    }

    fn spin(self) -> u32 {
        let mut left = 64;
        loop {
            let s = self.0.load(Ordering::Relaxed);
            if s != 1 || left == 0 {
                return s;
            }
            spin_loop();
            left -= 1;
        }
    }

    /// Releases the lock, waking one sleeper if there is one.
    #[inline]
    pub fn unlock(self) {
        if self.0.swap(0, Ordering::Release) == 2 {
            futex::wake(self.0, 1);
        }
    }
}
