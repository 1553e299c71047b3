//! Tidy tests (rust-analyzer's habit): `#[test]`s that read the repository's files and fail
//! when a layout rule is broken: the examples reach the library only through the facade.

use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::cargo::workspace_root as root;
use crate::manifest;

/// Every file under `dir` whose name ends with `ext`, in a stable order.
fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Examples use the library as users do: through `multiprocess` only.
#[test]
fn examples_use_only_the_facade() {
    let dir = root().join("examples");
    let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("examples/Cargo.toml");
    let mut bad = Vec::new();
    for kind in ["dependencies", "dev-dependencies"] {
        for dep in manifest::keys(&manifest, |h| h == kind) {
            if dep.starts_with("mp-") {
                bad.push(format!("examples/Cargo.toml [{kind}] names {dep}"));
            }
        }
    }
    let sub_crate = Regex::new(r"\bmp_[a-z_]+\b").expect("regex");
    for file in files_with(&dir, "rs") {
        let text = fs::read_to_string(&file).expect("example source");
        for (i, line) in text.lines().enumerate() {
            if let Some(m) = sub_crate.find(line) {
                let rel = file.strip_prefix(root()).unwrap_or(&file);
                bad.push(format!("{}:{}: {}", rel.display(), i + 1, m.as_str()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "examples must use the facade `multiprocess`, not its sub-crates:\n{}",
        bad.join("\n")
    );
}
