//! The report to the cent, in all three formats.

use std::collections::{BTreeMap, BTreeSet};

use super::html::{dollars, grouped};
use super::*;
use crate::{
    ledger::LedgerRow,
    sales::{ProductDay, RegionDay, RepDay},
};

fn date(s: &str) -> SalesDate {
    SalesDate::parse(s).unwrap()
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

/// A rep whose name a spreadsheet would run (`=`, `+`, `-`, `@`, TAB, CR) is written to
/// report.csv as text, with a quote in front; report.json and the page keep the raw name.
#[test]
fn csv_writes_formula_names_as_text_and_json_keeps_them_raw() {
    let (mut day, ledger, comp) = sample();
    let evil = ["=HYPERLINK(\"http://evil.example/\",\"pay\")", "+1", "-1", "@A1", "\tx", "\rx"];
    for name in evil {
        let rep = RepDay { orders: 1, units: 1, revenue: Cents(100), regions: set(&["East"]) };
        day.reps.insert(name.to_owned(), rep);
    }
    let r = Report::build(&day, "k", &ledger, &comp, "re");
    let csv = r.to_csv();
    let mut reader = ::csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let names: Vec<String> = reader.records().map(|rec| rec.unwrap()[0].to_owned()).collect();
    for name in &names {
        assert!(!name.starts_with(['=', '+', '-', '@', '\t', '\r']), "{name:?} in\n{csv}");
    }
    for name in evil {
        assert!(names.contains(&format!("'{name}")), "{name:?} not marked: {names:?}");
    }
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let reps: Vec<&str> =
        json["reps"].as_array().unwrap().iter().map(|r| r["sales_rep"].as_str().unwrap()).collect();
    for name in evil {
        assert!(reps.contains(&name), "{name:?} not raw in report.json: {reps:?}");
    }
    assert!(r.to_html().contains("=HYPERLINK(&quot;http://evil.example/&quot;,&quot;pay&quot;)"));
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
  "generated_by": "reportsengine 0.1.0",
  "year_to_date": {{
    "days": [
      {{
        "date": "2026-01-01",
        "orders": 1,
        "units": 1,
        "revenue_cents": 20000,
        "commission_cents": 1000
      }},
      {{
        "date": "2026-01-14",
        "orders": 2,
        "units": 2,
        "revenue_cents": 4820,
        "commission_cents": 241
      }},
      {{
        "date": "2026-01-15",
        "orders": 5,
        "units": 8,
        "revenue_cents": 128757,
        "commission_cents": 6483
      }}
    ],
    "revenue_cents": 153577,
    "commission_cents": 7724
  }},
  "previous_day": {{
    "date": "2026-01-14",
    "orders": 2,
    "units": 2,
    "revenue_cents": 4820,
    "commission_cents": 241
  }}
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
        [
            "date",
            "source",
            "totals",
            "regions",
            "reps",
            "top_products",
            "generated_by",
            "year_to_date",
            "previous_day"
        ]
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

/// The page with its one script, the sorting script, taken out: what is left must hold no
/// script at all. Panics unless there is exactly one, at the end of the body.
fn without_our_script(html: &str) -> String {
    assert_eq!(html.matches("<script").count(), 1, "exactly one script, ours");
    let start = html.find("<script>").expect("our script has no attributes");
    let end = html.find("</script>").expect("closed") + "</script>".len();
    assert!(html[end..].starts_with("\n</body>"), "the script ends the body");
    assert!(!html[start..end].contains("src="), "the script is inline");
    format!("{}{}", &html[..start], &html[end..])
}

#[test]
fn html_escapes_all_data_text() {
    let (mut day, ledger, comp) = sample();
    let evil = "<script>alert('&')</script>";
    day.reps.insert(
        evil.to_owned(),
        RepDay { orders: 1, units: 1, revenue: Cents(1), regions: set(&["<i>"]) },
    );
    day.reps.insert(
        "</svg></table><b onclick=\"x\">".to_owned(),
        RepDay { orders: 1, units: 1, revenue: Cents(2), regions: set(&["East"]) },
    );
    day.regions.insert("<img src=x onerror=alert(1)>".to_owned(), RegionDay::default());
    day.products.insert(
        "\"><svg onload=alert(1)>".to_owned(),
        ProductDay { units: 1, revenue: Cents(999999) },
    );
    day.products
        .insert("'</script><script>x()".to_owned(), ProductDay { units: 1, revenue: Cents(5) });
    let r = Report::build(&day, "sales/<k>&\"'.csv", &ledger, &comp, "re <1>");
    let html = without_our_script(&r.to_html());
    for raw in
        ["<script", "</script", "<img", "<svg onload", "<b>", "<b ", "<k>", "<1>", "<i>", "'&'"]
    {
        assert!(!html.contains(raw), "unescaped {raw:?}");
    }
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(html.matches("<table").count(), html.matches("</table>").count());
    assert!(html.contains("&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;&quot;x&quot;&lt;/b&gt;"));
    assert!(html.contains("&lt;/svg&gt;&lt;/table&gt;&lt;b onclick=&quot;x&quot;&gt;"));
    assert!(html.contains("sales/&lt;k&gt;&amp;&quot;&#39;.csv"));
    assert!(html.contains("&quot;&gt;&lt;svg onload=alert(1)&gt;"));
    assert!(html.contains("&#39;&lt;/script&gt;&lt;script&gt;x()"));
}

#[test]
fn html_is_self_contained_and_complete() {
    let full = sample_report().to_html();
    let html = without_our_script(&full);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("max-width"));
    assert!(html.contains("@media print"));
    assert!(html.contains("<svg"));
    assert!(!full.contains("http://") && !full.contains("https://") && !full.contains("//"));
    assert!(!full.contains("src=") && !full.contains("@import") && !full.contains("url("));
    assert!(!full.contains("<link") && !full.contains("<img") && !full.contains("@font-face"));
    // The only links, relative: the index beside the day's folder, the day's CSV and JSON.
    let hrefs = super::html::tests::each_after(&full, "href=\"", '"');
    assert_eq!(hrefs, ["../index.html", "report.csv", "report.json"]);
    // Headline figures, people-formatted.
    for s in ["2026-01-15", "$1,287.57", "$64.83", "$1,234.57", "Zoë", "Bob, Jr.", "Gizmo"] {
        assert!(html.contains(s), "missing {s}");
    }
    // Bars: the largest region (West, 1237.07) gets the full width, East 5000/123707 of it.
    assert!(html.contains("<span class=\"fill\" style=\"width:100.0%\">"));
    assert!(html.contains("<span class=\"fill\" style=\"width:4.0%\">"));
    // Zoë's bar (50 cents of 123457 max) rounds to 0.0 % but is drawn (CSS: 2 px at least).
    assert!(html.contains("<span class=\"fill\" style=\"width:0.0%\">"));
    // Every chart has a label: the year's columns are an image with a title, the day's
    // bars a list a screen reader reads as it is; the tables sort.
    assert_eq!(html.matches("<svg").count(), 2, "year: revenue and commission");
    assert_eq!(html.matches("<svg height=").count(), 2);
    assert_eq!(html.matches(" role=\"img\" aria-label=\"").count(), 2);
    assert!(html.matches("\"><title>").count() >= 2);
    assert_eq!(html.matches("<ol class=\"bars").count(), 2, "day: by region and by rep");
    assert!(html.contains("aria-label=\"Revenue by region, largest first\""));
    assert_eq!(html.matches("<table class=\"sortable\">").count(), 3);
    assert!(full.ends_with("</html>\n"));
}

#[test]
fn html_shows_the_day_and_how_it_compares_first() {
    let html = sample_report().to_html();
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("missing {needle}"));
    // The headline figures come before the year and before any detail.
    assert!(at("<div class=\"kpis\">") < at("The year so far"));
    assert!(at("The year so far") < at("Revenue by region</h2>"));
    assert!(at("Revenue by region</h2>") < at("All reps</h2>"));
    // Revenue 1287.57 against the previous reported day (Jan 14, 48.20: ledger rows of Ann
    // and Zoë) and the daily average of Jan 1, Jan 14 and Jan 15 (1535.77 / 3 = 511.92).
    let kpis = &html[at("<div class=\"kpis\">")..at("The year so far")];
    let revenue = &kpis[..kpis.find("Commission").unwrap()];
    // (128757 - 4820) / 4820 = +2571.3 %; (128757 - 51192) / 51192 = +151.5 %.
    assert!(revenue.contains("▲ +2571.3%</span> vs Jan 14"), "{revenue}");
    assert!(revenue.contains("▲ +151.5%</span> vs daily average"), "{revenue}");
    assert!(kpis.contains("Wednesday, January 14, 2026 ($48.20 revenue)"), "{kpis}");
    assert!(kpis.contains("the 3 days reported in 2026 so far"), "{kpis}");
    // The year so far: totals, a column per day (the day itself highlighted), every day.
    assert!(html.contains("$1,535.77") && html.contains("$77.24"));
    let year = &html[at("The year so far")..at("Revenue by region</h2>")];
    assert_eq!(year.matches("<rect class=\"hl\"").count(), 2, "revenue and commission");
    assert_eq!(year.matches("<rect class=\"bar\"").count(), 4, "Jan 1 and Jan 14, twice");
    assert!(year.contains("<title>2026-01-14: $48.20</title>"));
    assert!(year.contains("<title>2026-01-15: $64.83</title>"));
    assert!(year.contains("<td class=\"date\" data-v=\"20260101\">2026-01-01</td>"));
    assert!(!year.contains("2025-12-31") && !year.contains("2026-01-16"));
}

#[test]
fn html_without_an_earlier_day_says_so() {
    let (day, _, comp) = sample();
    let r = Report::build(&day, "k", &Ledger::default(), &comp, "t");
    let html = r.to_html();
    assert!(!html.contains(" vs "));
    assert!(
        html.contains("No earlier reported day to compare with; the first reported day of 2026.")
    );

    // Only last year in the ledger: compared with it, but the year starts with this day.
    let mut ledger = Ledger::default();
    ledger.merge_day(
        date("2025-12-31"),
        vec![LedgerRow {
            date: date("2025-12-31"),
            sales_rep: "Ann".to_owned(),
            orders: 5,
            units: 8,
            revenue: Cents(128757),
            commission: Cents(6483),
        }],
    );
    let html = Report::build(&day, "k", &ledger, &comp, "t").to_html();
    assert!(html.contains("<span class=\"flat\">= 0.0%</span> vs Dec 31, 2025"), "{html}");
    assert!(!html.contains("vs daily average"));
    assert!(html.contains("Wednesday, December 31, 2025"));
    assert!(html.contains("the first reported day of 2026."));
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
