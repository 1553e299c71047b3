//! `EncodedJob` + `Pool::run_encoded`: work encoded in one place, run by a
//! pool, decoded by the caller — the path a manager's `Pool` proxy takes.

mod common;

use common::deadline;
use mp_pool::{EncodedJob, Pool, PoolError, TaskError};

fn square(x: u64) -> u64 {
    x * x
}

fn fails_on_2(x: u64) -> u64 {
    assert!(x != 2, "no twos");
    x
}

#[test]
fn an_encoded_job_runs_and_decodes() {
    deadline(60, "encoded", || {
        let pool = Pool::with_processes(2).unwrap();
        let job = EncodedJob::map(square, &(0..50u64).collect::<Vec<_>>(), 7).unwrap();
        // It travels as bytes (to the manager server and back).
        let bytes = mp_wire::encode(&job).unwrap();
        let job: EncodedJob = mp_wire::decode(bytes).unwrap();
        let outs = pool.run_encoded(&job).unwrap().get().unwrap();
        let got: Vec<u64> = job.decode(outs).unwrap();
        assert_eq!(got, (0..50).map(|x| x * x).collect::<Vec<_>>());

        let star = EncodedJob::star(|a: u64, b: u64| a + b, &[(1, 2), (3, 4)], 1).unwrap();
        let outs = pool.run_encoded(&star).unwrap().get().unwrap();
        assert_eq!(star.decode::<u64>(outs).unwrap(), vec![3, 7]);

        let bad = EncodedJob::map(fails_on_2, &[1u64, 2, 3], 1).unwrap();
        let outs = pool.run_encoded(&bad).unwrap().get().unwrap();
        assert!(matches!(
            bad.decode::<u64>(outs),
            Err(PoolError::Task(TaskError::Panic { message, .. })) if message == "no twos"
        ));
    });
}

/// A job is trusted input (like a pickle in Python): a tampered entry point
/// may crash the worker. What must hold is that only that task fails.
#[test]
fn a_forged_entry_point_fails_its_chunks_not_the_pool() {
    deadline(60, "forged", || {
        let pool = Pool::with_processes(1).unwrap();
        let job = EncodedJob::map(square, &[3u64], 1).unwrap();
        // Shift the function's offset: no such entry point in this program.
        let mut bytes = mp_wire::encode(&job).unwrap();
        bytes.bytes[0] ^= 0x55;
        let forged: EncodedJob = mp_wire::decode(bytes).unwrap();
        let outs = pool.run_encoded(&forged).unwrap().get().unwrap();
        let got = forged.decode::<u64>(outs);
        assert!(
            matches!(
                got,
                Err(PoolError::Task(
                    TaskError::Function(_) | TaskError::WorkerDied { .. }
                ))
            ),
            "{got:?}"
        );
        // The pool still works.
        assert_eq!(pool.apply(square, (4,)).unwrap(), 16);
    });
}
