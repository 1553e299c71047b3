//! Reading the keys of `Cargo.toml` tables without a TOML parser. The project's manifests
//! write one key per line (`name.workspace = true`, `name = { ... }`, `name = [...]`), which
//! is all that the feature step and the tidy tests need.

/// The keys of every table whose header (without brackets, e.g. `dependencies` or
/// `target.'cfg(loom)'.dependencies`) satisfies `wanted`, in file order. Comments, blank
/// lines and the continuation lines of a multi-line value are skipped.
pub(crate) fn keys(manifest: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            inside = wanted(header.trim_end_matches(']'));
            continue;
        }
        let starts_key = line
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !inside || !starts_key {
            continue;
        }
        let key = line.split(['=', '.']).next().unwrap_or("").trim();
        out.push(key.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = "[package]\nname = \"x\"\n\n[features]\ndefault = [\"a\"]\n\
                        a = [\"dep:b\"]\nlong = [\n    \"a\",\n]\n\n[dependencies]\n\
                        a.workspace = true\nb = { workspace = true, optional = true }\n\
                        # c = \"1\"\n\n[dev-dependencies]\nd = \"1\"\n\n\
                        [target.'cfg(loom)'.dependencies]\ne = \"1\"\n";

    #[test]
    fn reads_every_form() {
        let normal = |h: &str| h == "dependencies" || h.ends_with(".dependencies");
        assert_eq!(keys(TOML, normal), ["a", "b", "e"]);
        assert_eq!(keys(TOML, |h| h == "dev-dependencies"), ["d"]);
        assert_eq!(keys(TOML, |h| h == "features"), ["default", "a", "long"]);
    }
}
