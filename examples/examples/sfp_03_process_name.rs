//! Port of SuperFastPython Lesson 03, "How to Configure New Processes" (the
//! name example): a process built with only a name (Python's
//! `Process(name='MyProcess')`, no target), never started, its name read back.

use multiprocess::Process;

fn main() {
    // create a process with a custom name
    let process = Process::empty().name("MyProcess");
    // report process name
    println!("{}", process.get_name());
}
