//! Invoking cargo (the one that runs xtask) and reading what it says: test-result totals, the
//! names of failing tests, the relevant tail of a failure, and `cargo metadata`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use regex::Regex;

use crate::run::{self, Outcome, Spec};

/// The cargo binary: `$CARGO` when run through cargo, else `cargo` from `PATH`.
pub(crate) fn cargo_bin() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Runs `cargo ARGS...` in the workspace root with stdout and stderr merged.
///
/// It stays in xtask's process group (so Ctrl-C reaches it); on timeout everything carrying
/// the run's marker is killed.
pub(crate) fn cargo(
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let mut out = run::run(&cargo_spec(args, env, timeout))?;
    out.stdout = strip_ansi(&out.stdout);
    Ok(out)
}

/// Removes terminal colour sequences (`ESC [ ... letter`, and the `ESC ( B` charset reset).
pub(crate) fn strip_ansi(text: &str) -> String {
    let re = Regex::new(r"\x1b(?:\[[0-9;?]*[A-Za-z]|\([A-Za-z0-9])").expect("static regex");
    re.replace_all(text, "").into_owned()
}

fn cargo_spec(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Spec {
    let mut spec = Spec::new(cargo_bin(), workspace_root()).args(args.iter().copied());
    spec.own_group = false;
    spec.timeout = timeout;
    // Tests and builds run under a known start method only when a step says so.
    spec.env_remove.push("MULTIPROCESS_START_METHOD".to_owned());
    for (k, v) in env {
        spec = spec.env(k, v);
    }
    spec
}

/// Test totals read from the `test result:` lines of `cargo test` output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestCounts {
    /// Tests that passed.
    pub(crate) passed: u64,
    /// Tests that failed.
    pub(crate) failed: u64,
    /// How many `test result:` lines were seen (one per test binary).
    pub(crate) binaries: u64,
    /// Test binaries that reported failed tests.
    pub(crate) failing_binaries: u64,
    /// Test targets cargo says failed (including ones that crashed without a result line).
    pub(crate) failed_targets: u64,
}

/// Parses every `test result: ... N passed; M failed; ...` line, and cargo's own count of
/// failed targets.
pub(crate) fn parse_test_output(output: &str) -> TestCounts {
    let result = Regex::new(r"test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed;")
        .expect("static regex");
    let targets = Regex::new(r"(?m)^error: (\d+) targets failed:").expect("static regex");
    let mut c = TestCounts::default();
    for cap in result.captures_iter(output) {
        let failed: u64 = cap[2].parse().unwrap_or(0);
        c.passed += cap[1].parse::<u64>().unwrap_or(0);
        c.failed += failed;
        c.binaries += 1;
        c.failing_binaries += u64::from(failed > 0);
    }
    c.failed_targets = match targets.captures(output) {
        Some(cap) => cap[1].parse().unwrap_or(0),
        None => output
            .lines()
            .filter(|l| l.starts_with("error: test failed, to rerun pass"))
            .count() as u64,
    };
    c
}

/// The names of tests reported `FAILED`.
pub(crate) fn failed_test_names(output: &str) -> Vec<String> {
    let re = Regex::new(r"(?m)^test (.+) \.\.\. FAILED$").expect("static regex");
    re.captures_iter(output).map(|c| c[1].to_owned()).collect()
}

/// The part of a failed command's output worth showing, at most `max` lines: the `failures:`
/// sections of test output, else compiler errors and warnings, else the tail.
pub(crate) fn excerpt(output: &str, max: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut picked: Vec<&str> = Vec::new();
    // Test failures: from each "failures:" header to its "test result:" line.
    let mut inside = false;
    for l in &lines {
        if *l == "failures:" {
            inside = true;
        }
        if inside {
            picked.push(l);
        }
        if inside && l.starts_with("test result:") {
            inside = false;
        }
    }
    if picked.is_empty() {
        // Compiler diagnostics: from each "error"/"warning" header up to the next blank line.
        let mut inside = false;
        for l in &lines {
            if l.starts_with("error") || l.starts_with("warning") || l.starts_with("Diff in") {
                inside = true;
            }
            if inside {
                picked.push(l);
            }
            if l.trim().is_empty() {
                inside = false;
            }
        }
    }
    // Crashed test binaries and other process errors are worth a mention too.
    for l in &lines {
        if l.contains("process didn't exit successfully") && !picked.contains(l) {
            picked.push(l);
        }
    }
    if picked.is_empty() {
        picked = lines;
    }
    tail(&picked, max)
}

/// The last `max` lines, preceded by a note of how many were left out.
pub(crate) fn tail(lines: &[&str], max: usize) -> String {
    let skip = lines.len().saturating_sub(max);
    let mut s = String::new();
    if skip > 0 {
        s.push_str(&format!("[... {skip} lines left out ...]\n"));
    }
    for l in &lines[skip..] {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// What xtask needs from `cargo metadata`.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    /// Where cargo puts build output.
    pub(crate) target_dir: PathBuf,
    /// Example target name → the packages that define it.
    pub(crate) examples: BTreeMap<String, Vec<String>>,
    /// Integration-test targets, as `(package, test name)`.
    pub(crate) integration_tests: Vec<(String, String)>,
}

/// Runs `cargo metadata --no-deps` and reads the target directory and the example and test
/// targets of every workspace member.
pub(crate) fn metadata() -> anyhow::Result<Metadata> {
    let mut spec = cargo_spec(
        &["metadata", "--format-version", "1", "--no-deps"],
        &[],
        Duration::from_secs(120),
    );
    spec.merged = false;
    let out = run::run(&spec)?;
    if out.status_problem().is_some() {
        bail!("cargo metadata failed:\n{}", excerpt(&out.stderr, 30));
    }
    let json = out
        .stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .context("cargo metadata printed no JSON")?;
    parse_metadata(json)
}

fn parse_metadata(json: &str) -> anyhow::Result<Metadata> {
    let v: serde_json::Value = serde_json::from_str(json).context("cargo metadata JSON")?;
    let target_dir = PathBuf::from(
        v["target_directory"]
            .as_str()
            .context("metadata has no target_directory")?,
    );
    let mut examples: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut integration_tests = Vec::new();
    for pkg in v["packages"].as_array().into_iter().flatten() {
        let pkg_name = pkg["name"].as_str().unwrap_or_default().to_owned();
        for t in pkg["targets"].as_array().into_iter().flatten() {
            let name = t["name"].as_str().unwrap_or_default().to_owned();
            let kinds: Vec<&str> = t["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str())
                .collect();
            if kinds.contains(&"example") {
                examples.entry(name).or_default().push(pkg_name.clone());
            } else if kinds.contains(&"test") {
                integration_tests.push((pkg_name.clone(), name));
            }
        }
    }
    Ok(Metadata {
        target_dir,
        examples,
        integration_tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_OUTPUT: &str = "\
     Running unittests src/lib.rs (target/debug/deps/a-1)
running 3 tests
test a::one ... ok
test a::two ... FAILED
test a::three ... ok

failures:

---- a::two stdout ----
thread 'a::two' panicked at src/lib.rs:9:5:
boom

failures:
    a::two

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

error: test failed, to rerun pass `-p a --lib`
     Running unittests src/lib.rs (target/debug/deps/b-2)
error: test failed, to rerun pass `-p b --lib`

Caused by:
  process didn't exit successfully: `target/debug/deps/b-2` (signal: 6, SIGABRT: process abort signal)
   Doc-tests c
test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
error: 2 targets failed:
    `-p a --lib`
    `-p b --lib`
";

    #[test]
    fn counts_every_result_line_and_crashed_targets() {
        let c = parse_test_output(TEST_OUTPUT);
        assert_eq!(c.passed, 6);
        assert_eq!(c.failed, 1);
        assert_eq!(c.binaries, 2);
        assert_eq!(c.failing_binaries, 1);
        assert_eq!(c.failed_targets, 2);
    }

    #[test]
    fn names_failed_tests() {
        assert_eq!(failed_test_names(TEST_OUTPUT), vec!["a::two".to_owned()]);
    }

    #[test]
    fn excerpt_prefers_failure_sections() {
        let e = excerpt(TEST_OUTPUT, 100);
        assert!(e.contains("boom"));
        assert!(e.contains("SIGABRT"));
        assert!(!e.contains("Doc-tests"));
    }

    #[test]
    fn excerpt_of_compile_error_and_tail_limit() {
        let out = "   Compiling a\nerror[E0425]: cannot find value `x`\n --> src/lib.rs:1:1\n\nerror: could not compile `a`\n";
        let e = excerpt(out, 100);
        assert!(e.starts_with("error[E0425]"));
        assert!(!e.contains("Compiling"));
        let lines: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(tail(&refs, 2), "[... 8 lines left out ...]\n8\n9\n");
    }

    #[test]
    fn strips_colours() {
        assert_eq!(
            strip_ansi("\x1b[31m-x\n\x1b(B\x1b[m\x1b[32m+y\x1b[0m"),
            "-x\n+y"
        );
    }

    #[test]
    fn reads_metadata() {
        let json = r#"{"target_directory":"/w/target","packages":[
            {"name":"multiprocess-examples","targets":[
                {"name":"multiprocess_examples","kind":["lib"]},
                {"name":"sfp_03_pid","kind":["example"]}]},
            {"name":"mp-sync","targets":[{"name":"lock","kind":["test"]},
                {"name":"sfp_03_pid","kind":["example"]}]}]}"#;
        let m = parse_metadata(json).unwrap();
        assert_eq!(m.target_dir, PathBuf::from("/w/target"));
        assert_eq!(m.examples["sfp_03_pid"].len(), 2);
        assert_eq!(
            m.integration_tests,
            vec![("mp-sync".to_owned(), "lock".to_owned())]
        );
    }
}
