//! Counting and printing results: one `PASS`/`FAIL` line per check as it finishes, indented
//! failure output, and the final `N passed, N failed` line.

use std::time::Duration;

/// Running totals over every check and every test.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Checks and tests that passed.
    pub(crate) passed: u64,
    /// Checks and tests that failed.
    pub(crate) failed: u64,
    /// Short labels of what failed, for the recap.
    pub(crate) failures: Vec<String>,
}

impl Tally {
    /// Records one check and prints its line: `PASS  label (1.2 s)` or
    /// `FAIL  label (1.2 s): reason`.
    pub(crate) fn check(&mut self, ok: bool, label: &str, took: Duration, reason: &str) {
        if ok {
            self.passed += 1;
            println!("PASS  {label} ({})", secs(took));
        } else {
            self.failed += 1;
            self.failures.push(label.to_owned());
            if reason.is_empty() {
                println!("FAIL  {label} ({})", secs(took));
            } else {
                println!("FAIL  {label} ({}): {reason}", secs(took));
            }
        }
    }

    /// Adds counted tests (each test is one check); `label` is recorded once if any failed.
    pub(crate) fn tests(&mut self, label: &str, passed: u64, failed: u64) {
        self.passed += passed;
        self.failed += failed;
        if failed > 0 {
            self.failures.push(format!("{label} ({failed} failed)"));
        }
    }

    /// The last line of the report.
    pub(crate) fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// The failure labels for the recap, with `X [fork]`, `X [spawn]`, ... merged into
/// `X [fork, spawn]`, in first-seen order.
pub(crate) fn recap(failures: &[String]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for f in failures {
        let (base, tag) = match f.strip_suffix(']').and_then(|s| s.rsplit_once(" [")) {
            Some((base, tag)) => (base.to_owned(), Some(tag.to_owned())),
            None => (f.clone(), None),
        };
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, tags)) => tags.extend(tag),
            None => groups.push((base, tag.into_iter().collect())),
        }
    }
    groups
        .into_iter()
        .map(|(base, tags)| {
            if tags.is_empty() {
                base
            } else {
                format!("{base} [{}]", tags.join(", "))
            }
        })
        .collect()
}

/// `1.23 s`.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Prints `text` indented under a check line, keeping at most the last `max` lines.
pub(crate) fn print_indented(title: &str, text: &str, max: usize) {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        println!("      --- {title}: (empty)");
        return;
    }
    println!("      --- {title}:");
    let skip = lines.len().saturating_sub(max);
    if skip > 0 {
        println!("      | [... {skip} earlier lines left out ...]");
    }
    for l in &lines[skip..] {
        println!("      | {l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_checks_and_tests() {
        let mut t = Tally::default();
        t.check(true, "a", Duration::from_millis(10), "");
        t.check(false, "b", Duration::from_millis(10), "broken");
        t.tests("unit tests", 5, 2);
        t.tests("doc tests", 3, 0);
        assert_eq!(t.summary(), "9 passed, 3 failed");
        assert_eq!(t.failures, vec!["b", "unit tests (2 failed)"]);
        assert_eq!(secs(Duration::from_millis(1234)), "1.23 s");
    }

    #[test]
    fn recap_groups_methods() {
        let f: Vec<String> = [
            "example a [fork]",
            "clippy",
            "example a [spawn]",
            "example b [fork]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            recap(&f),
            vec!["example a [fork, spawn]", "clippy", "example b [fork]"]
        );
    }
}
