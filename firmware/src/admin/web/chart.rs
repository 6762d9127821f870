//! Server-side SVG line charts for the dashboard: no script, no inline styles (colours come
//! from classes in the stylesheet), so they pass the CSP and print.

use std::fmt::Write;

/// One line: a CSS class index and its values.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: Vec<u64>,
}

const W: f64 = 720.0;
const H: f64 = 200.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// An SVG with one polyline per series over `labels` (x axis, every `label_every`-th shown).
pub fn lines(title: &str, labels: &[String], label_every: usize, series: &[Series<'_>]) -> String {
    let n = labels.len().max(2);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top for the axis: 1, 2, 5 × 10^k.
    let mut top = 1u64;
    while top < max {
        top = match top.to_string().as_bytes()[0] {
            b'1' => top * 2,
            b'2' => top / 2 * 5,
            _ => top * 2,
        };
    }
    let x = |i: usize| LEFT + (W - LEFT - 8.0) * i as f64 / (n - 1) as f64;
    let y = |v: u64| TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / top as f64);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    let mut last = None;
    for frac in [0u64, 1, 2, 3, 4] {
        let v = top * frac / 4;
        // Small tops (1, 2) give repeated integer steps: draw each value once.
        if last == Some(v) {
            continue;
        }
        last = Some(v);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            W - 8.0,
            LEFT - 4.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (i, l) in labels.iter().enumerate() {
        if label_every > 0 && i % label_every == 0 {
            let _ = write!(
                s,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                H - 6.0,
                esc(l)
            );
        }
    }
    for (k, se) in series.iter().enumerate() {
        let pts: Vec<String> = se
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"line l{k}\" fill=\"none\" points=\"{}\"><title>{}</title></polyline>",
            pts.join(" "),
            esc(se.label)
        );
    }
    s.push_str("</svg>");
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_lines_and_escapes() {
        let svg = lines(
            "a<b",
            &["00".into(), "01".into(), "02".into()],
            1,
            &[Series {
                label: "in",
                values: vec![0, 3, 7],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("polyline") && svg.contains("a&lt;b"));
        assert!(!svg.contains("style="));
    }
}
