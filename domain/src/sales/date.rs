//! [`SalesDate`]: a calendar date, `YYYY-MM-DD`, validated (no 2026-02-30).

use crate::money::shown;

/// A calendar date, `YYYY-MM-DD`, validated (no 2026-02-30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SalesDate(pub time::Date);

/// Why a date field is not a date; kept apart from the message so the validator can reuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateError {
    Shape,
    NotReal,
}

impl SalesDate {
    /// The date, if `year-month-day` exists in the calendar.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<SalesDate> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day).ok().map(SalesDate)
    }
    /// `YYYYMMDD`, as used in generated order ids.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }

    /// Strict `YYYY-MM-DD`, `None` otherwise: the one definition of a date that the sales
    /// file, the ledger, messages and keys share.
    pub fn parse(s: &str) -> Option<SalesDate> {
        SalesDate::parse_bytes(s.as_bytes()).ok()
    }

    /// Strict `YYYY-MM-DD`: exactly 10 ASCII bytes, no sign, no spaces, a real date.
    pub(super) fn parse_bytes(b: &[u8]) -> Result<SalesDate, DateError> {
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(DateError::Shape);
        }
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
        };
        let (y, m, d) = (num(0..4), num(5..7), num(8..10));
        // y ≤ 9999 and m, d ≤ 99: the conversions cannot fail.
        let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u8::try_from(m), u8::try_from(d)) else {
            return Err(DateError::Shape);
        };
        SalesDate::from_ymd(y, m, d).ok_or(DateError::NotReal)
    }

    /// The 10 bytes of `YYYY-MM-DD`, to compare raw fields without parsing every row.
    pub(super) fn bytes(self) -> [u8; 10] {
        let mut out = [0u8; 10];
        let s = self.to_string();
        if s.len() == 10 {
            out.copy_from_slice(s.as_bytes());
        }
        out
    }
}

pub(super) fn date_reason(input: &str, e: DateError) -> String {
    match e {
        DateError::Shape => format!("{:?} is not a date of the form YYYY-MM-DD", shown(input)),
        DateError::NotReal => format!("{:?} is not a real calendar date", shown(input)),
    }
}

impl std::str::FromStr for SalesDate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SalesDate::parse_bytes(s.as_bytes()).map_err(|e| date_reason(s, e))
    }
}
impl std::fmt::Display for SalesDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}
impl serde::Serialize for SalesDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
/// Strict `YYYY-MM-DD`, as [`SalesDate::parse`]: our own JSON state is read with the same
/// definition of a date as every other input.
impl<'de> serde::Deserialize<'de> for SalesDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
