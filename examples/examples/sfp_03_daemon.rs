//! Port of SuperFastPython Lesson 03, "How to Configure New Processes" (the
//! daemon example): `daemon=True` given at construction, read back.

use multiprocess::Process;

fn main() {
    // create a daemon process
    let process = Process::empty().daemon(true);
    // report if the process is a daemon
    println!("{}", process.is_daemon());
}
