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
//!   stop at the first such problem; all other problems are collected (up to
//!   `limits.max_problems` of them kept, every one counted) and reported together.
//! - Every dimension is bounded by [`Limits`]: line length, columns, name and order id
//!   length, rows, distinct reps, regions and products. Crossing a limit on what the
//!   validator keeps (rows, distinct names) stops it at once, before memory grows with it;
//!   a name or id too long is a problem of its row, never stored.
mod checks;
mod date;
mod fields;
mod names;
mod order_ids;
mod scan;
mod summary;
#[cfg(test)]
mod tests;
mod validator;

/// The limits the validator applies; see [`crate::limits`].
pub use crate::limits::Limits;
pub use date::SalesDate;
pub use names::Names;
pub use summary::{
    DaySummary, Problem, ProblemGroup, ProductDay, RegionDay, RepDay, Shown, ValidationErrors,
};
pub use validator::Validator;

/// How many lines of grouped problems [`ValidationErrors`]'s `Display` shows (a screenful;
/// [`ValidationErrors::render`] shows any number).
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
