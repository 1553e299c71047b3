//! `Pool`: tasks submitted with `apply_async` mark when they start (with
//! their worker's pid) and when they end; a worker that is running a task is
//! SIGKILLed at a random moment. Asserts: every result arrives within the
//! timeout, every task succeeds except the one the killed worker was running
//! (which fails with `WorkerDied`) — a task that never started must not fail —
//! and the pool maps a fresh batch afterwards. Issue 11 #9(b): tasks
//! submitted right after an idle worker was killed never ran, so none may
//! fail. Issue 11 #9(c): under `imap` in chunks of 4, a killed worker fails
//! only tasks that started on it; the rest of its chunk is re-sent and
//! succeeds. Issue 11 #9(a): a task that ends its worker with `exit(3)` is
//! reported with exit code 3.

use std::time::{Duration, Instant};

use multiprocess::{exit, Pool, PoolError, RawArray, TaskError};
use rustix::process::{kill_process, Pid, Signal};

use crate::crew::{OVERRUN, WAIT};
use crate::harness::{check, Outcome, Trial};

const TASKS: usize = 8;

/// Task `i`: records its worker's pid in `marks[2i]`, works a little,
/// records that it ended in `marks[2i + 1]`.
fn task(i: u64, ms: u64, marks: RawArray<u64>) -> u64 {
    let i = i as usize;
    marks
        .set(2 * i, u64::from(std::process::id()))
        .expect("mark");
    std::thread::sleep(Duration::from_millis(ms));
    marks.set(2 * i + 1, 1).expect("mark");
    i as u64
}

fn double(x: u64) -> u64 {
    2 * x
}

/// Waits until some task is running (started, not ended); returns it.
fn running(marks: &RawArray<u64>, trial: &mut Trial) -> Option<usize> {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        let now: Vec<usize> = (0..TASKS)
            .filter(|&i| {
                marks.get(2 * i).unwrap_or(0) != 0 && marks.get(2 * i + 1).unwrap_or(1) == 0
            })
            .collect();
        if !now.is_empty() {
            return Some(now[trial.below(now.len())]);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

pub(crate) fn pool_killed_worker(trial: &mut Trial) -> Outcome {
    let pool = Pool::with_processes(2).map_err(|e| e.to_string())?;
    let marks = RawArray::<u64>::new(2 * TASKS).map_err(|e| e.to_string())?;
    let results: Vec<_> = (0..TASKS)
        .map(|i| {
            let ms = 20 + 10 * trial.below(5) as u64;
            pool.apply_async(task, (i as u64, ms, marks.clone()))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let victim = running(&marks, trial).ok_or("no task started")?;
    trial.pause(10);
    let pid = marks.get(2 * victim).map_err(|e| e.to_string())? as i32;
    kill_process(Pid::from_raw(pid).ok_or("pid 0")?, Signal::KILL)
        .map_err(|e| format!("kill {pid}: {e}"))?;
    let mut failed = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r.get_timeout(WAIT + OVERRUN) {
            Ok(v) => check(v == i as u64, || format!("task {i} returned {v}"))?,
            Err(PoolError::Task(TaskError::WorkerDied { .. })) => failed.push(i),
            Err(e) => return Err(format!("task {i}: {e} (expected its value)")),
        }
    }
    for &i in &failed {
        let ran_there = marks.get(2 * i).unwrap_or(0) == pid as u64;
        let ended = marks.get(2 * i + 1).unwrap_or(0) == 1;
        check(ran_there && !ended, || {
            format!(
                "task {i} failed with WorkerDied but {} (killed task: {victim})",
                if ran_there {
                    "had ended"
                } else {
                    "never ran on the killed worker"
                }
            )
        })?;
    }
    check(failed.len() <= 1, || {
        format!("tasks {failed:?} failed; only the killed worker's may")
    })?;
    let again = pool
        .map(double, 0..4u64)
        .map_err(|e| format!("map after the kill: {e}"))?;
    check(again == [0, 2, 4, 6], || {
        format!("map after the kill returned {again:?}")
    })
}

/// `task` for `imap`: one tuple argument.
fn task_item(args: (u64, u64, RawArray<u64>)) -> u64 {
    task(args.0, args.1, args.2)
}

/// Issue 11 #9(c): a worker dies inside a chunk.
pub(crate) fn pool_chunk_worker_killed(trial: &mut Trial) -> Outcome {
    let pool = Pool::with_processes(2).map_err(|e| e.to_string())?;
    let marks = RawArray::<u64>::new(2 * TASKS).map_err(|e| e.to_string())?;
    let items: Vec<_> = (0..TASKS as u64)
        .map(|i| (i, 20 + 10 * trial.below(5) as u64, marks.clone()))
        .collect();
    let mut results = pool
        .imap_chunked(task_item, items, 4)
        .map_err(|e| e.to_string())?;
    let victim = running(&marks, trial).ok_or("no task started")?;
    trial.pause(10);
    let pid = marks.get(2 * victim).map_err(|e| e.to_string())?;
    kill_process(Pid::from_raw(pid as i32).ok_or("pid 0")?, Signal::KILL)
        .map_err(|e| format!("kill {pid}: {e}"))?;
    for i in 0..TASKS {
        match results.next_timeout(WAIT + OVERRUN) {
            Some(Ok(v)) => check(v == i as u64, || format!("item {i} returned {v}"))?,
            Some(Err(PoolError::Task(TaskError::WorkerDied { .. }))) => {
                let ran_there = marks.get(2 * i).unwrap_or(0) == pid;
                check(ran_there, || {
                    format!("item {i} failed with WorkerDied but never ran on the killed worker (killed task: {victim})")
                })?;
            }
            Some(Err(e)) => return Err(format!("item {i}: {e}")),
            None => return Err(format!("item {i}: no result within {:?}", WAIT + OVERRUN)),
        }
    }
    Ok(())
}

/// The worker's pid, after a short nap (so both workers get some).
fn worker_pid(_x: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(10));
    std::process::id()
}

/// Issue 11 #9(b): kill an idle worker, then submit at once.
pub(crate) fn pool_idle_worker_killed(trial: &mut Trial) -> Outcome {
    let pool = Pool::with_processes(2).map_err(|e| e.to_string())?;
    let mut pids = pool.map(worker_pid, 0..8u64).map_err(|e| e.to_string())?;
    pids.sort_unstable();
    pids.dedup();
    let pid = pids[trial.below(pids.len())] as i32;
    kill_process(Pid::from_raw(pid).ok_or("pid 0")?, Signal::KILL)
        .map_err(|e| format!("kill {pid}: {e}"))?;
    trial.pause(5);
    let results: Vec<_> = (0..4u64)
        .map(|x| pool.apply_async(double, (x,)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for (x, r) in results.iter().enumerate() {
        let v = r
            .get_timeout(WAIT + OVERRUN)
            .map_err(|e| format!("task {x}, submitted after an idle worker died: {e}"))?;
        check(v == 2 * x as u64, || format!("task {x} returned {v}"))?;
    }
    Ok(())
}

fn exit_three(_x: u64) -> u64 {
    exit(3);
}

/// Issue 11 #9(a): `exit(3)` in a task is reported as exit code 3.
pub(crate) fn pool_task_exits(_trial: &mut Trial) -> Outcome {
    let pool = Pool::with_processes(2).map_err(|e| e.to_string())?;
    let r = pool
        .apply_async(exit_three, (1u64,))
        .map_err(|e| e.to_string())?;
    match r.get_timeout(WAIT + OVERRUN) {
        Err(PoolError::Task(TaskError::WorkerDied { exitcode: 3, .. })) => Ok(()),
        other => Err(format!("exit(3) in a task gave {other:?}")),
    }
}
