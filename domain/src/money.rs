//! Money as integer cents, and the commission rates. No floating point touches an amount.
//!
//! Why integers: a sales file, the ledger and the report must agree to the cent whatever the
//! machine, and binary floating point cannot even represent `0.10`. Every amount is an `i64`
//! count of cents; every product of amounts is checked or computed in `i128`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// An amount of money in cents. May be negative only as a difference; prices are never negative.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// Why a price did not parse.
///
/// The messages end up in front of whoever prepared the sales file, so each one says what was
/// found (quoted, shortened when long) and what was expected. The `String` in each variant is
/// the offending input, shortened to at most 60 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing at all: a price is required.
    #[error("empty; expected a price like 12.50")]
    Empty,
    /// `+1`, `-1`: prices are never negative, and a `+` is a sign of a spreadsheet formula.
    #[error("{0:?} has a sign; expected a price without + or -, like 12.50")]
    Sign(String),
    /// `1.234`: money is whole cents.
    #[error("more than 2 decimals in {0:?}; expected at most 2, like 12.50")]
    TooManyDecimals(String),
    /// `.5`, `5.`: accepted by some tools, but rejected here because they are usually the
    /// trace of a truncated or hand-edited value.
    #[error("{0:?} needs digits on both sides of the decimal point, like 0.50 or 5.00")]
    MissingDigits(String),
    /// Spaces, thousands separators, currency signs, exponents, a second point…
    #[error(
        "{0:?} is not a price; expected only digits and at most one decimal point, like 1234.50 \
         (no spaces, thousands separators, currency signs or exponents)"
    )]
    NotANumber(String),
    /// More cents than an `i64` holds.
    #[error("{0:?} is too large to be a price")]
    TooLarge(String),
}

impl Cents {
    /// Zero cents.
    pub const ZERO: Cents = Cents(0);

    /// Parses a non-negative decimal with at most 2 decimals ("12", "12.5", "12.50", "0.99").
    ///
    /// Strict on purpose: the file is machine-written, so anything unusual (`.5`, `5.`, signs,
    /// spaces, `1,000`, `1e3`, `1.234`) more likely means a broken export than a real price.
    /// Leading zeros (`007.50`) are accepted: they are unambiguous.
    pub fn parse_price(s: &str) -> Result<Cents, MoneyError> {
        let b = s.as_bytes();
        let Some(&first) = b.first() else {
            return Err(MoneyError::Empty);
        };
        if first == b'+' || first == b'-' {
            return Err(MoneyError::Sign(shown(s).into_owned()));
        }
        let (int, frac) = match memchr::memchr(b'.', b) {
            Some(i) => (&b[..i], Some(&b[i + 1..])),
            None => (b, None),
        };
        let all_digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
        if !all_digits(int) || !frac.is_none_or(all_digits) {
            return Err(MoneyError::NotANumber(shown(s).into_owned()));
        }
        if int.is_empty() || frac.is_some_and(<[u8]>::is_empty) {
            return Err(MoneyError::MissingDigits(shown(s).into_owned()));
        }
        let frac = frac.unwrap_or(&[]);
        if frac.len() > 2 {
            return Err(MoneyError::TooManyDecimals(shown(s).into_owned()));
        }
        let too_large = || MoneyError::TooLarge(shown(s).into_owned());
        let mut units: i64 = 0;
        for &d in int {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(d - b'0')))
                .ok_or_else(too_large)?;
        }
        // "5" → 50 cents, "05" → 5 cents, "" → 0.
        let cents = frac
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(2)
            .fold(0, |acc, &d| acc * 10 + i64::from(d - b'0'));
        units.checked_mul(100).and_then(|u| u.checked_add(cents)).map(Cents).ok_or_else(too_large)
    }
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
    /// quantity × unit price, `None` on overflow.
    pub fn checked_mul(self, quantity: u64) -> Option<Cents> {
        i64::try_from(quantity).ok().and_then(|q| self.0.checked_mul(q)).map(Cents)
    }
}

/// The value of ASCII digits (`None` if any byte is not one). The caller bounds the length
/// (at most 19 digits fit a `u64`).
#[inline]
pub(crate) fn ascii_digits(v: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for &c in v {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + u64::from(d);
    }
    Some(value)
}

/// A price of the usual form, fast: 1 to 15 digits, then optionally `.` and 1 or 2 digits.
/// `None` for anything else, which [`Cents::parse_price`] then accepts or explains; where
/// both accept, they agree.
pub(crate) fn plain_price(b: &[u8]) -> Option<Cents> {
    let (int, frac) = match b.len().checked_sub(3) {
        Some(i) if b[i] == b'.' => (&b[..i], &b[i + 1..]),
        _ => match b.len().checked_sub(2) {
            Some(i) if b[i] == b'.' => (&b[..i], &b[i + 1..]),
            _ => (b, &b[..0]),
        },
    };
    if int.is_empty() || int.len() > 15 {
        return None;
    }
    // < 10^15: fits an i64 with room for × 100.
    let units = ascii_digits(int)? as i64;
    let mut cents = 0i64;
    for k in 0..2 {
        let d = match frac.get(k) {
            Some(&c) => c.wrapping_sub(b'0'),
            None => 0,
        };
        if d > 9 {
            return None;
        }
        cents = cents * 10 + i64::from(d);
    }
    Some(Cents(units * 100 + cents))
}

/// Commission = revenue × rate_bps / 10 000, rounded half to even to the cent.
///
/// Half to even (banker's rounding) because it does not drift upward when summed over many
/// reps and days, and it is what the ledger and the report both use so they agree.
/// Never panics: a result beyond `i64` (only possible with a rate above 100 %) saturates; use
/// [`checked_commission`] to detect that.
pub fn commission(revenue: Cents, rate_bps: u32) -> Cents {
    checked_commission(revenue, rate_bps).unwrap_or(if revenue.0 < 0 {
        Cents(i64::MIN)
    } else {
        Cents(i64::MAX)
    })
}

/// Like [`commission`], but `None` when the result does not fit in an `i64`.
///
/// The product is computed exactly in `i128` (|revenue| < 2⁶³, rate < 2³², so it is < 2⁹⁵).
pub fn checked_commission(revenue: Cents, rate_bps: u32) -> Option<Cents> {
    const DIVISOR: i128 = 10_000;
    let n = i128::from(revenue.0) * i128::from(rate_bps);
    // Floor division, then round the remainder (0 ≤ r < 10 000) half to even.
    let q = n.div_euclid(DIVISOR);
    let r = n.rem_euclid(DIVISOR);
    let q = if r * 2 > DIVISOR || (r * 2 == DIVISOR && q % 2 != 0) { q + 1 } else { q };
    i64::try_from(q).ok().map(Cents)
}

/// Display: "d.dd" (e.g. 0.05, 1234.50, -3.20). Honors width/alignment (`{:>12}`) so reports
/// can align columns; never allocates and handles `i64::MIN`.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "-92233720368547758.08" is the longest: 21 bytes.
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        let abs = self.0.unsigned_abs();
        let mut push = |b: u8| {
            i -= 1;
            buf[i] = b;
        };
        let cents = abs % 100;
        push(b'0' + (cents % 10) as u8);
        push(b'0' + (cents / 10) as u8);
        push(b'.');
        let mut units = abs / 100;
        loop {
            push(b'0' + (units % 10) as u8);
            units /= 10;
            if units == 0 {
                break;
            }
        }
        if self.0 < 0 {
            push(b'-');
        }
        // Only ASCII digits, '.' and '-' were written.
        match std::str::from_utf8(&buf[i..]) {
            Ok(s) => f.pad(s),
            Err(_) => Err(fmt::Error),
        }
    }
}

/// The input as shown in a message: at most 60 characters, with `…` when shortened, so that a
/// hostile megabyte-long field cannot flood the output.
pub(crate) fn shown(s: &str) -> Cow<'_, str> {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let cut = s.char_indices().nth(MAX - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// `[compensation]`: the commission rates, read by both binaries so the ledger written by
/// salesapp and the report written by reportsengine agree to the cent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    /// Default rate in basis points. Default 500 (5.00 %).
    #[serde(default = "default_commission_bps")]
    pub commission_bps: u32,
    /// Per-rep rates in basis points, keyed by the exact `sales_rep` string.
    #[serde(default)]
    pub overrides: BTreeMap<String, u32>,
}

fn default_commission_bps() -> u32 {
    500
}

impl Default for Compensation {
    fn default() -> Self {
        Compensation { commission_bps: default_commission_bps(), overrides: BTreeMap::new() }
    }
}

impl Compensation {
    /// The rate that applies to `sales_rep`: its override, else the default.
    pub fn rate_bps(&self, sales_rep: &str) -> u32 {
        self.overrides.get(sales_rep).copied().unwrap_or(self.commission_bps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_price_agrees_with_parse_price() {
        let inputs = [
            "0",
            "0.00",
            "12",
            "12.5",
            "12.50",
            "12.05",
            "0.99",
            "007.50",
            "2499.00",
            ".5",
            "5.",
            "",
            "1.234",
            "-1",
            "+1",
            "1,00",
            "1 ",
            "1e3",
            "1.2.3",
            "..1",
            "1..",
            "a.bc",
            "1.a",
            "999999999999999",
            "9999999999999999",
            "999999999999999.99",
            "1.\u{e9}",
            "1.5.",
        ];
        for s in inputs {
            match plain_price(s.as_bytes()) {
                Some(c) => assert_eq!(Cents::parse_price(s), Ok(c), "{s:?}"),
                None => assert!(Cents::parse_price(s).is_err() || s.len() > 15, "{s:?}"),
            }
        }
        assert_eq!(plain_price(b"12.5"), Some(Cents(1250)));
        assert_eq!(plain_price(b"1.234"), None);
    }

    #[test]
    fn parse_price_accepts() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("0.00", 0),
            ("12", 1200),
            ("12.5", 1250),
            ("12.50", 1250),
            ("12.05", 1205),
            ("0.99", 99),
            ("0.01", 1),
            ("007.50", 750),
            ("2499.00", 249_900),
            ("92233720368547758.07", i64::MAX),
        ];
        for &(s, want) in cases {
            assert_eq!(Cents::parse_price(s), Ok(Cents(want)), "{s:?}");
        }
    }

    #[test]
    fn parse_price_rejects() {
        use MoneyError::*;
        let s = |x: &str| x.to_string();
        let cases: Vec<(&str, MoneyError)> = vec![
            ("", Empty),
            ("-1", Sign(s("-1"))),
            ("+1.00", Sign(s("+1.00"))),
            ("-0", Sign(s("-0"))),
            ("1.234", TooManyDecimals(s("1.234"))),
            ("0.001", TooManyDecimals(s("0.001"))),
            (".5", MissingDigits(s(".5"))),
            ("5.", MissingDigits(s("5."))),
            (".", MissingDigits(s("."))),
            ("1e3", NotANumber(s("1e3"))),
            (" 1", NotANumber(s(" 1"))),
            ("1 ", NotANumber(s("1 "))),
            ("1 000", NotANumber(s("1 000"))),
            ("1,000.00", NotANumber(s("1,000.00"))),
            ("1.2.3", NotANumber(s("1.2.3"))),
            ("$5", NotANumber(s("$5"))),
            ("abc", NotANumber(s("abc"))),
            ("١٢", NotANumber(s("١٢"))), // Arabic-Indic digits are not ASCII digits
            ("92233720368547758.08", TooLarge(s("92233720368547758.08"))),
            ("99999999999999999999", TooLarge(s("99999999999999999999"))),
        ];
        for (input, want) in cases {
            assert_eq!(Cents::parse_price(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn money_error_messages_are_readable() {
        let msg = |s: &str| Cents::parse_price(s).unwrap_err().to_string();
        assert_eq!(
            msg("1.234"),
            "more than 2 decimals in \"1.234\"; expected at most 2, like 12.50"
        );
        assert_eq!(msg(""), "empty; expected a price like 12.50");
        assert!(msg(".5").starts_with("\".5\" needs digits on both sides"));
        assert!(msg("-3").starts_with("\"-3\" has a sign"));
        let long = "9".repeat(100) + "x";
        let m = msg(&long);
        assert!(m.contains('…') && m.len() < 250, "{m}");
    }

    #[test]
    fn display() {
        let cases: &[(i64, &str)] = &[
            (0, "0.00"),
            (5, "0.05"),
            (10, "0.10"),
            (99, "0.99"),
            (100, "1.00"),
            (123_450, "1234.50"),
            (-5, "-0.05"),
            (-320, "-3.20"),
            (i64::MAX, "92233720368547758.07"),
            (i64::MIN, "-92233720368547758.08"),
        ];
        for &(c, want) in cases {
            assert_eq!(Cents(c).to_string(), want);
        }
        assert_eq!(format!("{:>8}|{:<6}|", Cents(150), Cents(5)), "    1.50|0.05  |");
    }

    #[test]
    fn commission_rounds_half_to_even() {
        let cases: &[(i64, u32, i64)] = &[
            (10_000, 500, 500),
            (0, 500, 0),
            (12_345, 0, 0),
            (1, 5_000, 0),                 // 0.5 → 0 (even)
            (3, 5_000, 2),                 // 1.5 → 2 (even)
            (5, 5_000, 2),                 // 2.5 → 2 (even)
            (7, 5_000, 4),                 // 3.5 → 4
            (30, 500, 2),                  // 1.5 → 2
            (50, 500, 2),                  // 2.5 → 2
            (51, 500, 3),                  // 2.55 → 3
            (49, 500, 2),                  // 2.45 → 2
            (10_001, 1, 1),                // 1.0001 → 1
            (15_000, 1, 2),                // 1.5 → 2
            (25_000, 1, 2),                // 2.5 → 2
            (25_001, 1, 3),                // 2.5001 → 3
            (-1, 5_000, 0),                // -0.5 → 0
            (-3, 5_000, -2),               // -1.5 → -2
            (-5, 5_000, -2),               // -2.5 → -2
            (-51, 500, -3),                // -2.55 → -3
            (123_456_789, 725, 8_950_617), // 8 950 617.2025
            (i64::MAX, 10_000, i64::MAX),
            (i64::MIN, 10_000, i64::MIN),
        ];
        for &(rev, bps, want) in cases {
            assert_eq!(commission(Cents(rev), bps), Cents(want), "{rev} × {bps}");
        }
    }

    #[test]
    fn commission_never_panics_and_saturates() {
        assert_eq!(checked_commission(Cents(i64::MAX), u32::MAX), None);
        assert_eq!(commission(Cents(i64::MAX), u32::MAX), Cents(i64::MAX));
        assert_eq!(commission(Cents(i64::MIN), u32::MAX), Cents(i64::MIN));
        assert_eq!(commission(Cents(i64::MIN), 1), Cents(-922_337_203_685_478));
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Cents(1).checked_add(Cents(2)), Some(Cents(3)));
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
        assert_eq!(Cents(250).checked_mul(3), Some(Cents(750)));
        assert_eq!(Cents(2).checked_mul(u64::MAX), None);
        assert_eq!(Cents(i64::MAX / 2 + 1).checked_mul(2), None);
    }

    #[test]
    fn property_display_parse_round_trip() {
        let mut s = crate::generate::SplitMix64(1);
        for _ in 0..20_000 {
            // Mix magnitudes: small amounts are the interesting ones.
            let r = s.next();
            let v = (r >> (r % 63)) as i64 & i64::MAX;
            let c = Cents(v);
            assert_eq!(Cents::parse_price(&c.to_string()), Ok(c), "{v}");
        }
    }

    #[test]
    fn property_commission_is_nearest_and_ties_even() {
        let mut s = crate::generate::SplitMix64(7);
        for _ in 0..20_000 {
            let r = s.next();
            let rev = ((r >> (r % 64)) as i64) >> 8; // any sign, many magnitudes
            let bps = (s.next() % 20_001) as u32;
            let got = i128::from(commission(Cents(rev), bps).0);
            let exact = i128::from(rev) * i128::from(bps); // in 1/10 000 of a cent
            let diff = got * 10_000 - exact;
            assert!(diff.abs() <= 5_000, "{rev} × {bps}: {got}");
            if diff.abs() == 5_000 {
                assert_eq!(got % 2, 0, "tie must go to even: {rev} × {bps}");
            }
        }
    }

    #[test]
    fn shown_shortens_long_text_on_char_boundaries() {
        assert_eq!(shown("abc"), "abc");
        let s = "é".repeat(61);
        let out = shown(&s);
        assert_eq!(out.chars().count(), 60);
        assert!(out.ends_with('…'));
        assert_eq!(shown(&"x".repeat(60)), "x".repeat(60));
    }
}
