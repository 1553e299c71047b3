//! The comparison table, for the console and for Markdown: ours, CPython
//! and the speed-up, then the raw limit, ours ÷ raw and issue 13's target
//! with a met/missed mark; and the scaling and memory rows' table (ours,
//! CPython, the Rust peer and the ratios to both, the raw limit where the
//! row has one, no targets).

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

/// Ours ÷ raw, the target, and `met` / `missed` (`—` where there is none).
fn raw_cells(row: &Row) -> [String; 4] {
    let dash = || "—".to_owned();
    let (target, met) = match row.target() {
        Some((t, Some(true))) => (t.to_string(), "met".to_owned()),
        Some((t, Some(false))) => (t.to_string(), "**missed**".to_owned()),
        Some((t, None)) => (t.to_string(), dash()),
        None => (dash(), dash()),
    };
    [
        row.raw.as_ref().map_or_else(dash, sample_cell),
        row.raw_ratio().map_or_else(dash, |x| format!("{x:.2}×")),
        target,
        met,
    ]
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
    let [raw, ratio, target, met] = raw_cells(row);
    let met = met.trim_matches('*');
    let unpaired = row
        .raw_ratio_of_medians()
        .map_or_else(String::new, |x| format!(", of the medians {x:.2}×"));
    format!(
        "{:<14} ours {:<22} CPython {:<22} speed-up {:<7} raw {raw:<22} ours/raw {ratio} (target {target}: {met}{unpaired}){peer}",
        c[0], c[2], c[3], c[4]
    )
}

/// The whole table as Markdown.
pub(crate) fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| id | scenario | multiprocess | CPython | speed-up | raw limit | ours ÷ raw | target | |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = cells(r);
        let [raw, ratio, target, met] = raw_cells(r);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {raw} | {ratio} | {target} | {met} |\n",
            c[0], c[1], c[2], c[3], c[4]
        ));
    }
    out
}

/// What each row's raw limit is, as Markdown.
pub(crate) fn raw_legend(rows: &[Row]) -> String {
    let mut out = String::from("| id | the raw limit |\n|---|---|\n");
    for r in rows {
        if let Some(what) = &r.scenario.raw_what {
            out.push_str(&format!("| {} | {what} |\n", r.scenario.id));
        }
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

/// `ratio` as a cell: `2.0×`, or `—`.
fn ratio_cell(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_owned(), |x| format!("{x:.1}×"))
}

/// The scaling and memory rows as Markdown.
pub(crate) fn family_markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| id | scenario | multiprocess | CPython | vs CPython | Rust peer | vs peer | raw limit | ours ÷ raw |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = cells(r);
        let peer = r.peer.as_ref().map_or_else(
            || "—".to_owned(),
            |(krate, samples)| format!("{krate} {}", sample_cell(samples)),
        );
        let [raw, raw_ratio, ..] = raw_cells(r);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {peer} | {} | {raw} | {raw_ratio} |\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            ratio_cell(r.peer_speedup()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Row, Samples, Scenario};

    fn samples(values: &[f64], unit: &str) -> Samples {
        Samples {
            values: values.to_vec(),
            unit: unit.into(),
        }
    }

    fn row(id: &str, lower: bool, ours: &[f64], raw: Option<&[f64]>) -> Row {
        let unit = if lower { "us" } else { "items/s" };
        Row {
            scenario: Scenario {
                id: id.into(),
                lower_is_better: lower,
                pinned: false,
                what: "w".into(),
                raw_what: raw.map(|_| "raw way".into()),
            },
            ours: samples(ours, unit),
            cpython: samples(&[20.0], unit),
            raw: raw.map(|r| samples(r, unit)),
            peer: None,
        }
    }

    #[test]
    fn raw_ratio_target_and_mark() {
        // A latency: ours 2.6 us against raw 2.0 us is 1.3× the raw cost,
        // exactly M2's ceiling; 2.8 us misses it.
        let met = row("M2", true, &[2.5, 2.6, 2.7], Some(&[2.0, 2.0, 2.0]));
        assert!((met.raw_ratio().unwrap() - 1.3).abs() < 1e-9);
        assert_eq!(super::raw_cells(&met)[1..], ["1.30×", "≤ 1.3×", "met"]);
        let missed = row("M2", true, &[2.8], Some(&[2.0]));
        assert_eq!(super::raw_cells(&missed)[3], "**missed**");
        // A rate: 3 M/s against a raw 10 M/s reaches 0.3× of it; M3a
        // needs 0.5×.
        let rate = row("M3a", false, &[3e6], Some(&[1e7]));
        assert_eq!(
            super::raw_cells(&rate)[1..],
            ["0.30×", "≥ 0.5×", "**missed**"]
        );
        let rate = row("M3a", false, &[6e6], Some(&[1e7]));
        assert_eq!(super::raw_cells(&rate)[3], "met");
        // No raw run: no ratio and no mark, but the target still shows.
        let none = row("M6", true, &[8.0], None);
        assert_eq!(none.raw_ratio(), None);
        assert_eq!(super::raw_cells(&none), ["—", "—", "≤ 1.5×", "—"]);
    }

    #[test]
    fn markdown_has_both_ratios_and_the_legend() {
        let rows = [row("M2", true, &[2.0], Some(&[1.6]))];
        let md = super::markdown(&rows);
        let line = md.lines().nth(2).unwrap();
        assert_eq!(
            line,
            "| M2 | w, lower is better | 2.00 us ±0% | 20.00 us ±0% | 10.0× | 1.60 us ±0% | 1.25× | ≤ 1.3× | met |"
        );
        assert_eq!(md.lines().next().unwrap().matches('|').count(), 10);
        assert!(super::raw_legend(&rows).contains("| M2 | raw way |"));
        assert!(super::console_row(&rows[0])
            .contains("ours/raw 1.25× (target ≤ 1.3×: met, of the medians 1.25×)"));
        let missed = row("M2", true, &[2.0], Some(&[1.0]));
        assert!(super::console_row(&missed).contains("(target ≤ 1.3×: missed, of the medians"));
    }

    #[test]
    fn the_raw_ratio_is_paired_by_round() {
        // The machine's state changes between rounds (the second and third
        // run everything twice and four times as slow): within each round
        // ours costs 1.2× raw, while the medians would pair ours' middle
        // round with a faster raw one.
        let drift = row("M2", true, &[1.2, 2.4, 4.8], Some(&[1.0, 2.0, 4.0]));
        assert!((drift.raw_ratio().unwrap() - 1.2).abs() < 1e-9);
        let skew = row("M2", true, &[1.2, 2.4, 4.8], Some(&[1.0, 1.0, 4.0]));
        assert!((skew.raw_ratio().unwrap() - 1.2).abs() < 1e-9);
        assert!((skew.raw_ratio_of_medians().unwrap() - 2.4).abs() < 1e-9);
        // Rounds that did not all run on both sides: the medians.
        let uneven = row("M2", true, &[1.2, 2.4], Some(&[1.0, 2.0, 4.0]));
        assert!((uneven.raw_ratio().unwrap() - 0.9).abs() < 1e-9);
        assert_eq!(uneven.raw_ratio(), uneven.raw_ratio_of_medians());
    }

    #[test]
    fn family_rows_have_both_ratios() {
        let mut r = row("S-1ms@2w", false, &[1800.0], None);
        r.cpython = samples(&[600.0], "items/s");
        r.peer = Some(("procspawn".into(), samples(&[900.0], "items/s")));
        let md = super::family_markdown(&[r]);
        assert_eq!(
            md.lines().nth(2).unwrap(),
            "| S-1ms@2w | w, higher is better | 1800 items/s ±0% | 600 items/s ±0% | 3.0× | procspawn 900 items/s ±0% | 2.0× | — | — |"
        );
        // A memory row: lower is better, so CPython's 8 MiB against our
        // 2 MiB is 4×; its raw limit and ratio show where it has one.
        let mut m = row("M1-fork@1GB", true, &[2.0], Some(&[1.0]));
        m.cpython = samples(&[8.0], "us");
        let line = super::family_markdown(&[m]);
        assert!(
            line.contains("| 4.0× | — | — | 1.00 us ±0% | 2.00× |"),
            "{line}"
        );
    }

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
