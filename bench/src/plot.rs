//! The latency plot of a benchmark run: for each scenario, the measured
//! side (our host, or the path through Traefik) above its reference (the
//! native baseline, the direct path, the raw SQLite loop), each bar showing
//! p50 (dark) inside p99 (light), on a logarithmic millisecond axis.
//!
//! ```text
//! plot bench/results/2026-11-25.json bench/results/2026-11-25-latency.png \
//!     /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
//! ```
//!
//! The JSON is what `cargo xtask bench` writes beside its report:
//! `{"title": ..., "rows": [{"label", "measured_name", "measured": {"p50", "p99"},
//! "reference_name", "reference": {"p50", "p99"} | null}]}`, latencies in ms.

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;

#[derive(Deserialize)]
struct Plot {
    title: String,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    label: String,
    measured_name: String,
    measured: Latency,
    reference_name: String,
    reference: Option<Latency>,
}

#[derive(Deserialize, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
}

const WIDTH: u32 = 1600;
const ROW_HEIGHT: u32 = 96;
const LABEL_WIDTH: u32 = 430;
/// Pixels kept right of the longest bar for its figures.
const TEXT_ROOM: u32 = 270;
const MEASURED: (RGBColor, RGBColor) = (RGBColor(31, 78, 154), RGBColor(155, 185, 232));
const REFERENCE: (RGBColor, RGBColor) = (RGBColor(192, 88, 13), RGBColor(245, 192, 138));

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, font] = args.as_slice() else {
        return Err("usage: plot RESULTS.json OUT.png FONT.ttf".into());
    };
    let plot: Plot = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let font: &'static [u8] = Box::leak(std::fs::read(font)?.into_boxed_slice());
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, font)
            .map_err(|_| "the font file is not a TrueType/OpenType font")?;
    }
    draw(&plot, output)
}

fn draw(plot: &Plot, output: &str) -> Result<(), Box<dyn std::error::Error>> {
    let rows = plot.rows.len().max(1);
    let height = 190 + ROW_HEIGHT * rows as u32;
    let root = BitMapBackend::new(output, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;

    let values = plot.rows.iter().flat_map(|r| {
        [Some(r.measured), r.reference]
            .into_iter()
            .flatten()
            .flat_map(|l| [l.p50, l.p99])
    });
    let (low, high) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low <= high {
        // Room right of the longest bar for its figures: it ends
        // `TEXT_ROOM` pixels before the axis does.
        let low = 10f64.powf(low.log10().floor());
        let width = f64::from(WIDTH - LABEL_WIDTH - 40);
        let decades = (high / low).log10() * width / (width - f64::from(TEXT_ROOM));
        (low, low * 10f64.powf(decades))
    } else {
        (0.01, 100.0)
    };

    let mut chart = ChartBuilder::on(&root)
        .caption(
            &plot.title,
            ("sans-serif", 30).into_font().style(FontStyle::Bold),
        )
        .margin(20)
        .margin_top(16)
        .x_label_area_size(60)
        .y_label_area_size(LABEL_WIDTH)
        .build_cartesian_2d((low..high).log_scale(), 0f64..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("latency (ms, log scale): dark = p50, light = p99")
        .x_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            }
        })
        .label_style(("sans-serif", 20))
        .axis_desc_style(("sans-serif", 22))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()?;

    let label_font = ("sans-serif", 21).into_font().style(FontStyle::Bold);
    let small = ("sans-serif", 18).into_font();
    for (index, row) in plot.rows.iter().enumerate() {
        // Row 0 at the top.
        let top = (rows - index) as f64;
        let bars = [
            (top - 0.18, &row.measured_name, Some(row.measured), MEASURED),
            (top - 0.58, &row.reference_name, row.reference, REFERENCE),
        ];
        if index > 0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(low, top), (high, top)],
                RGBColor(210, 210, 210),
            )))?;
        }
        for (upper, name, latency, (dark, light)) in bars {
            let lower = upper - 0.32;
            let Some(latency) = latency else {
                let (x, y) = chart.backend_coord(&(low, (upper + lower) / 2.0));
                root.draw(&Text::new(
                    format!("{name}: not measured"),
                    (x + 8, y),
                    small
                        .clone()
                        .into_text_style(&root)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
                continue;
            };
            let p99 = latency.p99.max(low);
            let p50 = latency.p50.max(low);
            chart.draw_series([
                Rectangle::new([(low, lower), (p99, upper)], light.filled()),
                Rectangle::new([(low, lower), (p50, upper)], dark.filled()),
            ])?;
            let (x, y) = chart.backend_coord(&(p99, (upper + lower) / 2.0));
            let text = format!("{name}  {:.2} / {:.2} ms", latency.p50, latency.p99);
            let (width, _) =
                root.estimate_text_size(&text, &small.clone().into_text_style(&root))?;
            let (right, _) = chart.backend_coord(&(high, 0.0));
            // Past the end of the bar if it fits, else inside it.
            let (at, anchor) = if x + 8 + width as i32 <= right {
                (x + 8, HPos::Left)
            } else {
                (x - 8, HPos::Right)
            };
            root.draw(&Text::new(
                text,
                (at, y),
                small
                    .clone()
                    .into_text_style(&root)
                    .pos(Pos::new(anchor, VPos::Center)),
            ))?;
        }
        let (_, y) = chart.backend_coord(&(low, top - 0.38));
        for (line, text) in wrap(&row.label, 34).iter().enumerate() {
            let lines = wrap(&row.label, 34).len() as i32;
            root.draw(&Text::new(
                text.clone(),
                (20, y + (line as i32 * 2 - (lines - 1)) * 12),
                label_font
                    .clone()
                    .into_text_style(&root)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
    }
    // The legend, bottom left, under the row labels.
    let legend = [
        (MEASURED, "measured: our host, or the path through Traefik"),
        (
            REFERENCE,
            "reference: native, raw loop, direct, 1 conn., host only",
        ),
    ];
    for (index, ((dark, light), text)) in legend.into_iter().enumerate() {
        let y = height as i32 - 64 + index as i32 * 26;
        root.draw(&Rectangle::new([(20, y - 8), (34, y + 8)], dark.filled()))?;
        root.draw(&Rectangle::new([(34, y - 8), (48, y + 8)], light.filled()))?;
        root.draw(&Text::new(
            text,
            (56, y),
            small
                .clone()
                .into_text_style(&root)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// Splits `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}
