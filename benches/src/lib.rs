//! The benchmarks' inputs: generated days of sales, in file order and shuffled, and the
//! validator driven as the binaries drive it (1 MiB chunks). The benchmarks themselves are
//! in `benches/core.rs` (`cargo bench -p benches`).
#![forbid(unsafe_code)]

use sales_domain::ledger::{Ledger, LedgerRow};
use sales_domain::money::Cents;
use sales_domain::sales::{DaySummary, Limits, SalesDate, Validator};

/// The day every generated file is for.
pub fn date() -> SalesDate {
    SalesDate::from_ymd(2026, 1, 15).expect("a real date")
}

pub fn generated(rows: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sales_domain::generate::generate(date(), rows, 42, &mut out).expect("writing to memory");
    out
}

/// The same rows with their order shuffled (deterministically): order ids out of order.
pub fn shuffled(data: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(data).expect("generated data is UTF-8");
    let mut lines: Vec<&str> = text.lines().collect();
    let (header, rows) = lines.split_at_mut(1);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..rows.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        rows.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut out = String::with_capacity(data.len());
    for line in header.iter().chain(rows.iter()) {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

pub fn validate_chunked(data: &[u8]) -> DaySummary {
    let mut v = Validator::new("bench.csv", Limits::default());
    for chunk in data.chunks(1 << 20) {
        v.feed(chunk).expect("valid data");
    }
    v.finish().expect("valid data")
}

pub fn parse_chunked(data: &[u8]) -> DaySummary {
    let mut v = Validator::new("bench.csv", Limits::default()).hash_elsewhere();
    for chunk in data.chunks(1 << 20) {
        v.feed(chunk).expect("valid data");
    }
    v.finish_with_sha256([0; 32]).expect("valid data")
}

/// A day late in the year (December 31) with `reps` distinct reps, one order each: the
/// report's per-rep work against a year of ledger.
pub fn many_reps(reps: u64) -> DaySummary {
    let mut csv = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
    for r in 0..reps {
        csv.push_str(&format!("2026-12-31,o{r},rep {r:06},east,widget,1,10.00\n"));
    }
    validate_chunked(csv.as_bytes())
}

/// A ledger of 2026 with `days` days (at most 336: the first 28 of each month), each with the
/// same `reps` reps as [`many_reps`]: the year so far of a busy team.
pub fn year_of_ledger(reps: u64, days: u16) -> Ledger {
    let mut ledger = Ledger::default();
    let month_days = (1..=12u8).flat_map(|m| (1..=28u8).map(move |d| (m, d)));
    for (month, day) in month_days.take(usize::from(days)) {
        let date = SalesDate::from_ymd(2026, month, day).expect("day 1 to 28 of a month");
        let rows = (0..reps)
            .map(|r| LedgerRow {
                date,
                sales_rep: format!("rep {r:06}"),
                orders: 1,
                units: 1,
                revenue: Cents(1000),
                commission: Cents(50),
            })
            .collect();
        ledger.merge_day(date, rows);
    }
    ledger
}
