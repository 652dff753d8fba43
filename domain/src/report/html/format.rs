//! The people formats of the pages: money exact (`$12,345.67`, in tables and tooltips) and
//! compact (`$4.38B`, in tiles and on axes), counts, shares, changes and dates.
//!
//! All of it is integer arithmetic on cents: no floating point, so a page is the same bytes
//! on every machine and no amount is ever rounded by accident.
use crate::{money::Cents, sales::SalesDate};

/// `$12,345.67`: the exact amount, as tables, tooltips and notes show it.
pub(crate) fn dollars(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}${}.{:02}", grouped(abs / 100), abs % 100)
}

/// Below this many cents ($1,000) an amount is short enough to show exactly, even in a tile.
const COMPACT_FROM: u128 = 100_000;
/// The suffixes of 1,000¹ to 1,000⁴; anything larger stays in trillions (`$92,200T`).
const SUFFIXES: [&str; 4] = ["K", "M", "B", "T"];

/// A tile's amount: exact below $1,000 (`$412.50`), else three significant digits and a
/// suffix, rounded half up (`$1.54K`, `$649K`, `$2.14M`, `$4.38B`). The exact amount goes
/// beside it, in a tooltip and in the tables.
pub(crate) fn compact(c: Cents) -> String {
    let abs = u128::from(c.0.unsigned_abs());
    if abs < COMPACT_FROM {
        return dollars(c);
    }
    let sign = if c.0 < 0 { "-" } else { "" };
    // The amount is m × 10^k cents with three digits in m; a carry (999.5 → 1000) moves to
    // the next power.
    let mut k = decimal_digits(abs) - 3;
    let mut m = (abs + 10u128.pow(k) / 2) / 10u128.pow(k);
    if m == 1000 {
        m = 100;
        k += 1;
    }
    // In dollars m × 10^p; the suffix is the largest power of 1,000 the amount reaches.
    let p = k - 2;
    let group = p.div_ceil(3).min(SUFFIXES.len() as u32);
    let suffix = SUFFIXES[group as usize - 1];
    let number = match (3 * group).checked_sub(p) {
        Some(decimals) if decimals > 0 => {
            let unit = 10u128.pow(decimals);
            format!("{}.{:0width$}", m / unit, m % unit, width = decimals as usize)
        }
        // Whole units: at 100 of them and beyond a trillion.
        _ => grouped_u128(m * 10u128.pow(p - 3 * group)),
    };
    format!("{sign}${number}{suffix}")
}

/// An axis tick, in cents: the amount with no trailing zeros (`$0`, `$500`, `$2.5K`,
/// `$250K`, `$1.5M`). Ticks are round numbers, so this is exact.
pub(super) fn tick(cents: u128) -> String {
    let group = (1..=SUFFIXES.len() as u32).rev().find(|g| cents >= 100 * 1000u128.pow(*g));
    let (unit, suffix) = match group {
        Some(g) => (100 * 1000u128.pow(g), SUFFIXES[g as usize - 1]),
        None => (100, ""),
    };
    let whole = grouped_u128(cents / unit);
    let fraction = cents % unit;
    if fraction == 0 {
        return format!("${whole}{suffix}");
    }
    let width = decimal_digits(unit) as usize - 1;
    let digits = format!("{fraction:0width$}");
    format!("${whole}.{}{suffix}", digits.trim_end_matches('0'))
}

fn decimal_digits(n: u128) -> u32 {
    n.checked_ilog10().map_or(1, |d| d + 1)
}

/// `1234567` → `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    grouped_u128(u128::from(n))
}

fn grouped_u128(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    // 1 to 3 digits before the first comma; `digits` is ASCII and never empty.
    let head = (digits.len() - 1) % 3 + 1;
    out.push_str(&digits[..head]);
    let mut i = head;
    while i < digits.len() {
        out.push(',');
        out.push_str(&digits[i..i + 3]);
        i += 3;
    }
    out
}

/// `part / whole` in tenths of a percent, rounded half up; 0 when `whole` is not positive.
fn share_tenths(part: Cents, whole: Cents) -> u128 {
    let (p, w) = (part.0.max(0) as u128, whole.0.max(0) as u128);
    (p * 2000 + w).checked_div(2 * w).unwrap_or(0)
}

/// `part / whole` as a percentage with 1 decimal, rounded half up. Markup (already escaped).
pub(super) fn percent(part: Cents, whole: Cents) -> String {
    let tenths = share_tenths(part, whole);
    if tenths == 0 && part.0 > 0 && whole.0 > 0 {
        return "&lt;0.1%".to_owned(); // not "0.0%" for something that sold
    }
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// `part / whole` as a CSS length (`43.2%`), for a bar's width.
pub(super) fn width(part: Cents, whole: Cents) -> String {
    let tenths = share_tenths(part, whole).min(1000);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The change from `then` to `now` in percent with one decimal (rounded half away from
/// zero, integer arithmetic), with an arrow so it does not rely on colour. Markup.
pub(super) fn change(now: i128, then: i128) -> String {
    if then <= 0 {
        return if now == then {
            "<span class=\"flat\">= same</span>".to_owned()
        } else {
            "<span class=\"flat\">new</span>".to_owned()
        };
    }
    let diff = (now - then) * 1000;
    let tenths = (diff.abs() * 2 + then) / (2 * then);
    let figure = format!("{}.{}%", tenths / 10, tenths % 10);
    match (diff.signum(), tenths) {
        (_, 0) => format!("<span class=\"flat\">= {figure}</span>"),
        (1, _) => format!("<span class=\"up\">▲ +{figure}</span>"),
        _ => format!("<span class=\"down\">▼ −{figure}</span>"),
    }
}

/// `Jan 14`: a date near the one on the page.
pub(super) fn short_date(d: SalesDate) -> String {
    format!("{} {}", month_abbreviation(d.0.month()), d.0.day())
}

/// `Thursday, January 15, 2026`.
pub(super) fn long_date(d: SalesDate) -> String {
    format!("{}, {} {}, {}", d.0.weekday(), d.0.month(), d.0.day(), d.0.year())
}

/// `Jan`, `Feb`, …
pub(super) fn month_abbreviation(m: time::Month) -> String {
    m.to_string().chars().take(3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_money_keeps_three_significant_digits() {
        for (cents, shown) in [
            (0, "$0.00"),
            (6_483, "$64.83"),
            (99_999, "$999.99"),
            (100_000, "$1.00K"),
            (153_577, "$1.54K"),
            (999_499, "$9.99K"),
            (999_500, "$10.0K"), // 9.995K rounds to 4 digits: one fewer decimal
            (3_246_131, "$32.5K"),
            (64_922_479, "$649K"),
            (99_949_999, "$999K"),
            (99_950_000, "$1.00M"), // 999.5K carries into millions
            (214_486_446, "$2.14M"),
            (438_166_446_700, "$4.38B"),
            (-214_486_446, "-$2.14M"),
            (99_950_000_000_000_000, "$1,000T"),
            (i64::MAX, "$92,200T"),
        ] {
            assert_eq!(compact(Cents(cents)), shown, "{cents}");
        }
        assert_eq!(compact(Cents(i64::MIN)), "-$92,200T");
    }

    #[test]
    fn ticks_are_exact_without_trailing_zeros() {
        for (cents, shown) in [
            (0, "$0"),
            (100, "$1"),
            (50_000, "$500"),
            (250_000, "$2.5K"),
            (25_000_000, "$250K"),
            (150_000_000, "$1.5M"),
            (125_000, "$1.25K"),
            (500_000_000_000, "$5B"),
            (2_000_000_000_000_000, "$20T"),
            (5 * 10u128.pow(18), "$50,000T"),
            (10u128.pow(19), "$100,000T"),
            (50, "$0.5"),
        ] {
            assert_eq!(tick(cents), shown, "{cents}");
        }
    }

    #[test]
    fn percentages_and_widths() {
        assert_eq!(percent(Cents(1), Cents(3)), "33.3%");
        assert_eq!(percent(Cents(2), Cents(3)), "66.7%");
        assert_eq!(percent(Cents(1), Cents(2000)), "0.1%"); // 0.05 % rounds half up
        assert_eq!(percent(Cents(5), Cents(0)), "0.0%");
        assert_eq!(percent(Cents(0), Cents(5)), "0.0%");
        assert_eq!(percent(Cents(1), Cents(100_000)), "&lt;0.1%");
        assert_eq!(percent(Cents(i64::MAX), Cents(i64::MAX)), "100.0%");
        assert_eq!(width(Cents(5000), Cents(123_707)), "4.0%");
        assert_eq!(width(Cents(123_707), Cents(123_707)), "100.0%");
        assert_eq!(width(Cents(1), Cents(0)), "0.0%");
    }

    #[test]
    fn changes_round_half_away_from_zero_and_never_divide_by_zero() {
        assert_eq!(change(1123, 1000), "<span class=\"up\">▲ +12.3%</span>");
        assert_eq!(change(877, 1000), "<span class=\"down\">▼ −12.3%</span>");
        assert_eq!(change(10005, 10000), "<span class=\"up\">▲ +0.1%</span>"); // 0.05 → 0.1
        assert_eq!(change(10004, 10000), "<span class=\"flat\">= 0.0%</span>");
        assert_eq!(change(1000, 1000), "<span class=\"flat\">= 0.0%</span>");
        assert_eq!(change(3000, 1000), "<span class=\"up\">▲ +200.0%</span>");
        assert_eq!(change(0, 1000), "<span class=\"down\">▼ −100.0%</span>");
        assert_eq!(change(5, 0), "<span class=\"flat\">new</span>");
        assert_eq!(change(0, 0), "<span class=\"flat\">= same</span>");
        let big = i128::from(i64::MAX);
        assert_eq!(change(big, big), "<span class=\"flat\">= 0.0%</span>");
    }

    #[test]
    fn dates() {
        let d = SalesDate::parse("2026-01-15").unwrap();
        assert_eq!(short_date(d), "Jan 15");
        assert_eq!(long_date(d), "Thursday, January 15, 2026");
    }
}
