//! The `features` step of `cargo xtask test-all`: the facade built with no feature and with
//! each cargo feature of `crates/multiprocess/Cargo.toml` alone (with what it implies), so a
//! feature that stops building on its own — or warns only on its own — fails the run.
//!
//! Each check is `cargo clippy -p multiprocess --no-default-features [--features F] -- -D
//! warnings`: type-checking proves the point without a build, and after the clippy step the
//! sub-crates are already checked, so each check compiles the facade only. Measured on this
//! 2-core machine: the seven checks take 0.7 s together on a warm target directory and 10 s
//! on an empty one.

use anyhow::Context as _;

use crate::cargo::workspace_root;
use crate::manifest;

/// The facade's manifest, relative to the workspace root.
const FACADE_MANIFEST: &str = "crates/multiprocess/Cargo.toml";

/// One feature check: its label in the report and its cargo arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureCheck {
    /// `features: none` or `features: NAME alone`.
    pub(crate) label: String,
    /// The arguments after `cargo`.
    pub(crate) args: Vec<String>,
}

/// The checks for the facade's features as its manifest declares them today.
pub(crate) fn checks() -> anyhow::Result<Vec<FeatureCheck>> {
    let path = workspace_root().join(FACADE_MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(checks_for(&text))
}

/// The checks for a facade manifest: none, then each feature but `default` alone.
fn checks_for(manifest_text: &str) -> Vec<FeatureCheck> {
    let base = ["clippy", "-p", "multiprocess", "--no-default-features"];
    let lint = ["--", "-D", "warnings"];
    let args = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .chain(&lint)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let mut out = vec![FeatureCheck {
        label: "features: none".to_owned(),
        args: args(&[]),
    }];
    for feature in manifest::keys(manifest_text, |h| h == "features") {
        if feature != "default" {
            out.push(FeatureCheck {
                label: format!("features: {feature} alone"),
                args: args(&["--features", &feature]),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_check_per_feature_plus_none() {
        let toml = "[features]\ndefault = [\"a\", \"b\"]\na = []\nb = [\"a\"]\n\n[dependencies]\n";
        let checks = checks_for(toml);
        let labels: Vec<&str> = checks.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["features: none", "features: a alone", "features: b alone"]
        );
        assert_eq!(
            checks[2].args.join(" "),
            "clippy -p multiprocess --no-default-features --features b -- -D warnings"
        );
    }

    #[test]
    fn reads_the_facades_manifest() {
        let checks = checks().expect("the facade's manifest");
        let labels: Vec<&str> = checks.iter().map(|c| c.label.as_str()).collect();
        for want in [
            "features: none",
            "features: sync alone",
            "features: manager alone",
        ] {
            assert!(labels.contains(&want), "{want} missing from {labels:?}");
        }
    }
}
