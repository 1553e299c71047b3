//! Who is calling: the process identity stored in lock words, and the
//! thread identity an `RLock`'s word names its owner by.
//!
//! Both are [`mp_shm::ProcessIdent`] bits: `(pid, start time)` for a
//! process, `(tid, start time)` for a thread. The kernel gives every thread
//! a `/proc/<tid>/stat` of its own with its own start time, so the same
//! liveness check ([`ProcessIdent::is_alive`]) tells whether the thread
//! still runs, and a reused tid is told apart as a reused pid is. A
//! process's main thread has `tid == pid` and the process's start time:
//! its thread identity is the process identity.

use std::cell::Cell;

use mp_shm::ProcessIdent;

/// This process's `ProcessIdent` bits (cached; right after `fork`).
#[inline]
pub(crate) fn process() -> u64 {
    ProcessIdent::current_bits()
}

/// The calling thread's `(tid, start time)` in `ProcessIdent` bits: unique
/// among the threads of every process alive at once (never 0).
///
/// Cached per thread together with the process identity it was computed
/// under, so the thread a `fork` leaves in the child (which inherits the
/// cache but has a new tid) recomputes it.
#[inline]
pub(crate) fn thread() -> u64 {
    thread_local! {
        // `const` and without `Drop`: a plain thread-local load, no lazy
        // initialisation check. `(process bits, thread bits)`; (0, 0) = not yet.
        static CACHED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    let process = process();
    CACHED.with(|c| match c.get() {
        (at, bits) if at == process => bits,
        _ => {
            let bits = compute_thread(process);
            c.set((process, bits));
            bits
        }
    })
}

#[cold]
fn compute_thread(process: u64) -> u64 {
    let tid = mp_sys::process::gettid();
    if tid == ProcessIdent::from_bits(process).pid() {
        return process;
    }
    // Without a readable /proc the start time is unknown and 0 stands for
    // it, as `ProcessIdent::current` does.
    ProcessIdent::of(tid).map_or(u64::from(tid), |t| t.to_bits())
}

/// The pid of the process the thread named by `thread` bits belongs to
/// (its `Tgid` in `/proc/<tid>/status`); the tid itself if that cannot be
/// read (the thread has ended: a main thread's tid is its pid).
pub(crate) fn process_of_thread(thread: u64) -> u32 {
    let tid = ProcessIdent::from_bits(thread).pid();
    if thread == self::thread() {
        return std::process::id();
    }
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}
