//! Charts drawn on the server as inline SVG: no script, readable in print, each with a title
//! for screen readers and described by the table beside it that holds its figures
//! (`aria-describedby`, the `table` argument: that table's id).

use maud::{html, Markup};

const WIDTH: f64 = 640.0;
const BAR_HEIGHT: f64 = 22.0;
const LABEL_WIDTH: f64 = 250.0;
/// Colours with at least 3:1 contrast against white, told apart by lightness as well.
const PALETTE: [&str; 6] = [
    "#0b4f8a", "#1d6b33", "#8a1c0b", "#7a4b00", "#5b3f8f", "#3d5a66",
];

fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(max - 1).collect::<String>())
    }
}

/// Horizontal bars, one per item, with the count written at the end of each bar.
pub fn bars(id: &str, title: &str, table: &str, items: &[(String, usize)]) -> Markup {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let height = BAR_HEIGHT * items.len() as f64 + 10.0;
    let span = WIDTH - LABEL_WIDTH - 50.0;
    html! {
        svg.chart role="img" aria-labelledby={(id) "-t"} aria-describedby=(table) viewBox={"0 0 " (WIDTH) " " (height)} width=(WIDTH) height=(height) xmlns="http://www.w3.org/2000/svg" {
            title id={(id) "-t"} { (title) }
            @for (i, (label, n)) in items.iter().enumerate() {
                @let y = 5.0 + BAR_HEIGHT * i as f64;
                @let w = (*n as f64 / max * span).max(if *n > 0 { 1.0 } else { 0.0 });
                text x=(LABEL_WIDTH - 6.0) y=(y + 15.0) text-anchor="end" font-size="12" fill="#1b1f24" { (shorten(label, 38)) }
                rect x=(LABEL_WIDTH) y=(y + 3.0) width=(format!("{w:.1}")) height=(BAR_HEIGHT - 6.0) fill=(PALETTE[0]) {}
                text x=(format!("{:.1}", LABEL_WIDTH + w + 4.0)) y=(y + 15.0) font-size="12" fill="#1b1f24" { (n) }
            }
        }
    }
}

/// A line per series over twelve months (the year and the previous one).
pub fn months(id: &str, title: &str, table: &str, series: &[(String, [usize; 12])]) -> Markup {
    const NAMES: [&str; 12] = [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ];
    let (left, top, w, h) = (40.0, 20.0, WIDTH - 60.0, 180.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |m: usize| left + w * m as f64 / 11.0;
    let y = |n: usize| top + h - h * n as f64 / max;
    html! {
        svg.chart role="img" aria-labelledby={(id) "-t"} aria-describedby=(table) viewBox={"0 0 " (WIDTH) " " (top + h + 50.0)} width=(WIDTH) height=(top + h + 50.0) xmlns="http://www.w3.org/2000/svg" {
            title id={(id) "-t"} { (title) }
            line x1=(left) y1=(top + h) x2=(left + w) y2=(top + h) stroke="#555e68" {}
            text x=(left - 6.0) y=(top + 4.0) text-anchor="end" font-size="11" fill="#1b1f24" { (max as usize) }
            text x=(left - 6.0) y=(top + h) text-anchor="end" font-size="11" fill="#1b1f24" { "0" }
            @for (m, name) in NAMES.iter().enumerate() {
                text x=(format!("{:.1}", x(m))) y=(top + h + 16.0) text-anchor="middle" font-size="11" fill="#1b1f24" { (name) }
            }
            @for (i, (label, values)) in series.iter().enumerate() {
                @let points = values.iter().enumerate().map(|(m, n)| format!("{:.1},{:.1}", x(m), y(*n))).collect::<Vec<_>>().join(" ");
                @let dash = if i == 0 { "none" } else { "6 4" };
                polyline points=(points) fill="none" stroke=(PALETTE[i % PALETTE.len()]) stroke-width="2.5" stroke-dasharray=(dash) {}
                // The legend's swatch is a piece of the line itself, dashes included (WCAG 1.4.1).
                line.swatch x1=(left + 170.0 * i as f64) y1=(top + h + 32.0) x2=(left + 170.0 * i as f64 + 28.0) y2=(top + h + 32.0) stroke=(PALETTE[i % PALETTE.len()]) stroke-width="3" stroke-dasharray=(dash) {}
                text x=(left + 170.0 * i as f64 + 34.0) y=(top + h + 36.0) font-size="12" fill="#1b1f24" { (label) }
            }
        }
    }
}

/// One bar split in parts (outcomes), with a legend.
pub fn stacked(id: &str, title: &str, table: &str, parts: &[(String, usize)]) -> Markup {
    let total = parts.iter().map(|(_, n)| *n).sum::<usize>().max(1) as f64;
    let mut x = 0.0;
    let segments: Vec<(f64, f64, &str)> = parts
        .iter()
        .enumerate()
        .map(|(i, (_, n))| {
            let w = WIDTH * *n as f64 / total;
            let s = (x, w, PALETTE[i % PALETTE.len()]);
            x += w;
            s
        })
        .collect();
    let legend_rows = parts.len().div_ceil(2);
    let height = 40.0 + 20.0 * legend_rows as f64;
    html! {
        svg.chart role="img" aria-labelledby={(id) "-t"} aria-describedby=(table) viewBox={"0 0 " (WIDTH) " " (height)} width=(WIDTH) height=(height) xmlns="http://www.w3.org/2000/svg" {
            title id={(id) "-t"} { (title) }
            @for (x, w, colour) in &segments {
                rect x=(format!("{x:.1}")) y="4" width=(format!("{w:.1}")) height="26" fill=(colour) stroke="#ffffff" {}
            }
            @for (i, (label, n)) in parts.iter().enumerate() {
                @let lx = if i % 2 == 0 { 0.0 } else { WIDTH / 2.0 };
                @let ly = 48.0 + 20.0 * (i / 2) as f64;
                rect x=(lx) y=(ly - 10.0) width="12" height="12" fill=(PALETTE[i % PALETTE.len()]) {}
                text x=(lx + 18.0) y=(ly) font-size="12" fill="#1b1f24" { (label) ": " (n) }
            }
        }
    }
}
