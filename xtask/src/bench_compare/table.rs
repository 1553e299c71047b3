//! The comparison table, for the console and for Markdown.

use super::Row;

fn fmt_value(v: Option<f64>, unit: &str) -> String {
    // Times move up a unit instead of taking a prefix.
    match (v, unit) {
        (Some(v), "ns") if v >= 1000.0 => return fmt_value(Some(v / 1000.0), "us"),
        (Some(v), "us") if v >= 1000.0 => return fmt_value(Some(v / 1000.0), "ms"),
        (Some(v), "ms") if v >= 1000.0 => return fmt_value(Some(v / 1000.0), "s"),
        _ => {}
    }
    let time = matches!(unit, "ns" | "us" | "ms" | "s");
    match v {
        None => "—".to_owned(),
        Some(v) if time && v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) if time => format!("{v:.2} {unit}"),
        Some(v) if v >= 1e6 => format!("{:.2} M{unit}", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.1} k{unit}", v / 1e3),
        Some(v) if v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

fn fmt_spread(p: Option<f64>) -> String {
    p.map_or_else(String::new, |p| format!(" ±{p:.0}%"))
}

/// A side's median and spread, as one cell.
pub(crate) fn sample_cell(s: &super::Samples) -> String {
    format!(
        "{}{}",
        fmt_value(s.median(), &s.unit),
        fmt_spread(s.spread_pct())
    )
}

fn cells(row: &Row) -> [String; 5] {
    let s = &row.scenario;
    [
        s.id.clone(),
        format!(
            "{}{}{}",
            s.what,
            if s.pinned { " (pinned)" } else { "" },
            if s.lower_is_better {
                ", lower is better"
            } else {
                ", higher is better"
            }
        ),
        sample_cell(&row.ours),
        sample_cell(&row.cpython),
        row.speedup()
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.1}×")),
    ]
}

/// One line per scenario, printed as each finishes.
pub(crate) fn console_row(row: &Row) -> String {
    let c = cells(row);
    let peer = match &row.peer {
        Some((krate, samples)) => format!(
            "  {krate} {} ({})",
            fmt_value(samples.median(), &samples.unit),
            row.peer_speedup()
                .map_or_else(|| "—".to_owned(), |x| format!("{x:.1}×")),
        ),
        None => String::new(),
    };
    format!(
        "{:<14} ours {:<22} CPython {:<22} speed-up {}{peer}",
        c[0], c[2], c[3], c[4]
    )
}

/// The whole table as Markdown.
pub(crate) fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| id | scenario | multiprocess | CPython | speed-up |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = cells(r);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c[0], c[1], c[2], c[3], c[4]
        ));
    }
    out
}

/// The rows a Rust peer ran too, as Markdown.
pub(crate) fn peer_markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| id | scenario | multiprocess | peer | peer's value | speed-up |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let Some((krate, samples)) = &r.peer else {
            continue;
        };
        let c = cells(r);
        out.push_str(&format!(
            "| {} | {} | {} | {krate} | {}{} | {} |\n",
            c[0],
            c[1],
            c[2],
            fmt_value(samples.median(), &samples.unit),
            fmt_spread(samples.spread_pct()),
            r.peer_speedup()
                .map_or_else(|| "—".to_owned(), |x| format!("{x:.1}×")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::fmt_value(Some(43_800.0), "us"), "43.80 ms");
        assert_eq!(super::fmt_value(Some(81.84), "us"), "81.84 us");
        assert_eq!(
            super::fmt_value(Some(28_340_000.0), "ops/s"),
            "28.34 Mops/s"
        );
        assert_eq!(super::fmt_value(None, "us"), "—");
    }
}
