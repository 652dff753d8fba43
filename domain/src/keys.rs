//! The S3 keys (docs/design.md, S3 keys), derived only from validated values (a [`SalesDate`], a checked
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

/// `reports/index.json`: every reported day, written by reportsengine after each report.
pub const REPORT_INDEX_JSON: &str = "reports/index.json";
/// `reports/index.html`: the same for people, rendered from `reports/index.json`.
pub const REPORT_INDEX_HTML: &str = "reports/index.html";

/// `quarantine/<message-id>.json`. SQS message ids are UUIDs; anything else is reduced to
/// `[A-Za-z0-9-]` so the id cannot carry a path.
pub fn quarantine(message_id: &str) -> String {
    let safe: String =
        message_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(100).collect();
    let safe = if safe.is_empty() { "unnamed".to_string() } else { safe };
    format!("quarantine/{safe}.json")
}

/// The prefixes of the daemons' own objects. A message may never name a key under one of
/// them: the engine reads sales files, never its own state or output.
pub const OWN_PREFIXES: [&str; 4] = ["reports/", "quarantine/", "doctor/", "compensation/"];

/// The longest key S3 accepts; anything longer cannot name an object.
pub const MAX_KEY_BYTES: usize = 1024;

/// The key rule (docs/design.md, The key rule): any key of the bucket but
/// the daemons' own objects, after the safety checks, optionally narrowed to `prefix`.
/// Returns the date the key names when it has the shape `sales/YYYY-MM-DD/…`, which the
/// file's rows must then carry.
///
/// Each check names the trick it caught, since the reason goes into the quarantine record.
/// No `.` or `..` path segment passes (nor `..` anywhere, nor `//`), so no later join or
/// normalisation can turn an accepted key into another. Keys are taken literally: nothing
/// is ever decoded, so `%2e%2e` stays five bytes and is refused rather than risk another
/// layer reading it as `..`. Keys are ASCII only, so no key can pass for another (a
/// Cyrillic `а` in `sаles/`, a fullwidth or division slash).
pub fn check_input_key(key: &str, prefix: Option<&str>) -> Result<Option<SalesDate>, String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("key is {} bytes, over S3's {MAX_KEY_BYTES}", key.len()));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(format!("key contains the control character {c:?}"));
    }
    if let Some(c) = key.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "key contains the non-ASCII character {c:?} (U+{:04X}); only ASCII keys are \
             accepted, so that no key can pass for another: {}",
            c as u32,
            excerpt(key)
        ));
    }
    if let Some(i) = key.find('%') {
        let escape = key.as_bytes().get(i + 1..i + 3);
        if escape.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return Err(format!(
                "key contains a percent-escape ({}); keys are taken literally, never decoded",
                &key[i..i + 3]
            ));
        }
    }
    if let Some(c) = key.chars().find(|c| matches!(c, '\\' | '?' | '#')) {
        return Err(format!("key contains {c:?}, which has no place in a key: {}", excerpt(key)));
    }
    if key.starts_with('/') {
        return Err(format!("key is an absolute path: {}", excerpt(key)));
    }
    if key.contains("..") || key.contains("//") {
        return Err(format!("key contains `..` or `//`: {}", excerpt(key)));
    }
    // `./compensation/ledger.csv` is our ledger to anything that normalises paths.
    if key.split('/').any(|segment| segment == ".") {
        return Err(format!("key contains a `.` path segment: {}", excerpt(key)));
    }
    let first = key.split('/').next().unwrap_or_default();
    if let Some(own) =
        OWN_PREFIXES.iter().find(|p| p.trim_end_matches('/').eq_ignore_ascii_case(first))
    {
        return Err(format!(
            "key {} is under {own}, one of the daemons' own prefixes: a message may name only \
             sales files",
            excerpt(key)
        ));
    }
    if let Some(prefix) = prefix {
        if !key.starts_with(prefix) {
            return Err(format!(
                "key {} is not under {prefix} (reportsengine.input_prefix)",
                excerpt(key)
            ));
        }
    }
    sales_key_date(key)
}

/// The date of a key shaped `sales/YYYY-MM-DD/…` (how salesapp names the day's file), `None`
/// for any other key. A date-shaped segment that is not a real date is refused.
fn sales_key_date(key: &str) -> Result<Option<SalesDate>, String> {
    let Some(rest) = key.strip_prefix("sales/") else { return Ok(None) };
    let Some((segment, _name)) = rest.split_once('/') else { return Ok(None) };
    let date_shaped = segment.len() == 10
        && segment.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !date_shaped {
        return Ok(None);
    }
    SalesDate::parse(segment)
        .map(Some)
        .ok_or_else(|| format!("key names sales/{segment}/, which is not a real date"))
}

/// S3's general-purpose bucket naming rules: 3–63 characters of `a-z0-9.-`, starting and
/// ending with a letter or digit, no `..`, not shaped like an IPv4 address. The one rule for
/// the configuration's `bucket` and a message's bucket: it refuses `user@host`, `host:port`
/// and uppercase lookalikes before anything is compared.
pub fn is_valid_bucket_name(b: &str) -> bool {
    let bytes = b.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|c| edge(c) || *c == b'-' || *c == b'.')
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && !b.contains("..")
        && b.parse::<std::net::Ipv4Addr>().is_err()
}

/// At most 80 characters of hostile text, with control characters made visible, for errors
/// that end up in logs and quarantine records.
pub fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().nth(80).is_some() {
        out.push('…');
    }
    out
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

    fn date(s: &str) -> Option<SalesDate> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn any_key_outside_our_prefixes_may_be_named() {
        for key in [
            "day.csv",
            "incoming/day.csv",
            "uploads/2026/01/15/My Sales.csv",
            "a@b.csv",
            "50%off.csv",
            "test.txt",
            "sales/2026-01-15",
            "sales/2026-1-15/x.csv",
            "Sales/2026-01-15/sales.csv",
            ".hidden.csv",
            "incoming/.csv",
            "a./b.csv",
        ] {
            assert_eq!(check_input_key(key, None), Ok(None), "{key}");
        }
        assert_eq!(check_input_key("sales/2026-01-15/sales.csv", None), Ok(date("2026-01-15")));
        assert_eq!(check_input_key("sales/2024-02-29/sub/day.csv", None), Ok(date("2024-02-29")));
    }

    #[test]
    fn unsafe_and_own_keys_are_refused_with_the_trick_named() {
        let refused = |key: &str, why: &str| {
            let e = check_input_key(key, None).expect_err(key);
            assert!(e.contains(why), "{key}: {e}");
        };
        refused("", "empty");
        refused(&"a".repeat(1025), "over S3's 1024");
        refused("sales/2026-01-15/sales.csv\u{0}", "control");
        refused("a\tb.csv", "control");
        refused("s\u{430}les/2026-01-15/sales.csv", "non-ASCII");
        refused("sales\u{2215}2026-01-15\u{2215}sales.csv", "non-ASCII");
        refused("sales/2026-01-15/sales\u{ff0e}csv", "non-ASCII");
        refused("sales/\u{ff12}026-01-15/sales.csv", "non-ASCII");
        refused("sales/2026-01-15/%2e%2e/x.csv", "percent-escape");
        refused("sales%2F2026-01-15", "percent-escape");
        refused("sales\\2026-01-15\\sales.csv", "'\\\\'");
        refused("day.csv?versionId=1", "'?'");
        refused("day.csv#x", "'#'");
        refused("/etc/passwd", "absolute");
        refused("../x", "`..`");
        refused("sales/2026-01-15/../2026-01-16/sales.csv", "`..`");
        refused("sales//2026-01-15/sales.csv", "`//`");
        refused("./compensation/ledger.csv", "`.` path segment");
        refused("sales/./x.csv", "`.` path segment");
        refused("sales/2026-01-15/.", "`.` path segment");
        refused(".", "`.` path segment");
        refused("sales/2026-01-15/..", "`..`");
        refused("compensation/ledger.csv", "own prefixes");
        refused("reports/2026-01-15/report.csv", "own prefixes");
        refused(REPORT_INDEX_JSON, "own prefixes");
        refused(REPORT_INDEX_HTML, "own prefixes");
        refused("Reports/2026-01-15/report.csv", "own prefixes");
        refused("quarantine/x.json", "own prefixes");
        refused("doctor/probe.txt", "own prefixes");
        refused("sales/2026-02-30/sales.csv", "not a real date");
    }

    #[test]
    fn a_prefix_narrows_the_keys() {
        assert_eq!(
            check_input_key("sales/2026-01-15/sales.csv", Some("sales/")),
            Ok(date("2026-01-15"))
        );
        let e = check_input_key("day.csv", Some("sales/")).unwrap_err();
        assert!(e.contains("reportsengine.input_prefix"), "{e}");
        assert!(
            check_input_key("reports/x", Some("reports/")).is_err(),
            "own prefixes stay refused"
        );
    }
}
