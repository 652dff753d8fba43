//! The S3 keys of SPEC §4, derived only from validated values (a [`SalesDate`], a checked
//! message id), never from text a message carries, so no message can steer a write.

use crate::sales::SalesDate;

/// `compensation/ledger.csv`, written by salesapp, read by both.
pub const LEDGER: &str = "compensation/ledger.csv";

/// `sales/YYYY-MM-DD/sales.csv`.
pub fn sales(date: SalesDate) -> String {
    format!("sales/{date}/sales.csv")
}

/// `reports/YYYY-MM-DD/NAME` for NAME in report.csv, report.json, report.html.
pub fn report(date: SalesDate, name: &str) -> String {
    format!("reports/{date}/{name}")
}

/// `quarantine/<message-id>.json`. SQS message ids are UUIDs; anything else is reduced to
/// `[A-Za-z0-9-]` so the id cannot carry a path.
pub fn quarantine(message_id: &str) -> String {
    let safe: String =
        message_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(100).collect();
    let safe = if safe.is_empty() { "unnamed".to_string() } else { safe };
    format!("quarantine/{safe}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_keys_cannot_escape() {
        assert_eq!(quarantine("0a1b-2c"), "quarantine/0a1b-2c.json");
        assert_eq!(quarantine("../../etc/passwd"), "quarantine/etcpasswd.json");
        assert_eq!(quarantine("/"), "quarantine/unnamed.json");
    }
}
