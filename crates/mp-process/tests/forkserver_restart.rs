//! A fork server that died is replaced at the next start, which succeeds;
//! the children it was running report exit code 255, as in CPython. Uses a
//! fork-server context whatever `MULTIPROCESS_START_METHOD` says; alone in
//! its test binary because it kills the server.

mod common;

use mp_process::get_context;
use mp_sys::signal::SIGKILL;

fn noop() {}

#[test]
fn dead_server_is_replaced_and_its_children_report_255() {
    let ctx = get_context(Some("forkserver")).unwrap();
    let (mut orphan, go_w) = common::start_waiting(&ctx);
    let server = common::parent_pid(orphan.pid().unwrap());

    mp_sys::process::kill(server, SIGKILL).unwrap();
    // The server is our child: it stays a zombie until the client reaps it.
    for _ in 0..10_000 {
        if common::stat_field(server, 3).as_deref() == Some("Z") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(common::stat_field(server, 3).as_deref(), Some("Z"));

    // The child outlives its server: its status pipe is at end of file,
    // yet it is still running, and a join waits for its end.
    orphan
        .join_timeout(std::time::Duration::from_millis(200))
        .unwrap();
    assert_eq!(orphan.exitcode(), None, "still running without its server");
    assert!(orphan.is_alive());

    let mut next = ctx.process(noop, ());
    next.start().unwrap();
    next.join().unwrap();
    assert_eq!(next.exitcode(), Some(0));
    assert!(
        common::stat_field(server, 3).is_none(),
        "the dead server was reaped when it was replaced"
    );

    drop(go_w);
    orphan.join().unwrap();
    assert_eq!(orphan.exitcode(), Some(255));
}
