//! The daily sales CSV: schema, streaming validation and aggregation into a [`DaySummary`].
//!
//! # Why streaming
//! The same validator runs on a local file before upload and on an S3 object stream in the
//! reportsengine, whatever its size: it takes the bytes in any chunking, keeps only an
//! incomplete record between chunks, and aggregates as it goes, so memory is
//! O(distinct reps, regions, products) plus the order ids.
//!
//! # How a chunk is read
//! Most records have no quote at all: for those, `memchr` finds the line end and the commas
//! (the fast path). A record with a quote goes through a byte-by-byte RFC 4180 state machine
//! (the careful path), which also finds where a quoted field spanning lines ends. Only the
//! record cut by a chunk boundary is copied (into `carry`).
//!
//! # Rules (docs/design.md, The sales file), and the decisions behind them
//! - UTF-8, an optional BOM at the very start, LF or CRLF (mixed tolerated); a lone CR is data.
//! - Lines are physical lines, the header being line 1; a problem in a record is reported at the
//!   line where the record starts. Entirely empty lines are skipped anywhere (also before the
//!   header): they carry no data.
//! - Fields are taken exactly as written (no trimming), so names compare bytewise; a field that
//!   is empty or only whitespace counts as empty.
//! - `quantity`: ASCII digits only, 1 ..= [`MAX_QUANTITY`].
//! - Header names must match exactly (case and spaces included); a near miss gets a hint.
//! - Hopeless files (empty, binary, bad header, a record over the limit, an unterminated quote)
//!   stop at the first such problem; all other problems are collected (the first
mod checks;
mod date;
mod names;
mod order_ids;
mod scan;
mod summary;
#[cfg(test)]
mod tests;
mod validator;

pub use date::SalesDate;
pub use names::Names;
pub use summary::{DaySummary, Problem, ProductDay, RegionDay, RepDay, ValidationErrors};
pub use validator::Validator;

/// How many problems a [`ValidationErrors`] keeps (all are counted in `total`).
pub const MAX_SHOWN_PROBLEMS: usize = 20;
/// The largest quantity one row may hold: far above any real order, and low enough that
/// quantity × price and the day's sums are checked rather than merely hoped to fit.
pub const MAX_QUANTITY: u64 = 1_000_000_000;
/// The required columns, in the documented order (also the order [`crate::generate`] writes).
pub const REQUIRED_COLUMNS: [&str; 7] =
    ["date", "order_id", "sales_rep", "region", "product", "quantity", "unit_price"];
const DATE: usize = 0;
const ORDER_ID: usize = 1;
const SALES_REP: usize = 2;
const REGION: usize = 3;
const PRODUCT: usize = 4;
const QUANTITY: usize = 5;
const UNIT_PRICE: usize = 6;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Limits that protect memory against hostile input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A physical record longer than this cannot be a sales row.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    /// The limits salesapp and reportsengine both use, so that what one accepts the other
    /// does too: a record of at most 64 KiB. A real row is ~100 bytes and even a header with
    /// many extra columns fits, while a hostile file cannot grow the carry-over buffer.
    fn default() -> Self {
        Limits { max_record_bytes: 64 << 10 }
    }
}

/// Validates a whole in-memory file: [`Validator::feed`] once, then [`Validator::finish`].
pub fn validate_slice(
    file_label: &str,
    data: &[u8],
    limits: Limits,
) -> Result<DaySummary, ValidationErrors> {
    let mut v = Validator::new(file_label, limits);
    v.feed(data)?;
    v.finish()
}
