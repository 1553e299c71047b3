//! The speed-up chart (`docs/perf-chart.svg`): one horizontal bar per
//! scenario, log scale, drawn with plotters' SVG backend.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::Row;

/// Writes the chart of every row that has a speed-up.
pub(crate) fn write_svg(rows: &[Row], path: &Path) -> Result<()> {
    let bars: Vec<(String, f64)> = rows
        .iter()
        .filter_map(|r| r.speedup().map(|x| (r.scenario.id.clone(), x)))
        .collect();
    if bars.is_empty() {
        return Ok(());
    }
    let height = 80 + 36 * bars.len() as u32;
    let root = SVGBackend::new(path, (760, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let max = bars.iter().map(|b| b.1).fold(1.0f64, f64::max) * 2.0;
    let min = bars.iter().map(|b| b.1).fold(1.0f64, f64::min).min(1.0) / 2.0;
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "multiprocess vs CPython 3.11 multiprocessing: speed-up (log scale)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(120)
        .build_cartesian_2d((min..max).log_scale(), (0..n).into_segmented())
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("times faster than CPython (1 = same)")
        .x_label_formatter(&|v| format!("{v:.0}×"))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, x))| {
            let color = if *x >= 1.0 {
                RGBColor(46, 125, 50)
            } else {
                RGBColor(198, 40, 40)
            };
            let mut bar = Rectangle::new(
                [
                    (min, SegmentValue::Exact(i)),
                    (*x, SegmentValue::Exact(i + 1)),
                ],
                color.mix(0.8).filled(),
            );
            bar.set_margin(6, 6, 0, 0);
            bar
        }))
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, x))| {
            Text::new(
                format!("{x:.1}×"),
                (*x * 1.05, SegmentValue::CenterOf(i)),
                ("sans-serif", 14).into_font(),
            )
        }))
        .map_err(|e| anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}
