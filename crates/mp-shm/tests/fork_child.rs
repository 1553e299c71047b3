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
