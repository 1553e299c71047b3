//! The loom step of `cargo xtask test-all`: mp-sync's loom models (every state machine in
//! `crates/mp-sync/src/raw/`, the eventcount under them, and the eventcount protocols of
//! mp-channel's queue ring and `JoinableQueue`), with bounded preemptions.
//!
//! The models compile only under `--cfg loom`, which changes the flags of every crate in the
//! build, so they build in a target directory of their own (`target/loom`): the normal build
//! is not invalidated, and a warm `target/loom` rebuilds only what changed. Release mode,
//! because loom explores thousands of interleavings per model. Measured on a busy shared 2-core
//! machine: about 45 s with a cold `target/loom` (loom and its dependencies), under 10 s warm,
//! of which the 19 models take about 6 s with three preemptions.

/// The label of the step's test counts in the report.
pub(crate) const LABEL: &str = "loom models";

/// Preemptions loom explores per execution. Measured (models only, release, warm build): 2 →
/// 0.3 s, 3 → 4 s, 4 → 50 s; tokio's CI uses 2.
const MAX_PREEMPTIONS: &str = "3";

/// Where the `--cfg loom` build lives, relative to the workspace root.
const TARGET_DIR: &str = "target/loom";

/// Runs the models through `test`, the runner of every `cargo test` step, which gets the
/// label, the cargo arguments and the environment; the step's tests count like any others.
pub(crate) fn models(test: impl FnOnce(&str, &[&str], &[(&str, &str)])) {
    let args = [
        "test",
        "-p",
        "mp-sync",
        "--release",
        "--lib",
        "--target-dir",
        TARGET_DIR,
        "--no-fail-fast",
        "loom",
    ];
    let flags = rustflags(std::env::var("RUSTFLAGS").ok().as_deref());
    let env = [
        ("RUSTFLAGS", flags.as_str()),
        ("LOOM_MAX_PREEMPTIONS", MAX_PREEMPTIONS),
    ];
    test(LABEL, &args, &env);
}

/// The caller's `RUSTFLAGS` (if any) plus `--cfg loom`.
fn rustflags(outer: Option<&str>) -> String {
    match outer.map(str::trim) {
        Some(f) if !f.is_empty() => format!("{f} --cfg loom"),
        _ => "--cfg loom".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_only_the_models_in_their_own_target_dir() {
        let mut seen = None;
        models(|label, args, env| {
            seen = Some((
                label.to_owned(),
                args.join(" "),
                env.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
            ));
        });
        let (label, args, env) = seen.expect("the runner was called");
        assert_eq!(label, LABEL);
        assert!(args.starts_with("test -p mp-sync --release --lib --target-dir target/loom"));
        assert!(args.ends_with(" loom"), "{args}");
        assert!(env
            .iter()
            .any(|e| e.starts_with("RUSTFLAGS=") && e.ends_with("--cfg loom")));
        assert!(env.contains(&"LOOM_MAX_PREEMPTIONS=3".to_owned()));
    }

    #[test]
    fn keeps_the_callers_rustflags() {
        assert_eq!(rustflags(None), "--cfg loom");
        assert_eq!(rustflags(Some("  ")), "--cfg loom");
        assert_eq!(rustflags(Some("-D warnings")), "-D warnings --cfg loom");
    }
}
