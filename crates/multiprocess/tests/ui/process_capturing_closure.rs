//! Compile-fail case (trybuild): a capturing closure given to Process::new must fail at type-check time, naming the rule.
// A process target that captures data is rejected by `cargo check`, with
// the rule and the way out.
use multiprocess::Process;

fn main() {
    let greeting = String::from("hello");
    let _p = Process::new(move |name: String| println!("{greeting} {name}"), ("bob".to_string(),));
}
