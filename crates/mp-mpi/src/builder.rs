//! [`PoolBuilder`]: how many workers and what each runs first; `build`
//! picks MPI ranks under an MPI launcher (feature `mpi`), local processes
//! otherwise.

use mp_pool::{PoolError, StarFn};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pool::{Backend, Pool};

/// Configures a [`Pool`] (Python's `Pool(processes, initializer, initargs)`).
#[derive(Debug, Default)]
pub struct PoolBuilder {
    local: mp_pool::PoolBuilder,
    processes: Option<usize>,
    #[cfg(feature = "mpi")]
    init: Option<Result<(mp_sys::mpi_job::CallEntry, Vec<u8>), PoolError>>,
}

impl PoolBuilder {
    /// At most `n` workers (at least 1). Locally the default is
    /// `cpu_count()`; on MPI, every worker rank (ranks beyond `n` stay idle).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self.local = self.local.processes(n);
        self
    }

    /// Runs `f(*initargs)` once in each worker before its first task
    /// (Python's `initializer` and `initargs`). On MPI it runs on every worker
    /// rank while `build` waits; a rank whose initializer panics dies, which
    /// aborts the job.
    pub fn initializer<F, Args>(mut self, f: F, initargs: Args) -> Self
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        #[cfg(feature = "mpi")]
        {
            self.init = Some(
                mp_wire::encode(&initargs)
                    .map_err(PoolError::Encode)
                    .map(|m| (crate::calls::init_call(f), m.bytes)),
            );
        }
        self.local = self.local.initializer(f, initargs);
        self
    }

    /// Starts the pool: on the worker ranks of the MPI job if this process
    /// is its rank 0; else, if [`SPAWN_ENV`](crate::SPAWN_ENV) asks for it
    /// (singleton mode), on that many ranks spawned with `MPI_Comm_spawn`;
    /// else local worker processes.
    pub fn build(self) -> Result<Pool, PoolError> {
        if self.processes == Some(0) {
            return Err(PoolError::InvalidArgument(
                "number of processes must be at least 1".to_string(),
            ));
        }
        #[cfg(feature = "mpi")]
        if let Some(world) = mp_sys::mpi_job::world().map(Ok).or_else(spawn_requested) {
            let world = world?;
            let ranks = world.workers();
            if ranks == 0 {
                return Err(PoolError::InvalidArgument(
                    "the MPI job has no worker ranks: start it with `mpirun -n 2` or more".into(),
                ));
            }
            let workers = self.processes.map_or(ranks, |n| n.min(ranks));
            let init = self.init.transpose()?;
            let engine = crate::engine::Engine::start(world, workers, init)?;
            return Ok(Pool {
                backend: Backend::Mpi(crate::mpi_pool::MpiPool::new(engine, workers)),
            });
        }
        Ok(Pool {
            backend: Backend::Local(self.local.build()?),
        })
    }
}

/// The worker ranks to spawn if [`SPAWN_ENV`](crate::SPAWN_ENV) asks for
/// some: `None` if it does not; the spawned world, or why not.
#[cfg(feature = "mpi")]
fn spawn_requested() -> Option<Result<mp_sys::mpi_job::World, PoolError>> {
    let value = std::env::var(crate::SPAWN_ENV).ok()?;
    let n = match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => n,
        _ => {
            return Some(Err(PoolError::InvalidArgument(format!(
                "{}={value:?}: give the number of worker ranks to spawn (1 or more)",
                crate::SPAWN_ENV
            ))))
        }
    };
    Some(
        mp_sys::mpi_job::spawn_world(n)
            .map_err(|e| PoolError::Unsupported(format!("spawning {n} MPI worker ranks: {e}"))),
    )
}
