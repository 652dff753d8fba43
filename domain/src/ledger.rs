//! The compensation ledger `compensation/ledger.csv`: rows, merge of one day, CSV round trip.
//!
//! The ledger is the only state shared by salesapp (which writes it) and reportsengine (which
//! reads it for year-to-date commission), so it is parsed strictly: a hand edit that would make
//! the two disagree is refused with the line at fault rather than silently reinterpreted.
//! Its text form is canonical (`parse` then `to_csv` gives the same bytes), which lets salesapp
//! compare a merged ledger with the stored one and skip a useless conditional write.
use std::collections::{BTreeMap, HashMap};

use crate::{
    money::{self, Cents, Compensation},
    sales::{DaySummary, SalesDate},
};

/// The largest ledger parsed, in bytes: our own state, written only by salesapp a day at a
/// time, but a hand edit or a foreign object at the ledger's key must not be able to make
/// both daemons parse without end. A year of 5 000 reps a working day is ~60 MB.
pub const MAX_LEDGER_BYTES: usize = 1 << 30;
/// The most rows a parsed ledger may hold (the parsed rows cost ~100 bytes each).
pub const MAX_LEDGER_ROWS: usize = 10_000_000;

/// The exact header; anything else is refused so that a column swap cannot go unnoticed.
pub const LEDGER_HEADER: [&str; 6] =
    ["date", "sales_rep", "orders", "units", "revenue_cents", "commission_cents"];

/// `date,sales_rep,orders,units,revenue_cents,commission_cents`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub date: SalesDate,
    pub sales_rep: String,
    pub orders: u64,
    pub units: u64,
    pub revenue: Cents,
    pub commission: Cents,
}

/// A located problem in the ledger; `line` is the physical line (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger line {line}: {reason}")]
pub struct LedgerError {
    pub line: u64,
    pub reason: String,
}

/// The whole ledger, always sorted by (date, sales_rep) bytewise, one row per rep per day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    rows: Vec<LedgerRow>,
}

impl Ledger {
    /// Parses `compensation/ledger.csv`. Zero bytes (or only the header) is an empty ledger,
    /// because the first upload ever creates the object. A UTF-8 BOM and CRLF line ends are
    /// tolerated (a spreadsheet may have touched the file); rows are sorted on the way in, so
    /// an out-of-order but otherwise valid file is accepted and rewritten canonically.
    ///
    /// At most [`MAX_LEDGER_BYTES`] and [`MAX_LEDGER_ROWS`]: over either, the ledger is
    /// refused (before parsing, or at the first row over) with the bound named.
    pub fn parse(bytes: &[u8]) -> Result<Ledger, LedgerError> {
        Ledger::parse_within(bytes, MAX_LEDGER_BYTES, MAX_LEDGER_ROWS)
    }

    /// [`Ledger::parse`] with other bounds (the tests use small ones).
    pub fn parse_within(
        bytes: &[u8],
        max_bytes: usize,
        max_rows: usize,
    ) -> Result<Ledger, LedgerError> {
        if bytes.len() > max_bytes {
            return Err(LedgerError {
                line: 1,
                reason: format!(
                    "the ledger is {} bytes, more than the {max_bytes} a ledger may hold",
                    bytes.len()
                ),
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.is_empty() {
            return Ok(Ledger::default());
        }
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes);
        let mut records = reader.records();

        match records.next() {
            None => return Ok(Ledger::default()),
            Some(Err(e)) => return Err(csv_error(e, 1)),
            Some(Ok(header)) => {
                if header.iter().ne(LEDGER_HEADER.iter().copied()) {
                    return Err(LedgerError {
                        line: 1,
                        reason: format!(
                            "header is `{}`, expected `{}`",
                            header.iter().collect::<Vec<_>>().join(","),
                            LEDGER_HEADER.join(",")
                        ),
                    });
                }
            }
        }

        let mut rows: Vec<LedgerRow> = Vec::new();
        // The line of each row, to name both lines of a duplicate (8 bytes a row, where a
        // map of the keys would hold a second copy of every name).
        let mut lines: Vec<u64> = Vec::new();
        // Whether the rows came in strictly increasing order, as we write them: then no
        // two are the same (date, rep), with no sort and no search.
        let mut increasing = true;
        for record in records {
            let record = record.map_err(|e| csv_error(e, 0))?;
            let line = record.position().map_or(0, |p| p.line());
            let err = |reason: String| LedgerError { line, reason };
            if rows.len() >= max_rows {
                return Err(err(format!("more than the {max_rows} rows a ledger may hold")));
            }
            // The reader is not flexible, so every record has the header's 6 fields.
            let field = |i: usize| record.get(i).unwrap_or("");

            let date = SalesDate::parse(field(0))
                .ok_or_else(|| err(format!("date: `{}` is not a YYYY-MM-DD date", field(0))))?;
            // Written as text for spreadsheets (see `to_csv`): one leading quote is the mark.
            let sales_rep = crate::csv_out::name_of_text_field(field(1));
            if sales_rep.is_empty() {
                return Err(err("sales_rep: empty".to_owned()));
            }
            let orders =
                parse_count(field(2)).ok_or_else(|| err(bad_number("orders", field(2))))?;
            let units = parse_count(field(3)).ok_or_else(|| err(bad_number("units", field(3))))?;
            let revenue =
                parse_cents(field(4)).ok_or_else(|| err(bad_number("revenue_cents", field(4))))?;
            let commission = parse_cents(field(5))
                .ok_or_else(|| err(bad_number("commission_cents", field(5))))?;

            let row = LedgerRow {
                date,
                sales_rep: sales_rep.to_owned(),
                orders,
                units,
                revenue,
                commission,
            };
            increasing &= rows.last().is_none_or(|last| row_order(last, &row).is_lt());
            rows.push(row);
            lines.push(line);
        }
        if !increasing {
            first_duplicate(&rows, &lines)?;
            rows.sort_by(row_order);
        }
        Ok(Ledger { rows })
    }

    /// The canonical text: the header, then the rows in order, LF line ends, RFC 4180 quoting
    /// only where a field needs it. Always ends with a newline, even when empty (header only).
    ///
    /// People open the ledger in spreadsheets, so a rep's name that a spreadsheet would take
    /// for a formula (it starts with `=`, `+`, `-`, `@`, TAB or CR) is written with a single
    /// quote in front, as is a name that itself starts with a quote; [`Ledger::parse`] takes
    /// one leading quote off, so every name reads back exactly (docs/security.md).
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64 + self.rows.len() * 48);
        out.push_str(&LEDGER_HEADER.join(","));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&r.date.to_string());
            out.push(',');
            crate::csv_out::push_text_field(&mut out, &r.sales_rep);
            out.push_str(&format!(
                ",{},{},{},{}\n",
                r.orders, r.units, r.revenue.0, r.commission.0
            ));
        }
        out.into_bytes()
    }

    pub fn rows(&self) -> &[LedgerRow] {
        &self.rows
    }

    /// Replaces every row of `date` with `rows` (a re-upload never adds a day twice).
    ///
    /// `date` is authoritative: each row is stored under `date` whatever its own `date` says,
    /// so a caller's mistake cannot plant rows in another day. If `rows` names a rep twice the
    /// last one wins, keeping the one-row-per-rep-per-day invariant.
    pub fn merge_day(&mut self, date: SalesDate, rows: Vec<LedgerRow>) {
        let mut day: BTreeMap<String, LedgerRow> = BTreeMap::new();
        for mut row in rows {
            row.date = date;
            day.insert(row.sales_rep.clone(), row);
        }
        // Rows are sorted by date first, so the day is one contiguous range.
        let start = self.rows.partition_point(|r| r.date < date);
        let end = self.rows.partition_point(|r| r.date <= date);
        // BTreeMap<String, _> iterates bytewise, which is the ledger's order within a day.
        self.rows.splice(start..end, day.into_values());
    }

    /// Each rep's sum of `commission` from January 1 of `date`'s year to the day before
    /// `date`; a rep with no row in that range is absent (its sum is zero).
    ///
    /// Every rep at once, in one pass over the year's rows: the report needs the figure for
    /// each rep of the day, and asked rep by rep a day with many reps over a long ledger costs
    /// reps × rows (10,000 reps over a year of 10,000-rep days is 36 billion comparisons), with
    /// the ledger input an attacker can grow. Saturates instead of overflowing: no real ledger
    /// comes near `i64::MAX` cents, and a hostile one must not crash the report.
    pub fn commission_ytd_before(&self, date: SalesDate) -> HashMap<&str, Cents> {
        let mut totals: HashMap<&str, Cents> = HashMap::new();
        for r in self.year_before(date) {
            let total = totals.entry(r.sales_rep.as_str()).or_insert(Cents(0));
            *total = Cents(total.0.saturating_add(r.commission.0));
        }
        totals
    }

    /// The rows from January 1 of `date`'s year to the day before `date`, one slice per
    /// date, in date order: the year so far as the ledger knows it, without the day itself
    /// (whose numbers the report takes from the sales file).
    pub fn days_of_year_before(&self, date: SalesDate) -> impl Iterator<Item = &[LedgerRow]> {
        self.year_before(date).chunk_by(|a, b| a.date == b.date)
    }

    /// The rows of the latest date before `date`, whatever its year; `None` when the ledger
    /// holds no earlier day.
    pub fn last_day_before(&self, date: SalesDate) -> Option<&[LedgerRow]> {
        let before = &self.rows[..self.rows.partition_point(|r| r.date < date)];
        before.chunk_by(|a, b| a.date == b.date).next_back()
    }

    /// Rows of `date`'s year dated before `date`. Sorted by date, so one contiguous range.
    fn year_before(&self, date: SalesDate) -> &[LedgerRow] {
        let year = date.0.year();
        let start = self.rows.partition_point(|r| r.date.0.year() < year);
        let end = self.rows.partition_point(|r| r.date < date);
        &self.rows[start..end.max(start)]
    }
}

/// The ledger rows for one day: per rep, commission at the rep's rate.
///
/// The same function feeds the ledger (salesapp) and nothing else recomputes it differently:
/// the report recomputes the day's commission with the same `money::commission` and the same
/// rates, so both agree to the cent.
pub fn day_rows(day: &DaySummary, comp: &Compensation) -> Vec<LedgerRow> {
    day.reps
        .iter()
        .map(|(rep, d)| LedgerRow {
            date: day.date,
            sales_rep: rep.clone(),
            orders: d.orders,
            units: d.units,
            revenue: d.revenue,
            commission: money::commission(d.revenue, comp.rate_bps(rep)),
        })
        .collect()
}

/// (date, sales_rep bytewise): `str`'s `Ord` is bytewise on UTF-8, which is the documented order.
fn row_order(a: &LedgerRow, b: &LedgerRow) -> std::cmp::Ordering {
    (a.date, a.sales_rep.as_bytes()).cmp(&(b.date, b.sales_rep.as_bytes()))
}

/// The first row (in line order) that repeats an earlier row's (date, sales_rep), as the
/// error naming both lines; found by sorting the rows' positions, not by a map of names.
fn first_duplicate(rows: &[LedgerRow], lines: &[u64]) -> Result<(), LedgerError> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Stable: equal rows stay in line order, so the first of a run is the first occurrence.
    order.sort_by(|&a, &b| row_order(&rows[a], &rows[b]));
    let mut repeat: Option<(usize, usize)> = None; // (later, first), the earliest later
    let mut start = 0;
    for k in 1..=order.len() {
        let same = k < order.len() && row_order(&rows[order[start]], &rows[order[k]]).is_eq();
        if same {
            if repeat.is_none_or(|(later, _)| order[k] < later) {
                repeat = Some((order[k], order[start]));
            }
        } else {
            start = k;
        }
    }
    match repeat {
        None => Ok(()),
        Some((later, first)) => {
            let (row, line, first_line) = (&rows[later], lines[later], lines[first]);
            Err(LedgerError {
                line,
                reason: format!(
                    "duplicate row for {} / {:?} (first on line {first_line})",
                    row.date, row.sales_rep
                ),
            })
        }
    }
}

fn csv_error(e: csv::Error, fallback_line: u64) -> LedgerError {
    let line = e.position().map_or(fallback_line, |p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths { len, expected_len, .. } => {
            format!("{len} fields, expected {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => e.to_string(),
    };
    LedgerError { line, reason }
}

fn bad_number(column: &str, value: &str) -> String {
    format!("{column}: `{value}` is not a non-negative integer")
}

/// Digits only: `u64::from_str` would also take `+5`, which we never write.
fn parse_count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Revenue and commission are never negative in a ledger (prices are non-negative).
fn parse_cents(s: &str) -> Option<Cents> {
    parse_count(s).and_then(|v| i64::try_from(v).ok()).map(Cents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sales::RepDay;

    fn date(s: &str) -> SalesDate {
        SalesDate::parse(s).unwrap()
    }

    fn row(d: &str, rep: &str, commission: i64) -> LedgerRow {
        LedgerRow {
            date: date(d),
            sales_rep: rep.to_owned(),
            orders: 1,
            units: 2,
            revenue: Cents(commission * 20),
            commission: Cents(commission),
        }
    }

    const HEADER: &str = "date,sales_rep,orders,units,revenue_cents,commission_cents\n";

    #[test]
    fn date_helpers_are_strict() {
        assert_eq!(format!("{}", date("2026-01-05")), "2026-01-05");
        assert_eq!(format!("{}", date("2024-02-29")), "2024-02-29");
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-05",
            "2026-01-5",
            "26-01-05",
            "2026/01/05",
            "2026-01-05 ",
            "+026-01-05",
            "２026-01-05",
            "",
            "2026-01-32",
        ] {
            assert_eq!(SalesDate::parse(bad), None, "{bad:?}");
        }
    }

    /// Depends on `sales.rs` (`SalesDate`'s `FromStr`/`Display`): the private helpers must
    /// agree with the public type on every input.
    #[test]
    fn date_helpers_agree_with_sales_date() {
        for s in [
            "2026-01-05",
            "2024-02-29",
            "0001-01-01",
            "9999-12-31",
            "2026-02-29",
            "2026-1-5",
            "2026-01-05T00:00:00",
            " 2026-01-05",
            "20260105",
            "",
        ] {
            let ours = SalesDate::parse(s);
            let theirs = s.parse::<SalesDate>().ok();
            assert_eq!(ours, theirs, "{s:?}");
            if let Some(d) = ours {
                assert_eq!(d.to_string(), d.to_string());
            }
        }
    }

    #[test]
    fn empty_inputs_are_an_empty_ledger() {
        assert_eq!(Ledger::parse(b"").unwrap(), Ledger::default());
        assert_eq!(Ledger::parse(HEADER.as_bytes()).unwrap(), Ledger::default());
        assert_eq!(Ledger::default().to_csv(), HEADER.as_bytes());
    }

    #[test]
    fn round_trip_with_quoting_and_unicode() {
        let text = format!(
            "{HEADER}\
             2026-01-01,\"Doe, Jane\",3,7,12345,617\n\
             2026-01-01,\"Say \"\"Hi\"\"\",1,1,100,5\n\
             2026-01-01,Zoë,2,2,0,0\n\
             2026-01-02,<script>alert(1)</script>,1,1,9223372036854775807,9223372036854775807\n\
             2026-01-02,\"Multi\nLine\",1,1,1,0\n"
        );
        let ledger = Ledger::parse(text.as_bytes()).unwrap();
        assert_eq!(ledger.rows().len(), 5);
        assert_eq!(ledger.rows()[0].sales_rep, "Doe, Jane");
        assert_eq!(ledger.rows()[1].sales_rep, "Say \"Hi\"");
        assert_eq!(ledger.rows()[4].sales_rep, "Multi\nLine");
        assert_eq!(ledger.rows()[0].revenue, Cents(12345));
        assert_eq!(ledger.rows()[0].commission, Cents(617));
        assert_eq!(String::from_utf8(ledger.to_csv()).unwrap(), text);
        assert_eq!(Ledger::parse(&ledger.to_csv()).unwrap(), ledger);
    }

    #[test]
    fn bom_crlf_and_disorder_are_tolerated_and_canonicalised() {
        let text = "\u{feff}date,sales_rep,orders,units,revenue_cents,commission_cents\r\n\
                    2026-01-02,b,1,1,10,1\r\n2026-01-01,a,1,1,20,1\r\n";
        let ledger = Ledger::parse(text.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(ledger.to_csv()).unwrap(),
            format!("{HEADER}2026-01-01,a,1,1,20,1\n2026-01-02,b,1,1,10,1\n")
        );
    }

    #[test]
    fn sort_order_is_bytewise() {
        let mut ledger = Ledger::default();
        let reps = ["zoe", "Zoë", "Zoe", "Ådne", "alice", "Bob", "Zoe Ann", "ZOE"];
        ledger
            .merge_day(date("2026-01-02"), reps.iter().map(|r| row("2026-01-02", r, 1)).collect());
        ledger.merge_day(date("2026-01-01"), vec![row("2026-01-01", "zzz", 1)]);
        let got: Vec<(String, &str)> =
            ledger.rows().iter().map(|r| (r.date.to_string(), r.sales_rep.as_str())).collect();
        let d1 = "2026-01-01".to_owned();
        let d2 = "2026-01-02".to_owned();
        assert_eq!(
            got,
            vec![
                (d1, "zzz"),
                (d2.clone(), "Bob"),
                (d2.clone(), "ZOE"),
                (d2.clone(), "Zoe"),
                (d2.clone(), "Zoe Ann"),
                (d2.clone(), "Zoë"), // 'ë' is 0xC3 0xAB: after every ASCII letter
                (d2.clone(), "alice"),
                (d2.clone(), "zoe"),
                (d2, "Ådne"), // starts with 0xC3: after all ASCII, whatever the case
            ]
        );
        // The text form keeps that order and parses back to the same ledger.
        assert_eq!(Ledger::parse(&ledger.to_csv()).unwrap(), ledger);
    }

    #[test]
    fn merge_replaces_the_day_and_never_adds_it_twice() {
        let mut ledger = Ledger::default();
        ledger.merge_day(date("2026-01-01"), vec![row("2026-01-01", "a", 1)]);
        ledger.merge_day(
            date("2026-01-03"),
            vec![row("2026-01-03", "b", 3), row("2026-01-03", "a", 3)],
        );
        ledger.merge_day(date("2026-01-02"), vec![row("2026-01-02", "a", 2)]);
        let before = ledger.clone();

        // Re-uploading the same day twice gives the same ledger as once.
        let day2 = vec![row("2026-01-02", "c", 20), row("2026-01-02", "a", 10)];
        ledger.merge_day(date("2026-01-02"), day2.clone());
        let once = ledger.clone();
        ledger.merge_day(date("2026-01-02"), day2);
        assert_eq!(ledger, once);
        assert_eq!(ledger.rows().len(), 5);
        let day2_rows: Vec<_> =
            ledger.rows().iter().filter(|r| r.date == date("2026-01-02")).collect();
        assert_eq!(day2_rows.len(), 2);
        assert_eq!(day2_rows[0].sales_rep, "a");
        assert_eq!(day2_rows[0].commission, Cents(10));
        assert_eq!(day2_rows[1].sales_rep, "c");
        // The other days are untouched.
        for d in ["2026-01-01", "2026-01-03"] {
            let a: Vec<_> = before.rows().iter().filter(|r| r.date == date(d)).collect();
            let b: Vec<_> = ledger.rows().iter().filter(|r| r.date == date(d)).collect();
            assert_eq!(a, b);
        }

        // Replacing with no rows removes the day; the date argument wins over the rows' dates;
        // a rep twice in the input keeps the last.
        ledger.merge_day(date("2026-01-02"), vec![]);
        assert_eq!(ledger.rows().len(), 3);
        ledger.merge_day(
            date("2026-01-04"),
            vec![row("1999-12-31", "x", 1), row("2026-01-04", "x", 2)],
        );
        let last = ledger.rows().last().unwrap();
        assert_eq!((last.date.to_string(), last.commission), ("2026-01-04".to_owned(), Cents(2)));
        assert_eq!(ledger.rows().len(), 4);
    }

    #[test]
    fn ytd_boundaries() {
        let mut ledger = Ledger::default();
        for (d, c) in [
            ("2025-01-01", 1),
            ("2025-12-31", 10),
            ("2026-01-01", 100),
            ("2026-01-14", 1000),
            ("2026-01-15", 10000),
            ("2026-01-16", 100000),
            ("2027-01-01", 1000000),
        ] {
            ledger.merge_day(date(d), vec![row(d, "ann", c), row(d, "bob", 7)]);
        }
        let ytd_of = |rep: &str, d: &str| {
            let all = ledger.commission_ytd_before(date(d));
            all.get(rep).copied().unwrap_or(Cents(0))
        };
        let ytd = |d: &str| ytd_of("ann", d);
        // Dec 31 of the previous year is excluded; Jan 1 itself is included; the day is excluded.
        assert_eq!(ytd("2026-01-15"), Cents(1100));
        assert_eq!(ytd("2026-01-16"), Cents(11100));
        assert_eq!(ytd("2026-01-01"), Cents(0));
        assert_eq!(ytd("2026-01-02"), Cents(100));
        assert_eq!(ytd("2025-12-31"), Cents(1));
        assert_eq!(ytd("2026-12-31"), Cents(111100));
        assert_eq!(ytd("2027-01-01"), Cents(0));
        assert_eq!(ytd("2027-06-01"), Cents(1000000));
        assert_eq!(ytd("2024-06-01"), Cents(0));
        assert_eq!(ytd_of("bob", "2026-01-16"), Cents(21));
        assert_eq!(ytd_of("nobody", "2026-01-16"), Cents(0));
        assert_eq!(ytd_of("Ann", "2026-01-16"), Cents(0));
        let all = ledger.commission_ytd_before(date("2026-01-16"));
        assert_eq!(all.len(), 2, "one sum per rep with rows this year: {all:?}");
        assert!(Ledger::default().commission_ytd_before(date("2026-01-16")).is_empty());
    }

    #[test]
    fn malformed_input_names_the_line() {
        let cases: &[(&str, u64, &str)] = &[
            ("date,sales_rep,orders,units,revenue,commission\n", 1, "header"),
            ("sales_rep,date,orders,units,revenue_cents,commission_cents\n", 1, "header"),
            ("date,sales_rep,orders,units,revenue_cents,commission_cents,x\n", 1, "header"),
            ("garbage\n", 1, "header"),
            ("2026-01-01,a,1,1,1,1\n", 1, "header"),
        ];
        for (text, line, needle) in cases {
            let e = Ledger::parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.reason.contains(needle), "{text:?}: {e}");
        }
        let body_cases: &[(&str, u64, &str)] = &[
            ("2026-01-01,a,1,1,1,1\n2026-02-30,b,1,1,1,1\n", 3, "date"),
            ("2026-01-01,a,x,1,1,1\n", 2, "orders"),
            ("2026-01-01,a,1,-1,1,1\n", 2, "units"),
            ("2026-01-01,a,1,1,1.5,1\n", 2, "revenue_cents"),
            ("2026-01-01,a,1,1,1,+1\n", 2, "commission_cents"),
            ("2026-01-01,a,1,1,1, 1\n", 2, "commission_cents"),
            ("2026-01-01,a,1,1,9223372036854775808,1\n", 2, "revenue_cents"),
            ("2026-01-01,a,1,1,1,\n", 2, "commission_cents"),
            ("2026-01-01,,1,1,1,1\n", 2, "sales_rep"),
            ("2026-01-01,a,1,1,1\n", 2, "5 fields"),
            ("2026-01-01,a,1,1,1,1,1\n", 2, "7 fields"),
            ("2026-01-01,\"x\ny\",1,1,1,1\n2026-01-01,a,1,1,1\n", 4, "fields"),
            ("2026-01-01,a,1,1,1,1\n2026-01-02,a,1,1,1,1\n2026-01-01,a,2,2,2,2\n", 4, "line 2"),
        ];
        for (body, line, needle) in body_cases {
            let text = format!("{HEADER}{body}");
            let e = Ledger::parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, *line, "{body:?}: {e}");
            assert!(e.reason.contains(needle), "{body:?}: {e}");
        }
        let mut bad_utf8 = HEADER.as_bytes().to_vec();
        bad_utf8.extend_from_slice(b"2026-01-01,\xff,1,1,1,1\n");
        assert_eq!(Ledger::parse(&bad_utf8).unwrap_err().line, 2);
    }

    /// Names a spreadsheet would run as formulas are written as text (a leading quote), and
    /// every name, one starting with a quote included, reads back exactly.
    #[test]
    fn formula_names_are_written_as_text_and_read_back_exactly() {
        let d = "2026-01-15";
        let names = [
            "=HYPERLINK(\"http://evil.example/\",\"x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tTab",
            "\rCR",
            "'t Hooft",
            "''twice",
            "'",
            "O'Brien",
        ];
        let mut ledger = Ledger::default();
        ledger.merge_day(date(d), names.iter().map(|n| row(d, n, 1)).collect());
        let text = ledger.to_csv();
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_slice());
        for record in reader.records() {
            let name = record.unwrap()[1].to_owned();
            assert!(!name.starts_with(['=', '+', '-', '@', '\t', '\r']), "{name:?}");
        }
        let text = String::from_utf8(text).unwrap();
        assert!(text
            .contains("\n2026-01-15,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",1,"));
        assert!(text.contains("\n2026-01-15,'@SUM(A1),1,"));
        assert!(text.contains("\n2026-01-15,'''twice,1,"));
        assert!(text.contains("\n2026-01-15,O'Brien,1,"));
        let back = Ledger::parse(text.as_bytes()).unwrap();
        assert_eq!(back, ledger);
        assert_eq!(back.to_csv(), text.as_bytes(), "canonical");
    }

    #[test]
    fn a_ledger_over_its_bounds_is_refused() {
        let text = format!("{HEADER}2026-01-01,a,1,1,1,1\n2026-01-01,b,1,1,1,1\n");
        let e = Ledger::parse_within(text.as_bytes(), text.len() - 1, 10).unwrap_err();
        assert!(e.to_string().contains("more than the"), "{e}");
        let e = Ledger::parse_within(text.as_bytes(), text.len(), 1).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.reason.contains("more than the 1 rows"), "{e}");
        assert_eq!(Ledger::parse_within(text.as_bytes(), text.len(), 2).unwrap().rows().len(), 2);
    }

    #[test]
    fn day_rows_use_each_reps_rate() {
        let mut reps = std::collections::BTreeMap::new();
        let rep = |orders, units, cents| RepDay {
            orders,
            units,
            revenue: Cents(cents),
            regions: Default::default(),
        };
        reps.insert("Ada".to_owned(), rep(2, 5, 10_000));
        reps.insert("Bob".to_owned(), rep(1, 1, 250)); // 5 % of 2.50 = 12.5 cents → 12 (even)
        let day = DaySummary {
            date: date("2026-01-15"),
            rows: 3,
            units: 6,
            revenue: Cents(10_250),
            reps,
            regions: Default::default(),
            products: Default::default(),
            sha256: [0; 32],
            bytes: 0,
            extra_columns: vec![],
        };
        let mut comp = Compensation::default();
        comp.overrides.insert("Ada".to_owned(), 700);
        let rows = day_rows(&day, &comp);
        assert_eq!(
            rows,
            vec![
                LedgerRow {
                    date: date("2026-01-15"),
                    sales_rep: "Ada".to_owned(),
                    orders: 2,
                    units: 5,
                    revenue: Cents(10_000),
                    commission: Cents(700),
                },
                LedgerRow {
                    date: date("2026-01-15"),
                    sales_rep: "Bob".to_owned(),
                    orders: 1,
                    units: 1,
                    revenue: Cents(250),
                    commission: Cents(12),
                },
            ]
        );
    }
}
