//! 1000 process lifecycles leave no zombie and no leaked fd (run once per
//! start method by test-all). A single test in its own binary, so no other
//! test opens fds meanwhile.

use mp_process::Process;

fn noop() {}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((_, rest)) = stat.rsplit_once(") ") {
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("");
            let ppid: u32 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if ppid == me && state == "Z" {
                out.push(pid);
            }
        }
    }
    out
}

#[test]
fn thousand_lifecycles_leak_nothing() {
    // Warm up (the fork server, lazily opened fds such as the self pidfd).
    for _ in 0..3 {
        let mut p = Process::new(noop, ());
        p.start().unwrap();
        p.join().unwrap();
    }
    let before = open_fds();
    for i in 0..1000 {
        let mut p = Process::new(noop, ());
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0), "lifecycle {i}");
    }
    // Also processes dropped without join: reaped by active_children().
    for _ in 0..20 {
        let mut p = Process::new(noop, ());
        p.start().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = mp_process::active_children();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !mp_process::active_children().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(open_fds(), before, "fds leaked");
    assert_eq!(zombie_children(), Vec::<u32>::new(), "zombies left");

    // A joined process that is kept holds one fd, its pidfd (the sentinel):
    // a fork-server child's status pipe is closed once its code is read.
    let kept: Vec<Process> = (0..20)
        .map(|_| {
            let mut p = Process::new(noop, ());
            p.start().unwrap();
            p.join().unwrap();
            p
        })
        .collect();
    assert_eq!(open_fds(), before + kept.len(), "one fd per joined process");
    drop(kept);
    assert_eq!(open_fds(), before, "fds leaked by joined processes");
}
