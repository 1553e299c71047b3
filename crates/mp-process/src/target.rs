//! What a child runs: a [`Target`] (a `fn` item or non-capturing closure with
//! serde arguments), or a [`Run`] value (Python's "subclass `Process` and
//! override `run()`"), and what its return value means for the exit code.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A function called with its arguments packed in one tuple: `f.call((a, b))`
/// is `f(a, b)` (Python's `f(*args)`).
///
/// Implemented for every `Fn(A, B, ...) -> R` with up to eight arguments;
/// `Args` is the tuple of their types (`(x,)` for one argument, `()` for
/// none). This is the one tuple-call trait of the workspace: [`Target`] adds
/// the bounds a child process needs, the pools add theirs (`Copy` for a
/// process pool, `Sync` for a thread pool).
pub trait TupleFn<Args> {
    /// The function's return type.
    type Output;
    /// Calls the function with the unpacked arguments.
    fn call(&self, args: Args) -> Self::Output;
}

macro_rules! impl_tuple_fn {
    ($($a:ident),*) => {
        impl<Func, R, $($a),*> TupleFn<($($a,)*)> for Func
        where
            Func: Fn($($a),*) -> R,
        {
            type Output = R;
            #[allow(non_snake_case)]
            fn call(&self, ($($a,)*): ($($a,)*)) -> R {
                self($($a),*)
            }
        }
    };
}

impl_tuple_fn!();
impl_tuple_fn!(A);
impl_tuple_fn!(A, B);
impl_tuple_fn!(A, B, C);
impl_tuple_fn!(A, B, C, D);
impl_tuple_fn!(A, B, C, D, E);
impl_tuple_fn!(A, B, C, D, E, F);
impl_tuple_fn!(A, B, C, D, E, F, G);
impl_tuple_fn!(A, B, C, D, E, F, G, H);

/// What a function must be to run in another process: code only, no data.
/// The check the compiler can make of it: `Copy`, `Send` and `'static`.
///
/// A process target and a process pool's task cross into the child as the
/// code of a `fn` item or of a closure that captures nothing (they must be
/// zero-sized); their data goes as arguments. A closure that captures a
/// value that is not `Copy` (a `String`, a `Vec`), not `Send` (an `Rc`), or
/// a borrow of a local (not `'static`) is rejected when the program is type
/// checked (`cargo check`), with a message that names this rule.
///
/// What type checking cannot see: a `move` closure whose captures are all
/// `Copy`, `Send` and `'static` (`move |x| x + offset` with `offset: u32`)
/// is `CodeOnly` but not zero-sized. It is rejected when the program is
/// built (`cargo build`, after `cargo check` passed) by a compile-time
/// assertion in `mp_sys::entry::EntryPoint::of` that names the same rule
/// (the failed constant's type names the closure: `{closure@src/main.rs:4:22}`).
///
/// The way out is the same in both cases: pass the data as arguments (the
/// argument tuple of `Process::new`, the items of `Pool::map`), or, under
/// the fork start method, run a capturing closure with
/// [`Process::from_closure`](crate::Process::from_closure); a thread pool
/// takes capturing closures.
#[diagnostic::on_unimplemented(
    message = "`{Self}` captures data, so it cannot run in another process",
    label = "captures data: a process target or pool task must be a `fn` item or a closure that captures nothing",
    note = "only the code crosses into the child process, so the function must be zero-sized",
    note = "pass the data as arguments instead (the argument tuple of `Process::new`, the items of `Pool::map`); under the fork start method, `Process::from_closure` runs a capturing closure"
)]
pub trait CodeOnly: Copy + Send + 'static {}

// `do_not_recommend`: a failure is reported as "not `CodeOnly`" with the
// message above, not as the `Copy` bound of some capture.
#[diagnostic::do_not_recommend]
impl<Func: Copy + Send + 'static> CodeOnly for Func {}

/// A function a child process can run with arguments `Args` (a tuple): a
/// [`TupleFn`] that is [`CodeOnly`] and returns a [`TargetReturn`].
///
/// That is every `Fn(A, B, ...) -> R` (up to eight arguments) that is
/// zero-sized, `Copy`, `Send` and `'static`: a `fn` item or a closure that
/// captures nothing. Only the code crosses into the child; data goes in
/// `Args`, which must be serde-serializable. A closure that captures data is
/// rejected at compile time (see [`CodeOnly`] for what `cargo check` catches
/// and what only `cargo build` does). For a capturing closure under the fork
/// start method, see [`Process::from_closure`](crate::Process::from_closure).
#[diagnostic::on_unimplemented(
    message = "`{Self}` captures data, so it cannot be a process target",
    label = "captures data: a process target must be a `fn` item or a closure that captures nothing",
    note = "only the code crosses into the child process, so the target must be zero-sized",
    note = "pass the data in the argument tuple instead (`Process::new(f, (a, b))` calls `f(a, b)` in the child); under the fork start method, `Process::from_closure` runs a capturing closure"
)]
pub trait Target<Args>: TupleFn<Args, Output: TargetReturn> + CodeOnly {}

impl<Func, Args> Target<Args> for Func
where
    Func: TupleFn<Args> + CodeOnly,
    Func::Output: TargetReturn,
{
}

/// What a target's return value means for the child's exit code.
///
/// Python ignores the return value of `run()` (exit code 0). The same holds
/// here for plain values; a `Result` that is `Err` is reported on stderr like
/// an uncaught exception and gives exit code 1; [`ExitCode`] sets the code.
///
/// Implemented for `()`, the numbers, `bool`, `char`, `String`,
/// `&'static str`, `Vec<T>`, `Option<T>`, `Result<T, E: Debug>` and
/// [`ExitCode`]. A process target returns nothing to its parent: to send a
/// result back, use a `Queue` or `Pipe`, or run the function in a `Pool`.
#[diagnostic::on_unimplemented(
    message = "a process target cannot return `{Self}`",
    label = "the target returns `{Self}`",
    note = "a target's return value only sets the child's exit code: allowed are `()`, numbers, `bool`, `char`, `String`, `&'static str`, `Vec<T>`, `Option<T>`, `Result<T, E: Debug>` (an `Err` exits with code 1) and `ExitCode`",
    note = "a child cannot return a value to its parent: send it through a `Queue` or `Pipe`, or call the function with `Pool::apply` to get its result"
)]
pub trait TargetReturn {
    /// The exit code, after reporting an error if there is one.
    fn exit_code(self, process_name: &str) -> i32;
}

/// An explicit exit code as a target's return value (Python's `sys.exit(n)`
/// at the end of `run()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(pub i32);

impl TargetReturn for ExitCode {
    fn exit_code(self, _: &str) -> i32 {
        self.0 & 0xff
    }
}

impl<T, E: Debug> TargetReturn for Result<T, E> {
    fn exit_code(self, process_name: &str) -> i32 {
        match self {
            Ok(_) => 0,
            Err(e) => {
                eprintln!("Process {process_name}:\nError: {e:?}");
                1
            }
        }
    }
}

macro_rules! ignored_return {
    ($($t:ty),*) => {
        $(impl TargetReturn for $t {
            fn exit_code(self, _: &str) -> i32 { 0 }
        })*
    };
}

ignored_return!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str
);

impl<T> TargetReturn for Vec<T> {
    fn exit_code(self, _: &str) -> i32 {
        0
    }
}

impl<T> TargetReturn for Option<T> {
    fn exit_code(self, _: &str) -> i32 {
        0
    }
}

/// A process body as a type: Python's "subclass `Process`, override `run`".
///
/// The value is serialized into the child, where `run` is called on it. The
/// default process name is the type's own name plus the counter
/// (`Worker-1`), as Python names subclass instances.
///
/// ```no_run
/// use mp_process::{Process, Run};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Worker;
///
/// impl Run for Worker {
///     fn run(&mut self) {
///         println!("In {}", mp_process::current_process().name());
///     }
/// }
///
/// let mut p = Process::from_run(Worker);
/// p.start().unwrap();
/// p.join().unwrap();
/// ```
pub trait Run: Serialize + DeserializeOwned + Send + 'static {
    /// The body of the child process.
    fn run(&mut self);
}

/// The payload `std::panic::resume_unwind` carries for [`exit`].
#[derive(Debug)]
pub(crate) struct ExitRequest(pub(crate) i32);

/// Python's `sys.exit(code)` inside a child: ends the target now with this
/// exit code, running the usual shutdown (logging, joining the child's own
/// children, flushing). Outside a child target it is `std::process::exit`.
pub fn exit(code: i32) -> ! {
    if crate::current::in_child_target() {
        std::panic::resume_unwind(Box::new(ExitRequest(code & 0xff)))
    }
    std::process::exit(code)
}

/// Ends this process now from any of its threads. Inside a child target it
/// is what the target returning `code` would do (the usual shutdown:
/// logging, terminating daemonic children and joining the others, the exit
/// finalizers, flushing; then `_exit`), without waiting for the target's
/// thread, which stops wherever it is: for a helper thread that must end
/// the child while its target sleeps where nothing can wake it. Outside a
/// child target it is `std::process::exit`.
pub fn exit_process(code: i32) -> ! {
    if crate::current::in_child_target() {
        crate::current::set_in_child_target(false);
        let code = crate::child_main::finish(code & 0xff);
        mp_sys::process::exit_now(code)
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: i32, b: i32) -> i32 {
        a + b
    }

    #[allow(clippy::too_many_arguments)]
    fn eight(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8) -> [u8; 8] {
        [a, b, c, d, e, f, g, h]
    }

    /// Runs `t` as a child's entry does (through the [`Target`] bound).
    fn run_target<T: Target<Args>, Args>(t: T, args: Args) -> i32 {
        t.call(args).exit_code("p")
    }

    #[test]
    fn tuple_fns_of_each_arity() {
        assert_eq!(TupleFn::call(&add, (2, 3)), 5);
        let f = || 7u8;
        assert_eq!(TupleFn::call(&f, ()), 7);
        let g = |s: String| s.len();
        assert_eq!(TupleFn::call(&g, ("abc".to_string(),)), 3);
        let all = (1, 2, 3, 4, 5, 6, 7, 8);
        assert_eq!(TupleFn::call(&eight, all), [1, 2, 3, 4, 5, 6, 7, 8]);
        // A capturing closure is a TupleFn too (it is not a Target).
        let base = String::from("ab");
        let h = move |s: &str| format!("{base}{s}");
        assert_eq!(TupleFn::call(&h, ("c",)), "abc");
    }

    #[test]
    fn targets_report_their_exit_code() {
        assert_eq!(run_target(add, (2, 3)), 0);
        assert_eq!(run_target(|| ExitCode(4), ()), 4);
        assert_eq!(run_target(|s: &'static str| Err::<(), _>(s), ("bad",)), 1);
    }

    #[test]
    fn return_values() {
        assert_eq!(().exit_code("p"), 0);
        assert_eq!(1i32.exit_code("p"), 0);
        assert_eq!(ExitCode(3).exit_code("p"), 3);
        assert_eq!(ExitCode(256).exit_code("p"), 0);
        assert_eq!(Err::<(), _>("bad").exit_code("p"), 1);
        assert_eq!(Ok::<u8, ()>(1).exit_code("p"), 0);
    }
}
