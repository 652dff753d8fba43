//! What validation gives: the day's figures ([`DaySummary`]) or the located problems
//! ([`ValidationErrors`]).

use super::date::SalesDate;
use crate::money::Cents;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

/// One rep's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepDay {
    pub orders: u64,
    pub units: u64,
    pub revenue: Cents,
    pub regions: BTreeSet<String>,
}
/// One region's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionDay {
    pub orders: u64,
    pub units: u64,
    pub revenue: Cents,
}
/// One product's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductDay {
    pub units: u64,
    pub revenue: Cents,
}

/// Everything the ledger and the report need from a valid day's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    pub date: SalesDate,
    /// Data rows (= orders).
    pub rows: u64,
    pub units: u64,
    pub revenue: Cents,
    /// Keys are compared bytewise (BTreeMap<String> order), as the documented sort order requires.
    pub reps: BTreeMap<String, RepDay>,
    pub regions: BTreeMap<String, RegionDay>,
    pub products: BTreeMap<String, ProductDay>,
    /// SHA-256 of the file's bytes, exactly as fed.
    pub sha256: [u8; 32],
    pub bytes: u64,
    /// Columns beyond the required ones (ignored, worth a warning).
    pub extra_columns: Vec<String>,
}

/// One located problem: `FILE:LINE: column: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Physical line, the header being line 1.
    pub line: u64,
    /// The column's name (or `header`, `file`, …).
    pub column: String,
    pub reason: String,
}

/// Why a file is not a valid sales file: the first problems, located, and how many in all.
///
/// `Display` prints one `FILE:LINE: column: reason` per line (docs/design.md, salesapp upload), then
/// `… and N more problems` when some were not kept; no trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    pub file: String,
    pub problems: Vec<Problem>,
    pub total: u64,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}: {}: {}", self.file, p.line, p.column, p.reason)?;
        }
        let more = self.total.saturating_sub(self.problems.len() as u64);
        if more > 0 {
            if !self.problems.is_empty() {
                f.write_str("\n")?;
            }
            let s = if more == 1 { "" } else { "s" };
            write!(f, "… and {more} more problem{s}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ValidationErrors {}
