//! The compile-time errors a newcomer meets first, pinned (trybuild): a
//! capturing closure given to `Process::new` or a process pool, a process
//! target with a return type that does not make an exit code, and
//! `#[derive(multiprocess::Pod)]` on a struct that breaks bytemuck's rules.
//! Each `tests/ui/*.rs` must fail `cargo check` with the message in the
//! `.stderr` file next to it (`TRYBUILD=overwrite` rewrites them after a
//! deliberate change).
//!
//! And what must compile with no extra attribute from a crate that names
//! only `multiprocess` paths: each `tests/ui-pass/*.rs` builds and runs
//! (`#[multiprocess::managers::shared]`, the `Pod`/`Zeroable` derives).
//!
//! A `move` closure whose captures are all `Copy` passes `cargo check` and
//! is rejected only when built (see `mp_process::CodeOnly`); trybuild checks
//! only, so that case is not pinned here.

#[test]
fn compile_errors_name_the_rule_and_the_way_out() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
