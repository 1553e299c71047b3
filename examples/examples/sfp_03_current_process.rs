//! Port of SuperFastPython Lesson 03, "How to Get the Current, Parent, and
//! Child Processes" (`current_process`): the main program's own process
//! handle, shown like CPython's `_MainProcess` repr.

use multiprocess::current_process;

fn main() {
    // get the current process
    let process = current_process();
    // report details
    println!("{process}");
}
