//! `mp-mpi`: the process pool on MPI ranks — the same `map`, `imap`,
//! `imap_unordered`, `starmap`, `apply_async`, callbacks, chunking and
//! initializer as mp-pool's `Pool`, run by the ranks of an MPI job, with the
//! same user code as a local pool.
//!
//! ```
//! use mp_mpi::Pool;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! // `./prog`: local worker processes. `mpirun -n 3 ./prog` (feature `mpi`):
//! // rank 0 runs this, ranks 1 and 2 are the workers.
//! let pool = Pool::with_processes(2)?;
//! assert_eq!(pool.map(square, 0..5)?, vec![0, 1, 4, 9, 16]);
//! pool.close();
//! pool.join()?;
//! # Ok::<(), mp_pool::PoolError>(())
//! ```
//!
//! # How it runs
//! With the `mpi` feature, a program started by `mpirun -n N`, `srun
//! --mpi=pmix -n N` (or another launcher that sets `OMPI_COMM_WORLD_RANK`,
//! `PMIX_RANK` or `PMI_RANK`) is taken over before `main` by mp-sys's
//! start-up constructor, as spawn children are: every rank initialises MPI,
//! rank 0 gives the others its process-tree key over the job's communicator,
//! then rank 0 runs `main` and ranks 1..N serve calls until rank 0 exits.
//! Every rank runs the same binary, so a task function crosses as an
//! authenticated `EntryPoint` (never a bare code address; see
//! `docs/function-identity.md`) and its data as serde values.
//! [`Pool::builder`]`().build()` on rank 0 then drives the worker ranks; in a
//! program not started by an MPI launcher (or built without the feature) it
//! is a local [`mp_pool::Pool`].
//!
//! Singleton mode: a program built with the feature but started without a
//! launcher, with [`SPAWN_ENV`]`=N` in its environment, starts MPI itself
//! when its first pool is built and spawns `N` worker ranks of the same
//! binary with `MPI_Comm_spawn` (mpi4py.futures' model); they serve as a
//! launcher's ranks do and end with the process.
//!
//! On rank 0 one dispatcher thread owns MPI (`MPI_THREAD_SERIALIZED` is
//! enough): it hands each chunk to the least loaded rank, keeping a few
//! queued on each as the local pool prefetches (more for tiny tasks), with
//! buffered sends that never wait for a busy rank; it reorders for
//! `map`/`imap` and runs the callbacks. A worker rank is one thread that
//! takes in its next calls while its reply is on the way. One MPI pool at
//! a time.
//!
//! # Failure
//! MPI is fail-stop: a rank that dies (a task calls `exit`, aborts, is
//! killed, or a panic escapes a task's guard, e.g. in an initializer) aborts
//! the whole job, rank 0 included, so no error value reaches rank 0. Before
//! it ends, a dying worker prints which call it was running (function,
//! chunk, task range) on stderr. There are no retries: checkpoint long jobs.
//! A task's panic is not a death: it is caught in the worker and returned as
//! that task's [`TaskError::Panic`], and the rank carries on.
#![forbid(unsafe_code)]

#[cfg(feature = "mpi")]
mod batch;
mod builder;
#[cfg(feature = "mpi")]
mod calls;
#[cfg(feature = "mpi")]
mod engine;
#[cfg(feature = "mpi")]
mod mpi_pool;
mod pool;
#[cfg(feature = "mpi")]
mod sinks;

pub use builder::PoolBuilder;

/// Singleton mode (feature `mpi`): in a program not started by an MPI
/// launcher, `MULTIPROCESS_MPI_SPAWN=N ./prog` makes the first
/// [`Pool`] spawn `N` worker ranks running this program with
/// `MPI_Comm_spawn` (mpi4py.futures' model) instead of local processes.
/// They serve every MPI pool of the process and end with it.
pub const SPAWN_ENV: &str = "MULTIPROCESS_MPI_SPAWN";
pub use mp_pool::{AsyncResult, Callbacks, IMapIterator, PoolError, TaskError};
pub use pool::Pool;

/// True if this process is rank 0 of an MPI job whose other ranks serve as
/// pool workers (so [`Pool`] runs on them). Always false without the `mpi`
/// feature.
pub fn is_mpi_root() -> bool {
    #[cfg(feature = "mpi")]
    {
        mp_sys::mpi_job::world().is_some()
    }
    #[cfg(not(feature = "mpi"))]
    {
        false
    }
}

/// The number of worker ranks of the MPI job (its size minus one) if this
/// process is its rank 0; `None` otherwise.
pub fn mpi_workers() -> Option<usize> {
    #[cfg(feature = "mpi")]
    {
        mp_sys::mpi_job::world().map(|w| w.workers())
    }
    #[cfg(not(feature = "mpi"))]
    {
        None
    }
}
