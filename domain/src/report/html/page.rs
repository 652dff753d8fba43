//! What every page shares: the frame (head, inline style sheet, the sorting script), the
//! escaping of data text, the headline tiles and the table cells.
//!
//! Pages are self-contained: no external script, style sheet, font or image and no URL at
//! all, so a report opened from a synced folder, an e-mail attachment or a print-out reads
//! the same.
use std::fmt::Write as _;

use super::format::{compact, dollars};
use crate::money::Cents;

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

/// The style sheet: light and dark colours, a layout for phones, one for print.
const STYLE: &str = include_str!("style.css");

/// Makes every `table.sortable` sortable by a click (or Enter/Space) on a column header,
/// by the cells' `data-v` numbers where present, else by their text. Without it the tables
/// read the same, in their written order.
const SORT_SCRIPT: &str = include_str!("sort.js");

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

/// What a tile shows: markup, and the exact figure behind it when the markup rounds it.
pub(super) struct TileValue {
    pub shown: String,
    pub exact: Option<String>,
}

/// An amount for a tile: compact (`$4.38B`), the exact amount on hover.
pub(super) fn money(c: Cents) -> TileValue {
    let (shown, exact) = (compact(c), dollars(c));
    TileValue { exact: (shown != exact).then_some(exact), shown }
}

/// Markup shown as is in a tile (a count, a link).
pub(super) fn shown(markup: String) -> TileValue {
    TileValue { shown: markup, exact: None }
}

/// One headline figure: label, value, and lines comparing it (markup, already escaped).
pub(super) fn kpi(h: &mut String, label: &str, value: &TileValue, comparisons: &[String]) {
    let title = value.exact.as_ref().map(|e| format!(" title=\"{e}\"")).unwrap_or_default();
    let _ = write!(
        h,
        "<div class=\"kpi\"><div class=\"label\">{label}</div>\
         <div class=\"value\"{title}>{}</div>",
        value.shown
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

/// A number cell of `class` (`n`, right-aligned; with `wide` or `mid`, left out on a
/// narrow screen: see the style sheet) that sorts by `value`, showing `shown`.
pub(super) fn num_cell(class: &str, shown: &str, value: impl std::fmt::Display) -> String {
    format!("<td class=\"{class}\" data-v=\"{value}\">{shown}</td>")
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
    fn a_money_tile_shows_the_compact_amount_and_the_exact_one_on_hover() {
        let mut h = String::new();
        kpi(&mut h, "Revenue", &money(Cents(438_166_446_700)), &[]);
        assert_eq!(
            h,
            "<div class=\"kpi\"><div class=\"label\">Revenue</div><div class=\"value\" \
             title=\"$4,381,664,467.00\">$4.38B</div></div>\n"
        );
        assert_eq!(money(Cents(6483)).shown, "$64.83");
        assert_eq!(money(Cents(6483)).exact, None, "nothing to hover: it is exact");
    }
}
