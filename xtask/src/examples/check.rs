//! Building blocks for the output checkers: what a run produced ([`Observed`]), line
//! normalisation (seed-programs.md rules 4 and 6), and the common rule kinds: exact, multiset,
//! ordering, counting, timing, and parsers for floats, Python lists and dicts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, ensure, Context as _, Result};
use regex::Regex;

use super::Method;

/// A float as Python's `repr` or Rust's `{}` prints it (`0.5`, `0`, `1e-05`, `5e-324`).
pub(crate) const FLOAT: &str = r"[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?";

/// What one example run produced, as the checkers see it.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    /// stdout (for the logging area: stdout and stderr as one stream).
    pub(crate) stdout: String,
    /// stderr (empty for the logging area).
    pub(crate) stderr: String,
    /// Wall time of the run in seconds.
    pub(crate) wall: f64,
    /// The start method it ran under.
    pub(crate) method: Method,
    /// Accepted CPU counts (`cpu_count()` for the `× 2` rules).
    pub(crate) cpu_counts: Vec<usize>,
    /// The workspace root (for rules about source files).
    pub(crate) root: PathBuf,
    /// The pid of the example's main process, when known.
    pub(crate) pid: Option<u32>,
}

impl Observed {
    /// Output `stdout`, a long wall time, fork, 2 CPUs (for tests).
    #[cfg(test)]
    pub(crate) fn new(stdout: &str) -> Self {
        Observed {
            stdout: stdout.to_owned(),
            stderr: String::new(),
            wall: 1000.0,
            method: Method::Fork,
            cpu_counts: vec![2],
            root: PathBuf::from("/nonexistent"),
            pid: None,
        }
    }

    /// The same with another wall time.
    #[cfg(test)]
    pub(crate) fn wall(mut self, secs: f64) -> Self {
        self.wall = secs;
        self
    }

    /// The non-blank lines of stdout, trailing whitespace trimmed (rule 4).
    pub(crate) fn lines(&self) -> Vec<&str> {
        lines(&self.stdout)
    }
}

/// The non-blank lines of `text`, trailing whitespace trimmed (rule 4).
pub(crate) fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Rust's boolean spelling turned into Python's (rule 6): `true` → `True`, `false` → `False`.
pub(crate) fn norm_bool(line: &str) -> String {
    let re = Regex::new(r"\b(true|false)\b").expect("static regex");
    re.replace_all(line, |c: &regex::Captures<'_>| {
        if &c[1] == "true" { "True" } else { "False" }.to_owned()
    })
    .into_owned()
}

/// A compiled anchored regex (whole line).
pub(crate) fn re(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).expect("static regex")
}

/// A `parent=PID` shown for a child of the main process must be the main process's pid.
pub(crate) fn parent_is_main(obs: &Observed, parent: &str) -> Result<()> {
    if let Some(pid) = obs.pid {
        ensure!(
            parent == pid.to_string(),
            "parent={parent}, but the main process's pid is {pid}"
        );
    }
    Ok(())
}

/// **exact**: the same lines in the same order (booleans in either spelling).
pub(crate) fn exact(obs: &Observed, expected: &[&str]) -> Result<()> {
    let got = obs.lines();
    for (i, want) in expected.iter().enumerate() {
        match got.get(i) {
            Some(g) if norm_bool(g) == norm_bool(want) => {}
            Some(g) => bail!("line {}: expected `{want}`, got `{g}`", i + 1),
            None => bail!(
                "expected {} lines, got {}: line `{want}` is missing",
                expected.len(),
                got.len()
            ),
        }
    }
    ensure!(
        got.len() == expected.len(),
        "expected {} lines, got {}: unexpected `{}`",
        expected.len(),
        got.len(),
        got[expected.len()]
    );
    Ok(())
}

/// **multiset**: the same lines in any order (booleans in either spelling).
pub(crate) fn multiset(obs: &Observed, expected: &[&str]) -> Result<()> {
    let mut count: BTreeMap<String, i64> = BTreeMap::new();
    for w in expected {
        *count.entry(norm_bool(w)).or_default() += 1;
    }
    for g in obs.lines() {
        *count.entry(norm_bool(g)).or_default() -= 1;
    }
    let missing: Vec<String> = count
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(l, n)| format!("`{l}` ×{n}"))
        .collect();
    let extra: Vec<String> = count
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(l, n)| format!("`{l}` ×{}", -n))
        .collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "lines differ: missing [{}], unexpected [{}]",
        missing.join(", "),
        extra.join(", ")
    );
    Ok(())
}

/// Slack for clock granularity in the "runs ≥ X s" rules computed from printed values.
const TIMING_SLACK: f64 = 0.005;

/// Timing: the run took at least `secs` seconds (`what` says where the bound comes from).
pub(crate) fn min_wall(obs: &Observed, secs: f64, what: &str) -> Result<()> {
    ensure!(
        obs.wall + TIMING_SLACK >= secs,
        "ran {:.3} s, but must run ≥ {secs:.3} s ({what})",
        obs.wall
    );
    Ok(())
}

/// The index of the only line equal to `line` (after boolean normalisation).
pub(crate) fn index_of(lines: &[&str], line: &str) -> Result<usize> {
    let found: Vec<usize> = (0..lines.len())
        .filter(|&i| norm_bool(lines[i]) == norm_bool(line))
        .collect();
    match found.as_slice() {
        [i] => Ok(*i),
        [] => bail!("line `{line}` is missing"),
        _ => bail!("line `{line}` appears {} times", found.len()),
    }
}

/// Line `a` (present once) comes before line `b` (present once).
pub(crate) fn before(lines: &[&str], a: &str, b: &str) -> Result<()> {
    let (i, j) = (index_of(lines, a)?, index_of(lines, b)?);
    ensure!(i < j, "`{a}` must come before `{b}`");
    Ok(())
}

/// `line` must not appear at all.
pub(crate) fn forbid(lines: &[&str], line: &str) -> Result<()> {
    ensure!(
        !lines.iter().any(|l| norm_bool(l) == norm_bool(line)),
        "forbidden line `{line}` appears"
    );
    Ok(())
}

/// Parses a float and checks it lies in `[lo, hi)`.
pub(crate) fn float_in(text: &str, lo: f64, hi: f64) -> Result<f64> {
    let v: f64 = text
        .parse()
        .with_context(|| format!("`{text}` is not a number"))?;
    ensure!(
        v.is_finite() && v >= lo && v < hi,
        "{text} is not in [{lo}, {hi})"
    );
    Ok(v)
}

/// The keys `0..n` appear exactly once each in `keys` (nothing else; `what` names them).
pub(crate) fn once_each(keys: &[u64], n: u64, what: &str) -> Result<()> {
    let mut seen = vec![0usize; n as usize];
    for &k in keys {
        ensure!(k < n, "{what} {k} is out of range 0…{}", n - 1);
        seen[k as usize] += 1;
    }
    for (k, c) in seen.iter().enumerate() {
        ensure!(*c == 1, "{what} {k} appears {c} times, expected once");
    }
    Ok(())
}

/// Parses a Python-style list of quoted strings: `['0', '1']`, `["0", "1"]` or `[]`.
pub(crate) fn parse_str_list(text: &str) -> Result<Vec<String>> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .with_context(|| format!("`{text}` is not a list"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let item = Regex::new(r#"^\s*(?:'([^']*)'|"([^"]*)")\s*$"#).expect("static regex");
    inner
        .split(',')
        .map(|part| {
            let c = item
                .captures(part)
                .with_context(|| format!("`{part}` in `{text}` is not a quoted string"))?;
            Ok(c.get(1).or(c.get(2)).map_or("", |m| m.as_str()).to_owned())
        })
        .collect()
}

/// Parses a Python-style dict of integers, `{0: 0, 1: 2}`, keeping duplicate keys.
pub(crate) fn parse_int_dict(text: &str) -> Result<Vec<(i64, i64)>> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .with_context(|| format!("`{text}` is not a dict"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let pair = Regex::new(r"^\s*(-?\d+): (-?\d+)\s*$").expect("static regex");
    inner
        .split(',')
        .map(|part| {
            let c = pair
                .captures(part)
                .with_context(|| format!("`{part}` in `{text}` is not `int: int`"))?;
            Ok((c[1].parse()?, c[2].parse()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_trim_and_skip_blanks() {
        assert_eq!(lines("a  \n\n  \nb\t\r\n"), vec!["a", "b"]);
    }

    #[test]
    fn exact_accepts_both_bool_spellings_and_rejects_differences() {
        exact(&Observed::new("True\n"), &["True"]).unwrap();
        exact(&Observed::new("true\n"), &["True"]).unwrap();
        assert!(exact(&Observed::new("Truee\n"), &["True"]).is_err());
        assert!(exact(&Observed::new("a\nb\n"), &["a"]).is_err());
        assert!(exact(&Observed::new("a\n"), &["a", "b"]).is_err());
        assert!(exact(&Observed::new("b\na\n"), &["a", "b"]).is_err());
    }

    #[test]
    fn multiset_counts_duplicates() {
        multiset(&Observed::new("b\na\na\n"), &["a", "a", "b"]).unwrap();
        let e = multiset(&Observed::new("a\nb\n"), &["a", "a", "b"]).unwrap_err();
        assert!(e.to_string().contains("missing [`a` ×1]"), "{e}");
    }

    #[test]
    fn min_wall_is_a_lower_bound() {
        min_wall(&Observed::new("").wall(1.0), 0.95, "x").unwrap();
        assert!(min_wall(&Observed::new("").wall(0.5), 0.95, "x").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(float_in("0.25", 0.0, 1.0).unwrap(), 0.25);
        assert_eq!(float_in("0", 0.0, 1.0).unwrap(), 0.0);
        assert_eq!(float_in("1e-05", 0.0, 1.0).unwrap(), 0.00001);
        assert!(float_in("1", 0.0, 1.0).is_err());
        assert!(float_in("NaN", 0.0, 1.0).is_err());
        assert!(re(FLOAT).is_match("0.4982746119315874"));
        assert!(!re(FLOAT).is_match("Some(0.5)"));
    }

    #[test]
    fn lists_in_both_quote_styles() {
        assert_eq!(parse_str_list("['0', '1']").unwrap(), vec!["0", "1"]);
        assert_eq!(parse_str_list(r#"["0", "1"]"#).unwrap(), vec!["0", "1"]);
        assert!(parse_str_list("[]").unwrap().is_empty());
        assert!(parse_str_list("['0', 1]").is_err());
        assert!(parse_str_list("'0'").is_err());
    }

    #[test]
    fn dicts() {
        assert_eq!(
            parse_int_dict("{1: 2, 0: 0}").unwrap(),
            vec![(1, 2), (0, 0)]
        );
        assert!(parse_int_dict("{}").unwrap().is_empty());
        assert!(parse_int_dict("{1 => 2}").is_err());
    }

    #[test]
    fn once_each_rejects_missing_duplicate_and_out_of_range() {
        once_each(&[2, 0, 1], 3, "K").unwrap();
        assert!(once_each(&[0, 1], 3, "K").is_err());
        assert!(once_each(&[0, 1, 1, 2], 3, "K").is_err());
        assert!(once_each(&[0, 1, 2, 3], 3, "K").is_err());
    }

    #[test]
    fn ordering_helpers() {
        let l = ["a", "b", "true"];
        before(&l, "a", "b").unwrap();
        assert!(before(&l, "b", "a").is_err());
        assert_eq!(index_of(&l, "True").unwrap(), 2);
        assert!(forbid(&l, "b").is_err());
        forbid(&l, "c").unwrap();
    }
}
