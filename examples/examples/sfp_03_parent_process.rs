//! Port of SuperFastPython Lesson 03, "How to Get the Current, Parent, and
//! Child Processes" (`parent_process`): the main program has no parent
//! process, so it prints `None`.

use multiprocess::parent_process;

fn main() {
    // get the parent process
    let process = parent_process();
    // report details
    match process {
        Some(parent) => println!("{parent}"),
        None => println!("None"),
    }
}
