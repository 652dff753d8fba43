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

/// Why a file is not a valid sales file: every problem found, located, in line order (the
/// first `limits.max_problems` of them kept, all counted in `total`).
///
/// Problems that say the same thing about the same column (a wrong `--date` on every row, a
/// quantity of `"0"` on eight rows, a price with three decimals on thirty rows, whatever the
/// price) are read as one group: [`ValidationErrors::groups`].
/// `Display` is [`ValidationErrors::render`] with a screenful
/// ([`super::MAX_SHOWN_PROBLEMS`] lines); no trailing newline (docs/validation.md, Reading
/// the problems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    pub file: String,
    pub problems: Vec<Problem>,
    pub total: u64,
}

/// How much of the problem list to show: every problem, or this many lines of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every group with all its lines, then every problem on its own line.
    All,
    /// At most this many group lines, then a count of the rest.
    Lines(usize),
}

impl std::str::FromStr for Shown {
    type Err = String;
    /// `all`, or a number of lines.
    fn from_str(s: &str) -> Result<Shown, String> {
        match s.trim() {
            "all" => Ok(Shown::All),
            n => n
                .parse()
                .map(Shown::Lines)
                .map_err(|_| format!("{s:?} is neither a number nor `all`")),
        }
    }
}

/// The problems of one column whose reasons say the same thing (they may differ in the
/// values they quote), and their lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemGroup<'a> {
    pub column: &'a str,
    /// The reason of the first problem of the group.
    pub reason: &'a str,
    /// Whether every problem of the group has exactly that reason (else only its shape).
    pub same_reason: bool,
    pub lines: Vec<u64>,
}

/// How many line ranges a group shows when the list is cut to a screenful.
const SHOWN_RANGES: usize = 6;

impl ValidationErrors {
    /// The kept problems grouped by column and the shape of their reason (the reason with
    /// its quoted values and numbers left out), in order of each group's first line.
    pub fn groups(&self) -> Vec<ProblemGroup<'_>> {
        let mut groups: Vec<ProblemGroup<'_>> = Vec::new();
        let mut index: std::collections::HashMap<(&str, String), usize> =
            std::collections::HashMap::new();
        for p in &self.problems {
            let key = (p.column.as_str(), reason_shape(&p.reason));
            match index.get(&key) {
                Some(&i) => {
                    let group = &mut groups[i];
                    group.lines.push(p.line);
                    group.same_reason &= group.reason == p.reason;
                }
                None => {
                    index.insert(key, groups.len());
                    groups.push(ProblemGroup {
                        column: &p.column,
                        reason: &p.reason,
                        same_reason: true,
                        lines: vec![p.line],
                    });
                }
            }
        }
        groups
    }

    /// The problem list as text, one line per group (`FILE:LINE: column: reason`, and for a
    /// group of several `…: N rows, lines 2–9, 12`), then what was not shown. With
    /// [`Shown::All`] every range of every group is written out and every problem follows
    /// on its own line; no trailing newline.
    pub fn render(&self, shown: Shown) -> String {
        let groups = self.groups();
        let (max_groups, max_ranges) = match shown {
            Shown::All => (usize::MAX, usize::MAX),
            Shown::Lines(n) => (n, SHOWN_RANGES),
        };
        let mut lines: Vec<String> = Vec::new();
        let mut listed = 0u64;
        for g in groups.iter().take(max_groups) {
            listed += g.lines.len() as u64;
            let first = g.lines.first().copied().unwrap_or(0);
            let mut line = format!("{}:{first}: {}: {}", self.file, g.column, g.reason);
            if g.lines.len() > 1 {
                let rows = g.lines.len();
                let like = if g.same_reason { "" } else { " like this" };
                let lines = ranges(&g.lines, max_ranges);
                line.push_str(&format!(": {rows} rows{like}, lines {lines}"));
            }
            lines.push(line);
        }
        let more = self.total.saturating_sub(listed);
        if more > 0 {
            let s = if more == 1 { "" } else { "s" };
            lines.push(match shown {
                Shown::All => format!(
                    "… and {more} more problem{s}, past the first {} kept (limits.max_problems)",
                    self.problems.len()
                ),
                Shown::Lines(_) => format!("… and {more} more problem{s}"),
            });
        }
        if shown == Shown::All && groups.iter().any(|g| g.lines.len() > 1) {
            lines.push(String::new());
            lines.push("Every problem, in line order:".to_string());
            for p in &self.problems {
                lines.push(format!("{}:{}: {}: {}", self.file, p.line, p.column, p.reason));
            }
        }
        lines.join("\n")
    }
}

/// What a reason says without its particulars: each quoted value (as `{:?}` writes it)
/// becomes `"…"` and each run of digits `#`, so `"1.999" has 3 decimals` and `"7.125" has 3
/// decimals` have one shape.
fn reason_shape(reason: &str) -> String {
    let mut shape = String::with_capacity(reason.len());
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
                shape.push_str("\"…\"");
            }
            '0'..='9' => {
                while chars.next_if(char::is_ascii_digit).is_some() {}
                shape.push('#');
            }
            c => shape.push(c),
        }
    }
    shape
}

/// `2–9, 12, 15–20`: the lines (in order) as ranges, at most `max` of them then `…`.
fn ranges(lines: &[u64], max: usize) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &l in lines {
        match runs.last_mut() {
            Some((_, end)) if l == *end + 1 || l == *end => *end = l,
            _ => runs.push((l, l)),
        }
    }
    let mut out: Vec<String> = runs
        .iter()
        .take(max)
        .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}–{b}") })
        .collect();
    if runs.len() > max {
        out.push("…".to_string());
    }
    out.join(", ")
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Shown::Lines(super::MAX_SHOWN_PROBLEMS)))
    }
}
impl std::error::Error for ValidationErrors {}
