//! Asymmetric fences between processes, with `membarrier(2)`: a *light*
//! side that costs no instruction at all, for the path that runs all the
//! time, and a *heavy* side, a system call, for the path that runs rarely.
//!
//! The pattern is Dekker's: party A stores `x` then loads `y`, party B
//! stores `y` then loads `x`, and at least one of them must see the other's
//! store. On x86 (and every other CPU) a load may pass an earlier store to
//! another address, so each side normally needs a full fence (`mfence`, or
//! a locked instruction) between the two. Here A makes only [`light`] (a
//! compiler fence) and B makes [`heavy`]: `MEMBARRIER_CMD_GLOBAL_EXPEDITED`
//! makes every running thread of every process registered with
//! [`register`] pass a full memory barrier before the call returns (a
//! thread not running passed one when it was switched out). So either A's
//! store reached memory before that barrier, and B's load after the call
//! sees it, or A had not yet made its load, and that load comes after the
//! barrier, after B's store. A must be in a registered process.
//!
//! **Where the kernel falls short.** The kernel picks the CPUs to
//! interrupt from a per-CPU copy of the running process's registration,
//! refreshed when the CPU switches address spaces. A CPU that was idle (or
//! ran a kernel thread) while still holding a process's address space when
//! that process registered keeps the stale copy, also once the process's
//! threads run there again, until it next switches to them from another
//! process; [`heavy`] skips it until then. Measured on Linux 6.18 (a 2-CPU
//! VM) with a C version of the store-buffering test below, 100,000 rounds
//! a run, the light side on a thread that had run on the other CPU before
//! the registration: in 5 runs of 8, `heavy` returned in 0.17 µs (no
//! interrupt sent; 18 µs when one is), and 4 runs of 12 had rounds where
//! both loads missed (up to 10). After a child process had run on every
//! CPU following the registration: 18 µs every time, and no such round in
//! 14 runs. Such a miss is rare (A's store must still be in its store
//! buffer after B's whole system call) but possible, so a caller must
//! bound what it costs: mp-sync's asymmetric lock makes its waiters' first
//! sleep short and look again (`SETTLE`).
//!
//! ```
//! // Registration is per process and may be refused (old kernels, seccomp):
//! // a caller keeps its full fence then.
//! if mp_sys::membarrier::register().is_ok() {
//!     mp_sys::membarrier::light();
//!     mp_sys::membarrier::heavy().unwrap();
//! }
//! ```

use std::io;
use std::sync::atomic::{compiler_fence, Ordering};

use rustix::thread::{membarrier, MembarrierCommand};

/// Registers this process for [`heavy`] fences (made by any process) to
/// reach its threads; needed before it relies on [`light`]. Per process: a
/// forked child registers again (the kernel does not carry it over).
///
/// # Errors
/// The kernel's, if it has no expedited global membarrier or the call is
/// filtered.
pub fn register() -> io::Result<()> {
    membarrier(MembarrierCommand::RegisterGlobalExpedited).map_err(io::Error::from)
}

/// The heavy side: returns once every running thread of every registered
/// process has passed a full memory barrier.
///
/// # Errors
/// The kernel's, if it refuses the command.
pub fn heavy() -> io::Result<()> {
    membarrier(MembarrierCommand::GlobalExpedited).map_err(io::Error::from)
}

/// The light side: keeps the compiler from moving memory accesses across
/// it; the CPU's ordering is left to the other side's [`heavy`].
#[inline]
pub fn light() {
    compiler_fence(Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    /// Store buffering, the litmus test of Dekker's pattern: in each round
    /// thread A stores `x` then loads `y` with only the light side between,
    /// thread B stores `y` then loads `x` with `fence` between; returns the
    /// rounds in which neither load saw the other's store. Both threads
    /// leave a two-party spin barrier together, then wait a pseudo-random
    /// few spins each, so that over the rounds their stores and loads
    /// overlap every way.
    pub(super) fn store_buffering(rounds: u64, fence: fn()) -> u64 {
        /// One thread's words: what it stores, and the last round whose
        /// load missed the other's store.
        #[derive(Default)]
        struct Side {
            word: AtomicU64,
            missed: AtomicU64,
        }
        #[derive(Default)]
        struct Shared {
            sides: [Side; 2],
            arrived: AtomicU64,
        }
        /// Both parties arrive (twice per round), then go on together.
        fn meet(s: &Shared, n: u64) {
            s.arrived.fetch_add(1, Ordering::AcqRel);
            while s.arrived.load(Ordering::Acquire) < n {
                std::hint::spin_loop();
            }
        }
        /// Side `me`'s part of `round`: store, fence, load the other's.
        fn play(s: &Shared, me: usize, round: u64, seed: &mut u64, fence: fn()) {
            meet(s, 4 * round - 2);
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (0..*seed % 8).for_each(|_| std::hint::spin_loop());
            s.sides[me].word.store(round, Ordering::Relaxed);
            fence();
            if s.sides[1 - me].word.load(Ordering::Relaxed) < round {
                s.sides[me].missed.store(round, Ordering::Relaxed);
            }
            meet(s, 4 * round);
        }
        let s = Arc::new(Shared::default());
        let b = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64;
                (1..=rounds).for_each(|round| play(&s, 1, round, &mut seed, fence));
            })
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut both_missed = 0;
        for round in 1..=rounds {
            play(&s, 0, round, &mut seed, light);
            if s.sides
                .iter()
                .all(|side| side.missed.load(Ordering::Relaxed) == round)
            {
                both_missed += 1;
            }
        }
        b.join().unwrap();
        both_missed
    }

    /// Makes every CPU this process may run on switch to another process
    /// (a child that moves to each in turn, then execs `true`), so that
    /// none keeps a copy of the registration from before it (see the
    /// module docs).
    #[allow(unsafe_code)]
    fn refresh_every_cpu() {
        use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
        use std::os::unix::process::CommandExt;
        let allowed = sched_getaffinity(None).unwrap();
        let cpus: Vec<CpuSet> = (0..CpuSet::MAX_CPU)
            .filter(|&cpu| allowed.is_set(cpu))
            .map(|cpu| {
                let mut one = CpuSet::new();
                one.set(cpu);
                one
            })
            .collect();
        let mut visitor = std::process::Command::new("true");
        // SAFETY: in the forked child before its exec, the closure only makes
        // `sched_setaffinity` calls on sets built before the fork: no
        // allocation and no lock that another thread could have held.
        unsafe {
            visitor.pre_exec(move || {
                for one in &cpus {
                    sched_setaffinity(None, one)?;
                }
                Ok(())
            });
        }
        assert!(visitor.status().unwrap().success());
    }

    /// With the heavy side, no round has both loads miss, once every CPU
    /// has caught up with the registration. (With `light` on both sides
    /// instead, a 2-CPU VM showed 12,822 such rounds in 200,000: the
    /// stores still in the store buffers as the loads run. Without the
    /// refresh, CI saw one in 50,000 where a CPU had not caught up.)
    #[test]
    fn the_heavy_side_orders_with_the_light_one() {
        register().unwrap();
        refresh_every_cpu();
        let both_missed = store_buffering(50_000, || heavy().unwrap());
        assert_eq!(both_missed, 0);
    }

    /// On the kernels this project runs on both calls work; registering
    /// twice is allowed.
    #[test]
    fn register_and_fence() {
        register().unwrap();
        register().unwrap();
        heavy().unwrap();
        light();
    }
}
