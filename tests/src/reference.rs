//! An independent reference computation of a day's numbers, for assertions.
//!
//! It shares no code with the `common` crate: it reads the file with the `csv` crate, does
//! its own money parsing and its own half-to-even rounding in `i128`, so an end-to-end test
//! compares the engine's numbers with code that cannot share its bugs. It only needs to be
//! right on *valid* files (it returns `Err` on anything it does not understand, which in a
//! test means the test's own data is wrong).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The required columns (any order; extra columns are ignored).
pub const COLUMNS: [&str; 7] =
    ["date", "order_id", "sales_rep", "region", "product", "quantity", "unit_price"];

/// One rep's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepRef {
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: i128,
    /// revenue × rate / 10 000, half to even, at the rep's rate.
    pub commission_cents: i128,
    pub regions: BTreeSet<String>,
}

/// One region's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionRef {
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: i128,
}

/// One product's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductRef {
    pub product: String,
    pub units: u64,
    pub revenue_cents: i128,
}

/// Everything a report says about one day's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRef {
    /// `YYYY-MM-DD`
    pub date: String,
    /// Data rows = orders.
    pub rows: u64,
    pub units: u64,
    pub revenue_cents: i128,
    /// Sum of the reps' rounded commissions.
    pub commission_cents: i128,
    /// Keyed by name, bytewise order.
    pub reps: BTreeMap<String, RepRef>,
    pub regions: BTreeMap<String, RegionRef>,
    /// The 10 products with most revenue, ties by name.
    pub top_products: Vec<ProductRef>,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Commission in cents: `revenue × rate_bps / 10 000`, rounded half to even.
pub fn commission(revenue_cents: i128, rate_bps: u32) -> i128 {
    let n = revenue_cents * i128::from(rate_bps);
    let q = n.div_euclid(10_000);
    let r = n.rem_euclid(10_000);
    match (r * 2).cmp(&10_000) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Cents as `d.dd` (`-d.dd` when negative).
pub fn money(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// A non-negative decimal with at most two decimals, in cents.
pub fn parse_price(s: &str) -> Result<i128, String> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (s.contains('.') && !digits(frac)) || frac.len() > 2 {
        return Err(format!("not a price: {s:?}"));
    }
    let whole: i128 = whole.parse().map_err(|e| format!("price {s:?}: {e}"))?;
    let frac: i128 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i128>().unwrap() * 10,
        _ => frac.parse().unwrap(),
    };
    Ok(whole * 100 + frac)
}

fn parse_quantity(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a quantity: {s:?}"));
    }
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("not a quantity >= 1: {s:?}")),
        Ok(q) => Ok(q),
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Computes the day from a sales file's bytes. `overrides` are per-rep rates in bps.
pub fn compute(
    csv_bytes: &[u8],
    commission_bps: u32,
    overrides: &BTreeMap<String, u32>,
) -> Result<DayRef, String> {
    let body = csv_bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv_bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body);
    let header = rdr.headers().map_err(|e| format!("header: {e}"))?.clone();
    let mut idx = [0usize; 7];
    for (i, col) in COLUMNS.iter().enumerate() {
        idx[i] =
            header.iter().position(|h| h == *col).ok_or_else(|| format!("missing column {col}"))?;
    }
    let mut date: Option<String> = None;
    let mut order_ids = BTreeSet::new();
    let mut reps: BTreeMap<String, RepRef> = BTreeMap::new();
    let mut regions: BTreeMap<String, RegionRef> = BTreeMap::new();
    let mut products: BTreeMap<String, ProductRef> = BTreeMap::new();
    let (mut rows, mut units, mut revenue) = (0u64, 0u64, 0i128);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("record: {e}"))?;
        let f = |i: usize| rec.get(idx[i]).unwrap_or("");
        let (d, order, rep, region, product) = (f(0), f(1), f(2), f(3), f(4));
        let qty = parse_quantity(f(5))?;
        let price = parse_price(f(6))?;
        let ok_date = d.len() == 10
            && d.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok_date {
            return Err(format!("bad date {d:?}"));
        }
        match &date {
            None => date = Some(d.to_string()),
            Some(first) if first != d => return Err(format!("mixed dates {first} / {d}")),
            Some(_) => {}
        }
        if !order_ids.insert(order.to_string()) {
            return Err(format!("duplicate order_id {order:?}"));
        }
        if rep.is_empty() || region.is_empty() || product.is_empty() {
            return Err("empty sales_rep/region/product".into());
        }
        let rev = price * i128::from(qty);
        rows += 1;
        units += qty;
        revenue += rev;
        let r = reps.entry(rep.to_string()).or_default();
        r.orders += 1;
        r.units += qty;
        r.revenue_cents += rev;
        r.regions.insert(region.to_string());
        let g = regions.entry(region.to_string()).or_default();
        g.orders += 1;
        g.units += qty;
        g.revenue_cents += rev;
        let p = products
            .entry(product.to_string())
            .or_insert_with(|| ProductRef { product: product.to_string(), ..Default::default() });
        p.units += qty;
        p.revenue_cents += rev;
    }
    let date = date.ok_or("no data rows")?;
    let mut total_commission = 0;
    for (name, r) in reps.iter_mut() {
        let rate = overrides.get(name).copied().unwrap_or(commission_bps);
        r.commission_cents = commission(r.revenue_cents, rate);
        total_commission += r.commission_cents;
    }
    let mut top: Vec<ProductRef> = products.into_values().collect();
    top.sort_by(|a, b| {
        b.revenue_cents.cmp(&a.revenue_cents).then_with(|| a.product.cmp(&b.product))
    });
    top.truncate(10);
    Ok(DayRef {
        date,
        rows,
        units,
        revenue_cents: revenue,
        commission_cents: total_commission,
        reps,
        regions,
        top_products: top,
        sha256: sha256_hex(csv_bytes),
    })
}

/// Year-to-date commission of `rep` *before* `date`: the sum over `history` (the days whose
/// ledger rows exist; one entry per date) of the same year and an earlier date.
pub fn ytd_before(history: &[&DayRef], rep: &str, date: &str) -> i128 {
    history
        .iter()
        .filter(|d| d.date[..4] == date[..4] && d.date.as_str() < date)
        .filter_map(|d| d.reps.get(rep))
        .map(|r| r.commission_cents)
        .sum()
}

/// The expected `compensation/ledger.csv` records (header first), one row per rep per day,
/// sorted by (date, sales_rep). `days` holds one entry per date.
pub fn ledger_records(days: &[&DayRef]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for d in days {
        for (rep, r) in &d.reps {
            rows.push(vec![
                d.date.clone(),
                rep.clone(),
                r.orders.to_string(),
                r.units.to_string(),
                r.revenue_cents.to_string(),
                r.commission_cents.to_string(),
            ]);
        }
    }
    // Sorted by the names themselves, then written as a spreadsheet shows them.
    rows.sort_by(|a, b| {
        (a[0].as_bytes(), a[1].as_bytes()).cmp(&(b[0].as_bytes(), b[1].as_bytes()))
    });
    for row in &mut rows {
        row[1] = spreadsheet_text(&row[1]);
    }
    let header = ["date", "sales_rep", "orders", "units", "revenue_cents", "commission_cents"];
    let mut out = vec![header.iter().map(|s| s.to_string()).collect()];
    out.extend(rows);
    out
}

/// The expected `report.csv` records: header, one row per rep (bytewise), `TOTAL`.
/// `history` = the other days in the ledger (for `commission_ytd`).
pub fn report_csv_records(day: &DayRef, history: &[&DayRef]) -> Vec<Vec<String>> {
    let header = ["sales_rep", "orders", "units", "revenue", "commission", "commission_ytd"];
    let mut out: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let mut ytd_total = 0;
    for (rep, r) in &day.reps {
        let ytd = ytd_before(history, rep, &day.date) + r.commission_cents;
        ytd_total += ytd;
        out.push(vec![
            spreadsheet_text(rep),
            r.orders.to_string(),
            r.units.to_string(),
            money(r.revenue_cents),
            money(r.commission_cents),
            money(ytd),
        ]);
    }
    out.push(vec![
        "TOTAL".into(),
        day.rows.to_string(),
        day.units.to_string(),
        money(day.revenue_cents),
        money(day.commission_cents),
        money(ytd_total),
    ]);
    out
}

/// A name as report.csv and the ledger hold it (OWASP's CSV injection rule): one that starts
/// with `=`, `+`, `-`, `@`, TAB or CR, or with a single quote, gets a single quote in front.
pub fn spreadsheet_text(name: &str) -> String {
    match name.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{name}"),
        _ => name.to_string(),
    }
}

fn int(v: i128) -> Value {
    Value::from(i64::try_from(v).expect("amount fits in i64"))
}

/// The expected `report.json`, without `generated_by` (checked separately). `history`: the
/// days whose ledger rows existed when it was built (one entry per date; the day itself and
/// later days may be among them, they do not count).
pub fn report_json(day: &DayRef, source_key: &str, history: &[&DayRef]) -> Value {
    let regions: Vec<Value> = day
        .regions
        .iter()
        .map(|(name, g)| {
            json!({"region": name, "orders": g.orders, "units": g.units,
                   "revenue_cents": int(g.revenue_cents)})
        })
        .collect();
    let reps: Vec<Value> = day
        .reps
        .iter()
        .map(|(name, r)| {
            json!({
                "sales_rep": name,
                "region_count": r.regions.len(),
                "orders": r.orders,
                "units": r.units,
                "revenue_cents": int(r.revenue_cents),
                "commission_cents": int(r.commission_cents),
                "commission_ytd_cents": int(ytd_before(history, name, &day.date) + r.commission_cents),
            })
        })
        .collect();
    let top: Vec<Value> = day
        .top_products
        .iter()
        .map(|p| json!({"product": p.product, "units": p.units, "revenue_cents": int(p.revenue_cents)}))
        .collect();
    json!({
        "date": day.date,
        "source": {"key": source_key, "sha256": day.sha256, "rows": day.rows},
        "totals": {"orders": day.rows, "units": day.units,
                   "revenue_cents": int(day.revenue_cents),
                   "commission_cents": int(day.commission_cents)},
        "regions": regions,
        "reps": reps,
        "top_products": top,
        "year_to_date": year_to_date_json(day, history),
        "previous_day": previous_day_json(day, history),
    })
}

/// One day's headline numbers as `year_to_date.days`, `previous_day` and the index show them.
fn day_line(d: &DayRef) -> serde_json::Map<String, Value> {
    let mut line = serde_json::Map::new();
    line.insert("date".into(), d.date.clone().into());
    line.insert("orders".into(), d.rows.into());
    line.insert("units".into(), d.units.into());
    line.insert("revenue_cents".into(), int(d.revenue_cents));
    line.insert("commission_cents".into(), int(d.commission_cents));
    line
}

/// The days of `history` (one entry per date) before `date`, in date order.
fn days_before<'a>(history: &[&'a DayRef], date: &str) -> Vec<&'a DayRef> {
    let mut days: Vec<&DayRef> =
        history.iter().copied().filter(|d| d.date.as_str() < date).collect();
    days.sort_by(|a, b| a.date.cmp(&b.date));
    days
}

/// The expected `year_to_date`: the days of `history` of the same year before `day`, then
/// `day` itself, and their sums.
pub fn year_to_date_json(day: &DayRef, history: &[&DayRef]) -> Value {
    let mut days: Vec<&DayRef> = days_before(history, &day.date)
        .into_iter()
        .filter(|d| d.date[..4] == day.date[..4])
        .collect();
    days.push(day);
    json!({
        "days": days.iter().map(|d| Value::Object(day_line(d))).collect::<Vec<_>>(),
        "revenue_cents": int(days.iter().map(|d| d.revenue_cents).sum()),
        "commission_cents": int(days.iter().map(|d| d.commission_cents).sum()),
    })
}

/// The expected `previous_day`: the latest day of `history` before `day`, of any year.
pub fn previous_day_json(day: &DayRef, history: &[&DayRef]) -> Value {
    days_before(history, &day.date).last().map_or(Value::Null, |d| Value::Object(day_line(d)))
}

/// The expected `reports/index.json`: one entry per day of `days` (as last reported), by date.
pub fn index_json(days: &[&DayRef]) -> Value {
    let mut sorted = days.to_vec();
    sorted.sort_by(|a, b| a.date.cmp(&b.date));
    let entries: Vec<Value> = sorted
        .iter()
        .map(|d| {
            let mut line = day_line(d);
            line.insert("report".into(), format!("reports/{}/report.html", d.date).into());
            Value::Object(line)
        })
        .collect();
    json!({ "days": entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_to_even() {
        // 5 % of 0.10 = 0.005 → 0.00; of 0.30 = 0.015 → 0.02; of 0.50 = 0.025 → 0.02.
        assert_eq!(commission(10, 500), 0);
        assert_eq!(commission(30, 500), 2);
        assert_eq!(commission(50, 500), 2);
        assert_eq!(commission(70, 500), 4);
        assert_eq!(commission(11, 500), 1);
        assert_eq!(commission(123_456, 0), 0);
        assert_eq!(commission(100_000_000_000, 10_000), 100_000_000_000);
    }

    #[test]
    fn prices() {
        assert_eq!(parse_price("12"), Ok(1200));
        assert_eq!(parse_price("12.5"), Ok(1250));
        assert_eq!(parse_price("0.99"), Ok(99));
        for bad in ["", "-1", "1.234", "abc", "1.", ".5", "1,00", " 1"] {
            assert!(parse_price(bad).is_err(), "{bad:?}");
        }
        assert_eq!(money(5), "0.05");
        assert_eq!(money(123_450), "1234.50");
        assert_eq!(money(-320), "-3.20");
    }

    #[test]
    fn compute_small_file() {
        let csv = "\u{feff}region,date,order_id,sales_rep,product,quantity,unit_price,x\r\n\
                   N,2026-01-02,1,\"B, b\",P,2,0.05,\"a\r\nb\"\r\n\
                   S,2026-01-02,2,A,Q,1,0.30,\r\n\
                   N,2026-01-02,3,A,P,3,1,\r\n";
        let d = compute(csv.as_bytes(), 500, &BTreeMap::new()).unwrap();
        assert_eq!((d.rows, d.units, d.revenue_cents), (3, 6, 10 + 30 + 300));
        assert_eq!(d.reps["A"].commission_cents, commission(330, 500));
        assert_eq!(d.reps["B, b"].commission_cents, 0);
        assert_eq!(d.reps["A"].regions.len(), 2);
        assert_eq!(d.top_products[0].product, "P");
        let recs = report_csv_records(&d, &[]);
        assert_eq!(recs[1][0], "A");
        assert_eq!(recs.last().unwrap()[0], "TOTAL");
    }
}
