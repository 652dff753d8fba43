//! The report page's shape whatever the day holds: bounded, the rest summed and linked,
//! the digest in the footer, tiles compact with the exact amount beside them. The
//! fixtures are sales files and ledgers as text, read by the real parsers.

use std::fmt::Write as _;

use super::{CHART_ROWS, PRINTED_REPS, TABLE_REPS};
use crate::{
    ledger::Ledger,
    money::Compensation,
    report::Report,
    sales::{validate_slice, Limits},
};

/// A day of `reps` reps over `regions` regions: rep `i` sells one unit at `i + 1` dollars.
fn day_of(reps: usize, regions: usize) -> String {
    let mut csv = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
    for i in 0..reps {
        let _ = writeln!(
            csv,
            "2026-03-02,O-{i},Rep {i:06},Region {:03},Product {:02},1,{}.00",
            i % regions,
            i % 15,
            i + 1
        );
    }
    csv
}

fn report(csv: &str, ledger: &str) -> Report {
    let day = validate_slice("day.csv", csv.as_bytes(), Limits::default()).expect("a valid day");
    let ledger = Ledger::parse(ledger.as_bytes()).expect("a valid ledger");
    Report::build(&day, "sales/2026-03-02/sales.csv", &ledger, &Compensation::default(), "t")
}

const NO_LEDGER: &str = "date,sales_rep,orders,units,revenue_cents,commission_cents\n";

/// Every text that follows `open` up to the next `close`, in order: the `href`s of a page
/// (`href="`, `"`), its tick labels, …
pub(crate) fn each_after<'a>(html: &'a str, open: &str, close: char) -> Vec<&'a str> {
    html.match_indices(open)
        .map(|(at, m)| &html[at + m.len()..])
        .map(|rest| &rest[..rest.find(close).unwrap_or(rest.len())])
        .collect()
}

/// The text between `from` and the next `to` after it.
fn between<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html.find(from).unwrap_or_else(|| panic!("no {from}"));
    let end = html[start..].find(to).unwrap_or_else(|| panic!("no {to} after {from}")) + start;
    &html[start..end]
}

#[test]
fn a_day_with_thousands_of_reps_stays_a_page() {
    let html = report(&day_of(1000, 30), NO_LEDGER).to_html();
    let table = between(&html, "<h2>Reps: the top 500 of 1,000</h2>", "</section>");
    let body = between(table, "<tbody>", "</tbody>");
    assert_eq!(body.matches("<tr").count(), TABLE_REPS);
    // The most revenue first, to the cent; the print-out keeps the first 25.
    assert!(body.starts_with("<tbody>\n<tr><td class=\"name\">Rep 000999</td>"), "{body:.200}");
    assert!(body.contains("data-v=\"100000\">$1,000.00</td>"));
    assert!(body.contains(">Rep 000500</td>") && !body.contains(">Rep 000499</td>"));
    assert_eq!(body.matches("<tr class=\"more\">").count(), TABLE_REPS - PRINTED_REPS);
    // The other 500 (1 to 500 dollars: 125,250.00; commission 5 % of each, to the cent)
    // on screen; the other 975 on paper; then the day's total.
    let rest = between(table, "<tr class=\"rest screen-only\">", "</tr>");
    assert!(rest.contains("The other 500 reps"), "{rest}");
    assert!(rest.contains(">$125,250.00</td><td class=\"n\">$6,262.50</td>"), "{rest}");
    let printed_rest = between(table, "<tr class=\"rest print-only\">", "</tr>");
    assert!(printed_rest.contains("The other 980 reps"), "{printed_rest}");
    assert!(table.contains("<td>Total (1,000 reps)</td>"));
    assert!(table.contains(">$500,500.00</td>"), "1 + … + 1000 dollars");
    assert!(table.contains(
        "the other 500 are summed in one row before the total. Every rep is in \
         <a href=\"report.csv\">report.csv</a> and <a href=\"report.json\">report.json</a>."
    ));
    // The charts: the 20 largest, the rest in one line.
    let regions = between(&html, "<h2>Revenue by region</h2>", "</section>");
    assert_eq!(regions.matches("<li ").count(), CHART_ROWS);
    assert!(regions.contains("…and 10 other regions with "), "{regions}");
    let reps = between(&html, "<h2>Revenue by rep (top 20)</h2>", "</section>");
    assert_eq!(reps.matches("<li ").count(), CHART_ROWS);
    assert!(reps.contains("…and 980 other reps with "));

    // Four times the reps, the same page but for counts, sums and wider amounts (the 500
    // listed now sell $3,501.00 to $4,000.00: two more characters in three cells a row).
    let bigger = report(&day_of(4000, 30), NO_LEDGER).to_html();
    assert!(bigger.len().abs_diff(html.len()) < 8_000, "{} vs {}", bigger.len(), html.len());
    assert!(html.len() < 400_000, "{} bytes", html.len());
}

#[test]
fn every_rep_of_an_ordinary_day_is_listed_and_none_summed_on_screen() {
    let html = report(&day_of(300, 7), NO_LEDGER).to_html();
    let table = between(&html, "<h2>All reps</h2>", "</section>");
    assert_eq!(between(table, "<tbody>", "</tbody>").matches("<tr").count(), 300);
    assert!(!table.contains("screen-only"));
    assert!(table.contains("<tr class=\"rest print-only\"><td>The other 280 reps</td>"));
    assert!(table.contains("<p class=\"note print-only\">Printed: the 20 reps"));
    // Seven regions: every one in the chart, nothing summed.
    assert_eq!(
        between(&html, "<h2>Revenue by region</h2>", "</section>").matches("<li ").count(),
        7
    );
    assert!(!html.contains("other region"));
}

#[test]
fn the_header_links_the_day_s_files_and_the_footer_holds_the_digest() {
    let r = report(&day_of(3, 1), NO_LEDGER);
    let html = r.to_html();
    let header = between(&html, "<header>", "</header>");
    assert!(header.contains("<a href=\"report.csv\">report.csv</a>"));
    assert!(header.contains("<a href=\"report.json\">report.json</a>"));
    assert!(header.contains("<a href=\"../index.html\">all reports</a>"));
    assert!(header.contains("Source: sales/2026-03-02/sales.csv · 3 rows"));
    assert_eq!(html.matches(&r.source.sha256).count(), 1);
    let footer = between(&html, "<footer>", "</footer>");
    assert!(footer.contains(&format!("SHA-256 is <code>{}</code>", r.source.sha256)));
}

#[test]
fn tiles_are_compact_and_the_exact_amounts_are_on_hover_and_in_the_tables() {
    // One rep selling 1,000,000 units at 4,381.66 dollars: 4,381,660,000.00 in a day.
    let csv = "date,order_id,sales_rep,region,product,quantity,unit_price\n\
               2026-03-02,O-1,Ann,East,Server,1000000,4381.66\n";
    let html = report(csv, NO_LEDGER).to_html();
    let kpis = between(&html, "<div class=\"kpis\">", "<p class=\"note\">");
    assert!(kpis.contains("<div class=\"value\" title=\"$4,381,660,000.00\">$4.38B</div>"));
    assert!(kpis.contains("<div class=\"value\" title=\"$219,083,000.00\">$219M</div>"));
    assert!(kpis.contains("<div class=\"value\">1,000,000</div>"), "counts are exact");
    let total = between(&html, "<td>Total (1 rep)</td>", "</tr>");
    assert!(total.contains(">$4,381,660,000.00</td>") && total.contains(">$219,083,000.00</td>"));
}

#[test]
fn a_year_with_one_outlier_day_keeps_the_other_days_readable() {
    let mut ledger = String::from(NO_LEDGER);
    for (day, cents) in [(2, 4_000_000), (3, 4_500_000), (4, 5_200_000), (5, 438_166_446_700_i64)] {
        let _ = writeln!(ledger, "2026-03-0{day},Ann,1,1,{cents},{}", cents / 20);
    }
    for (day, cents) in [(9, 3_800_000), (10, 4_700_000), (11, 4_100_000)] {
        let _ = writeln!(ledger, "2026-02-{day:02},Ann,1,1,{cents},{}", cents / 20);
    }
    let csv = "date,order_id,sales_rep,region,product,quantity,unit_price\n\
               2026-03-06,O-1,Ann,East,Server,1,45000.00\n";
    let day = validate_slice("day.csv", csv.as_bytes(), Limits::default()).expect("a valid day");
    let ledger = Ledger::parse(ledger.as_bytes()).expect("a valid ledger");
    let r = Report::build(&day, "k", &ledger, &Compensation::default(), "t");
    let html = r.to_html();
    let revenue = between(&html, "<h3>Daily revenue</h3>", "<h3>Daily commission</h3>");
    // The axis rounds the largest ordinary day ($52,000) up in $20K steps.
    for tick in [">$0<", ">$20K<", ">$40K<", ">$60K<"] {
        assert!(revenue.contains(tick), "{tick}");
    }
    assert!(!revenue.contains(">$80K<"));
    // The outlier: cut, its amount above it, said in words; its exact amount on hover.
    assert_eq!(revenue.matches("<rect class=\"cut\"").count(), 1);
    assert!(revenue.contains("\">$4.38B</text>"));
    assert!(revenue.contains("<title>2026-03-05: $4,381,664,467.00</title>"));
    assert!(revenue.contains("the axis stops at $60K, 1 day above it drawn cut"));
    assert!(revenue.contains("stay readable: Mar 5 ($4,381,664,467.00) is above it, drawn cut"));
    // An ordinary day's column: $45,000 of $60,000 is 90 of 120 pixels.
    assert!(revenue.contains("height=\"90\"><title>2026-03-06: $45,000.00</title>"));
}
