//! Where the processes of a two-process scenario run: the `-2cpu` rows pin
//! each to a CPU of its own, so that the row measures the state in which
//! the two run side by side, never the one the scheduler sometimes picks
//! instead (both on one CPU; the `-1cpu` rows measure that one, pinned by
//! `bench-compare` with `taskset -c 0`). Unpinned, M3a, M3c and M5b land in
//! either state from one run to the next, on every side (ours, raw,
//! CPython), and a ratio of two runs in different states says nothing.

/// Pins the calling process (its calling thread, and what it starts from
/// now on) to CPU `cpu`. On a machine without that CPU, or where the
/// kernel refuses, it stays where it is and says so on stderr.
pub fn pin_to(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
        eprintln!(
            "could not pin process {} to CPU {cpu}: {e}",
            std::process::id()
        );
    }
}
