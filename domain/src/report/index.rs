//! `reports/index.json`: one line per reported day, so a reader can find every report
//! without listing the bucket (which the lab's policy does not allow).
//!
//! The engine reads it, merges the day it has just reported and writes it back with a
//! conditional write, so it is shared state like the ledger and is parsed as strictly: an
//! index we did not write is refused with the reason rather than silently rewritten. Its text
//! form is canonical (`parse` then `to_json` gives our own bytes back), so a merge that
//! changes nothing can be recognised and its write skipped.

use super::{year::DayLine, Report};
use crate::{keys, money::Cents, sales::SalesDate};

/// The most days an index may hold: a century of daily reports.
pub const MAX_INDEX_DAYS: usize = 36_600;
/// The largest index parsed: a day's entry as we write it is ~200 bytes.
pub const MAX_INDEX_BYTES: usize = MAX_INDEX_DAYS * 512;

/// The whole index: days sorted by date, one entry per date.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    days: Vec<IndexDay>,
}

/// One reported day: its headline numbers and the key of its page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDay {
    pub date: SalesDate,
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
    pub commission_cents: Cents,
    /// `reports/DATE/report.html`, the key (the HTML index links relatively).
    pub report: String,
}

/// Why an index does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a report index: {0}")]
pub struct IndexError(pub String);

impl IndexDay {
    /// The entry of `report`'s day.
    pub fn of(report: &Report) -> IndexDay {
        let DayLine { date, orders, units, revenue_cents, commission_cents } = report.day_line();
        IndexDay {
            date,
            orders,
            units,
            revenue_cents,
            commission_cents,
            report: keys::report(date, "report.html"),
        }
    }

    /// The entry's headline numbers, as the charts of the year take them.
    pub fn day_line(&self) -> DayLine {
        DayLine {
            date: self.date,
            orders: self.orders,
            units: self.units,
            revenue_cents: self.revenue_cents,
            commission_cents: self.commission_cents,
        }
    }
}

/// Whether the document and each of its days are objects: serde also reads a struct from
/// an array of its fields, which we never write.
fn written_as_objects(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(doc)) => doc
            .get("days")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|days| days.iter().all(serde_json::Value::is_object)),
        _ => false,
    }
}

impl Index {
    /// Parses `reports/index.json`: exactly the keys we write, dates strictly increasing,
    /// amounts non-negative, each `report` the key of its own date's page.
    ///
    /// At most [`MAX_INDEX_BYTES`] and [`MAX_INDEX_DAYS`]: the size is checked before any
    /// parsing, so an object planted at the index's key cannot make the engine parse without
    /// end.
    pub fn parse(bytes: &[u8]) -> Result<Index, IndexError> {
        if bytes.len() > MAX_INDEX_BYTES {
            return Err(IndexError(format!(
                "{} bytes, more than the {MAX_INDEX_BYTES} an index may hold",
                bytes.len()
            )));
        }
        let index: Index = serde_json::from_slice(bytes).map_err(|e| IndexError(format!("{e}")))?;
        if index.days.len() > MAX_INDEX_DAYS {
            return Err(IndexError(format!(
                "{} days, more than the {MAX_INDEX_DAYS} an index may hold",
                index.days.len()
            )));
        }
        if !written_as_objects(bytes) {
            return Err(IndexError("the index and its days must be JSON objects".to_owned()));
        }
        for (i, day) in index.days.iter().enumerate() {
            let problem = |what: String| IndexError(format!("days[{i}] ({}): {what}", day.date));
            if i > 0 && index.days[i - 1].date >= day.date {
                return Err(problem("dates are not strictly increasing".to_owned()));
            }
            if day.revenue_cents.0 < 0 || day.commission_cents.0 < 0 {
                return Err(problem("a negative amount".to_owned()));
            }
            let want = keys::report(day.date, "report.html");
            if day.report != want {
                return Err(problem(format!("report is {:?}, expected {want:?}", day.report)));
            }
        }
        Ok(index)
    }

    /// The canonical text: pretty-printed, keys in order, trailing LF.
    pub fn to_json(&self) -> String {
        // Invariant: structs of strings, integers and dates always serialise.
        let mut s = serde_json::to_string_pretty(self).expect("index serialisation is infallible");
        s.push('\n');
        s
    }

    /// Puts `day` in its place, replacing the entry of the same date: the latest report of
    /// a day is the one that counts.
    pub fn merge(&mut self, day: IndexDay) {
        match self.days.binary_search_by_key(&day.date, |d| d.date) {
            Ok(i) => self.days[i] = day,
            Err(i) => self.days.insert(i, day),
        }
    }

    /// The index with `day` merged in.
    pub fn merged(&self, day: IndexDay) -> Index {
        let mut next = self.clone();
        next.merge(day);
        next
    }

    pub fn days(&self) -> &[IndexDay] {
        &self.days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> SalesDate {
        SalesDate::parse(s).unwrap()
    }

    fn day(d: &str, revenue: i64) -> IndexDay {
        IndexDay {
            date: date(d),
            orders: 3,
            units: 7,
            revenue_cents: Cents(revenue),
            commission_cents: Cents(revenue / 20),
            report: format!("reports/{d}/report.html"),
        }
    }

    fn index(days: &[IndexDay]) -> Index {
        let mut i = Index::default();
        for d in days {
            i.merge(d.clone());
        }
        i
    }

    #[test]
    fn merge_sorts_and_the_latest_content_wins() {
        let mut i =
            index(&[day("2026-01-05", 500), day("2025-12-31", 100), day("2026-01-02", 200)]);
        let dates: Vec<String> = i.days().iter().map(|d| d.date.to_string()).collect();
        assert_eq!(dates, ["2025-12-31", "2026-01-02", "2026-01-05"]);
        let before = i.clone();
        i.merge(day("2026-01-02", 999));
        assert_eq!(i.days().len(), 3);
        assert_eq!(i.days()[1].revenue_cents, Cents(999));
        assert_eq!((&i.days()[0], &i.days()[2]), (&before.days()[0], &before.days()[2]));
        // The same day again changes nothing: the engine then skips its write.
        assert_eq!(i.merged(day("2026-01-02", 999)), i);
        assert_ne!(i.merged(day("2026-01-03", 1)), i);
    }

    #[test]
    fn json_is_canonical_and_round_trips() {
        let i = index(&[day("2026-01-02", 200), day("2026-01-01", 100)]);
        let text = i.to_json();
        assert_eq!(
            text,
            r#"{
  "days": [
    {
      "date": "2026-01-01",
      "orders": 3,
      "units": 7,
      "revenue_cents": 100,
      "commission_cents": 5,
      "report": "reports/2026-01-01/report.html"
    },
    {
      "date": "2026-01-02",
      "orders": 3,
      "units": 7,
      "revenue_cents": 200,
      "commission_cents": 10,
      "report": "reports/2026-01-02/report.html"
    }
  ]
}
"#
        );
        assert_eq!(Index::parse(text.as_bytes()).unwrap(), i);
        assert_eq!(Index::parse(text.as_bytes()).unwrap().to_json(), text);
        assert_eq!(Index::default().to_json(), "{\n  \"days\": []\n}\n");
        assert_eq!(Index::parse(b"{\"days\":[]}").unwrap(), Index::default());
    }

    /// An index over its bounds is refused: by size before anything is parsed, by days.
    #[test]
    fn an_index_over_its_bounds_is_refused() {
        let huge = vec![b' '; MAX_INDEX_BYTES + 1];
        let e = Index::parse(&huge).unwrap_err();
        assert!(e.to_string().contains("an index may hold"), "{e}");
        let mut many = Index::default();
        let first = date("1950-01-01").0;
        for k in 0..=MAX_INDEX_DAYS as i64 {
            let d = SalesDate(first + time::Duration::days(k));
            many.merge(day(&d.to_string(), 1));
        }
        let text = serde_json::to_string(&many).unwrap();
        assert!(text.len() <= MAX_INDEX_BYTES, "the day count is what refuses it");
        let e = Index::parse(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("36601 days, more than the 36600"), "{e}");
    }

    #[test]
    fn parse_refuses_what_we_would_not_write() {
        let entry = |d: &str, extra: &str| {
            format!(
                r#"{{"date":"{d}","orders":1,"units":1,"revenue_cents":1,"commission_cents":0,"report":"reports/{d}/report.html"{extra}}}"#
            )
        };
        let doc = |days: &[String]| format!("{{\"days\":[{}]}}", days.join(","));
        let ok = doc(&[entry("2026-01-01", ""), entry("2026-01-02", "")]);
        assert_eq!(Index::parse(ok.as_bytes()).unwrap().days().len(), 2);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "EOF"),
            ("garbage".into(), "expected"),
            ("[[]]".into(), "must be JSON objects"),
            (
                "{\"days\":[[\"2026-01-01\",1,1,1,0,\"reports/2026-01-01/report.html\"]]}".into(),
                "must be JSON objects",
            ),
            ("[]".into(), "invalid length"),
            ("{}".into(), "missing field `days`"),
            ("{\"days\":[],\"x\":1}".into(), "unknown field `x`"),
            (doc(&[entry("2026-01-01", ",\"x\":1")]), "unknown field `x`"),
            (doc(&[entry("2026-02-30", "")]), "not a real calendar date"),
            (doc(&[entry("2026-1-01", "")]), "YYYY-MM-DD"),
            (doc(&[entry("2026-01-02", ""), entry("2026-01-01", "")]), "strictly increasing"),
            (doc(&[entry("2026-01-01", ""), entry("2026-01-01", "")]), "strictly increasing"),
            (ok.replace("\"orders\":1,", ""), "missing field `orders`"),
            (ok.replacen("\"orders\":1", "\"orders\":-1", 1), "invalid value"),
            (ok.replacen("\"revenue_cents\":1", "\"revenue_cents\":-1", 1), "negative"),
            (ok.replacen("\"revenue_cents\":1", "\"revenue_cents\":1.5", 1), "invalid type"),
            (ok.replacen("reports/2026-01-01/report.html", "https://evil/x", 1), "expected"),
            (ok.replacen("reports/2026-01-01/", "reports/2026-01-02/", 1), "expected"),
            (ok.replacen("\"orders\":1", "\"orders\":1,\"orders\":2", 1), "duplicate field"),
        ];
        for (text, needle) in cases {
            let e = Index::parse(text.as_bytes()).expect_err(&text);
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn html_lists_every_day_newest_first_with_relative_links() {
        let i =
            index(&[day("2025-12-30", 10_000), day("2026-01-02", 25_000), day("2026-01-05", 50)]);
        let html = i.to_html();
        let links = crate::report::html::tests::each_after(&html, "<a href=\"", '"');
        // The latest day's card first, then the table, newest first.
        assert_eq!(
            links,
            [
                "2026-01-05/report.html",
                "2026-01-05/report.html",
                "2026-01-02/report.html",
                "2025-12-30/report.html"
            ]
        );
        assert!(!html.contains("http") && !html.contains("//") && !html.contains("src="));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("@media print"));
        // The latest year's chart (two days of 2026), the years side by side.
        assert_eq!(html.matches(" role=\"img\" aria-label=\"").count(), 1);
        assert!(html.contains("Daily revenue: 2 days from January 1 to 2026-01-05"));
        assert_eq!(html.matches("<rect class=\"hl\"").count(), 1);
        assert!(html.find("Every reported day") < html.find("By year"));
        assert!(
            !html[html.find("<svg").unwrap()..html.rfind("</svg>").unwrap()].contains("2025-12-30")
        );
        assert!(html.contains("<h2>By year</h2>"));
        assert!(html.contains("Revenue 2026 so far</div><div class=\"value\">$250.50</div>"));
        assert!(html.contains(">$100.00</td>") && html.contains(">$250.00</td>"));
        assert_eq!(html.matches("<table class=\"sortable\">").count(), 2);
        assert_eq!(Index::parse(i.to_json().as_bytes()).unwrap().to_html(), html, "pure");
    }

    #[test]
    fn html_of_one_year_and_of_nothing() {
        let one = index(&[day("2026-06-01", 100)]).to_html();
        assert!(!one.contains("By year"));
        assert!(one.contains("1 reported day, from 2026-06-01 to 2026-06-01"));
        // Months up to June; the column placed by the day of the year (152 of 152: last).
        for month in ["Jan", "Feb", "Mar", "Apr", "May", "Jun"] {
            assert!(one.contains(&format!(">{month}</text>")), "{month}");
        }
        assert!(!one.contains(">Jul</text>"));
        // The last slot of 152, from 151/152 = 99.342 % of the width, four fifths of it drawn.
        assert!(one.contains(
            "<rect class=\"hl\" x=\"99.407%\" y=\"20\" width=\"0.526%\" height=\"120\">"
        ));
        // A short span names weeks from January 1.
        let short = index(&[day("2026-01-16", 100)]).to_html();
        assert!(short.contains(">Jan 1</text>") && short.contains(">Jan 15</text>"));
        assert!(!short.contains(">Jan 22</text>") && !short.contains(">Jan</text>"));
        let empty = Index::default().to_html();
        assert!(empty.contains("No reports yet.") && empty.ends_with("</html>\n"));
    }

    #[test]
    fn the_entry_of_a_report_is_its_day() {
        use crate::{ledger::Ledger, money::Compensation, sales::DaySummary};
        let summary = DaySummary {
            date: date("2026-01-15"),
            rows: 2,
            units: 5,
            revenue: Cents(1234),
            reps: Default::default(),
            regions: Default::default(),
            products: Default::default(),
            sha256: [0; 32],
            bytes: 0,
            extra_columns: vec![],
        };
        let r = Report::build(&summary, "k", &Ledger::default(), &Compensation::default(), "t");
        let e = IndexDay::of(&r);
        assert_eq!(e.date, date("2026-01-15"));
        assert_eq!((e.orders, e.units, e.revenue_cents), (2, 5, Cents(1234)));
        assert_eq!(e.commission_cents, r.totals.commission_cents);
        assert_eq!(e.report, "reports/2026-01-15/report.html");
    }
}
