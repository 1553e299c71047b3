//! A forked child and its parent never share the arena's next slot, and a
//! child forked while another thread holds mp-shm's locks does not hang on
//! them (mp-shm registers `mp_sys::fork_hooks`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use mp_process::get_context;

/// Child: carves a slot and marks it.
fn mark_a_slot() {
    let slot = mp_shm::alloc(8, 8).unwrap();
    slot.atomic_u64(0).unwrap().store(0xAB, Ordering::SeqCst);
}

#[test]
fn a_forked_child_carves_its_own_chunk() {
    let ctx = get_context(Some("fork")).unwrap();
    for _ in 0..5 {
        // The arena has a current chunk before the fork.
        let _warm = mp_shm::alloc(8, 8).unwrap();
        let mut p = ctx.process(mark_a_slot, ());
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(p.exitcode(), Some(0));
        // Without the child hook, this slot would be the one the child marked.
        let mine = mp_shm::alloc(8, 8).unwrap();
        assert_eq!(mine.atomic_u64(0).unwrap().load(Ordering::SeqCst), 0);
    }
}

/// Child: maps a region (takes the mapping cache) and carves a slot
/// (takes the arena).
fn use_both_locks(region: mp_shm::Region) {
    assert!(region.len() >= 4096);
    mp_shm::alloc(8, 8).unwrap();
}

#[test]
fn children_forked_while_threads_hammer_the_locks_do_not_hang() {
    let ctx = get_context(Some("fork")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = mp_shm::Region::create("hammer", 4096).unwrap();
                    let again: mp_shm::Region =
                        mp_wire::decode(mp_wire::encode(&r).unwrap()).unwrap();
                    drop(again);
                    drop(mp_shm::alloc(16, 8).unwrap());
                }
            })
        })
        .collect();
    for _ in 0..40 {
        let region = mp_shm::Region::create("shared", 4096).unwrap();
        let mut p = ctx.process(use_both_locks, (region,));
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(30)).unwrap();
        let code = p.exitcode();
        if code.is_none() {
            let _ = p.kill();
        }
        assert_eq!(code, Some(0), "a forked child hung on an inherited lock");
    }
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
}

/// Grandchild: everything mp-shm initialises lazily on first use, and a
/// named block (the resource tracker's state and the exit lists).
fn first_use_everything() {
    let _ = mp_shm::ProcessIdent::current();
    mp_shm::alloc(8, 8).unwrap();
    drop(mp_shm::Region::create("first-use", 4096).unwrap());
    let name = format!("mp-first-use-{}", std::process::id());
    let block = mp_shm::SharedMemory::create_named(&name, 64).unwrap();
    block.unlink().unwrap();
}

/// One trial in a fresh (spawned) process, where nothing is initialised
/// yet: a thread makes its first use of mp-shm `delay_us` microseconds
/// after the main thread starts forking a child that uses everything. A
/// child forked while the thread ran a blocking lazy initialiser (a
/// `OnceLock`, a `Once`) would wait for ever for a thread it does not have.
fn fork_during_first_use(delay_us: u64) {
    let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let first_use = {
        let go = go.clone();
        std::thread::spawn(move || {
            while !go.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let until = std::time::Instant::now() + Duration::from_micros(delay_us);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            first_use_everything();
        })
    };
    let ctx = get_context(Some("fork")).unwrap();
    let mut p = ctx.process(first_use_everything, ());
    go.store(true, Ordering::Release);
    p.start().unwrap();
    p.join_timeout(Duration::from_secs(20)).unwrap();
    let code = p.exitcode();
    if code.is_none() {
        let _ = p.kill();
    }
    first_use.join().unwrap();
    assert_eq!(code, Some(0), "a child forked during a first use hung");
}

#[test]
fn children_forked_during_a_threads_first_use_do_not_hang() {
    let ctx = get_context(Some("spawn")).unwrap();
    // Sweeps the thread's start across the parent's fork path, a few
    // microseconds apart, each time in a fresh process.
    for delay_us in (0..240).step_by(3) {
        let mut p = ctx.process(fork_during_first_use, (delay_us,));
        p.start().unwrap();
        p.join_timeout(Duration::from_secs(60)).unwrap();
        let code = p.exitcode();
        if code.is_none() {
            let _ = p.kill();
        }
        assert_eq!(code, Some(0), "trial with the first use {delay_us} µs in");
    }
}
