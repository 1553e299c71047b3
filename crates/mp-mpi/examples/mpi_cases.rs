//! The cases `tests/mpirun.rs` runs under `mpirun -n 3`: every pool call on
//! MPI ranks, checked against the same calls computed here; `crash` makes a
//! task exit its rank, `crash-late` a task that runs in a batch of many
//! tiny ones; `killed-idle` SIGKILLs an idle worker rank, then makes a
//! call and shuts the pool down; `fork-copy` hands the pool to a forked
//! child, which must be refused, see no MPI world of its own and leave the
//! pool alone, even when it ends through the exit handlers. Prints one line
//! per case; exits non-zero on a mismatch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use mp_mpi::{Callbacks, Pool, PoolError, TaskError};
use mp_process::{Process, StartMethod};

static SEED: AtomicU64 = AtomicU64::new(0);

fn init(seed: u64) {
    SEED.store(seed, Ordering::SeqCst);
}

fn seeded(x: u64) -> u64 {
    SEED.load(Ordering::SeqCst) + x
}

fn square(x: u64) -> u64 {
    x * x
}

fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

fn count(values: Vec<u64>) -> usize {
    values.iter().filter(|&&v| v == u64::MAX).count()
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn rank(_: u32) -> String {
    std::env::var("OMPI_COMM_WORLD_RANK").unwrap_or_else(|_| "local".into())
}

/// This process's network namespace (`net:[inode]`).
fn netns(_: u32) -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn pid_of(_: u32) -> u32 {
    std::process::id()
}

fn picky(x: u64) -> u64 {
    assert!(x != 5, "five is not allowed");
    x
}

fn exits_at_7(x: u64) -> u64 {
    if x == 7 {
        std::process::exit(3);
    }
    x
}

fn exits_at_3000(x: u64) -> u64 {
    if x == 3000 {
        std::process::exit(3);
    }
    x
}

/// An argument that will not encode when it is 150 (the failure comes
/// after the call's first chunks went out).
#[derive(Debug, Clone, Copy)]
struct Picky(u64);

impl serde::Serialize for Picky {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 150 {
            return Err(serde::ser::Error::custom("150 does not encode"));
        }
        s.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Picky {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Picky)
    }
}

fn unpick(p: Picky) -> u64 {
    p.0
}

/// Prints, for each thread of process `pid`, its name, the kernel function
/// it waits in and its system call (`/proc/<pid>/task/*/{comm,wchan,syscall}`),
/// then, if `gdb` is installed, the backtrace of its (only) thread.
fn describe_stuck(pid: u32) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        println!("forked copy {pid}: no /proc entry");
        return;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let read = |name: &str| {
            std::fs::read_to_string(path.join(name))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|e| format!("({e})"))
        };
        println!(
            "forked copy {pid} thread {:?} {}: wchan {}, syscall {}",
            task.file_name(),
            read("comm"),
            read("wchan"),
            read("syscall")
        );
    }
    // Where in the program, if gdb is there to say (CI runs as root).
    if let Ok(out) = std::process::Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-ex", "bt"])
        .stdin(std::process::Stdio::null())
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().filter(|l| l.starts_with('#')) {
            println!("forked copy {pid} backtrace: {line}");
        }
    }
}

fn check(name: &str, ok: bool) {
    println!("{name}: {}", if ok { "ok" } else { "MISMATCH" });
    if !ok {
        std::process::exit(1);
    }
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// How many pools `fork-copy` makes, forking a child with a copy of each
/// just after it starts: the instant its dispatcher thread registers to
/// wait for commands, under its channel's lock (a copy whose drop then
/// took that lock hung: once in about 30 CI runs with one pool).
const FORK_COPY_ROUNDS: usize = 20;

/// A forked child reaching `pool` through its parent's handles (a closure's
/// capture) is refused at once, and its `close`, `terminate`, `join` and
/// drop leave the parent's pool alone: it has no dispatcher thread, so
/// before the owner check its calls waited for ever for replies nothing
/// delivered, and its `join` or drop for a thread it does not have. The
/// child must end within 30 s; then the parent's pool still runs on its
/// ranks. `Ok(false)` after printing why, if the child did not end well.
fn fork_copy(pool: Pool) -> Result<bool, PoolError> {
    let me = std::process::id();
    let slot = Arc::new(Mutex::new(Some(pool)));
    let copy = Arc::clone(&slot);
    let mut child = Process::from_closure(move || {
        // Taken out of the slot: the child owns this copy, so it drops it.
        let pool = copy.lock().unwrap().take().expect("the pool");
        let got = pool.apply(square, (3u64,));
        assert!(
            matches!(got, Err(PoolError::NotOwner { owner }) if owner == me),
            "{got:?}"
        );
        let got = pool.map(square, 0..10u64);
        assert!(matches!(got, Err(PoolError::NotOwner { .. })), "{got:?}");
        assert!(matches!(
            pool.imap_unordered(square, 0..10u64),
            Err(PoolError::NotOwner { .. })
        ));
        pool.close();
        assert!(matches!(pool.join(), Err(PoolError::NotOwner { .. })));
        assert!(matches!(
            pool.join_timeout(Duration::from_secs(60)),
            Err(PoolError::NotOwner { .. })
        ));
        pool.terminate();
        drop(pool);
        // MPI stays the parent's: the child sees no world of its own, and
        // its exit (the exit handlers run, unlike a child's usual `_exit`)
        // must not shut the parent's ranks down.
        assert!(!mp_mpi::is_mpi_root());
        assert_eq!(mp_mpi::mpi_workers(), None);
        std::process::exit(0);
    })
    .start_method(StartMethod::Fork);
    child.start()?;
    child.join_timeout(Duration::from_secs(30))?;
    let code = child.exitcode();
    if code.is_none() {
        // Still running after 30 s: where each of its threads waits, for
        // whoever reads the failure.
        if let Some(pid) = child.pid() {
            describe_stuck(pid);
        }
        let _ = child.kill();
        let _ = child.join();
    }
    if code != Some(0) {
        println!("forked copy ended with {code:?} (None: still running after 30 s)");
    }
    let pool = slot.lock().unwrap().take().expect("the pool");
    check(
        "pool after the forked copy",
        pool.map(square, 0..10u64)? == (0..10).map(square).collect::<Vec<_>>(),
    );
    pool.close();
    pool.join()?;
    Ok(code == Some(0))
}

/// [`fork_copy`] with `first`, then with [`FORK_COPY_ROUNDS`]` - 1` more
/// pools, each forked from as soon as it is built.
fn fork_copies(first: Pool) -> Result<(), PoolError> {
    let mut refused = fork_copy(first)?;
    for _ in 1..FORK_COPY_ROUNDS {
        if !refused {
            break;
        }
        refused = fork_copy(Pool::builder().initializer(init, (1000u64,)).build()?)?;
    }
    check("forked copy refused", refused);
    Ok(())
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::builder().initializer(init, (1000u64,)).build()?;
    println!("mpi: {} workers: {}", pool.is_mpi(), pool.processes());
    let crash = std::env::args().nth(1);
    if crash.as_deref() == Some("fork-copy") {
        return fork_copies(pool);
    }
    if crash.as_deref() == Some("crash") {
        let _ = pool.map_chunked(exits_at_7, 0..20u64, 1);
        println!("crash: survived (wrong)");
        std::process::exit(1);
    }
    if crash.as_deref() == Some("crash-late") {
        let _ = pool.imap_unordered(exits_at_3000, 0..6000u64)?.count();
        println!("crash: survived (wrong)");
        std::process::exit(1);
    }
    if crash.as_deref() == Some("killed-idle") {
        // A worker rank SIGKILLed from outside while it waits for a call:
        // the next call (or, if it got through, the shutdown) must end rank
        // 0 as well, not wait for the dead rank.
        let mut pids = pool.map_chunked(pid_of, 0..40u32, 1)?;
        pids.sort_unstable();
        pids.dedup();
        let victim = pids.first().copied().unwrap_or_default();
        // Said before the kill: rank 0 may be ended before it can say more.
        println!("killing worker rank pid {victim}");
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &victim.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        check("worker rank killed", killed && victim != std::process::id());
        let _ = pool.map_chunked(square, 0..40u64, 1);
        pool.close();
        let _ = pool.join();
        drop(pool);
        std::thread::sleep(Duration::from_secs(10));
        println!("crash: survived (wrong)");
        std::process::exit(1);
    }
    let want: Vec<u64> = (0..200).map(square).collect();
    check("map", pool.map(square, 0..200u64)? == want);
    check(
        "map_chunked",
        pool.map_chunked(square, 0..200u64, 7)? == want,
    );
    // Chunks of 25 000 inputs: messages far above MPI's eager limit.
    let big: Vec<u64> = (0..200_000).map(square).collect();
    check("big map", pool.map(square, 0..200_000u64)? == big);
    // Many large calls and replies in flight at once (each above the eager
    // limit both ways), and one call larger than rank 0's send buffer
    // budget (it goes by a blocking send).
    let blobs: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 100_000]).collect();
    check(
        "large calls in flight",
        pool.map_chunked(echo, blobs.clone(), 1)? == blobs,
    );
    // 3.5 M integers of 10 bytes each (postcard's varint of u64::MAX): 35 MB.
    // Only on ranks (a local pool has no such buffer; this takes seconds in
    // a debug build).
    check(
        "a call above the send buffer",
        !pool.is_mpi() || pool.apply(count, (vec![u64::MAX; 3_500_000],))? == 3_500_000,
    );
    let ordered: Vec<u64> = pool.imap(square, 0..50u64)?.collect::<Result<_, _>>()?;
    check("imap", ordered == want[..50]);
    let mut any: Vec<u64> = pool
        .imap_unordered_chunked(square, 0..50u64, 3)?
        .collect::<Result<_, _>>()?;
    any.sort_unstable();
    check("imap_unordered", any == want[..50]);
    let pairs: Vec<(u64, u64)> = (0..30).map(|i| (i, 2 * i)).collect();
    check(
        "starmap",
        pool.starmap(add, pairs)? == (0..30).map(|i| 3 * i).collect::<Vec<_>>(),
    );
    check(
        "initializer",
        pool.map(seeded, 0..4u64)? == vec![1000, 1001, 1002, 1003],
    );
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let r = pool.apply_async_with(
        add,
        (20u64, 22u64),
        Callbacks::new().callback(move |v| *s.lock().unwrap() = Some(*v)),
    )?;
    check(
        "apply_async",
        r.get()? == 42 && *seen.lock().unwrap() == Some(42),
    );
    let failed = Arc::new(Mutex::new(None));
    let f = failed.clone();
    let r = pool.map_async_with(
        picky,
        0..10u64,
        Some(2),
        Callbacks::new()
            .error_callback(move |e: &TaskError| *f.lock().unwrap() = Some(e.to_string())),
    )?;
    let err = r.get().unwrap_err().to_string();
    let told = failed.lock().unwrap().clone().unwrap_or_default();
    check(
        "task panic",
        err.contains("five is not allowed") && told == err,
    );
    let results: Vec<_> = pool.imap(picky, 3..7u64)?.collect();
    check(
        "imap panic",
        results.len() == 4 && results[2].is_err() && results[3].as_ref().ok() == Some(&6),
    );
    // An argument that fails to encode after the first chunks were sent:
    // `map` fails with the encoding error as a task error; `imap` (which
    // encodes every chunk first) fails the call; the pool goes on.
    let picky_args = (0..200).map(Picky);
    let map_err = pool.map_chunked(unpick, picky_args.clone(), 10);
    let imap_err = pool.imap_chunked(unpick, picky_args, 10).map(|_| ());
    check(
        "encode error after the first chunks",
        matches!(&map_err, Err(PoolError::Task(TaskError::Encode(e)))
            if e == "cannot encode the task arguments: cannot encode value: 150 does not encode")
            && matches!(imap_err, Err(PoolError::Encode(_)))
            && pool.map(square, 0..10u64)? == want[..10],
    );
    let mut ranks = pool.map_chunked(rank, 0..40u32, 1)?;
    ranks.sort();
    ranks.dedup();
    println!("ranks: {}", ranks.join(","));
    // Where the workers ran: this network namespace, or another "host".
    let mut spaces = pool.map_chunked(netns, 0..40u32, 1)?;
    spaces.dedup();
    let here = netns(0);
    let place = if spaces.iter().all(|s| *s == here) {
        "same"
    } else if spaces.iter().all(|s| *s != here) {
        "other"
    } else {
        "mixed"
    };
    println!("worker network namespace: {place}");
    let slow = pool.apply_async(nap, (300u64,))?;
    let early = slow.get_timeout(Duration::from_millis(1));
    check(
        "get_timeout",
        matches!(early, Err(PoolError::Timeout)) && slow.get()? == 300,
    );
    // The job's ranks serve one MPI pool at a time (a local pool has no such
    // limit).
    let second = Pool::with_processes(2);
    check(
        "one pool at a time",
        pool.is_mpi() == matches!(second, Err(PoolError::Unsupported(_))),
    );
    drop(second);
    let busy = pool.apply_async(nap, (300u64,))?;
    pool.close();
    let joined_early = pool.join_timeout(Duration::from_millis(1))?;
    check(
        "join_timeout",
        !joined_early && busy.get()? == 300 && pool.join_timeout(Duration::from_secs(60))?,
    );
    pool.join()?;
    // The ranks serve the next pool; a terminated call ends with
    // `Terminated`, and the ranks are idle again for the pool after.
    let again = Pool::with_processes(2)?;
    check("next pool", again.map(square, 0..10u64)? == want[..10]);
    let pending = again.map_async(nap, [200u64; 8], Some(1))?;
    again.terminate();
    check(
        "terminate",
        matches!(pending.get(), Err(PoolError::Terminated)),
    );
    drop(again);
    let last = Pool::with_processes(2)?;
    check(
        "pool after terminate",
        last.map(square, 0..10u64)? == want[..10],
    );
    Ok(())
}
