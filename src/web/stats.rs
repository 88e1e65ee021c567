//! The statistics page of a link, with an SVG chart of clicks over time drawn on the server.

use super::format::format_count;
use super::layout::{Page, Section};
use linkyard_actors::analytics::stats::{LinkStats, Point, ValueCount};
use maud::{Markup, html};

const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 240.0;
/// Room for the value labels on the left and the date labels below.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// Everything the statistics page shows.
pub struct StatsPageView<'a> {
    pub code: &'a str,
    pub short_url: &'a str,
    pub target: &'a str,
    pub stats: &'a LinkStats,
}

pub fn stats_page(view: &StatsPageView) -> Markup {
    let stats = view.stats;
    let title = format!("Statistics of {}", view.code);
    let main = html! {
        h1 { (title) }
        p {
            a href=(view.short_url) { (view.short_url) } " → "
            span.target { (view.target) }
        }
        dl.stats-totals {
            dt { "Clicks" } dd { (format_count(stats.total.max(0) as u64)) }
            dt { "Humans" } dd { (format_count(stats.humans.max(0) as u64)) }
            dt { "Bots and previews" } dd { (format_count(stats.bots.max(0) as u64)) }
            dt { "Unique visitors" }
            dd {
                @match stats.unique {
                    Some(unique) => (format_count(unique)),
                    None => "unavailable",
                }
            }
        }
        p.stats-range { "From " (stats.from) " to " (stats.to) ", per " (stats.interval) "." }
        (chart(&stats.series))
        div.stats-dimensions {
            (dimension("Referrers", &stats.referrers))
            (dimension("Countries", &stats.countries))
            (dimension("Browsers", &stats.browsers))
            (dimension("Operating systems", &stats.os))
            (dimension("Devices", &stats.devices))
        }
    };
    Page::new(&title).in_section(Section::Links).render(main)
}

/// A bar per interval: humans at the bottom, bots stacked on top. Each bar has a `<title>`, so
/// hovering shows its numbers without scripts.
pub fn chart(series: &[Point]) -> Markup {
    let max = series
        .iter()
        .map(|point| point.total)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale_max = nice_ceiling(max);
    let plot_width = CHART_WIDTH - LEFT;
    let plot_height = CHART_HEIGHT - BOTTOM - TOP;
    let slot = plot_width / series.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y_of = |value: i64| TOP + plot_height * (1.0 - value as f64 / scale_max as f64);
    let view_box = format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}");

    html! {
        figure.chart {
            svg viewBox=(view_box) role="img" aria-label="Clicks over time" {
                line.axis x1=(LEFT) y1=(TOP + plot_height) x2=(CHART_WIDTH) y2=(TOP + plot_height) {}
                text.axis-label x=(LEFT - 6.0) y=(TOP + 10.0) text-anchor="end" { (scale_max) }
                text.axis-label x=(LEFT - 6.0) y=(TOP + plot_height) text-anchor="end" { "0" }
                @for (index, point) in series.iter().enumerate() {
                    @let x = LEFT + slot * index as f64 + (slot - bar) / 2.0;
                    @let human_top = y_of(point.humans);
                    @let total_top = y_of(point.total);
                    g {
                        title { (point.start) ": " (point.total) " clicks, " (point.humans) " humans, " (point.bots) " bots" }
                        rect.humans x=(fmt(x)) y=(fmt(human_top)) width=(fmt(bar)) height=(fmt(TOP + plot_height - human_top)) {}
                        rect.bots x=(fmt(x)) y=(fmt(total_top)) width=(fmt(bar)) height=(fmt(human_top - total_top)) {}
                    }
                }
                @if let (Some(first), Some(last)) = (series.first(), series.last()) {
                    text.axis-label x=(LEFT) y=(CHART_HEIGHT - 6.0) { (date_label(&first.start)) }
                    text.axis-label x=(CHART_WIDTH) y=(CHART_HEIGHT - 6.0) text-anchor="end" { (date_label(&last.start)) }
                }
            }
            figcaption { span.legend-humans { "humans" } " and " span.legend-bots { "bots" } }
        }
    }
}

fn dimension(title: &str, values: &[ValueCount]) -> Markup {
    html! {
        section.stats-dimension {
            h2 { (title) }
            @if values.is_empty() {
                p { "No clicks yet." }
            } @else {
                table {
                    @for entry in values {
                        tr {
                            td { (entry.value.as_deref().unwrap_or("unknown")) }
                            td.count { (format_count(entry.count.max(0) as u64)) }
                        }
                    }
                }
            }
        }
    }
}

/// Rounds up to 1, 2 or 5 times a power of ten, for a readable top of the scale.
fn nice_ceiling(value: i64) -> i64 {
    let mut magnitude = 1;
    while magnitude * 10 <= value {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(value)
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

/// The date part of an RFC 3339 timestamp.
fn date_label(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(start: &str, humans: i64, bots: i64) -> Point {
        Point {
            start: start.to_owned(),
            total: humans + bots,
            humans,
            bots,
        }
    }

    #[test]
    fn chart_draws_one_bar_pair_per_point() {
        let series = [
            point("2026-12-01T00:00:00+00:00", 3, 1),
            point("2026-12-02T00:00:00+00:00", 0, 0),
            point("2026-12-03T00:00:00+00:00", 7, 2),
        ];
        let svg = chart(&series).into_string();
        assert_eq!(svg.matches("class=\"humans\"").count(), 3);
        assert_eq!(svg.matches("class=\"bots\"").count(), 3);
        assert!(svg.contains("viewBox=\"0 0 720 240\""));
        assert!(svg.contains("9 clicks, 7 humans, 2 bots"));
        assert!(
            svg.contains(">10<"),
            "the scale tops out at a round 10: {svg}"
        );
        assert!(!svg.contains("style="), "no inline styles under the CSP");
    }

    #[test]
    fn empty_series_renders() {
        let svg = chart(&[]).into_string();
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn scale_rounds_to_readable_numbers() {
        let cases = [
            (1, 1),
            (3, 5),
            (7, 10),
            (12, 20),
            (99, 100),
            (101, 200),
            (4_000, 5_000),
        ];
        for (value, expected) in cases {
            assert_eq!(nice_ceiling(value), expected, "{value}");
        }
    }
}
