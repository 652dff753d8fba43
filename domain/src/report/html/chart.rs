//! The SVG charts. Geometry is integer arithmetic on cents (no floating point, so a page is
//! the same bytes on every machine); every chart has a title and an accessible label, and
//! every bar a tooltip with its exact figure.
use std::fmt::Write as _;

use super::page::{dollars, esc, month_abbreviation, percent, short_date, shorten, whole_dollars};
use crate::{money::Cents, report::year::DayLine, sales::SalesDate};

// Horizontal bars, in SVG user units (the SVG scales to the page width).
const LABEL_W: u64 = 170;
const BAR_MAX: u64 = 330;
const VALUE_W: u64 = 190;
const ROW_H: u64 = 26;
const BAR_H: u64 = 18;
const LABEL_CHARS: usize = 24;

/// A horizontal bar chart of `rows` (already in display order). Bar lengths are scaled to
/// the largest value shown; each bar says its share of `total`.
pub(super) fn bar_chart(
    h: &mut String,
    title: &str,
    rows: &[(&str, Cents)],
    total: Cents,
    class: &str,
) {
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No sales.</p>\n");
        return;
    }
    let max = rows.iter().map(|(_, c)| c.0.max(0) as u128).max().unwrap_or(0);
    let width = LABEL_W + BAR_MAX + VALUE_W;
    let height = ROW_H * rows.len() as u64 + 4;
    let title = esc(title);
    let _ = writeln!(
        h,
        "<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{title}\">\
         <title>{title}</title>"
    );
    for (i, (label, cents)) in rows.iter().enumerate() {
        let y = ROW_H * i as u64 + 2;
        let w = scaled(cents.0.max(0) as u128, max, BAR_MAX);
        let text_y = y + BAR_H - 4;
        let _ = writeln!(
            h,
            "<g><title>{}: {}</title>\
             <text x=\"{}\" y=\"{text_y}\" text-anchor=\"end\">{}</text>\
             <rect class=\"{class}\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{w}\" height=\"{BAR_H}\" rx=\"2\"></rect>\
             <text class=\"val\" x=\"{}\" y=\"{text_y}\">{} · {}</text></g>",
            esc(label),
            dollars(*cents),
            LABEL_W - 8,
            esc(&shorten(label, LABEL_CHARS)),
            LABEL_W + w + 6,
            dollars(*cents),
            percent(*cents, total)
        );
    }
    h.push_str("</svg>\n");
}

/// `v / max` of `full`, never 0 for something above 0 (visible, however small).
fn scaled(v: u128, max: u128, full: u64) -> u64 {
    // v ≤ max, so the result is ≤ full and the cast is lossless.
    let w = (v * u128::from(full)).checked_div(max).map_or(0, |w| w as u64);
    if v > 0 && w == 0 {
        1
    } else {
        w
    }
}

// Columns over the year.
const YEAR_W: u64 = 720;
const YEAR_H: u64 = 160;
const AXIS_W: u64 = 78;
const PLOT_W: u64 = YEAR_W - AXIS_W - 8;
const PLOT_TOP: u64 = 12;
const PLOT_H: u64 = 120;
const COLUMN_MAX: u64 = 36;
/// Up to this many days the axis names weeks (`Jan 8`), beyond it months (`Feb`).
const WEEKLY_SPAN: u64 = 62;
const LABEL_GAP: u64 = 40;

/// One series of days to draw as columns over the year.
pub(super) struct Year<'a> {
    pub title: &'a str,
    /// Sorted by date; days outside `end`'s year or after `end` are not drawn.
    pub days: &'a [DayLine],
    pub value: fn(&DayLine) -> Cents,
    /// The right edge: the chart spans January 1 of its year to this day, which is drawn
    /// in the highlight colour (the report's own day, the index's latest).
    pub end: SalesDate,
}

/// A column per day from January 1 to `end`, placed by the day of the year so that gaps
/// (days without a report) show as gaps.
pub(super) fn year_chart(h: &mut String, chart: &Year) {
    let year = chart.end.0.year();
    let span = u64::from(chart.end.0.ordinal());
    let days: Vec<&DayLine> =
        chart.days.iter().filter(|d| d.date.0.year() == year && d.date <= chart.end).collect();
    let Some(top) = days.iter().max_by_key(|d| ((chart.value)(d), std::cmp::Reverse(d.date)))
    else {
        h.push_str("<p class=\"note\">No days to show.</p>\n");
        return;
    };
    let max = (chart.value)(top);
    let label = esc(&format!(
        "{}: {} day{} from January 1 to {}, highest {} on {}",
        chart.title,
        days.len(),
        if days.len() == 1 { "" } else { "s" },
        chart.end,
        dollars(max),
        top.date
    ));
    let _ = writeln!(
        h,
        "<svg viewBox=\"0 0 {YEAR_W} {YEAR_H}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title>"
    );
    value_axis(h, max);
    date_axis(h, chart.end, span);
    let slot = (PLOT_W / span).max(1);
    let w = if slot >= 4 { (slot - slot / 4).min(COLUMN_MAX) } else { slot };
    let max = max.0.max(0) as u128;
    for d in days {
        let cents = (chart.value)(d);
        let height = scaled(cents.0.max(0) as u128, max, PLOT_H);
        let x = day_x(d.date, span) + (slot - w) / 2;
        let y = PLOT_TOP + PLOT_H - height;
        let class = if d.date == chart.end { "hl" } else { "bar" };
        let _ = writeln!(
            h,
            "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\">\
             <title>{}: {}</title></rect>",
            d.date,
            dollars(cents)
        );
    }
    h.push_str("</svg>\n");
}

/// The left edge of a day's slot.
fn day_x(date: SalesDate, span: u64) -> u64 {
    AXIS_W + (u64::from(date.0.ordinal()) - 1) * PLOT_W / span
}

/// Grid lines and labels at the top value, half of it, and zero.
fn value_axis(h: &mut String, max: Cents) {
    for (value, y) in [
        (max, PLOT_TOP),
        (Cents(max.0 / 2), PLOT_TOP + PLOT_H / 2),
        (Cents::ZERO, PLOT_TOP + PLOT_H),
    ] {
        let _ = writeln!(
            h,
            "<line class=\"grid\" x1=\"{AXIS_W}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"></line>\
             <text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            AXIS_W + PLOT_W,
            AXIS_W - 6,
            y + 4,
            whole_dollars(value)
        );
    }
}

/// Labels along the days: every week from January 1 for a short span, else the first of
/// each month, where there is room.
fn date_axis(h: &mut String, end: SalesDate, span: u64) {
    let y = PLOT_TOP + PLOT_H + 18;
    let year = end.0.year();
    let ticks: Vec<(SalesDate, String)> = if span <= WEEKLY_SPAN {
        (1..=span)
            .step_by(7)
            .filter_map(|day| u16::try_from(day).ok())
            .filter_map(|day| time::Date::from_ordinal_date(year, day).ok().map(SalesDate))
            .map(|d| (d, short_date(d)))
            .collect()
    } else {
        (1..=12u8)
            .filter_map(|month| SalesDate::from_ymd(year, month, 1))
            .filter(|d| *d <= end)
            .map(|d| (d, month_abbreviation(d.0.month())))
            .collect()
    };
    let mut last: Option<u64> = None;
    for (date, label) in ticks {
        let x = day_x(date, span);
        if last.is_some_and(|l| x < l + LABEL_GAP) {
            continue;
        }
        last = Some(x);
        let _ = writeln!(h, "<text class=\"axis\" x=\"{x}\" y=\"{y}\">{label}</text>");
    }
}
