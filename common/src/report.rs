//! The day's report: built from a DaySummary and the ledger, rendered as CSV, JSON and HTML. (pure)
//!
//! Every rendering is a pure function of the [`Report`], and the report a pure function of its
//! inputs (no clock, no host name, no map with random order), so a redelivered message
//! rewrites byte-identical objects and two reportsengine instances racing on one message agree.
use std::fmt::Write as _;

use crate::{
    config::Compensation,
    ledger::{format_date, push_csv_field, Ledger},
    money::{self, Cents},
    sales::{DaySummary, SalesDate},
};

/// How many products `top_products` keeps.
pub const TOP_PRODUCTS: usize = 10;
/// How many reps the HTML bar chart shows before summarising the rest.
pub const CHART_REPS: usize = 20;

/// The whole report. Field order is the JSON key order SPEC §4 fixes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    #[serde(serialize_with = "serialize_date")]
    pub date: SalesDate,
    pub source: Source,
    pub totals: Totals,
    /// Sorted by region, bytewise.
    pub regions: Vec<RegionLine>,
    /// Sorted by sales_rep, bytewise.
    pub reps: Vec<RepLine>,
    /// At most [`TOP_PRODUCTS`], by revenue descending then name ascending.
    pub top_products: Vec<ProductLine>,
    pub generated_by: String,
}

/// Where the numbers came from, so a reader can tie the report to one exact file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The bare key (no `s3://`), or a local path for `reportsengine build`.
    pub key: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
    /// The sum of the reps' rounded commissions (what is actually paid), not the commission
    /// of the total revenue.
    pub commission_cents: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionLine {
    pub region: String,
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepLine {
    pub sales_rep: String,
    pub region_count: u64,
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
    pub commission_cents: Cents,
    /// Ledger commission from January 1 to the day before, plus this day's `commission_cents`.
    pub commission_ytd_cents: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductLine {
    pub product: String,
    pub units: u64,
    pub revenue_cents: Cents,
}

fn serialize_date<S: serde::Serializer>(d: &SalesDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

/// Sums that saturate: no real day approaches `i64::MAX` cents, and a hostile ledger must not
/// turn into a panic (debug) or a wrapped negative total (release).
fn add(a: Cents, b: Cents) -> Cents {
    Cents(a.0.saturating_add(b.0))
}

impl Report {
    /// `source_key` is the bare S3 key (or a local path for `build`); `generated_by` e.g. "reportsengine 0.1.0".
    ///
    /// The day's commission comes from the sales file at today's rates, never from the
    /// ledger's row for the same day: the ledger may lag (or lead) the file being reported.
    pub fn build(
        day: &DaySummary,
        source_key: &str,
        ledger: &Ledger,
        comp: &Compensation,
        generated_by: &str,
    ) -> Report {
        let reps: Vec<RepLine> = day
            .reps
            .iter()
            .map(|(rep, d)| {
                let commission = money::commission(d.revenue, comp.rate_bps(rep));
                RepLine {
                    sales_rep: rep.clone(),
                    region_count: d.regions.len() as u64,
                    orders: d.orders,
                    units: d.units,
                    revenue_cents: d.revenue,
                    commission_cents: commission,
                    commission_ytd_cents: add(
                        ledger.commission_ytd_before(rep, day.date),
                        commission,
                    ),
                }
            })
            .collect();
        let regions = day
            .regions
            .iter()
            .map(|(region, d)| RegionLine {
                region: region.clone(),
                orders: d.orders,
                units: d.units,
                revenue_cents: d.revenue,
            })
            .collect();
        let mut products: Vec<ProductLine> = day
            .products
            .iter()
            .map(|(product, d)| ProductLine {
                product: product.clone(),
                units: d.units,
                revenue_cents: d.revenue,
            })
            .collect();
        products.sort_by(|a, b| {
            b.revenue_cents.cmp(&a.revenue_cents).then_with(|| a.product.cmp(&b.product))
        });
        products.truncate(TOP_PRODUCTS);

        let commission = reps.iter().fold(Cents(0), |acc, r| add(acc, r.commission_cents));
        Report {
            date: day.date,
            source: Source {
                key: source_key.to_owned(),
                sha256: hex::encode(day.sha256),
                rows: day.rows,
            },
            totals: Totals {
                orders: day.rows,
                units: day.units,
                revenue_cents: day.revenue,
                commission_cents: commission,
            },
            regions,
            reps,
            top_products: products,
            generated_by: generated_by.to_owned(),
        }
    }

    /// The sum over reps of year-to-date commission (the `TOTAL` row's last column).
    pub fn commission_ytd_total(&self) -> Cents {
        self.reps.iter().fold(Cents(0), |acc, r| add(acc, r.commission_ytd_cents))
    }

    /// `report.csv`: LF line ends, RFC 4180 quoting where a name needs it, money as `d.dd`.
    /// The `TOTAL` row is always the last line (a rep literally named `TOTAL` sorts among the
    /// reps, so consumers should take the total by position).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("sales_rep,orders,units,revenue,commission,commission_ytd\n");
        for r in &self.reps {
            push_csv_field(&mut out, &r.sales_rep);
            let _ = writeln!(
                out,
                ",{},{},{},{},{}",
                r.orders,
                r.units,
                plain(r.revenue_cents),
                plain(r.commission_cents),
                plain(r.commission_ytd_cents)
            );
        }
        let t = &self.totals;
        let _ = writeln!(
            out,
            "TOTAL,{},{},{},{},{}",
            t.orders,
            t.units,
            plain(t.revenue_cents),
            plain(t.commission_cents),
            plain(self.commission_ytd_total())
        );
        out
    }

    /// `report.json`: pretty-printed, keys in SPEC order, money as integer cents, trailing LF.
    pub fn to_json(&self) -> String {
        // Invariant: serialising structs of strings, integers and `Cents` into a String has no
        // failure path (no maps with non-string keys, no fallible custom Serialize).
        let mut s = serde_json::to_string_pretty(self).expect("report serialisation is infallible");
        s.push('\n');
        s
    }

    /// `report.html`: one self-contained page (inline CSS and SVG, no script, no URL).
    pub fn to_html(&self) -> String {
        html::render(self)
    }

    /// One line for logs and the demo: date, orders, revenue, commission.
    pub fn headline(&self) -> String {
        format!(
            "{}: {} orders, {} units, revenue {}, commission {}",
            format_date(self.date),
            self.totals.orders,
            self.totals.units,
            plain(self.totals.revenue_cents),
            plain(self.totals.commission_cents)
        )
    }
}

/// `d.dd` (e.g. `0.05`, `1234.50`, `-3.20`): the machine format of the CSV and the headline.
/// Written here rather than through `Cents`'s `Display` so the report's exact bytes are pinned
/// by this module's tests.
fn plain(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `$12,345.67`: the people format of the HTML page.
fn dollars(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}${}.{:02}", grouped(abs / 100), abs % 100)
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
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

mod html {
    //! The HTML page. All data text goes through [`esc`]; everything else is literal markup.
    use std::fmt::Write as _;

    use super::{dollars, grouped, Cents, Report, CHART_REPS};
    use crate::ledger::format_date;

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
        let date = format_date(r.date);
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
            if by_revenue.len() > CHART_REPS {
                format!(" (top {CHART_REPS})")
            } else {
                String::new()
            }
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
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::{
        ledger::{parse_date, LedgerRow},
        sales::{ProductDay, RegionDay, RepDay},
    };

    fn date(s: &str) -> SalesDate {
        parse_date(s).unwrap()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Five orders on 2026-01-15:
    /// | rep        | region | product | qty | price  | revenue |
    /// | Ann        | East   | Widget  | 2   | 10.00  | 20.00   |
    /// | Ann        | West   | Gadget  | 1   | 2.50   | 2.50    |
    /// | Bob, Jr.   | East   | Widget  | 3   | 10.00  | 30.00   |
    /// | Zoë        | North  | Doohick | 1   | 0.50   | 0.50    |
    /// | <b>"x"</b> | West   | Gizmo   | 1   | 1234.57| 1234.57 |
    /// Rates: default 500 bps, Ann 700 bps.
    /// Ann 22.50 × 7 % = 1.575 → 1.58 (half to even: 157.5 → 158)
    /// Bob 30.00 × 5 % = 1.50; Zoë 0.50 × 5 % = 0.025 → 0.02 (2.5 → 2, even);
    /// <b> 1234.57 × 5 % = 61.7285 → 61.73.
    fn sample() -> (DaySummary, Ledger, Compensation) {
        let mut reps = BTreeMap::new();
        let rep = |orders, units, cents, regions: &[&str]| RepDay {
            orders,
            units,
            revenue: Cents(cents),
            regions: set(regions),
        };
        reps.insert("Ann".to_owned(), rep(2, 3, 2250, &["East", "West"]));
        reps.insert("Bob, Jr.".to_owned(), rep(1, 3, 3000, &["East"]));
        reps.insert("Zoë".to_owned(), rep(1, 1, 50, &["North"]));
        reps.insert("<b>\"x\"</b>".to_owned(), rep(1, 1, 123457, &["West"]));
        let mut regions = BTreeMap::new();
        let region = |orders, units, cents| RegionDay { orders, units, revenue: Cents(cents) };
        regions.insert("East".to_owned(), region(2, 5, 5000));
        regions.insert("North".to_owned(), region(1, 1, 50));
        regions.insert("West".to_owned(), region(2, 2, 123707));
        let mut products = BTreeMap::new();
        let product = |units, cents| ProductDay { units, revenue: Cents(cents) };
        products.insert("Widget".to_owned(), product(5, 5000));
        products.insert("Gadget".to_owned(), product(1, 250));
        products.insert("Doohickey".to_owned(), product(1, 50));
        products.insert("Gizmo".to_owned(), product(1, 123457));
        let day = DaySummary {
            date: date("2026-01-15"),
            rows: 5,
            units: 8,
            revenue: Cents(128757),
            reps,
            regions,
            products,
            sha256: [0xab; 32],
            bytes: 321,
            extra_columns: vec![],
        };
        let mut ledger = Ledger::default();
        let lrow = |d: &str, rep: &str, c: i64| LedgerRow {
            date: date(d),
            sales_rep: rep.to_owned(),
            orders: 1,
            units: 1,
            revenue: Cents(c * 20),
            commission: Cents(c),
        };
        // Excluded: last year, the day itself (a stale row for it), and later days.
        ledger.merge_day(date("2025-12-31"), vec![lrow("2025-12-31", "Ann", 100000)]);
        ledger.merge_day(date("2026-01-01"), vec![lrow("2026-01-01", "Ann", 1000)]);
        ledger.merge_day(
            date("2026-01-14"),
            vec![lrow("2026-01-14", "Ann", 234), lrow("2026-01-14", "Zoë", 7)],
        );
        ledger.merge_day(date("2026-01-15"), vec![lrow("2026-01-15", "Ann", 99999)]);
        ledger.merge_day(date("2026-01-16"), vec![lrow("2026-01-16", "Bob, Jr.", 99999)]);
        let mut comp = Compensation::default();
        comp.overrides.insert("Ann".to_owned(), 700);
        (day, ledger, comp)
    }

    fn sample_report() -> Report {
        let (day, ledger, comp) = sample();
        Report::build(&day, "sales/2026-01-15/sales.csv", &ledger, &comp, "reportsengine 0.1.0")
    }

    #[test]
    fn money_formats() {
        assert_eq!(plain(Cents(0)), "0.00");
        assert_eq!(plain(Cents(5)), "0.05");
        assert_eq!(plain(Cents(123450)), "1234.50");
        assert_eq!(plain(Cents(-320)), "-3.20");
        assert_eq!(plain(Cents(i64::MIN)), "-92233720368547758.08");
        assert_eq!(dollars(Cents(1234567)), "$12,345.67");
        assert_eq!(dollars(Cents(100000000)), "$1,000,000.00");
        assert_eq!(dollars(Cents(99)), "$0.99");
        assert_eq!(dollars(Cents(-123456)), "-$1,234.56");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn plain_matches_cents_display() {
        for c in [0, 1, 5, 99, 100, 123450, -1, -320, i64::MAX, i64::MIN] {
            assert_eq!(plain(Cents(c)), Cents(c).to_string(), "{c}");
        }
    }

    #[test]
    fn csv_to_the_cent() {
        // YTD: Ann 10.00 + 2.34 (ledger, Jan 1–14) + 1.58 = 13.92; Zoë 0.07 + 0.02 = 0.09;
        // Bob's Jan 16 row and Ann's stale Jan 15 row are not counted.
        // TOTAL commission = 1.58 + 1.50 + 61.73 + 0.02 = 64.83, the sum of the rounded
        // per-rep amounts; TOTAL YTD = 61.73 + 13.92 + 1.50 + 0.09 = 77.24.
        assert_eq!(
            sample_report().to_csv(),
            "sales_rep,orders,units,revenue,commission,commission_ytd\n\
             \"<b>\"\"x\"\"</b>\",1,1,1234.57,61.73,61.73\n\
             Ann,2,3,22.50,1.58,13.92\n\
             \"Bob, Jr.\",1,3,30.00,1.50,1.50\n\
             Zoë,1,1,0.50,0.02,0.09\n\
             TOTAL,5,8,1287.57,64.83,77.24\n"
        );
    }

    #[test]
    fn json_to_the_cent_with_key_order() {
        let expected = format!(
            r#"{{
  "date": "2026-01-15",
  "source": {{
    "key": "sales/2026-01-15/sales.csv",
    "sha256": "{}",
    "rows": 5
  }},
  "totals": {{
    "orders": 5,
    "units": 8,
    "revenue_cents": 128757,
    "commission_cents": 6483
  }},
  "regions": [
    {{
      "region": "East",
      "orders": 2,
      "units": 5,
      "revenue_cents": 5000
    }},
    {{
      "region": "North",
      "orders": 1,
      "units": 1,
      "revenue_cents": 50
    }},
    {{
      "region": "West",
      "orders": 2,
      "units": 2,
      "revenue_cents": 123707
    }}
  ],
  "reps": [
    {{
      "sales_rep": "<b>\"x\"</b>",
      "region_count": 1,
      "orders": 1,
      "units": 1,
      "revenue_cents": 123457,
      "commission_cents": 6173,
      "commission_ytd_cents": 6173
    }},
    {{
      "sales_rep": "Ann",
      "region_count": 2,
      "orders": 2,
      "units": 3,
      "revenue_cents": 2250,
      "commission_cents": 158,
      "commission_ytd_cents": 1392
    }},
    {{
      "sales_rep": "Bob, Jr.",
      "region_count": 1,
      "orders": 1,
      "units": 3,
      "revenue_cents": 3000,
      "commission_cents": 150,
      "commission_ytd_cents": 150
    }},
    {{
      "sales_rep": "Zoë",
      "region_count": 1,
      "orders": 1,
      "units": 1,
      "revenue_cents": 50,
      "commission_cents": 2,
      "commission_ytd_cents": 9
    }}
  ],
  "top_products": [
    {{
      "product": "Gizmo",
      "units": 1,
      "revenue_cents": 123457
    }},
    {{
      "product": "Widget",
      "units": 5,
      "revenue_cents": 5000
    }},
    {{
      "product": "Gadget",
      "units": 1,
      "revenue_cents": 250
    }},
    {{
      "product": "Doohickey",
      "units": 1,
      "revenue_cents": 50
    }}
  ],
  "generated_by": "reportsengine 0.1.0"
}}
"#,
            "ab".repeat(32)
        );
        let report = sample_report();
        assert_eq!(report.to_json(), expected);

        // Top-level key order, read from the text (serde_json's Map would sort keys), and the
        // document is valid JSON.
        let _: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let json = report.to_json();
        let top: Vec<&str> = json
            .lines()
            .filter_map(|l| l.strip_prefix("  \"").and_then(|l| l.split('"').next()))
            .collect();
        assert_eq!(
            top,
            ["date", "source", "totals", "regions", "reps", "top_products", "generated_by"]
        );
    }

    #[test]
    fn headline() {
        assert_eq!(
            sample_report().headline(),
            "2026-01-15: 5 orders, 8 units, revenue 1287.57, commission 64.83"
        );
    }

    #[test]
    fn pure_function_of_inputs() {
        let a = sample_report();
        let b = sample_report();
        assert_eq!(a, b);
        assert_eq!(a.to_csv(), b.to_csv());
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(a.to_html(), b.to_html());
    }

    #[test]
    fn top_ten_with_ties_by_name() {
        let (mut day, ledger, comp) = sample();
        day.products.clear();
        // 12 products: "p00".."p11" with revenue 100 except a few; ties broken by name.
        for (name, cents) in [
            ("b", 500),
            ("a", 500),
            ("Z", 500),
            ("é", 500),
            ("c", 900),
            ("k", 100),
            ("j", 100),
            ("i", 100),
            ("h", 100),
            ("g", 100),
            ("f", 100),
            ("e", 100),
        ] {
            day.products.insert(name.to_owned(), ProductDay { units: 1, revenue: Cents(cents) });
        }
        let r = Report::build(&day, "k", &ledger, &comp, "t");
        let names: Vec<&str> = r.top_products.iter().map(|p| p.product.as_str()).collect();
        assert_eq!(names, ["c", "Z", "a", "b", "é", "e", "f", "g", "h", "i"]);
    }

    #[test]
    fn html_escapes_all_data_text() {
        let (mut day, ledger, comp) = sample();
        let evil = "<script>alert('&')</script>";
        day.reps.insert(
            evil.to_owned(),
            RepDay { orders: 1, units: 1, revenue: Cents(1), regions: set(&["<i>"]) },
        );
        day.regions.insert("<img src=x onerror=alert(1)>".to_owned(), RegionDay::default());
        day.products.insert(
            "\"><svg onload=alert(1)>".to_owned(),
            ProductDay { units: 1, revenue: Cents(999999) },
        );
        let r = Report::build(&day, "sales/<k>&\"'.csv", &ledger, &comp, "re <1>");
        let html = r.to_html();
        for raw in ["<script", "<img", "<svg onload", "<b>", "<k>", "<1>", "<i>", "'&'"] {
            assert!(!html.contains(raw), "unescaped {raw:?}");
        }
        assert!(html.contains("&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;&quot;x&quot;&lt;/b&gt;"));
        assert!(html.contains("sales/&lt;k&gt;&amp;&quot;&#39;.csv"));
        assert!(html.contains("&quot;&gt;&lt;svg onload=alert(1)&gt;"));
    }

    #[test]
    fn html_is_self_contained_and_complete() {
        let html = sample_report().to_html();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta name=\"viewport\""));
        assert!(html.contains("max-width"));
        assert!(html.contains("@media print"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("@import"));
        assert!(!html.contains("url("));
        // Headline figures, people-formatted.
        for s in ["2026-01-15", "$1,287.57", "$64.83", "$1,234.57", "Zoë", "Bob, Jr.", "Gizmo"] {
            assert!(html.contains(s), "missing {s}");
        }
        // Bars: the largest region (West, 1237.07) gets the full width, East 5000/123707 of it.
        assert!(html.contains("width=\"330\""));
        assert!(html.contains(&format!("width=\"{}\"", 5000 * 330 / 123707)));
        // Zoë's bar (50 cents of 123457 max) is 0 by division but drawn 1 unit wide.
        assert!(html.contains("width=\"1\""));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn html_summarises_reps_beyond_twenty() {
        let (mut day, ledger, comp) = sample();
        day.reps.clear();
        for i in 0..25u64 {
            let revenue = Cents(1000 * (i as i64 + 1));
            day.reps.insert(
                format!("rep{i:02}"),
                RepDay { orders: 1, units: 1, revenue, regions: set(&["East"]) },
            );
        }
        let html = Report::build(&day, "k", &ledger, &comp, "t").to_html();
        assert!(html.contains("…and 5 other reps with $150.00 in all"));
        // The five smallest are in the table but not in the chart.
        let chart_end = html.find("<h2>Top products").unwrap();
        let rep_chart = &html[html.find("Revenue by rep (top 20)").unwrap()..chart_end];
        assert!(rep_chart.contains("rep24") && rep_chart.contains("rep05"));
        assert!(!rep_chart.contains("rep04"));
        assert!(html[chart_end..].contains("rep04"));
    }

    #[test]
    fn empty_day_renders() {
        let (mut day, ledger, comp) = sample();
        day.reps.clear();
        day.regions.clear();
        day.products.clear();
        day.rows = 0;
        day.units = 0;
        day.revenue = Cents(0);
        let r = Report::build(&day, "k", &ledger, &comp, "t");
        assert_eq!(
            r.to_csv(),
            "sales_rep,orders,units,revenue,commission,commission_ytd\nTOTAL,0,0,0.00,0.00,0.00\n"
        );
        assert!(r.to_html().contains("No sales."));
    }
}
