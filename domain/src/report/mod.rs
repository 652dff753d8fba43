//! The day's report: built from a [`DaySummary`] and the ledger, rendered as CSV ([`csv`]),
//! JSON ([`json`]) and HTML ([`html`]); the year so far ([`year`]); the index of every
//! reported day ([`index`]).
//!
//! Every rendering is a pure function of the [`Report`], and the report a pure function of its
//! inputs (no clock, no host name, no map with random order), so a redelivered message
//! rewrites byte-identical objects and two reportsengine instances racing on one message agree.
mod csv;
mod html;
pub mod index;
mod json;
#[cfg(test)]
mod tests;
pub mod year;

use crate::{
    ledger::Ledger,
    money::{self, Cents, Compensation},
    sales::{DaySummary, SalesDate},
};
use year::{DayLine, YearToDate};

/// How many products `top_products` keeps.
pub const TOP_PRODUCTS: usize = 10;

/// The whole report. Field order is the JSON key order docs/design.md fixes (The reports); the keys added since
/// come after the ones it lists, so every existing key keeps its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    #[serde(serialize_with = "json::serialize_date")]
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
    /// January 1 through this day: the ledger's days before it, then this day from the file.
    pub year_to_date: YearToDate,
    /// The latest day before this one in the ledger, of any year (`null` when there is none).
    pub previous_day: Option<DayLine>,
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

impl Totals {
    fn day_line(&self, date: SalesDate) -> DayLine {
        DayLine {
            date,
            orders: self.orders,
            units: self.units,
            revenue_cents: self.revenue_cents,
            commission_cents: self.commission_cents,
        }
    }
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
        let ytd_before = ledger.commission_ytd_before(day.date);
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
                        ytd_before.get(rep.as_str()).copied().unwrap_or(Cents(0)),
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
        let totals = Totals {
            orders: day.rows,
            units: day.units,
            revenue_cents: day.revenue,
            commission_cents: commission,
        };
        let today = totals.day_line(day.date);
        Report {
            date: day.date,
            source: Source {
                key: source_key.to_owned(),
                sha256: hex::encode(day.sha256),
                rows: day.rows,
            },
            totals,
            regions,
            reps,
            top_products: products,
            generated_by: generated_by.to_owned(),
            year_to_date: YearToDate::build(ledger, today),
            previous_day: year::previous_day(ledger, day.date),
        }
    }

    /// This day's own line, as the year so far and the index show it.
    pub fn day_line(&self) -> DayLine {
        self.totals.day_line(self.date)
    }

    /// The sum over reps of year-to-date commission (the `TOTAL` row's last column).
    pub fn commission_ytd_total(&self) -> Cents {
        self.reps.iter().fold(Cents(0), |acc, r| add(acc, r.commission_ytd_cents))
    }

    /// One line for logs and the demo: date, orders, revenue, commission.
    pub fn headline(&self) -> String {
        format!(
            "{}: {} orders, {} units, revenue {}, commission {}",
            self.date,
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
