//! The raw limit of every scenario: the same measurement written straight on
//! system calls (through `mp_sys` and `rustix`), with none of this library's
//! framing, checks or bookkeeping. `mp-scenarios raw:<id>` runs one, so
//! `cargo xtask bench-compare` measures it beside ours in the same run.
//!
//! Children are started with a bare `fork()` (`child::start`): a raw
//! scenario runs in a process with one thread, which [`Raw::run`] checks
//! before it starts, and starts no thread itself.

mod child;
pub mod futex_mutex;
mod pipes;
mod pool;
mod process;
mod ring;
mod shm;
mod sync;

pub use futex_mutex::FutexMutex;
pub use process::{exit_if_exec_child, EXEC_CHILD_ENV};

use crate::scenarios::Measurement;

/// A raw implementation: the scenario id it stands beside, what it is, and
/// its runner.
#[derive(Debug, Clone, Copy)]
pub struct Raw {
    /// The id of the scenario this is the limit of (`M2`).
    pub id: &'static str,
    /// One line saying what the raw version does.
    pub what: &'static str,
    run: fn(quick: bool) -> Measurement,
}

impl Raw {
    /// Runs the raw version once.
    ///
    /// # Panics
    /// If the process has more than one thread: the raw versions fork
    /// without checking (a raw limit does not pay for the check), which is
    /// sound only in a single-threaded process, such as `mp-scenarios`.
    pub fn run(&self, quick: bool) -> Measurement {
        let threads = mp_sys::thread::thread_count().expect("count threads");
        assert_eq!(threads, 1, "raw scenarios fork: run them single-threaded");
        (self.run)(quick)
    }
}

/// The raw version of every scenario of [`crate::scenarios::ALL`].
pub const ALL: &[Raw] = &[
    Raw {
        id: "M1-fork",
        what: "fork() + waitid of a child that _exits at once",
        run: process::fork_waitid,
    },
    Raw {
        id: "M1-spawn",
        what: "fork+exec of the same binary (std::process), which exits before main's work",
        run: process::fork_exec_self,
    },
    Raw {
        id: "M1-forkserver",
        what: "a minimal fork server: one helper process forks on request over a socketpair, reports pid and exit",
        run: process::fork_server,
    },
    Raw {
        id: "M2",
        what: "pipe ping-pong of 8 bytes with an echo child",
        run: pipes::m2,
    },
    Raw {
        id: "M3a",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits",
        run: ring::small,
    },
    Raw {
        id: "M3a-1cpu",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits, on one CPU",
        run: ring::small,
    },
    Raw {
        id: "M3a-2cpu",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits, a CPU each",
        run: ring::small_2cpu,
    },
    Raw {
        id: "M3b",
        what: "4 MiB ring in a memfd, 1 MiB items copied in and out",
        run: ring::big,
    },
    Raw {
        id: "M3c",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits",
        run: ring::small,
    },
    Raw {
        id: "M3c-1cpu",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits, on one CPU",
        run: ring::small,
    },
    Raw {
        id: "M3c-2cpu",
        what: "SPSC ring of 8-byte items in a memfd, spin-then-futex waits, a CPU each",
        run: ring::small_2cpu,
    },
    Raw {
        id: "M3e",
        what: "SPSC ring of 4096 8-byte items in a memfd, spin-then-futex waits, on one CPU",
        run: ring::small,
    },
    Raw {
        id: "M4a",
        what: "two forked workers fed over pipes, CPython's default chunking (8 chunks)",
        run: pool::m4a,
    },
    Raw {
        id: "M4b",
        what: "pipe round trip of 8 bytes to a waiting worker",
        run: pipes::m4b,
    },
    Raw {
        id: "M4c",
        what: "two forked workers fed over pipes, one item per message",
        run: pool::m4c,
    },
    Raw {
        id: "M5a",
        what: "futex mutex (std's algorithm) lock + unlock, uncontended",
        run: sync::m5a,
    },
    Raw {
        id: "M5b",
        what: "two processes incrementing a shared counter under a futex mutex",
        run: sync::m5b,
    },
    Raw {
        id: "M5b-1cpu",
        what: "two processes incrementing a shared counter under a futex mutex, on one CPU",
        run: sync::m5b,
    },
    Raw {
        id: "M5b-2cpu",
        what: "two processes incrementing a shared counter under a futex mutex, a CPU each",
        run: sync::m5b_2cpu,
    },
    Raw {
        id: "M6",
        what: "two pipe round trips of 8 bytes with an echo child",
        run: pipes::m6,
    },
    Raw {
        id: "M7",
        what: "futex ping-pong between two processes (round trip)",
        run: sync::m7,
    },
    Raw {
        id: "M8",
        what: "posix shm 1 MiB: shm_open create + ftruncate + mmap, attach + mmap, unmap, unlink",
        run: shm::m8,
    },
];

/// The raw version of scenario `id`, if there is one.
pub fn find(id: &str) -> Option<&'static Raw> {
    ALL.iter().find(|r| r.id == id)
}
