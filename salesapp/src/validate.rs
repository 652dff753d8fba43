//! `salesapp validate FILE` (and `salesapp upload --dry-run FILE`, the same): checks a file
//! with the rules and limits of an upload and touches nothing. No AWS client is built, no
//! request is made; the configuration is read only for its `[limits]` (without a file, the
//! defaults). And how the problems of a file that is not valid are printed, for both
//! commands.

use std::path::Path;

use common::config::LocalSettings;
use common::failure::{Error, Result};
use sales_domain::sales::{DaySummary, SalesDate, Shown, ValidationErrors};

/// What a valid file holds, printed for the operator.
pub struct Checked {
    pub label: String,
    pub day: DaySummary,
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.day;
        write!(
            f,
            "valid: {}: {}, {} rows, {} reps, {} regions, {} products, revenue {} (sha256 {})",
            self.label,
            d.date,
            d.rows,
            d.reps.len(),
            d.regions.len(),
            d.products.len(),
            d.revenue,
            hex::encode(d.sha256)
        )
    }
}

/// Validates `file` under `settings`' limits, exactly as `upload` does before it writes
/// anything.
pub fn check(
    file: &Path,
    expected_date: Option<SalesDate>,
    settings: &LocalSettings,
) -> Result<Checked> {
    let label = file.display().to_string();
    let file = common::local::LocalFile::open_named(file, &label)?;
    let day = crate::upload::validate_file(&file, expected_date, settings.limits)?;
    for column in &day.extra_columns {
        tracing::warn!(file = %label, column = %column, "extra column ignored");
    }
    Ok(Checked { label, day })
}

/// The default of `--max-errors`: a screenful of grouped problems.
pub const DEFAULT_SHOWN: Shown = Shown::Lines(sales_domain::sales::MAX_SHOWN_PROBLEMS);

/// Prints why a file is not valid on stderr (`shown`: how much of the list) and returns
/// the exit code (65); `None` when `err` is not a validation failure (printed as usual).
pub fn print_problems(err: &Error, shown: Shown) -> Option<u8> {
    let invalid = err.validation()?;
    eprintln!("{}", problems_text(invalid, shown, "salesapp: "));
    u8::try_from(err.exit_code()).ok()
}

/// The headline (`PREFIX FILE is not a valid sales file: N problems`), the problems as
/// `shown`, and, when some were left out, how to see them all.
pub fn problems_text(invalid: &ValidationErrors, shown: Shown, prefix: &str) -> String {
    let total = invalid.total;
    let s = if total == 1 { "" } else { "s" };
    let mut text = format!(
        "{prefix}{} is not a valid sales file: {total} problem{s}\n{}",
        invalid.file,
        invalid.render(shown)
    );
    let listed: u64 = match shown {
        Shown::All => total,
        Shown::Lines(n) => invalid.groups().iter().take(n).map(|g| g.lines.len() as u64).sum(),
    };
    if listed < total {
        text.push_str("\n(--max-errors all lists every problem)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use sales_domain::sales::{validate_slice, Limits};

    /// `rows` problems: each in a column of its own (bad UTF-8) when `varied`, else all
    /// the same (a quantity of 0).
    fn invalid(rows: usize, varied: bool) -> ValidationErrors {
        let extra: Vec<String> = (0..rows).map(|i| format!("x{i}")).collect();
        let mut s = format!(
            "date,order_id,sales_rep,region,product,quantity,unit_price,{}\n",
            extra.join(",")
        )
        .into_bytes();
        for i in 0..rows {
            let quantity = if varied { 1 } else { 0 };
            s.extend(format!("2026-01-15,{i},Ada,EMEA,W,{quantity},1.00").bytes());
            for k in 0..rows {
                s.extend_from_slice(if varied && k == i { b",\xFF" } else { b",ok" });
            }
            s.push(b'\n');
        }
        validate_slice("day.csv", &s, Limits::default()).unwrap_err()
    }

    #[test]
    fn a_screenful_then_how_to_see_the_rest() {
        let text = problems_text(&invalid(30, true), DEFAULT_SHOWN, "salesapp: ");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "salesapp: day.csv is not a valid sales file: 30 problems");
        assert!(lines[1].starts_with("day.csv:2: x0: not valid UTF-8 text"), "{text}");
        assert_eq!(lines[21], "… and 10 more problems");
        assert_eq!(lines[22], "(--max-errors all lists every problem)");
        assert_eq!(lines.len(), 23);
        let all = problems_text(&invalid(30, true), Shown::All, "");
        assert_eq!(all.lines().count(), 31, "{all}");
        assert!(!all.contains("--max-errors"));
        // Thirty problems alike are one line, with every line number: nothing left out.
        let alike = problems_text(&invalid(30, false), DEFAULT_SHOWN, "");
        assert_eq!(alike.lines().count(), 2, "{alike}");
        assert!(alike.ends_with(": 30 rows, lines 2–31"), "{alike}");
        let none = problems_text(&invalid(30, false), Shown::Lines(0), "");
        assert!(none.ends_with("\n… and 30 more problems\n(--max-errors all lists every problem)"));
    }
}
