//! The calls an MPI worker rank runs, named by `EntryPoint`s: zero-sized
//! closures around mp-pool's chunk trampolines, so only code crosses (the
//! worker resolves the entry point under the key rank 0 gave it; see
//! `docs/function-identity.md`). A map or starmap call takes a
//! [`batch`] of chunks.

use crate::batch;
use mp_pool::remote;
use mp_pool::StarFn;
use mp_process::CodeOnly;
use mp_sys::entry::EntryPoint;
use mp_sys::mpi_job::{self, CallEntry};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `f(item)` for each item of each chunk of a batch.
pub(crate) fn map_call<F, T, R>(f: F) -> CallEntry
where
    F: Fn(T) -> R + CodeOnly,
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    EntryPoint::of(move |input: Vec<u8>| {
        batch::serve(
            input,
            |chunk| remote::run_map_chunk(f, chunk),
            mpi_job::running,
        )
    })
}

/// `f(*args)` for each argument tuple of each chunk of a batch.
pub(crate) fn star_call<F, Args>(f: F) -> CallEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
    F::Output: Serialize + 'static,
{
    EntryPoint::of(move |input: Vec<u8>| {
        batch::serve(
            input,
            |chunk| remote::run_star_chunk(f, chunk),
            mpi_job::running,
        )
    })
}

/// The initializer: an empty reply on success, else why it failed.
pub(crate) fn init_call<F, Args>(f: F) -> CallEntry
where
    F: StarFn<Args>,
    Args: DeserializeOwned + 'static,
{
    EntryPoint::of(
        move |input: Vec<u8>| match remote::run_initializer(f, input) {
            Ok(()) => Vec::new(),
            Err(why) => why.into_bytes(),
        },
    )
}
