//! The HTML page. All data text goes through [`esc`]; everything else is literal markup.
use std::fmt::Write as _;

use super::{Report, CHART_REPS};
use crate::money::Cents;

/// Escapes text for element content and quoted attribute values alike. Control
/// characters (other than tab/newline) become U+FFFD: they are invalid in HTML and
/// would only serve to confuse a reader.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with an ellipsis, for chart labels (the tables show the
/// full name, and the bar's tooltip too).
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `part / whole` as a percentage with 1 decimal, rounded half up, integer arithmetic.
/// Returns markup (already escaped), ready to insert.
fn percent(part: Cents, whole: Cents) -> String {
    let (p, w) = (part.0.max(0) as u128, whole.0.max(0) as u128);
    if w == 0 {
        return "0.0%".to_owned();
    }
    let tenths = (p * 2000 + w) / (2 * w);
    if tenths == 0 && p > 0 {
        return "&lt;0.1%".to_owned(); // not "0.0%" for something that sold
    }
    format!("{}.{}%", tenths / 10, tenths % 10)
}

const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --bar: #2f6fb3; --bar2: #3c9d6e; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 16px; }
header h1 { font-size: 1.5rem; margin: 8px 0 4px; }
.sub { color: var(--muted); font-size: .85rem; word-break: break-all; margin: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 16px 0; }
section h2 { font-size: 1.1rem; margin: 0 0 8px; }
svg { display: block; width: 100%; height: auto; }
svg text { font-size: 13px; fill: var(--ink); font-family: inherit; }
svg .bar { fill: var(--bar); }
svg .bar2 { fill: var(--bar2); }
svg .val { fill: var(--muted); font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: .85rem; margin: 6px 0 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
td.n, th.n { text-align: right; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid var(--ink); border-bottom: none; }
footer { color: var(--muted); font-size: .8rem; text-align: center; margin: 24px 0 8px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section, .kpi { border-color: #bbb; break-inside: avoid; }
  .scroll { overflow: visible; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

pub(super) fn render(r: &Report) -> String {
    let date = r.date.to_string();
    let mut h = String::with_capacity(16 * 1024 + r.reps.len() * 400);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Sales report {date}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    );
    let _ = write!(
        h,
        "<header>\n<h1>Sales report — {date}</h1>\n\
             <p class=\"sub\">Source: {} · SHA-256 {} · {} rows</p>\n</header>\n",
        esc(&r.source.key),
        esc(&r.source.sha256),
        grouped(r.source.rows)
    );

    let t = &r.totals;
    h.push_str("<div class=\"kpis\">\n");
    for (label, value) in [
        ("Date", date.clone()),
        ("Orders", grouped(t.orders)),
        ("Units", grouped(t.units)),
        ("Revenue", dollars(t.revenue_cents)),
        ("Commission", dollars(t.commission_cents)),
    ] {
        let _ = writeln!(
            h,
            "<div class=\"kpi\"><div class=\"label\">{label}</div>\
                 <div class=\"value\">{value}</div></div>"
        );
    }
    h.push_str("</div>\n");

    // Revenue by region.
    h.push_str("<section>\n<h2>Revenue by region</h2>\n");
    // Largest first: the chart answers "where did the money come from".
    let mut regions: Vec<(&str, Cents)> =
        r.regions.iter().map(|g| (g.region.as_str(), g.revenue_cents)).collect();
    regions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    bar_chart(&mut h, "Revenue by region", &regions, t.revenue_cents, "bar2");
    h.push_str("</section>\n");

    // Revenue by rep: the top CHART_REPS, the rest summarised.
    let mut by_revenue: Vec<(&str, Cents)> =
        r.reps.iter().map(|p| (p.sales_rep.as_str(), p.revenue_cents)).collect();
    by_revenue.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let shown = by_revenue.len().min(CHART_REPS);
    let _ = writeln!(
        h,
        "<section>\n<h2>Revenue by rep{}</h2>",
        if by_revenue.len() > CHART_REPS { format!(" (top {CHART_REPS})") } else { String::new() }
    );
    bar_chart(&mut h, "Revenue by rep", &by_revenue[..shown], t.revenue_cents, "bar");
    if by_revenue.len() > shown {
        let rest = &by_revenue[shown..];
        let rest_revenue =
            rest.iter().fold(Cents(0), |acc, (_, c)| Cents(acc.0.saturating_add(c.0)));
        let _ = writeln!(
            h,
            "<p class=\"note\">…and {} other rep{} with {} in all ({} of revenue).</p>",
            grouped(rest.len() as u64),
            if rest.len() == 1 { "" } else { "s" },
            dollars(rest_revenue),
            percent(rest_revenue, t.revenue_cents)
        );
    }
    h.push_str("</section>\n");

    // Top products.
    h.push_str(
        "<section>\n<h2>Top products</h2>\n<div class=\"scroll\"><table>\n<thead><tr>\
             <th class=\"n\">#</th><th>Product</th><th class=\"n\">Units</th>\
             <th class=\"n\">Revenue</th><th class=\"n\">Share</th></tr></thead>\n<tbody>\n",
    );
    for (i, p) in r.top_products.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            esc(&p.product),
            grouped(p.units),
            dollars(p.revenue_cents),
            percent(p.revenue_cents, t.revenue_cents)
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");

    // Every rep.
    h.push_str(
        "<section>\n<h2>All reps</h2>\n<div class=\"scroll\"><table>\n<thead><tr>\
             <th>Sales rep</th><th class=\"n\">Regions</th><th class=\"n\">Orders</th>\
             <th class=\"n\">Units</th><th class=\"n\">Revenue</th><th class=\"n\">Commission</th>\
             <th class=\"n\">Commission YTD</th></tr></thead>\n<tbody>\n",
    );
    for p in &r.reps {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td></tr>",
            esc(&p.sales_rep),
            p.region_count,
            grouped(p.orders),
            grouped(p.units),
            dollars(p.revenue_cents),
            dollars(p.commission_cents),
            dollars(p.commission_ytd_cents)
        );
    }
    let _ = write!(
            h,
            "</tbody>\n<tfoot><tr><td>Total ({} reps)</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr></tfoot>\n</table></div>\n</section>\n",
            grouped(r.reps.len() as u64),
            grouped(r.regions.len() as u64),
            grouped(t.orders),
            grouped(t.units),
            dollars(t.revenue_cents),
            dollars(t.commission_cents),
            dollars(r.commission_ytd_total())
        );

    let _ = write!(
        h,
        "<footer>Generated by {} from {}. Commission is rounded per rep, half to even; \
             the total is the sum of the reps' commissions.</footer>\n</main>\n</body>\n</html>\n",
        esc(&r.generated_by),
        esc(&r.source.key)
    );
    h
}

// Chart geometry, in SVG user units (the SVG scales to the page width).
const LABEL_W: u64 = 170;
const BAR_MAX: u64 = 330;
const VALUE_W: u64 = 190;
const ROW_H: u64 = 26;
const BAR_H: u64 = 18;
const LABEL_CHARS: usize = 24;

/// A horizontal bar chart of `rows` (already in display order). Bar lengths are integer
/// arithmetic on cents, scaled to the largest value shown.
fn bar_chart(h: &mut String, title: &str, rows: &[(&str, Cents)], total: Cents, class: &str) {
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No sales.</p>\n");
        return;
    }
    let max = rows.iter().map(|(_, c)| c.0.max(0) as u128).max().unwrap_or(0);
    let width = LABEL_W + BAR_MAX + VALUE_W;
    let height = ROW_H * rows.len() as u64 + 4;
    let _ = writeln!(
        h,
        "<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, cents)) in rows.iter().enumerate() {
        let y = ROW_H * i as u64 + 2;
        let v = cents.0.max(0) as u128;
        // w ≤ BAR_MAX since v ≤ max, so the cast is lossless.
        let mut w = (v * u128::from(BAR_MAX)).checked_div(max).map_or(0, |w| w as u64);
        if v > 0 && w == 0 {
            w = 1; // visible, however small
        }
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

impl Report {
    /// `report.html`: one self-contained page (inline CSS and SVG, no script, no URL).
    pub fn to_html(&self) -> String {
        render(self)
    }
}

/// `$12,345.67`: the people format of the HTML page.
pub(super) fn dollars(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}${}.{:02}", grouped(abs / 100), abs % 100)
}

/// `1234567` → `1,234,567`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    // 1 to 3 digits before the first comma; `digits` is ASCII and never empty.
    let head = (digits.len() - 1) % 3 + 1;
    out.push_str(&digits[..head]);
    let mut i = head;
    while i < digits.len() {
        out.push(',');
        out.push_str(&digits[i..i + 3]);
        i += 3;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"\u{0}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\u{FFFD}"
        );
    }

    #[test]
    fn percentages_and_shortening() {
        assert_eq!(percent(Cents(1), Cents(3)), "33.3%");
        assert_eq!(percent(Cents(2), Cents(3)), "66.7%");
        assert_eq!(percent(Cents(1), Cents(2000)), "0.1%"); // 0.05 % rounds half up
        assert_eq!(percent(Cents(5), Cents(0)), "0.0%");
        assert_eq!(percent(Cents(0), Cents(5)), "0.0%");
        assert_eq!(percent(Cents(1), Cents(100_000)), "&lt;0.1%");
        assert_eq!(percent(Cents(i64::MAX), Cents(i64::MAX)), "100.0%");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdé", 4), "abc…");
    }
}
