//! Small presentation helpers: relative times, counts, and the SVG bar charts (built from
//! numbers only, so they are safe to embed unescaped).

use std::fmt::Write;

use sextant_storage::{EventBucket, Millis};

pub const HOUR_MS: i64 = 60 * 60 * 1000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// "5 minutes ago"-style text for a time in the past.
pub fn ago(at: Millis, now: Millis) -> String {
    let secs = (now - at).max(0) / 1000;
    let (n, unit) = match secs {
        0..=59 => return "just now".to_string(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        _ => (secs / 2_592_000, "month"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// Compact counts: 999, 1.2k, 3.4M.
pub fn count(n: i64) -> String {
    match n {
        ..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// Counts of one issue in `slots` buckets of `bucket_ms` ending with the bucket holding
/// `now`, oldest first.
pub fn series(
    buckets: &[EventBucket],
    issue_id: i64,
    now: Millis,
    bucket_ms: i64,
    slots: usize,
) -> Vec<i64> {
    let last = (now / bucket_ms) * bucket_ms;
    let first = last - bucket_ms * (slots as i64 - 1);
    let mut out = vec![0; slots];
    for b in buckets.iter().filter(|b| b.issue_id == issue_id) {
        if b.start >= first && b.start <= last {
            out[((b.start - first) / bucket_ms) as usize] += b.count;
        }
    }
    out
}

/// One series of a bar chart: the class of its bars and a value per slot (`None`: no
/// data, drawn like a zero but titled apart).
pub struct Series<'a> {
    pub class: &'a str,
    pub values: Vec<Option<i64>>,
}

/// The frame of a bar chart. Only numbers and fixed class names and labels go into it,
/// never user data, which is why the result may be embedded unescaped.
pub struct Chart<'a> {
    pub width: u32,
    pub height: u32,
    pub class: &'a str,
    pub aria: &'a str,
    /// The value of a full-height bar; the largest value when `None`.
    pub max: Option<i64>,
}

impl Chart<'_> {
    /// Inline SVG with, in each slot, one bar per series side by side; `label` formats a
    /// value for its tooltip.
    pub fn svg(&self, series: &[Series<'_>], label: &dyn Fn(i64) -> String) -> String {
        let (width, height) = (self.width, self.height);
        let largest = series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .max()
            .unwrap_or(0);
        let max = self.max.unwrap_or(largest).max(1) as f64;
        let slots = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
        let slot = f64::from(width) / slots.max(1) as f64;
        let bar = ((slot - 1.0) / series.len().max(1) as f64).max(1.0);
        let mut svg = format!(
            "<svg class=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
             role=\"img\" aria-label=\"{}\">",
            self.class, self.aria
        );
        for i in 0..slots {
            for (k, s) in series.iter().enumerate() {
                let v = s.values.get(i).copied().flatten();
                let h = match v {
                    Some(v) if v > 0 => (v as f64 / max * f64::from(height - 1)).max(2.0),
                    _ => 1.0,
                };
                let x = i as f64 * slot + k as f64 * bar;
                let y = f64::from(height) - h;
                let (cls, title) = match v {
                    Some(0) => ("zero", label(0)),
                    Some(v) => (s.class, label(v)),
                    None => ("zero", "no data".to_string()),
                };
                let _ = write!(
                    svg,
                    "<rect class=\"{cls}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"><title>{title}</title></rect>"
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A bar chart of counts as inline SVG.
pub fn bars_svg(values: &[i64], width: u32, height: u32, class: &str) -> String {
    let chart = Chart {
        width,
        height,
        class,
        aria: "events over time",
        max: None,
    };
    let series = Series {
        class: "bar",
        values: values.iter().copied().map(Some).collect(),
    };
    chart.svg(&[series], &|v| v.to_string())
}

/// A horizontal share bar (0-100 %) as inline SVG.
pub fn share_svg(percent: i64) -> String {
    let p = percent.clamp(0, 100);
    format!(
        "<svg class=\"share\" viewBox=\"0 0 100 6\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
         <rect class=\"track\" x=\"0\" y=\"0\" width=\"100\" height=\"6\"></rect>\
         <rect class=\"fill\" x=\"0\" y=\"0\" width=\"{p}\" height=\"6\"></rect></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_and_counts() {
        assert_eq!(ago(0, 30_000), "just now");
        assert_eq!(ago(0, 60_000), "1 minute ago");
        assert_eq!(ago(0, 3 * HOUR_MS), "3 hours ago");
        assert_eq!(count(1234), "1.2k");
    }

    #[test]
    fn series_places_buckets() {
        let now = 10 * HOUR_MS + 5;
        let b = [
            EventBucket {
                issue_id: 1,
                start: 10 * HOUR_MS,
                count: 3,
            },
            EventBucket {
                issue_id: 1,
                start: 8 * HOUR_MS,
                count: 1,
            },
            EventBucket {
                issue_id: 2,
                start: 10 * HOUR_MS,
                count: 9,
            },
        ];
        assert_eq!(series(&b, 1, now, HOUR_MS, 3), vec![1, 0, 3]);
        assert!(bars_svg(&[0, 1, 2], 30, 10, "spark").starts_with("<svg"));
    }
}
