//! `report.json`: the [`Report`] itself, serialised (its field order is the key order).

use super::Report;
use crate::sales::SalesDate;

impl Report {
    /// `report.json`: pretty-printed, keys in the documented order, money as integer cents, trailing LF.
    pub fn to_json(&self) -> String {
        // Invariant: serialising structs of strings, integers and `Cents` into a String has no
        // failure path (no maps with non-string keys, no fallible custom Serialize).
        let mut s = serde_json::to_string_pretty(self).expect("report serialisation is infallible");
        s.push('\n');
        s
    }
}

pub(super) fn serialize_date<S: serde::Serializer>(d: &SalesDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}
