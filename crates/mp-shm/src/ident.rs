//! Process identity that survives pid reuse: `(pid, start time)`.
//!
//! A bare pid is a poor name for a process: `pid_max` is 32768 on many
//! systems, so a dead lock holder's pid can belong to an unrelated process an
//! hour later. The kernel's start time of a process (field 22 of
//! `/proc/<pid>/stat`, in clock ticks since boot) disambiguates: `(pid,
//! start)` names one process for the lifetime of the machine. [`ProcessIdent`]
//! packs both into 62 bits so a lock can store its owner in one atomic word.
//!
//! [`ProcessIdent::current`] is cached in a word of the process's
//! `MADV_WIPEONFORK` page ([`mp_sys::wipe_on_fork`]), so it costs two loads
//! after the first call and is recomputed automatically in a child created
//! by any flavour of `fork`. The page is made without blocking (a racing
//! cell: a `OnceLock` there left every child forked while another thread
//! made the page waiting for ever on its first lock), and mp-sys's fork makes
//! it before forking, so a child finds it in place.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use once_cell::race::OnceRef;

/// Bits of the packed form that hold the pid (`PID_MAX_LIMIT` is 2^22).
const PID_BITS: u32 = 22;
/// Bits of the packed form that hold the start time (modulo 2^40 ticks, about
/// 348 years at 100 Hz).
const START_BITS: u32 = 40;
const PID_MASK: u64 = (1 << PID_BITS) - 1;
const START_MASK: u64 = (1 << START_BITS) - 1;

/// The number of low bits of [`ProcessIdent::to_bits`] that may be non-zero;
/// the two bits above are free for callers' flags.
pub const IDENT_BITS: u32 = PID_BITS + START_BITS;

/// The cache of `ProcessIdent::current`: the wipe-on-fork page's word,
/// found once ([`NO_PAGE`] without `MADV_WIPEONFORK`). A reference in the
/// static itself: the fast path loads the static and the word (a boxed
/// `Option` was one more load, dependent, at the start of every queue
/// operation).
static CURRENT_WORD: OnceRef<'static, AtomicU64> = OnceRef::new();
/// [`CURRENT_WORD`] when there is no wipe-on-fork page: always 0, so the
/// fast path falls through to the pid-checked [`CURRENT_FALLBACK`]; never
/// stored to.
static NO_PAGE: AtomicU64 = AtomicU64::new(0);
/// The cache without `MADV_WIPEONFORK`, checked against the pid each call.
static CURRENT_FALLBACK: AtomicU64 = AtomicU64::new(0);

/// One process, named by its pid and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessIdent {
    pid: u32,
    start: u64,
}

impl ProcessIdent {
    /// The identity of process `pid` as the kernel reports it now.
    ///
    /// # Errors
    /// `NotFound` if no such process exists; `InvalidData` if `/proc` could
    /// not be parsed.
    pub fn of(pid: u32) -> io::Result<ProcessIdent> {
        let stat = mp_sys::process::stat(pid)?;
        Ok(ProcessIdent {
            pid,
            start: stat.start_time & START_MASK,
        })
    }

    /// The calling process's identity (cached; correct after `fork`).
    #[inline]
    pub fn current() -> ProcessIdent {
        ProcessIdent::from_bits(Self::current_bits())
    }

    /// [`current`](Self::current) packed as [`to_bits`](Self::to_bits)
    /// packs it: two loads and two tests once the page exists (queues and
    /// connections ask per operation; locks store it as their owner).
    #[inline]
    pub fn current_bits() -> u64 {
        if let Some(word) = CURRENT_WORD.get() {
            let bits = word.load(Ordering::Relaxed);
            if bits != 0 {
                return bits;
            }
        }
        Self::current_bits_slow()
    }

    /// [`current_bits`](Self::current_bits) the first time in a process
    /// (or in a forked child, whose page was wiped), or without
    /// `MADV_WIPEONFORK`: out of line, so the callers' fast path stays small.
    #[cold]
    #[inline(never)]
    fn current_bits_slow() -> u64 {
        let word =
            CURRENT_WORD.get_or_init(|| mp_sys::wipe_on_fork::identity_word().unwrap_or(&NO_PAGE));
        if !std::ptr::eq(word, &NO_PAGE) {
            let bits = word.load(Ordering::Relaxed);
            if bits != 0 {
                return bits;
            }
            let me = Self::compute_current().to_bits();
            word.store(me, Ordering::Relaxed);
            return me;
        }
        // Without MADV_WIPEONFORK (Linux < 4.14) the pid is checked each call.
        let bits = CURRENT_FALLBACK.load(Ordering::Relaxed);
        if bits != 0 && (bits & PID_MASK) as u32 == std::process::id() {
            return bits;
        }
        let me = Self::compute_current().to_bits();
        CURRENT_FALLBACK.store(me, Ordering::Relaxed);
        me
    }

    fn compute_current() -> ProcessIdent {
        let pid = std::process::id();
        // A child of this library's fork knows its start time from the fork
        // itself (mostly; see `mp_sys::fork_start_time`). Otherwise: /proc/self
        // is always readable by the process itself; if /proc is not mounted
        // the start time is unknown and 0 stands for it.
        let start = mp_sys::fork_start_time::own_start_time(pid)
            .or_else(|| mp_sys::process::stat(pid).ok().map(|s| s.start_time))
            .map_or(0, |t| t & START_MASK);
        ProcessIdent { pid, start }
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The start time in clock ticks since boot, modulo 2^40.
    pub fn start_time(&self) -> u64 {
        self.start
    }

    /// Packs the identity into the low [`IDENT_BITS`] bits of a `u64`; never 0.
    #[inline]
    pub fn to_bits(&self) -> u64 {
        (self.start << PID_BITS) | (u64::from(self.pid) & PID_MASK)
    }

    /// Unpacks [`to_bits`](Self::to_bits); bits above [`IDENT_BITS`] are ignored.
    #[inline]
    pub fn from_bits(bits: u64) -> ProcessIdent {
        ProcessIdent {
            pid: (bits & PID_MASK) as u32,
            start: (bits >> PID_BITS) & START_MASK,
        }
    }

    /// Whether this process still runs: its pid exists, is not a zombie, and
    /// belongs to a process started at the same time (so a reused pid
    /// counts as dead). A `/proc` that cannot be read counts as alive.
    pub fn is_alive(&self) -> bool {
        match mp_sys::process::stat(self.pid) {
            Ok(stat) => !stat.zombie && (stat.start_time & START_MASK) == self.start,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_is_alive_and_round_trips() {
        let me = ProcessIdent::current();
        assert_eq!(me.pid(), std::process::id());
        assert!(me.is_alive());
        assert_eq!(ProcessIdent::from_bits(me.to_bits()), me);
        assert_eq!(ProcessIdent::of(me.pid()).unwrap(), me);
        assert!(me.to_bits() != 0 && me.to_bits() >> IDENT_BITS == 0);
    }

    #[test]
    fn reused_pid_and_dead_pid_are_dead() {
        let me = ProcessIdent::current();
        let impostor = ProcessIdent {
            pid: me.pid(),
            start: (me.start_time() + 1) & START_MASK,
        };
        assert!(!impostor.is_alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ident = ProcessIdent::of(child.id()).ok();
        child.wait().unwrap();
        if let Some(ident) = ident {
            assert!(!ident.is_alive());
        }
    }

    #[test]
    fn zombie_counts_as_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let ident = ProcessIdent::of(pid);
        // Not reaped yet: wait until it is a zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while ident.as_ref().is_ok_and(|i| i.is_alive()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if let Ok(ident) = ident {
            assert!(!ident.is_alive());
        }
        child.wait().unwrap();
    }
}
