//! The rules on records (docs/design.md, The sales file), the aggregation of the day, and
//! the problem list; knows nothing of chunks. What one field holds, and the words of its
//! problems, are in `fields.rs`.

use super::date::date_reason;
use super::date::SalesDate;
use super::fields::{
    blank_reason, duplicate_reason, is_blank, parse_quantity, plain_quantity, surely_not_blank,
    too_long_reason, utf8_reason,
};
use super::names::Names;
use super::order_ids::OrderIds;
use super::scan::QuoteError;
use super::summary::DaySummary;
use super::summary::Problem;
use super::summary::ProductDay;
use super::summary::RegionDay;
use super::summary::RepDay;
use super::summary::ValidationErrors;
use super::Limits;
use super::DATE;
use super::ORDER_ID;
use super::PRODUCT;
use super::QUANTITY;
use super::REGION;
use super::REQUIRED_COLUMNS;
use super::SALES_REP;
use super::UNIT_PRICE;
use crate::money::shown;
use crate::money::Cents;
use std::collections::HashMap;

/// The parsed header: which field holds each required column.
pub(super) struct Header {
    pub(super) line: u64,
    pub(super) names: Vec<String>,
    /// Field index of each of [`REQUIRED_COLUMNS`].
    pub(super) index: [usize; 7],
    /// Field indexes of the other columns.
    pub(super) extra: Vec<usize>,
}

#[derive(Default)]
pub(super) struct RepAcc {
    pub(super) orders: u64,
    pub(super) units: u64,
    pub(super) revenue: Cents,
    /// Regions 0..64 as bits; a rep sells in few regions.
    pub(super) region_bits: u64,
    /// Regions from 64 on, sorted.
    pub(super) more_regions: Vec<usize>,
}
#[derive(Default)]
pub(super) struct ProductAcc {
    pub(super) units: u64,
    pub(super) revenue: Cents,
}

/// The rules on records, the aggregation and the problem list; knows nothing of chunks.
pub(super) struct Checker {
    pub(super) file: String,
    pub(super) limits: Limits,
    pub(super) expected: Option<(SalesDate, [u8; 10])>,
    /// The first valid date seen, its bytes and its line, when no date is expected.
    pub(super) first_date: Option<(SalesDate, [u8; 10], u64)>,
    pub(super) header: Option<Header>,
    pub(super) data_records: u64,
    pub(super) order_ids: OrderIds,
    pub(super) rep_names: Names,
    pub(super) reps: Vec<RepAcc>,
    pub(super) region_names: Names,
    pub(super) regions: Vec<RegionDay>,
    pub(super) product_names: Names,
    pub(super) products: Vec<ProductAcc>,
    pub(super) rows: u64,
    pub(super) units: u64,
    pub(super) revenue: Cents,
    pub(super) problems: Vec<Problem>,
    /// For each kept problem: whether it comes before an order id check of the same line
    /// (UTF-8 and date problems), to place duplicates found later where a row-by-row check
    /// would have put them.
    pub(super) early: Vec<bool>,
    /// Set while a row's UTF-8 and date checks run.
    pub(super) in_early_checks: bool,
    pub(super) total: u64,
    pub(super) fatal: bool,
    /// Duplicate order ids, once settled: how many, and the first ones as problems.
    pub(super) duplicates: Option<(u64, Vec<Problem>)>,
}

impl Checker {
    pub(super) fn new(file: &str, limits: Limits) -> Self {
        Checker {
            file: file.to_string(),
            limits,
            expected: None,
            first_date: None,
            header: None,
            data_records: 0,
            order_ids: OrderIds::new(),
            rep_names: Names::new(),
            reps: Vec::new(),
            region_names: Names::new(),
            regions: Vec::new(),
            product_names: Names::new(),
            products: Vec::new(),
            rows: 0,
            units: 0,
            revenue: Cents::ZERO,
            problems: Vec::new(),
            early: Vec::new(),
            in_early_checks: false,
            total: 0,
            fatal: false,
            duplicates: None,
        }
    }

    /// Counts a problem; builds its text only if it is kept (the first `max_problems`).
    pub(super) fn problem(&mut self, line: u64, column: &str, reason: impl FnOnce() -> String) {
        self.total += 1;
        if self.problems.len() < self.limits.max_problems {
            self.problems.push(Problem { line, column: column.to_string(), reason: reason() });
            self.early.push(self.in_early_checks);
        }
    }
    pub(super) fn fatal(&mut self, line: u64, column: &str, reason: String) {
        self.problem(line, column, || reason);
        self.fatal = true;
    }
    /// Settles the duplicate order ids (once: called when the input ended or turned out
    /// hopeless, so no id comes after).
    pub(super) fn settle_duplicates(&mut self) -> u64 {
        if self.duplicates.is_none() {
            let (total, first) = self.order_ids.duplicates(self.limits.max_problems);
            let problems = first
                .into_iter()
                .map(|(line, first_line, id)| Problem {
                    line,
                    column: "order_id".to_string(),
                    reason: duplicate_reason(&id, first_line),
                })
                .collect();
            self.duplicates = Some((total, problems));
        }
        self.duplicates.as_ref().map_or(0, |d| d.0)
    }

    /// All problems: those found row by row and the duplicate ids, in line order.
    pub(super) fn errors(&mut self) -> ValidationErrors {
        let duplicates = self.settle_duplicates();
        let mut dups = self.duplicates.as_ref().map(|d| d.1.as_slice()).unwrap_or(&[]).iter();
        let mut problems = Vec::with_capacity(self.problems.len());
        let mut next_dup = dups.next();
        for (p, &early) in self.problems.iter().zip(&self.early) {
            while let Some(d) = next_dup.filter(|d| d.line < p.line || (d.line == p.line && !early))
            {
                problems.push(d.clone());
                next_dup = dups.next();
            }
            problems.push(p.clone());
        }
        problems.extend(next_dup.into_iter().chain(dups).cloned());
        problems.truncate(self.limits.max_problems);
        ValidationErrors { file: self.file.clone(), problems, total: self.total + duplicates }
    }
    pub(super) fn column_name(&self, field: usize) -> String {
        match &self.header {
            None => "header".to_string(),
            Some(h) => h.names.get(field).cloned().unwrap_or_else(|| "row".to_string()),
        }
    }

    pub(super) fn quote_problem(&mut self, line: u64, e: QuoteError) {
        let (field, reason) = match e {
            QuoteError::Stray(k) => (
                k,
                "a quote (\") inside a field that does not start with one; put the whole \
                 field in quotes and double the inner quote, like \"27\"\" monitor\"",
            ),
            QuoteError::AfterClose(k) => (
                k,
                "text after the closing quote of a quoted field; expected a comma or the end \
                 of the line right after it",
            ),
            QuoteError::Unterminated(k) => (k, "a quoted field is never closed"),
        };
        let column = self.column_name(field);
        if self.header.is_none() {
            self.fatal(line, &column, reason.to_string());
        } else if self.count_data_record(line) {
            self.problem(line, &column, || reason.to_string());
        }
    }

    /// Counts a data record; `false` (and the file hopeless) once there are more than
    /// `max_rows`: the order ids grow with the rows, so the count stops before they do.
    pub(super) fn count_data_record(&mut self, line: u64) -> bool {
        self.data_records += 1;
        if self.data_records > self.limits.max_rows {
            let max = self.limits.max_rows;
            self.fatal(
                line,
                "file",
                format!(
                    "more than {max} data rows (limits.max_rows); the file is not read further"
                ),
            );
            return false;
        }
        true
    }

    pub(super) fn record(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) {
        if self.header.is_none() {
            self.header(line, base, spans);
        } else if self.count_data_record(line) {
            let utf8 = std::str::from_utf8(base).is_ok();
            self.data_row(line, base, spans, utf8);
        }
    }

    /// The first non-empty record. Any problem here is fatal: without the columns, no row can
    /// be read.
    pub(super) fn header(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) {
        if spans.len() > self.limits.max_columns {
            let (got, max) = (spans.len(), self.limits.max_columns);
            let r = format!("the header has {got} columns, more than {max} (limits.max_columns)");
            return self.fatal(line, "header", r);
        }
        let mut names = Vec::with_capacity(spans.len());
        for (k, &(s, e)) in spans.iter().enumerate() {
            match std::str::from_utf8(&base[s..e]) {
                Ok(n) => names.push(n.to_string()),
                Err(_) => {
                    let r = format!("column {} of the header is not valid UTF-8 text", k + 1);
                    return self.fatal(line, "header", r);
                }
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (k, n) in names.iter().enumerate() {
            if let Some(&first) = seen.get(n.as_str()) {
                duplicates.push(format!("{:?} (columns {} and {})", shown(n), first + 1, k + 1));
            } else {
                seen.insert(n, k);
            }
        }
        let mut index = [0usize; 7];
        let mut missing = Vec::new();
        for (r, want) in REQUIRED_COLUMNS.iter().enumerate() {
            match seen.get(want) {
                Some(&k) => index[r] = k,
                None => {
                    let near = names.iter().find(|n| n.trim().eq_ignore_ascii_case(want));
                    missing.push(match near {
                        Some(n) => {
                            format!("{want} (found {:?}: names must match exactly)", shown(n))
                        }
                        None => want.to_string(),
                    });
                }
            }
        }
        if !duplicates.is_empty() {
            let r = format!("a column name appears twice: {}", duplicates.join(", "));
            self.problem(line, "header", || r);
            self.fatal = true;
        }
        if !missing.is_empty() {
            let mut r = format!(
                "missing required column{} {}; the header must name {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                REQUIRED_COLUMNS.join(","),
            );
            if names.iter().any(|n| n.contains('\r')) {
                r.push_str(" (the lines seem to end with a lone CR: use LF or CRLF line ends)");
            }
            self.problem(line, "header", || r);
            self.fatal = true;
        }
        if self.fatal {
            return;
        }
        let extra = (0..names.len()).filter(|k| !index.contains(k)).collect();
        self.header = Some(Header { line, names, index, extra });
    }

    /// A data row; `utf8`: whether all of its fields are valid UTF-8.
    pub(super) fn data_row(
        &mut self,
        line: u64,
        base: &[u8],
        spans: &[(usize, usize)],
        utf8: bool,
    ) {
        if utf8 && self.good_row(line, base, spans) {
            return;
        }
        let Some(h) = self.header.take() else { return };
        self.data_row_with(&h, line, base, spans);
        self.header = Some(h);
    }

    /// The common case, fast: a row that passes every check is added and `true` returned.
    /// Anything unusual returns `false` having changed nothing, and [`Checker::data_row_with`]
    /// checks the row again, the long way, to say what is wrong.
    pub(super) fn good_row(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) -> bool {
        let Some(h) = &self.header else { return false };
        if spans.len() != h.names.len() {
            return false;
        }
        let index = h.index;
        let field = |r: usize| spans.get(index[r]).and_then(|&(s, e)| base.get(s..e));
        let (Some(date), Some(id), Some(rep), Some(region), Some(product), Some(q), Some(p)) = (
            field(DATE),
            field(ORDER_ID),
            field(SALES_REP),
            field(REGION),
            field(PRODUCT),
            field(QUANTITY),
            field(UNIT_PRICE),
        ) else {
            return false;
        };
        let reference = match (&self.expected, &self.first_date) {
            (Some((_, b)), _) | (None, Some((_, b, _))) => b,
            (None, None) => return false,
        };
        let (max_id, max_name) = (self.limits.max_order_id_bytes, self.limits.max_name_bytes);
        if date != reference
            || id.len() > max_id
            || rep.len().max(region.len()).max(product.len()) > max_name
            || !surely_not_blank(id)
            || !surely_not_blank(rep)
            || !surely_not_blank(region)
            || !surely_not_blank(product)
        {
            return false;
        }
        let (Some(q), Some(p)) = (plain_quantity(q), crate::money::plain_price(p)) else {
            return false;
        };
        let Some(revenue) = p.checked_mul(q) else { return false };
        if self.revenue.checked_add(revenue).is_none()
            || self.units.checked_add(q).is_none()
            || self.order_ids.insert(id, line).is_err()
        {
            // A duplicate is not recorded a second time by the long way: `insert` of a known
            // id changes nothing.
            return false;
        }
        self.add(line, rep, region, product, q, revenue);
        true
    }

    pub(super) fn data_row_with(
        &mut self,
        h: &Header,
        line: u64,
        base: &[u8],
        spans: &[(usize, usize)],
    ) {
        if spans.len() != h.names.len() {
            let (got, want) = (spans.len(), h.names.len());
            return self.problem(line, "row", || {
                let s = if got == 1 { "" } else { "s" };
                format!(
                    "this row has {got} field{s} but the header has {want}; check for a missing \
                     or extra comma, or a name with a comma that is not in quotes"
                )
            });
        }
        // UTF-8 first: every later check needs text.
        self.in_early_checks = true;
        let mut vals: [Option<&str>; 7] = [None; 7];
        let mut ok = true;
        let field = |k: usize| {
            let (s, e) = spans[k];
            &base[s..e]
        };
        for (r, &k) in h.index.iter().enumerate() {
            match std::str::from_utf8(field(k)) {
                Ok(v) => vals[r] = Some(v),
                Err(e) => {
                    ok = false;
                    self.problem(line, REQUIRED_COLUMNS[r], || utf8_reason(field(k), &e));
                }
            }
        }
        for &k in &h.extra {
            if let Err(e) = std::str::from_utf8(field(k)) {
                ok = false;
                self.problem(line, &h.names[k], || utf8_reason(field(k), &e));
            }
        }
        if let Some(v) = vals[DATE] {
            ok &= self.check_date(line, v);
        }
        self.in_early_checks = false;
        if let Some(v) = vals[ORDER_ID] {
            let max = self.limits.max_order_id_bytes;
            if is_blank(v) {
                ok = false;
                self.problem(line, "order_id", || blank_reason(v, "an order id"));
            } else if v.len() > max {
                ok = false;
                self.problem(line, "order_id", || too_long_reason(v, max, "max_order_id_bytes"));
            } else if let Err(first) = self.order_ids.insert(v.as_bytes(), line) {
                ok = false;
                self.problem(line, "order_id", || duplicate_reason(v, first));
            }
        }
        for (r, what) in [(SALES_REP, "a sales rep"), (REGION, "a region"), (PRODUCT, "a product")]
        {
            if let Some(v) = vals[r] {
                let max = self.limits.max_name_bytes;
                if is_blank(v) {
                    ok = false;
                    self.problem(line, REQUIRED_COLUMNS[r], || blank_reason(v, what));
                } else if v.len() > max {
                    ok = false;
                    let column = REQUIRED_COLUMNS[r];
                    self.problem(line, column, || too_long_reason(v, max, "max_name_bytes"));
                }
            }
        }
        let quantity = vals[QUANTITY].and_then(|v| match parse_quantity(v) {
            Ok(q) => Some(q),
            Err(reason) => {
                self.problem(line, "quantity", || reason);
                None
            }
        });
        let price = vals[UNIT_PRICE].and_then(|v| match Cents::parse_price(v) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(line, "unit_price", || e.to_string());
                None
            }
        });
        let (Some(q), Some(p), Some(rep), Some(region), Some(product), true) =
            (quantity, price, vals[SALES_REP], vals[REGION], vals[PRODUCT], ok)
        else {
            return;
        };
        let Some(revenue) = p.checked_mul(q) else {
            return self.problem(line, "unit_price", || {
                format!("quantity {q} × unit_price {p} is too large an amount to hold")
            });
        };
        self.add(line, rep.as_bytes(), region.as_bytes(), product.as_bytes(), q, revenue);
    }

    /// The date rule: the expected date, or else the same date as the first row's.
    pub(super) fn check_date(&mut self, line: u64, v: &str) -> bool {
        let reference = match (self.expected, self.first_date) {
            (Some((_, b)), _) | (None, Some((_, b, _))) => Some(b),
            (None, None) => None,
        };
        if reference.is_some_and(|b| b == v.as_bytes()) {
            return true; // the common case: no parsing
        }
        let date = match SalesDate::parse_bytes(v.as_bytes()) {
            Ok(d) => d,
            Err(e) => {
                self.problem(line, "date", || date_reason(v, e));
                return false;
            }
        };
        match (self.expected, self.first_date) {
            (Some((want, _)), _) => {
                self.problem(line, "date", || {
                    format!("{date} is not the date given for this file ({want})")
                });
                false
            }
            (None, Some((first, _, first_line))) => {
                self.problem(line, "date", || {
                    format!(
                        "{date} differs from {first}, the date on line {first_line}; a file \
                         holds one day's sales"
                    )
                });
                false
            }
            (None, None) => {
                self.first_date = Some((date, date.bytes(), line));
                true
            }
        }
    }

    /// Adds a valid row. The totals are checked; each part (rep, region, product) is at most
    /// its total since all amounts are ≥ 0, so once the total fits the parts cannot overflow.
    pub(super) fn add(
        &mut self,
        line: u64,
        rep: &[u8],
        region: &[u8],
        product: &[u8],
        q: u64,
        rev: Cents,
    ) {
        let (Some(rows), Some(units), Some(revenue)) =
            (self.rows.checked_add(1), self.units.checked_add(q), self.revenue.checked_add(rev))
        else {
            return self.problem(line, "unit_price", || {
                format!(
                    "the day's total revenue goes beyond {}, the largest amount this program \
                     can hold",
                    Cents(i64::MAX)
                )
            });
        };
        // A name over its table's limit ends the file here, before the tables grow.
        let Limits { max_regions, max_reps, max_products, .. } = self.limits;
        let Some(region_idx) = self.region_names.slot_within(region, max_regions) else {
            return self.too_many(line, ["region", "regions", "max_regions"], region, max_regions);
        };
        let Some(rep_idx) = self.rep_names.slot_within(rep, max_reps) else {
            return self.too_many(line, ["sales_rep", "sales reps", "max_reps"], rep, max_reps);
        };
        let Some(product_idx) = self.product_names.slot_within(product, max_products) else {
            let what = ["product", "products", "max_products"];
            return self.too_many(line, what, product, max_products);
        };
        (self.rows, self.units, self.revenue) = (rows, units, revenue);
        let add = |a: Cents, b: Cents| Cents(a.0.saturating_add(b.0)); // bounded, see above

        if region_idx == self.regions.len() {
            self.regions.push(RegionDay::default());
        }
        if let Some(acc) = self.regions.get_mut(region_idx) {
            acc.orders += 1;
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
        }
        if rep_idx == self.reps.len() {
            self.reps.push(RepAcc::default());
        }
        if let Some(acc) = self.reps.get_mut(rep_idx) {
            acc.orders += 1;
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
            if region_idx < 64 {
                acc.region_bits |= 1 << region_idx;
            } else if let Err(pos) = acc.more_regions.binary_search(&region_idx) {
                acc.more_regions.insert(pos, region_idx);
            }
        }
        if product_idx == self.products.len() {
            self.products.push(ProductAcc::default());
        }
        if let Some(acc) = self.products.get_mut(product_idx) {
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
        }
    }

    /// The name on `line` would be one more than `max` distinct values of `column` (`[column,
    /// what the values are, the limit's key]`): the file is refused here, so memory never
    /// grows with a hostile number of names.
    pub(super) fn too_many(
        &mut self,
        line: u64,
        [column, what, key]: [&str; 3],
        name: &[u8],
        max: usize,
    ) {
        let name = String::from_utf8_lossy(name);
        self.fatal(
            line,
            column,
            format!(
                "{:?} would be one more than {max} distinct {what} in one file \
                 (limits.{key}); the file is not read further: a real day has far fewer, so \
                 is a column swapped or mislabelled in the export?",
                shown(&name)
            ),
        );
    }

    pub(super) fn finish(
        mut self,
        sha256: [u8; 32],
        bytes: u64,
    ) -> Result<DaySummary, ValidationErrors> {
        let Some(header) = self.header.take() else {
            self.fatal(1, "file", "no header line: the file holds only empty lines".into());
            return Err(self.errors());
        };
        if self.data_records == 0 {
            self.problem(header.line, "file", || {
                "no sales rows: the file has a header but no data rows".into()
            });
        }
        if self.total + self.settle_duplicates() > 0 {
            return Err(self.errors());
        }
        let date = match (self.expected, self.first_date) {
            (Some((d, _)), _) | (None, Some((d, _, _))) => d,
            (None, None) => {
                // Unreachable: a valid data row sets the first date.
                self.problem(header.line, "date", || "no valid date in the file".into());
                return Err(self.errors());
            }
        };
        let region_names = &self.region_names;
        let reps = self
            .reps
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let bits = (0..64).filter(|k| a.region_bits & (1 << k) != 0);
                let regions = bits.chain(a.more_regions).map(|k| region_names.text(k)).collect();
                let day = RepDay { orders: a.orders, units: a.units, revenue: a.revenue, regions };
                (self.rep_names.text(i), day)
            })
            .collect();
        let regions = self
            .regions
            .into_iter()
            .enumerate()
            .map(|(i, day)| (self.region_names.text(i), day))
            .collect();
        let products = self
            .products
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                (self.product_names.text(i), ProductDay { units: a.units, revenue: a.revenue })
            })
            .collect();
        let extra_columns = header.extra.iter().map(|&k| header.names[k].clone()).collect();
        Ok(DaySummary {
            date,
            rows: self.rows,
            units: self.units,
            revenue: self.revenue,
            reps,
            regions,
            products,
            sha256,
            bytes,
            extra_columns,
        })
    }
}
