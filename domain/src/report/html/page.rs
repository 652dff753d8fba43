//! What every page shares: the frame (head, inline style sheet, the sorting script), the
//! escaping of data text, and the people formats of numbers, dates and changes.
//!
//! Pages are self-contained: no external script, style sheet, font or image and no URL at
//! all, so a report opened from a synced folder, an e-mail attachment or a print-out reads
//! the same.
use std::fmt::Write as _;

use crate::{money::Cents, sales::SalesDate};

/// Escapes text for element content and quoted attribute values alike. Control
/// characters (other than tab/newline) become U+FFFD: they are invalid in HTML and
/// would only serve to confuse a reader.
pub(crate) fn esc(s: &str) -> String {
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

const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --bar: #2f6fb3; --bar2: #3c9d6e;
  --hl: #d9822b; --bg: #f5f7fa; --up: #1e7b4f; --down: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 16px; }
a { color: var(--bar); }
header h1 { font-size: 1.5rem; margin: 8px 0 4px; }
.sub { color: var(--muted); font-size: .85rem; word-break: break-all; margin: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 16px 0; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.cmp { list-style: none; margin: 4px 0 0; padding: 0; font-size: .8rem; color: var(--muted); }
.up { color: var(--up); font-weight: 600; }
.down { color: var(--down); font-weight: 600; }
.flat { font-weight: 600; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 16px 0; }
section h2 { font-size: 1.1rem; margin: 0 0 8px; }
section h3 { font-size: .95rem; margin: 12px 0 4px; }
svg { display: block; width: 100%; height: auto; }
svg text { font-size: 13px; fill: var(--ink); font-family: inherit; }
svg .bar { fill: var(--bar); }
svg .bar2 { fill: var(--bar2); }
svg .hl { fill: var(--hl); }
svg .val, svg .axis { fill: var(--muted); font-variant-numeric: tabular-nums; }
svg .axis { font-size: 11px; }
svg .grid { stroke: var(--line); stroke-width: 1; }
.key { color: var(--hl); }
.note { color: var(--muted); font-size: .85rem; margin: 6px 0 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
th[tabindex] { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \25B2"; }
th[aria-sort="descending"]::after { content: " \25BC"; }
td.n, th.n { text-align: right; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid var(--ink); border-bottom: none; }
details summary { cursor: pointer; color: var(--muted); margin-top: 8px; }
footer { color: var(--muted); font-size: .8rem; text-align: center; margin: 24px 0 8px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  section, .kpi { border-color: #bbb; break-inside: avoid; }
  .scroll { overflow: visible; }
  th[aria-sort]::after { content: ""; }
  details { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Makes every `table.sortable` sortable by a click (or Enter/Space) on a column header,
/// by the cells' `data-v` numbers where present, else by their text. Without it the tables
/// read the same, in their written order.
const SORT_SCRIPT: &str = r#"
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-v');
    return v === null ? cell.textContent.trim() : Number(v);
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('thead th').forEach(function (o) { o.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, col) {
      th.tabIndex = 0;
      th.title = 'Sort by this column';
      th.addEventListener('click', function () { sortBy(table, th, col); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"#;

/// The page up to the opening `<main>`.
pub(super) fn open(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(title)
    );
}

/// The footer `text` (markup, already escaped), the script, and the end of the page.
pub(super) fn close(h: &mut String, footer: &str) {
    let _ = write!(
        h,
        "<footer>{footer}</footer>\n</main>\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n"
    );
}

/// One headline figure: label, value, and lines comparing it (markup, already escaped).
pub(super) fn kpi(h: &mut String, label: &str, value: &str, comparisons: &[String]) {
    let _ = write!(
        h,
        "<div class=\"kpi\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>"
    );
    if !comparisons.is_empty() {
        h.push_str("<ul class=\"cmp\">");
        for c in comparisons {
            let _ = write!(h, "<li>{c}</li>");
        }
        h.push_str("</ul>");
    }
    h.push_str("</div>\n");
}

/// A right-aligned number cell that sorts by `value`, showing `shown`.
pub(super) fn num_cell(shown: &str, value: impl std::fmt::Display) -> String {
    format!("<td class=\"n\" data-v=\"{value}\">{shown}</td>")
}

/// The change from `then` to `now` in percent with one decimal (rounded half away from
/// zero, integer arithmetic), with an arrow so it does not rely on colour. Markup.
pub(super) fn change(now: i128, then: i128) -> String {
    if then <= 0 {
        return if now == then {
            "<span class=\"flat\">= same</span>".to_owned()
        } else {
            "<span class=\"flat\">new</span>".to_owned()
        };
    }
    let diff = (now - then) * 1000;
    let tenths = (diff.abs() * 2 + then) / (2 * then);
    let figure = format!("{}.{}%", tenths / 10, tenths % 10);
    match (diff.signum(), tenths) {
        (_, 0) => format!("<span class=\"flat\">= {figure}</span>"),
        (1, _) => format!("<span class=\"up\">▲ +{figure}</span>"),
        _ => format!("<span class=\"down\">▼ −{figure}</span>"),
    }
}

/// `part / whole` as a percentage with 1 decimal, rounded half up, integer arithmetic.
/// Returns markup (already escaped), ready to insert.
pub(super) fn percent(part: Cents, whole: Cents) -> String {
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

/// At most `max` characters, with an ellipsis, for chart labels (the tables show the
/// full name, and the bar's tooltip too).
pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `$12,345.67`: the people format of the pages.
pub(crate) fn dollars(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}${}.{:02}", grouped(abs / 100), abs % 100)
}

/// `$12,346`: whole dollars, rounded half up, for chart axes.
pub(super) fn whole_dollars(c: Cents) -> String {
    let abs = c.0.unsigned_abs();
    let sign = if c.0 < 0 { "-" } else { "" };
    format!("{sign}${}", grouped(abs / 100 + u64::from(abs % 100 >= 50)))
}

/// `1234567` → `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
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

/// `Jan 14`: a date near the one on the page.
pub(super) fn short_date(d: SalesDate) -> String {
    format!("{} {}", month_abbreviation(d.0.month()), d.0.day())
}

/// `Thursday, January 15, 2026`.
pub(super) fn long_date(d: SalesDate) -> String {
    format!("{}, {} {}, {}", d.0.weekday(), d.0.month(), d.0.day(), d.0.year())
}

/// `Jan`, `Feb`, …
pub(super) fn month_abbreviation(m: time::Month) -> String {
    m.to_string().chars().take(3).collect()
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

    #[test]
    fn changes_round_half_away_from_zero_and_never_divide_by_zero() {
        assert_eq!(change(1123, 1000), "<span class=\"up\">▲ +12.3%</span>");
        assert_eq!(change(877, 1000), "<span class=\"down\">▼ −12.3%</span>");
        assert_eq!(change(10005, 10000), "<span class=\"up\">▲ +0.1%</span>"); // 0.05 → 0.1
        assert_eq!(change(10004, 10000), "<span class=\"flat\">= 0.0%</span>");
        assert_eq!(change(1000, 1000), "<span class=\"flat\">= 0.0%</span>");
        assert_eq!(change(3000, 1000), "<span class=\"up\">▲ +200.0%</span>");
        assert_eq!(change(0, 1000), "<span class=\"down\">▼ −100.0%</span>");
        assert_eq!(change(5, 0), "<span class=\"flat\">new</span>");
        assert_eq!(change(0, 0), "<span class=\"flat\">= same</span>");
        let big = i128::from(i64::MAX);
        assert_eq!(change(big, big), "<span class=\"flat\">= 0.0%</span>");
    }

    #[test]
    fn dates_and_axis_money() {
        let d = SalesDate::parse("2026-01-15").unwrap();
        assert_eq!(short_date(d), "Jan 15");
        assert_eq!(long_date(d), "Thursday, January 15, 2026");
        assert_eq!(whole_dollars(Cents(123_449)), "$1,234");
        assert_eq!(whole_dollars(Cents(123_450)), "$1,235");
        assert_eq!(whole_dollars(Cents(0)), "$0");
    }
}
