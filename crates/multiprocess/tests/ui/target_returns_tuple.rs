//! Compile-fail case (trybuild): a process target returning an unsupported type (a tuple) must say what is allowed.
// A process target whose return type does not make an exit code: the error
// says what is allowed and how to get a value back.
use multiprocess::Process;

fn pair(x: u32) -> (u32, u32) {
    (x, x + 1)
}

fn main() {
    let _p = Process::new(pair, (1,));
}
