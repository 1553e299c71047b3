//! Tidy tests (rust-analyzer's habit): `#[test]`s that read the repository's files and fail
//! when a layout rule is broken: the examples reach the library only through the facade.

use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

/// The workspace root (xtask sits one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

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

/// The dependency names of one manifest section kind: `normal` is `[dependencies]` (also
/// per-target), otherwise `[dev-dependencies]` or `[build-dependencies]` as named.
fn manifest_deps(manifest: &str, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            let section = line.trim_matches(|c| c == '[' || c == ']');
            let last = section.rsplit('.').next().unwrap_or(section);
            inside = last == kind;
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.']).next().unwrap_or("").trim();
        if !name.is_empty() {
            out.push(name.to_owned());
        }
    }
    out
}

#[test]
fn manifest_deps_reads_every_form() {
    let toml = "[package]\nname = \"x\"\n\n[dependencies]\na.workspace = true\n\
                b = { workspace = true, optional = true }\n# c = \"1\"\n\n\
                [dev-dependencies]\nd = \"1\"\n\n[target.'cfg(loom)'.dependencies]\ne = \"1\"\n";
    assert_eq!(manifest_deps(toml, "dependencies"), ["a", "b", "e"]);
    assert_eq!(manifest_deps(toml, "dev-dependencies"), ["d"]);
}

/// Examples use the library as users do: through `multiprocess` only.
#[test]
fn examples_use_only_the_facade() {
    let dir = root().join("examples");
    let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("examples/Cargo.toml");
    let mut bad = Vec::new();
    for kind in ["dependencies", "dev-dependencies"] {
        for dep in manifest_deps(&manifest, kind) {
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
