//! [`Limits`]: a bound on every dimension a sales file or a message can grow in, so that
//! memory stays bounded whatever the input holds.
//!
//! A file's *size* alone bounds nothing that matters: a valid 44 MB file with a million
//! distinct `sales_rep` values (a swapped column in an exporter is enough) costs far more
//! memory than a 1 GiB file of an ordinary day, because every distinct name is kept to
//! aggregate it and ends up in the report and the ledger. So each dimension has its own
//! limit: distinct reps, regions and products, rows, the length of a line, of a name and of
//! an order id, the number of columns, the problems kept for the list, a message's body.
//!
//! Over a limit is bad input, said with the limit's name and the line where it was crossed,
//! and decided *before* memory grows with it: the validator refuses the file at the first
//! name over the limit and reads no further.
//!
//! The defaults are far above any real day and are the same for salesapp and reportsengine
//! (the `[limits]` section of the configuration, read by both), so a file one accepts the
//! other accepts too.

/// The limits; the configuration's `[limits]` section (every key optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The longest record (a line, or the lines of one quoted record), header included, in
    /// bytes. Also bounds the bytes held between two chunks of a stream.
    pub max_line_bytes: usize,
    /// The most columns the header may name (the seven required ones and any others).
    pub max_columns: usize,
    /// The longest `sales_rep`, `region` or `product`, in bytes.
    pub max_name_bytes: usize,
    /// The longest `order_id`, in bytes.
    pub max_order_id_bytes: usize,
    /// The most data rows in one file.
    pub max_rows: u64,
    /// The most distinct `sales_rep` values in one file.
    pub max_reps: usize,
    /// The most distinct `region` values in one file.
    pub max_regions: usize,
    /// The most distinct `product` values in one file.
    pub max_products: usize,
    /// How many problems of an invalid file are kept for the complete list (all are counted).
    pub max_problems: usize,
    /// The largest SQS message body reportsengine parses, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    /// Far above any real day: an ordinary day has a few thousand reps, a handful of regions,
    /// hundreds of products, rows of ~100 bytes with names of ~20.
    fn default() -> Self {
        Limits {
            max_line_bytes: 64 << 10,
            max_columns: 256,
            max_name_bytes: 256,
            max_order_id_bytes: 128,
            max_rows: 100_000_000,
            max_reps: 100_000,
            max_regions: 10_000,
            max_products: 100_000,
            max_problems: 100_000,
            max_message_bytes: 64 << 10,
        }
    }
}

/// One limit as the configuration names it, its value, and the range it may be set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitField {
    /// The key in `[limits]`.
    pub key: &'static str,
    pub value: u64,
    pub min: u64,
    pub max: u64,
}

impl Limits {
    /// Every limit with its key, value and allowed range, in the order of the documentation:
    /// the one list that validation, the configuration's key table and the docs' test use.
    pub fn fields(&self) -> [LimitField; 10] {
        let f = |key, value: usize, min, max| LimitField { key, value: value as u64, min, max };
        [
            // A line must hold the header; 16 MiB is a record no exporter writes.
            f("max_line_bytes", self.max_line_bytes, 1 << 10, 16 << 20),
            f("max_columns", self.max_columns, 7, 10_000),
            f("max_name_bytes", self.max_name_bytes, 16, 64 << 10),
            f("max_order_id_bytes", self.max_order_id_bytes, 8, 64 << 10),
            LimitField { key: "max_rows", value: self.max_rows, min: 1, max: 10_000_000_000 },
            f("max_reps", self.max_reps, 1, 10_000_000),
            f("max_regions", self.max_regions, 1, 10_000_000),
            f("max_products", self.max_products, 1, 10_000_000),
            f("max_problems", self.max_problems, 20, 10_000_000),
            // SQS's own largest body is 1 MiB.
            f("max_message_bytes", self.max_message_bytes, 1 << 10, 1 << 20),
        ]
    }

    /// Every value within its range, else the first one that is not, named `limits.KEY`.
    pub fn check(&self) -> Result<(), String> {
        for LimitField { key, value, min, max } in self.fields() {
            if !(min..=max).contains(&value) {
                return Err(format!("limits.{key} = {value} must be {min} to {max}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_their_bounds_and_every_field_is_listed() {
        let d = Limits::default();
        assert_eq!(d.check(), Ok(()));
        let keys: Vec<&str> = d.fields().iter().map(|f| f.key).collect();
        // The list names each field of the struct once (a field added later without its
        // entry would be neither validated nor documented).
        let debug = format!("{d:?}");
        let struct_fields = debug.matches(": ").count();
        assert_eq!(keys.len(), struct_fields, "{debug}");
        for key in &keys {
            assert!(debug.contains(&format!("{key}: ")), "{key} is not a field: {debug}");
        }
    }

    #[test]
    fn out_of_range_values_are_named() {
        let e = Limits { max_columns: 3, ..Limits::default() }.check().unwrap_err();
        assert!(e.contains("limits.max_columns = 3"), "{e}");
        let e = Limits { max_message_bytes: 2 << 20, ..Limits::default() }.check().unwrap_err();
        assert!(e.contains("limits.max_message_bytes"), "{e}");
        assert!(Limits { max_reps: 0, ..Limits::default() }.check().is_err());
    }

    #[test]
    fn parses_from_toml_like_the_configuration_section() {
        let l: Limits = serde_json::from_str(r#"{"max_reps": 5}"#).unwrap();
        assert_eq!(l, Limits { max_reps: 5, ..Limits::default() });
        assert!(serde_json::from_str::<Limits>(r#"{"max_rep": 5}"#).is_err(), "unknown key");
    }
}
