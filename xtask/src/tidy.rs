//! Tidy tests (rust-analyzer's habit): `#[test]`s that read the repository's files and fail
//! when an invariant of `ARCHITECTURE.md` marked *(checked)* is broken — the crate graph's
//! arrows, unsafe only in mp-sys, a module comment atop every file, the examples through the
//! facade. What main still does differently is listed in `KNOWN_DEBT`, one line per exception:
//! delete the line when the debt is paid.

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

/// The direct arrows of ARCHITECTURE.md's crate graph ("crate depends on ..."); a crate may
/// also depend on whatever these stand on. The facade may depend on every crate.
const ARROWS: &[(&str, &[&str])] = &[
    ("mp-sys", &[]),
    ("mp-wire", &["mp-sys"]),
    ("mp-shm", &["mp-wire"]),
    ("mp-sync", &["mp-shm"]),
    ("mp-channel", &["mp-sync"]),
    ("mp-process", &["mp-wire"]),
    ("mp-pool", &["mp-process", "mp-channel"]),
    (
        "mp-manager",
        &["mp-process", "mp-channel", "mp-pool", "mp-manager-derive"],
    ),
    ("mp-manager-derive", &[]),
    ("mp-pod-derive", &[]),
    ("mp-mpi", &["mp-pool"]),
];

/// The facade crate.
const FACADE: &str = "multiprocess";

/// Exceptions to the checked invariants that main still has (ARCHITECTURE.md, "Known debt"):
/// `(crate or file, what it names)`. Being removed by issue 10.
const KNOWN_DEBT: &[(&str, &str)] = &[];

fn known_debt(place: &str, what: &str) -> bool {
    KNOWN_DEBT.contains(&(place, what))
}

/// A crate of `crates/`: its folder, package name and manifest text.
struct Crate {
    dir: PathBuf,
    name: String,
    manifest: String,
}

/// Every crate under `crates/`, in folder order.
fn crates() -> Vec<Crate> {
    let mut out = Vec::new();
    let entries = fs::read_dir(root().join("crates")).expect("crates/");
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{}: no package name", dir.display()));
        out.push(Crate {
            dir,
            name,
            manifest,
        });
    }
    out
}

/// Whether a table header names normal dependencies (`[dependencies]`, also per target).
fn is_normal_deps(header: &str) -> bool {
    header == "dependencies" || header.ends_with(".dependencies")
}

/// The workspace crates `name` may depend on: everything reachable along [`ARROWS`].
fn allowed_deps(name: &str) -> Option<Vec<&'static str>> {
    if name == FACADE {
        return Some(ARROWS.iter().map(|(c, _)| *c).collect());
    }
    let direct = |c: &str| ARROWS.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    let mut reach: Vec<&'static str> = direct(name)?.to_vec();
    let mut i = 0;
    while i < reach.len() {
        for d in direct(reach[i]).unwrap_or(&[]) {
            if !reach.contains(d) {
                reach.push(d);
            }
        }
        i += 1;
    }
    Some(reach)
}

#[test]
fn allowed_deps_follow_the_arrows() {
    let pool = allowed_deps("mp-pool").expect("mp-pool is in the graph");
    for d in [
        "mp-process",
        "mp-channel",
        "mp-sync",
        "mp-shm",
        "mp-wire",
        "mp-sys",
    ] {
        assert!(pool.contains(&d), "{d}");
    }
    assert!(!pool.contains(&"mp-manager"));
    let process = allowed_deps("mp-process").expect("mp-process is in the graph");
    assert_eq!(process, ["mp-wire", "mp-sys"]);
    assert_eq!(allowed_deps("mp-nonesuch"), None);
}

/// Every `[dependencies]` arrow between workspace crates is one of ARCHITECTURE.md's.
#[test]
fn crate_graph_has_only_allowed_arrows() {
    let mut bad = Vec::new();
    for c in crates() {
        let Some(allowed) = allowed_deps(&c.name) else {
            bad.push(format!(
                "{} is not in the crate graph: add it to ARCHITECTURE.md and ARROWS",
                c.name
            ));
            continue;
        };
        for dep in manifest::keys(&c.manifest, is_normal_deps) {
            let internal = dep.starts_with("mp-") || dep == FACADE;
            if internal && !allowed.contains(&dep.as_str()) {
                bad.push(format!(
                    "{} → {dep} is an arrow that must never exist",
                    c.name
                ));
            }
        }
        for dep in manifest::keys(&c.manifest, |h| h == "dev-dependencies") {
            if dep == FACADE {
                bad.push(format!("{} dev-depends on the facade", c.name));
            }
        }
    }
    assert!(bad.is_empty(), "ARCHITECTURE.md:\n{}", bad.join("\n"));
}

/// Crate folders are named exactly as the crates.
#[test]
fn crate_folders_are_named_as_the_crates() {
    for c in crates() {
        let folder = c.dir.file_name().and_then(|f| f.to_str()).unwrap_or("");
        assert_eq!(folder, c.name, "crates/{folder} holds package {}", c.name);
    }
}

/// Only mp-sys reaches the kernel (rustix, libc); only mp-channel holds the authkey
/// handshake (hmac, sha2).
#[test]
fn external_deps_stay_in_their_crate() {
    let owners = [
        ("rustix", "mp-sys"),
        ("libc", "mp-sys"),
        ("hmac", "mp-channel"),
        ("sha2", "mp-channel"),
    ];
    let mut bad = Vec::new();
    for c in crates() {
        for dep in manifest::keys(&c.manifest, is_normal_deps) {
            for (ext, owner) in owners {
                if dep == ext && c.name != owner && !known_debt(&c.name, ext) {
                    bad.push(format!("{} → {ext}: only {owner} may use it", c.name));
                }
            }
        }
    }
    assert!(bad.is_empty(), "ARCHITECTURE.md:\n{}", bad.join("\n"));
}

/// Every `.rs` file of `crates/` with its path relative to the root.
fn crate_sources() -> Vec<(String, String)> {
    files_with(&root().join("crates"), "rs")
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{rel}: {e}"));
            (rel, text)
        })
        .collect()
}

/// The crate folder of a path such as `crates/mp-pool/src/x.rs`.
fn crate_of(rel: &str) -> &str {
    rel.split('/').nth(1).unwrap_or("")
}

/// The lines of a source file that are not comments.
fn code_lines(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Frame plumbing lives in mp-wire (and the one endpoint, mp-channel); `Address` in
/// mp-channel.
#[test]
fn framing_and_address_stay_in_their_crate() {
    let plumbing =
        Regex::new(r"\b(encode_header|check_header|HEADER_LEN|frame::MAGIC)\b").expect("regex");
    let address = Regex::new(r"\b(struct|enum) Address\b").expect("regex");
    let mut bad = Vec::new();
    for (rel, text) in crate_sources() {
        let krate = crate_of(&rel);
        let text = code_lines(&text);
        if !matches!(krate, "mp-wire" | "mp-channel")
            && plumbing.is_match(&text)
            && !known_debt(&rel, "frame plumbing")
        {
            bad.push(format!("{rel}: frame plumbing outside mp-wire/mp-channel"));
        }
        if krate != "mp-channel" && address.is_match(&text) && !known_debt(&rel, "Address") {
            bad.push(format!("{rel}: an Address type outside mp-channel"));
        }
    }
    assert!(bad.is_empty(), "ARCHITECTURE.md:\n{}", bad.join("\n"));
}

/// `unsafe` lives in mp-sys (and mp-shm if it must); every other crate root forbids or
/// denies it, and mp-process may allow it once (the fork start method's fork call).
#[test]
fn unsafe_stays_in_mp_sys() {
    let mut bad = Vec::new();
    let mut allows_in_process = 0;
    for (rel, text) in crate_sources() {
        let krate = crate_of(&rel);
        if krate == "mp-sys" {
            continue;
        }
        let is_root = rel.ends_with("/src/lib.rs");
        if is_root
            && !text.contains("#![forbid(unsafe_code)]")
            && !text.contains("#![deny(unsafe_code)]")
        {
            bad.push(format!("{rel}: neither forbids nor denies unsafe_code"));
        }
        let allows = text.matches("allow(unsafe_code)").count();
        match krate {
            "mp-shm" => {}
            "mp-process" => allows_in_process += allows,
            _ if allows > 0 => bad.push(format!("{rel}: allows unsafe_code")),
            _ => {}
        }
    }
    if allows_in_process > 1 {
        bad.push(format!(
            "mp-process allows unsafe_code {allows_in_process} times (once, for fork, at most)"
        ));
    }
    assert!(bad.is_empty(), "ARCHITECTURE.md:\n{}", bad.join("\n"));
}

/// Process-local state a forked child may touch is never behind a blocking lazy cell
/// (`Once`, `OnceLock`, `LazyLock`): a fork while another thread runs the initialiser
/// leaves the child waiting for ever on its first use. Use `once_cell::race::OnceBox`,
/// an atomic flag or `mp_sys::fork_hooks::register_once` (ARCHITECTURE.md, "Fork
/// safety"). The listed statics are set before any fork can happen, or only by a
/// process's one thread, or never again in a child (each says why beside it).
#[test]
fn lazy_statics_cannot_wedge_a_forked_child() {
    let allowed = [
        // Set by the start-up constructor, before any thread exists.
        ("crates/mp-sys/src/exe.rs", "SELF_EXE"),
        // Write-once slots, each set only by the thread that claimed its index; a child
        // claims fresh indices, so it never sets (or waits for) an inherited slot.
        ("crates/mp-manager/src/client.rs", "KEYS"),
        ("crates/mp-manager/src/client_settings.rs", "TABLE"),
        ("crates/mp-manager/src/refs.rs", "TABLE"),
        // Set by a pool worker's main thread when it starts, before its task threads.
        ("crates/mp-pool/src/task_word.rs", "MINE"),
        // The one panic hook: `std::panic::set_hook`'s own lock has the same hazard;
        // installed by every `Process` construction before any fork from it (and a
        // forked child inherits it installed).
        ("crates/mp-process/src/child_main.rs", "INSTALLED"),
    ];
    let lazy =
        Regex::new(r"static ([A-Z_]+)\s*:\s*(?:std::sync::)?(?:\[)?(OnceLock|LazyLock|Once)\b")
            .expect("regex");
    let mut bad = Vec::new();
    for (rel, text) in crate_sources() {
        if !rel.contains("/src/") || rel.contains("/src/tests/") {
            continue;
        }
        for c in lazy.captures_iter(&code_lines(&text)) {
            let name = &c[1];
            if !allowed.contains(&(rel.as_str(), name)) {
                bad.push(format!("{rel}: static {name} is a blocking {}", &c[2]));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "ARCHITECTURE.md (Fork safety):\n{}",
        bad.join("\n")
    );
}

/// Only two places install a panic hook: mp-process's child report hook (from every
/// `Process` construction, before any fork; it also records the panics caught by
/// `mp_process::catch_quietly`) and an MPI worker rank's (a process `mpirun` or
/// `MPI_Comm_spawn` started, single-threaded then). Anywhere else, a forked child could
/// wait for ever on std's hook lock, left held by a parent thread that was panicking
/// (ARCHITECTURE.md, "Fork safety").
#[test]
fn only_the_report_hooks_touch_the_panic_hook() {
    let allowed = [
        "crates/mp-process/src/child_main.rs",
        "crates/mp-sys/src/mpi_job.rs",
    ];
    let hook = Regex::new(r"\b(set_hook|take_hook|update_hook)\s*\(").expect("regex");
    let mut bad = Vec::new();
    for (rel, text) in crate_sources() {
        if !rel.contains("/src/") || rel.contains("/src/tests/") || allowed.contains(&rel.as_str())
        {
            continue;
        }
        if let Some(m) = hook.find(&code_lines(&text)) {
            bad.push(format!("{rel}: calls {}", m.as_str()));
        }
    }
    assert!(
        bad.is_empty(),
        "ARCHITECTURE.md (Fork safety):\n{}",
        bad.join("\n")
    );
}

/// Every thread of the workspace starts through `mp_sys::thread_spawn`,
/// which starts a bare POSIX thread in a forked child (std's thread start
/// may wait there for ever on a lock of std's: ARCHITECTURE.md, Fork
/// safety). Test modules may start std threads.
#[test]
fn threads_start_through_thread_spawn() {
    let spawn = Regex::new(r"\bthread::(spawn|scope|Builder::new)\s*\(").expect("regex");
    let mut bad = Vec::new();
    for (rel, text) in crate_sources() {
        if !rel.contains("/src/")
            || rel.contains("/src/tests/")
            || rel.ends_with("tests.rs")
            || rel.ends_with("mp-sys/src/thread_spawn.rs")
        {
            continue;
        }
        let code = code_lines(&text);
        let outside_tests = code.split("#[cfg(test)]").next().unwrap_or_default();
        if let Some(m) = spawn.find(outside_tests) {
            bad.push(format!("{rel}: {}", m.as_str()));
        }
    }
    assert!(
        bad.is_empty(),
        "start threads with mp_sys::thread_spawn::Builder (ARCHITECTURE.md, Fork safety):\n{}",
        bad.join("\n")
    );
}

/// Every file says what it holds in a `//!` comment on its first line.
#[test]
fn every_file_starts_with_a_module_comment() {
    let bad: Vec<String> = crate_sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        bad.is_empty(),
        "files without a //! module comment on line 1:\n{}",
        bad.join("\n")
    );
}
