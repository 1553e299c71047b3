//! The memory rows `RSS-idle-worker@spawn` and `USS-idle-worker@spawn` for
//! procspawn, shared by `peer-scenarios` and `peer-rss` (the rows alone, in
//! a program as small as ours, `mp-rss`: an idle spawned worker's Pss grows
//! with the program it re-executes).

/// RSS-idle-worker@spawn: the Pss (`/proc/<pid>/smaps_rollup`) of the
/// worker of a procspawn pool of one (its workers are spawned: re-executed),
/// after a warm-up and 100 ms of idling.
pub(crate) fn idle_worker_pss(_quick: bool) -> (f64, &'static str) {
    idle_worker(&["Pss:"])
}

/// USS-idle-worker@spawn: the same worker's USS, `Private_Clean` +
/// `Private_Dirty`: the memory no other process maps.
pub(crate) fn idle_worker_uss(_quick: bool) -> (f64, &'static str) {
    idle_worker(&["Private_Clean:", "Private_Dirty:"])
}

/// The sum of the idle worker's `smaps_rollup` lines `keys`, in MiB.
fn idle_worker(keys: &[&str]) -> (f64, &'static str) {
    let pool = procspawn::Pool::new(1).expect("pool");
    let r = pool
        .spawn((0..100u64).collect(), |xs: Vec<u64>| {
            xs.into_iter().map(|x| x * 2).collect::<Vec<u64>>()
        })
        .join()
        .expect("warm-up");
    assert_eq!(r[99], 198);
    let pid = pool.spawn((), |()| std::process::id()).join().expect("pid");
    assert_ne!(pid, std::process::id());
    std::thread::sleep(std::time::Duration::from_millis(100));
    let rollup =
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    let kib: u64 = keys
        .iter()
        .map(|key| -> u64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("a {key} line"))
        })
        .sum();
    (kib as f64 / 1024.0, "MiB")
}
