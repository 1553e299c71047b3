//! `get_logger().set_level(..)` alone (without `log_to_stderr`) reaches
//! children under every start method, as CPython's `setLevel` does. Runs
//! under the start method of `MULTIPROCESS_START_METHOD`; alone in its test
//! binary because the level is process-wide.

mod common;

use log::LevelFilter;
use mp_process::{get_logger, Process};
use mp_wire::SharedFd;

fn report_level(out: SharedFd) {
    common::report(&out, &get_logger().level().to_string());
}

#[test]
fn set_level_alone_reaches_children() {
    get_logger().set_level(LevelFilter::Info);
    let (reports, out) = common::reports();
    let mut p = Process::new(report_level, (out,));
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(reports.take(1), ["INFO"]);
}
