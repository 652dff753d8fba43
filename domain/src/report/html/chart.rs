//! The charts: horizontal bars (HTML: the text keeps its size and wraps or shortens on a
//! phone, the bars stay comparable) and columns over the year (SVG as wide as the page, its
//! text never scaled). Geometry is integer arithmetic on cents (no floating point, so a
//! page is the same bytes on every machine); every chart has an accessible label, and every
//! bar or column a tooltip with its exact figure.
use std::fmt::Write as _;

use super::format::{compact, dollars, month_abbreviation, percent, short_date, tick, width};
use super::page::esc;
use crate::{money::Cents, report::year::DayLine, sales::SalesDate};

/// Horizontal bars of `rows` (already in display order), scaled to the largest value
/// shown, each with its exact amount and its share of `total`. `label` names the chart
/// for a screen reader; `alt` draws the bars in the second colour.
pub(super) fn bar_chart(
    h: &mut String,
    label: &str,
    rows: &[(&str, Cents)],
    total: Cents,
    alt: bool,
) {
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No sales.</p>\n");
        return;
    }
    let max = rows.iter().map(|(_, c)| *c).max().unwrap_or(Cents::ZERO);
    let values: Vec<(String, usize)> = rows
        .iter()
        .map(|(_, c)| {
            let share = percent(*c, total);
            // The width the value column needs, in characters (`&lt;` is one).
            let chars = dollars(*c).chars().count() + 3 + share.replace("&lt;", "<").len();
            (format!("{} · {share}", dollars(*c)), chars)
        })
        .collect();
    let value_chars = values.iter().map(|(_, n)| *n).max().unwrap_or(0) + 1;
    let _ = writeln!(
        h,
        "<ol class=\"bars{}\" style=\"--val:{value_chars}ch\" aria-label=\"{}\">",
        if alt { " alt" } else { "" },
        esc(label)
    );
    for ((name, cents), (value, _)) in rows.iter().zip(values) {
        let name = esc(name);
        let fill = if cents.0 > 0 {
            format!("<span class=\"fill\" style=\"width:{}\"></span>", width(*cents, max))
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<li title=\"{name}: {value}\"><span class=\"name\">{name}</span>\
             <span class=\"track\">{fill}</span><span class=\"val\">{value}</span></li>"
        );
    }
    h.push_str("</ol>\n");
}

// Columns over the year, in CSS pixels: the SVG is as wide as its box and this tall.
/// Room above the plot for the amount of a column cut short.
const PLOT_TOP: u64 = 20;
const PLOT_H: u64 = 120;
const CHART_H: u64 = PLOT_TOP + PLOT_H + 22;
/// The chart spans at least this many days, so the first days of a year are not drawn as
/// a few columns each a tenth of the page wide.
const MIN_SPAN: u64 = 14;
/// Up to this many days the axis names weeks (`Jan 8`), beyond it months (`Feb`).
const WEEKLY_SPAN: u64 = 62;
/// A day is an outlier when it is above this many times the upper quartile of the days
/// (with at least [`QUARTILE_MIN_DAYS`] days: fewer say nothing about what is usual).
const OUTLIER_FACTOR: u128 = 4;
const QUARTILE_MIN_DAYS: usize = 4;
/// Tick labels up to this long share one gutter width.
const GUTTER_CHARS: usize = 5;
/// The axis aims at this many intervals at most, each a round 1, 2 or 5 × 10ⁿ.
const MAX_TICKS: u128 = 4;

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

/// The value axis: round steps from 0 to `top` (cents); a day above `top` is an outlier,
/// drawn cut at the top with its amount written above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    step: u128,
    top: u128,
}

impl Axis {
    /// The smallest 1-2-5 step (at least $1) that covers `max` in [`MAX_TICKS`] steps.
    fn covering(max: u128) -> Axis {
        let wanted = max.div_ceil(MAX_TICKS).max(100);
        let mut power = 1u128;
        loop {
            for m in [1, 2, 5] {
                let step = m * power;
                if step >= wanted {
                    return Axis { step, top: max.div_ceil(step).max(1) * step };
                }
            }
            power *= 10;
        }
    }

    /// The axis of `values`: up to the largest, unless a few are so far above the rest that
    /// they would flatten every other column; then up to the largest of the rest.
    fn of(values: &[u128]) -> Axis {
        let max = values.iter().copied().max().unwrap_or(0);
        if values.len() < QUARTILE_MIN_DAYS {
            return Axis::covering(max);
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let quartile = sorted[(3 * sorted.len()).div_ceil(4) - 1];
        let limit = quartile.saturating_mul(OUTLIER_FACTOR);
        let regular = sorted.iter().copied().filter(|v| *v <= limit).max().unwrap_or(max);
        Axis::covering(if quartile == 0 { max } else { regular })
    }

    /// Height in pixels, `PLOT_H` at `top` and above; at least 1 for anything above 0.
    fn height(&self, v: u128) -> u64 {
        let h = (v.min(self.top) * u128::from(PLOT_H) / self.top) as u64;
        if v > 0 && h == 0 {
            1
        } else {
            h
        }
    }
}

/// `thousandths` of a percent as an SVG length (`12.345%`).
fn pct(thousandths: u64) -> String {
    format!("{}.{:03}%", thousandths / 1000, thousandths % 1000)
}

/// Where a day's slot starts and ends, in thousandths of a percent of the width.
fn slot(date: SalesDate, span: u64) -> (u64, u64) {
    let i = u64::from(date.0.ordinal()) - 1;
    (i * 100_000 / span, (i + 1) * 100_000 / span)
}

/// A text anchored at `x` (thousandths of a percent), kept inside the chart at its edges.
fn anchored(x: u64) -> &'static str {
    match x {
        0..=6_000 => "start",
        94_000.. => "end",
        _ => "middle",
    }
}

/// A column per day from January 1 to `end`, placed by the day of the year so that gaps
/// (days without a report) show as gaps. When a few days tower over the rest the axis
/// stops below them (see [`Axis::of`]): they are drawn cut, their amount written above.
pub(super) fn year_chart(h: &mut String, chart: &Year) {
    let year = chart.end.0.year();
    let days: Vec<&DayLine> =
        chart.days.iter().filter(|d| d.date.0.year() == year && d.date <= chart.end).collect();
    let value = |d: &DayLine| (chart.value)(d).0.max(0) as u128;
    let Some(top_day) = days.iter().max_by_key(|d| (value(d), std::cmp::Reverse(d.date))) else {
        h.push_str("<p class=\"note\">No days to show.</p>\n");
        return;
    };
    let span = u64::from(chart.end.0.ordinal()).max(MIN_SPAN);
    let axis = Axis::of(&days.iter().map(|d| value(d)).collect::<Vec<_>>());
    let cut: Vec<&&DayLine> = days.iter().filter(|d| value(d) > axis.top).collect();
    let mut label = format!(
        "{}: {} day{} from January 1 to {}, highest {} on {}",
        chart.title,
        days.len(),
        if days.len() == 1 { "" } else { "s" },
        chart.end,
        dollars((chart.value)(top_day)),
        top_day.date
    );
    if !cut.is_empty() {
        let _ = write!(
            label,
            "; the axis stops at {}, {} day{} above it drawn cut",
            tick(axis.top),
            cut.len(),
            if cut.len() == 1 { "" } else { "s" }
        );
    }
    // Room for the longest tick label (7 px a character at 11 px, and a margin), the same
    // for every chart whose labels fit five characters (`$800K`), so charts stacked on a
    // page line up.
    let chars = (0..=axis.top / axis.step).map(|i| tick(i * axis.step).chars().count());
    let gutter = chars.max().unwrap_or(0).max(GUTTER_CHARS) * 7 + 10;
    let _ = writeln!(
        h,
        "<div class=\"ychart\" style=\"--gutter:{gutter}px\"><svg height=\"{CHART_H}\" \
         role=\"img\" aria-label=\"{label}\"><title>{label}</title>",
        label = esc(&label)
    );
    value_axis(h, &axis);
    date_axis(h, chart.end, span);
    for d in &days {
        let v = value(d);
        let height = axis.height(v);
        let (left, right) = slot(d.date, span);
        // A fifth of the slot between columns.
        let (x, w) = (left + (right - left) / 10, (right - left) * 4 / 5);
        let class = if d.date == chart.end { "hl" } else { "bar" };
        let _ = write!(
            h,
            "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\">\
             <title>{}: {}</title></rect>",
            pct(x),
            PLOT_TOP + PLOT_H - height,
            pct(w),
            d.date,
            dollars((chart.value)(d))
        );
        if v > axis.top {
            let mid = (left + right) / 2;
            let _ = write!(
                h,
                "<rect class=\"cut\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"4\"></rect>\
                 <text class=\"flag\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
                pct(x),
                PLOT_TOP + 8,
                pct(w),
                pct(mid),
                PLOT_TOP - 6,
                anchored(mid),
                compact((chart.value)(d))
            );
        }
        h.push('\n');
    }
    h.push_str("</svg></div>\n");
    cut_note(h, chart, &axis, &cut);
}

/// Under a chart whose axis stops below some days: which, and their exact amounts.
fn cut_note(h: &mut String, chart: &Year, axis: &Axis, cut: &[&&DayLine]) {
    let Some((last, first)) = cut.split_last() else { return };
    let day = |d: &DayLine| format!("{} ({})", short_date(d.date), dollars((chart.value)(d)));
    let days = if first.is_empty() {
        day(last)
    } else {
        let first: Vec<String> = first.iter().map(|d| day(d)).collect();
        format!("{} and {}", first.join(", "), day(last))
    };
    let one = first.is_empty();
    let _ = writeln!(
        h,
        "<p class=\"note\">The axis stops at {} so that the other days stay readable: {days} \
         {} above it, drawn cut with {} amount on top.</p>",
        tick(axis.top),
        if one { "is" } else { "are" },
        if one { "its" } else { "their" }
    );
}

/// A grid line and a label (in the left padding) at each round step.
fn value_axis(h: &mut String, axis: &Axis) {
    for i in 0..=axis.top / axis.step {
        let v = i * axis.step;
        let y = PLOT_TOP + PLOT_H - axis.height(v);
        let _ = writeln!(
            h,
            "<line class=\"grid{}\" x1=\"0\" y1=\"{y}\" x2=\"100%\" y2=\"{y}\"></line>\
             <text class=\"axis\" x=\"-6\" y=\"{}\" text-anchor=\"end\">{}</text>",
            if v == 0 { " zero" } else { "" },
            y + 4,
            tick(v)
        );
    }
}

/// Labels along the days: every week from January 1 for a short span, else the first of
/// each month. Every other one is `minor`, left out on a narrow screen.
fn date_axis(h: &mut String, end: SalesDate, span: u64) {
    let y = PLOT_TOP + PLOT_H + 16;
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
    let thin = ticks.len() > 6;
    for (i, (date, label)) in ticks.into_iter().enumerate() {
        let (left, right) = slot(date, span);
        let mid = (left + right) / 2;
        let _ = writeln!(
            h,
            "<text class=\"axis{}\" x=\"{}\" y=\"{y}\" text-anchor=\"{}\">{label}</text>",
            if thin && i % 2 == 1 { " minor" } else { "" },
            pct(mid),
            anchored(mid)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_steps_are_round() {
        // $4,381.00 in four steps of at least $1,095.25: $2,000 steps up to $6,000.
        assert_eq!(Axis::covering(438_100), Axis { step: 200_000, top: 600_000 });
        assert_eq!(Axis::covering(64_922_479), Axis { step: 20_000_000, top: 80_000_000 });
        assert_eq!(Axis::covering(100_000), Axis { step: 50_000, top: 100_000 });
        assert_eq!(Axis::covering(0), Axis { step: 100, top: 100 });
        assert_eq!(Axis::covering(1), Axis { step: 100, top: 100 });
        let max = i64::MAX as u128;
        let a = Axis::covering(max);
        assert!(a.top >= max && a.top / a.step <= MAX_TICKS, "{a:?}");
        for max in [1u128, 99, 101, 12_345, 999_999, 1_000_001, 438_166_446_700] {
            let a = Axis::covering(max);
            let mantissa = (0..20).map(|p| 10u128.pow(p)).find_map(|p| {
                (a.step.is_multiple_of(p) && [1, 2, 5].contains(&(a.step / p)))
                    .then_some(a.step / p)
            });
            assert!(mantissa.is_some(), "{max}: step {} is not 1, 2 or 5 × 10ⁿ", a.step);
            assert!(a.top >= max && a.top - max < a.step && a.top / a.step <= MAX_TICKS);
        }
    }

    #[test]
    fn one_day_far_above_the_others_does_not_set_the_axis() {
        let days = [4_000_000, 4_500_000, 5_200_000, 3_800_000, 438_166_446_700, 4_700_000];
        let axis = Axis::of(&days);
        assert_eq!(axis, Axis { step: 2_000_000, top: 6_000_000 });
        assert_eq!(axis.height(438_166_446_700), PLOT_H);
        assert_eq!(axis.height(3_000_000), PLOT_H / 2);
        // Ordinary spread, or too few days to say what is usual: up to the largest.
        assert_eq!(Axis::of(&[1_000_000, 2_000_000, 3_000_000, 11_000_000]).top, 15_000_000);
        assert_eq!(Axis::of(&[10_000, 50_000_000, 70_000_000]).top, 80_000_000);
        assert_eq!(Axis::of(&[0, 0, 0, 0, 900]).top, 1000, "no quartile to compare with");
    }

    #[test]
    fn days_above_the_axis_are_cut_and_named() {
        let day = |d: &str, cents: i64| DayLine {
            date: SalesDate::parse(d).unwrap(),
            orders: 1,
            units: 1,
            revenue_cents: Cents(cents),
            commission_cents: Cents(0),
        };
        let days = [
            day("2026-01-05", 40_000_000),
            day("2026-01-06", 41_000_000),
            day("2026-01-07", 90_000_000_000),
            day("2026-01-08", 42_000_000),
            day("2026-01-09", 43_000_000),
            day("2026-01-12", 39_000_000),
            day("2026-01-13", 80_000_000_000),
            day("2026-01-14", 44_000_000),
        ];
        let end = SalesDate::parse("2026-01-14").unwrap();
        let mut h = String::new();
        year_chart(
            &mut h,
            &Year { title: "Daily revenue", days: &days, value: |d| d.revenue_cents, end },
        );
        assert_eq!(h.matches("<rect class=\"cut\"").count(), 2);
        assert!(h.contains(">$900M</text>") && h.contains(">$800M</text>"));
        assert!(h.contains(
            "<p class=\"note\">The axis stops at $600K so that the other days stay readable: \
             Jan 7 ($900,000,000.00) and Jan 13 ($800,000,000.00) are above it, drawn cut with \
             their amount on top.</p>"
        ));
        // The ticks, bottom up: the largest ordinary day ($440K) in $200K steps; that day
        // (the chart's last, highlighted) 440/600 of the plot's 120 pixels high.
        let ticks = super::super::tests::each_after(&h, "text-anchor=\"end\">", '<');
        assert_eq!(ticks, ["$0", "$200K", "$400K", "$600K"]);
        assert!(h.contains("<rect class=\"hl\" x=\"93.571%\" y=\"52\" width=\"5.714%\" height=\"88\"><title>2026-01-14: $440,000.00</title>"));
    }
}
