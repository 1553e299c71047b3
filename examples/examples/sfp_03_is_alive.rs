//! Port of SuperFastPython Lesson 03, "How to Query the Status of a Process"
//! (the is_alive example): a process that was never started is not alive.

use multiprocess::Process;

fn main() {
    // create the process
    let process = Process::empty();
    // report the process is alive
    println!("{}", process.is_alive());
}
