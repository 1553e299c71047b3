//! A child of the `fork` and `forkserver` start methods finds its parent's
//! wipe-on-fork page (`mp_sys::wipe_on_fork`) already mapped before it does
//! anything, so its first lock or queue operation maps none of its own: the
//! fork made the page before forking, in the fork server too, which itself
//! never takes a lock.

use mp_process::get_context;

/// Exits 0 if this process has a wipe-on-fork mapping (`wf` among an
/// area's `VmFlags` in `/proc/self/smaps`), 3 if not, 4 if smaps is
/// unreadable.
fn check_page() {
    let code = match std::fs::read_to_string("/proc/self/smaps") {
        Ok(smaps) => {
            let wiped = smaps
                .lines()
                .filter_map(|l| l.strip_prefix("VmFlags:"))
                .any(|flags| flags.split_whitespace().any(|f| f == "wf"));
            if wiped {
                0
            } else {
                3
            }
        }
        Err(_) => 4,
    };
    mp_process::exit(code);
}

fn child_code(method: &str) -> Option<i32> {
    let ctx = get_context(Some(method)).unwrap();
    let mut p = ctx.process(check_page, ());
    p.start().unwrap();
    p.join().unwrap();
    p.exitcode()
}

#[test]
fn fork_and_forkserver_children_start_with_the_page() {
    assert_eq!(child_code("fork"), Some(0), "fork");
    assert_eq!(child_code("forkserver"), Some(0), "forkserver");
}
