//! The SQS message body `{"datafilelocation":"s3://BUCKET/KEY"}`, and what it may name.
//!
//! Anyone who can `SendMessage` to the queue chooses what reportsengine reads, with
//! reportsengine's own credentials. [`SalesMessage::accepted_key`] is the guard against that
//! confused deputy: only the configured bucket, only keys the key rule accepts
//! ([`crate::keys::check_input_key`]: nothing under the daemons' own prefixes, nothing an S3
//! client or a later path join could reinterpret). Report keys never come from the message:
//! they are derived from the validated file's date.
use crate::{
    keys::{self, excerpt},
    limits::Limits,
    sales::SalesDate,
};

/// A parsed message. `bucket` is a syntactically valid S3 bucket name and `key` non-empty;
/// nothing more is promised until [`SalesMessage::accepted_key`] has accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesMessage {
    pub bucket: String,
    pub key: String,
    pub date: Option<SalesDate>,
    /// Lowercase hex, 64 digits.
    pub sha256: Option<String>,
    pub rows: Option<u64>,
}

/// Why a message is refused, in plain words (it goes into the quarantine record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MessageError(pub String);

/// The JSON form. Fields are raw values so that type errors get our own words; serde's derive
/// refuses a known key given twice, so `{"datafilelocation":A,"datafilelocation":B}` cannot
/// mean one thing to us and another to some other parser. Unknown keys are ignored.
#[derive(serde::Deserialize)]
struct Wire {
    datafilelocation: Option<serde_json::Value>,
    date: Option<serde_json::Value>,
    sha256: Option<serde_json::Value>,
    rows: Option<serde_json::Value>,
}

fn err(s: impl Into<String>) -> MessageError {
    MessageError(s.into())
}

impl SalesMessage {
    /// Parses strict JSON or the lab's hand-sent form `{datafilelocation:s3://BUCKET/KEY}`,
    /// of at most the default `limits.max_message_bytes` ([`SalesMessage::parse_within`]).
    ///
    /// In JSON, `null` for an optional field means absent (some producers write it that way).
    pub fn parse(body: &str) -> Result<SalesMessage, MessageError> {
        SalesMessage::parse_within(body, Limits::default().max_message_bytes)
    }

    /// [`SalesMessage::parse`] of a body of at most `max_bytes` (`limits.max_message_bytes`):
    /// a longer one is refused unread. Ours are ~200 bytes.
    pub fn parse_within(body: &str, max_bytes: usize) -> Result<SalesMessage, MessageError> {
        if body.len() > max_bytes {
            return Err(err(format!(
                "the message body is {} bytes, more than {max_bytes} (limits.max_message_bytes)",
                body.len()
            )));
        }
        let trimmed = body.trim();
        if trimmed.is_empty() {
            return Err(err("empty message body"));
        }
        match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(serde_json::Value::Object(_)) => Self::parse_json(trimmed),
            Ok(other) => Err(err(format!("not a JSON object: the body is {}", json_kind(&other)))),
            Err(_) => match hand_form(trimmed) {
                Some(url) => {
                    let (bucket, key) = parse_s3_url(url)?;
                    Ok(SalesMessage { bucket, key, date: None, sha256: None, rows: None })
                }
                None if json_depth(trimmed) > MAX_JSON_DEPTH => Err(err(format!(
                    "too deeply nested: the JSON nests {} levels deep, more than the \
                     {MAX_JSON_DEPTH} a message may: {}",
                    json_depth(trimmed),
                    excerpt(trimmed)
                ))),
                None => Err(err(format!(
                    "not JSON and not the {{datafilelocation:s3://…}} form: {}",
                    excerpt(trimmed)
                ))),
            },
        }
    }

    fn parse_json(body: &str) -> Result<SalesMessage, MessageError> {
        let wire: Wire = serde_json::from_str(body)
            .map_err(|e| err(format!("malformed message: {}", e.to_string().replace('`', "'"))))?;
        let location = match wire.datafilelocation {
            None => return Err(err("no datafilelocation")),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(err(format!("datafilelocation is {}, not a string", json_kind(&other))))
            }
        };
        let (bucket, key) = parse_s3_url(&location)?;
        let date = match wire.date {
            None => None,
            Some(serde_json::Value::String(s)) => {
                Some(SalesDate::parse(&s).ok_or_else(|| {
                    err(format!("date is not a YYYY-MM-DD date: {}", excerpt(&s)))
                })?)
            }
            Some(other) => return Err(err(format!("date is {}, not a string", json_kind(&other)))),
        };
        let sha256 = match wire.sha256 {
            None => None,
            Some(serde_json::Value::String(s))
                if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Some(s.to_ascii_lowercase())
            }
            Some(other) => {
                return Err(err(format!(
                    "sha256 is not 64 hex digits: {}",
                    excerpt(&other.to_string())
                )))
            }
        };
        let rows = match wire.rows {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                err(format!("rows is not a non-negative integer: {}", excerpt(&v.to_string())))
            })?),
        };
        Ok(SalesMessage { bucket, key, date, sha256, rows })
    }

    /// The canonical JSON body salesapp sends: keys in the order
    /// `datafilelocation, date, sha256, rows`, absent options omitted, no whitespace.
    pub fn to_body(&self) -> String {
        // `Value::String(..).to_string()` is serde_json's infallible string escaping.
        let json_str = |s: String| serde_json::Value::String(s).to_string();
        let mut out = format!(
            "{{\"datafilelocation\":{}",
            json_str(format!("s3://{}/{}", self.bucket, self.key))
        );
        if let Some(d) = self.date {
            out.push_str(&format!(",\"date\":{}", json_str(d.to_string())));
        }
        if let Some(h) = &self.sha256 {
            out.push_str(&format!(",\"sha256\":{}", json_str(h.clone())));
        }
        if let Some(r) = self.rows {
            out.push_str(&format!(",\"rows\":{r}"));
        }
        out.push('}');
        out
    }

    /// Confused-deputy guard: the bucket must be `trusted_bucket` and the key one the key rule
    /// accepts (under `prefix` when one is configured). Returns the date the key names, if it
    /// has the shape `sales/YYYY-MM-DD/…`; when the message also carries a `date`, the two
    /// must agree.
    pub fn accepted_key(
        &self,
        trusted_bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Option<SalesDate>, MessageError> {
        if self.bucket != trusted_bucket {
            return Err(err(format!(
                "bucket {} is not the configured bucket {trusted_bucket}",
                excerpt(&self.bucket)
            )));
        }
        let key_date = keys::check_input_key(&self.key, prefix).map_err(MessageError)?;
        if let (Some(d), Some(k)) = (self.date, key_date) {
            if d != k {
                return Err(err(format!("message date {} does not match the key's date {}", d, k)));
            }
        }
        Ok(key_date)
    }

    /// The date the file's rows must carry: the key's, else the message's, if either says.
    pub fn expected_date(&self, key_date: Option<SalesDate>) -> Option<SalesDate> {
        key_date.or(self.date)
    }
}

/// Recognises `{datafilelocation:VALUE}` where the key and the value may each be quoted or not,
/// with whitespace around the tokens. Returns the URL. Nothing else is accepted: no other key,
/// no escapes inside quotes, no trailing text.
fn hand_form(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?.trim();
    let rest = inner
        .strip_prefix("\"datafilelocation\"")
        .or_else(|| inner.strip_prefix("datafilelocation"))?;
    let value = rest.trim_start().strip_prefix(':')?.trim();
    let url = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '{' | '}' | ',');
    if url.is_empty() || url.contains(bad) {
        return None;
    }
    Some(url)
}

/// `s3://BUCKET/KEY` → (bucket, key). The key is kept verbatim (no decoding of any kind).
fn parse_s3_url(url: &str) -> Result<(String, String), MessageError> {
    let not_s3 = || err(format!("not an s3:// URL: {}", excerpt(url)));
    let rest = url.strip_prefix("s3://").ok_or_else(not_s3)?;
    let (bucket, key) = rest.split_once('/').ok_or_else(not_s3)?;
    if !keys::is_valid_bucket_name(bucket) {
        return Err(err(format!("not a valid S3 bucket name: {}", excerpt(bucket))));
    }
    if key.is_empty() {
        return Err(err(format!("no object key after the bucket: {}", excerpt(url))));
    }
    Ok((bucket.to_owned(), key.to_owned()))
}

/// How deep JSON may nest: serde_json's own recursion limit, beyond which it refuses to
/// parse at all (a message of ours nests one level).
const MAX_JSON_DEPTH: usize = 128;

/// The deepest nesting of `[` and `{` in `text`, outside strings: why a parse failed when
/// it failed on depth, said as such rather than as "not JSON".
fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "123456789012-lab-us-east-1-restrictedbucket";

    fn date(s: &str) -> SalesDate {
        SalesDate::parse(s).unwrap()
    }

    /// parse then guard; Ok(the key's date) when the message may be acted on.
    fn check(body: &str) -> Result<Option<SalesDate>, MessageError> {
        SalesMessage::parse(body)?.accepted_key(BUCKET, None)
    }

    #[test]
    fn parses_the_canonical_form() {
        let m = SalesMessage::parse(&format!(
            r#"{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv","date":"2026-01-15","sha256":"{}","rows":1000,"extra":{{"x":1}}}}"#,
            "AB".repeat(32)
        ))
        .unwrap();
        assert_eq!(m.bucket, BUCKET);
        assert_eq!(m.key, "sales/2026-01-15/sales.csv");
        assert_eq!(m.date, Some(date("2026-01-15")));
        assert_eq!(m.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(m.rows, Some(1000));
        assert_eq!(m.accepted_key(BUCKET, None), Ok(Some(date("2026-01-15"))));
    }

    #[test]
    fn to_body_is_canonical_and_round_trips() {
        let full = SalesMessage {
            bucket: "my-bucket".into(),
            key: "sales/2026-01-15/sales.csv".into(),
            date: Some(date("2026-01-15")),
            sha256: Some("0f".repeat(32)),
            rows: Some(42),
        };
        assert_eq!(
            full.to_body(),
            format!(
                r#"{{"datafilelocation":"s3://my-bucket/sales/2026-01-15/sales.csv","date":"2026-01-15","sha256":"{}","rows":42}}"#,
                "0f".repeat(32)
            )
        );
        assert_eq!(SalesMessage::parse(&full.to_body()), Ok(full.clone()));
        let bare = SalesMessage { date: None, sha256: None, rows: None, ..full };
        assert_eq!(
            bare.to_body(),
            r#"{"datafilelocation":"s3://my-bucket/sales/2026-01-15/sales.csv"}"#
        );
        assert_eq!(SalesMessage::parse(&bare.to_body()), Ok(bare));
        // A key needing JSON escapes still round-trips (the guard refuses it later).
        let odd = SalesMessage {
            bucket: "my-bucket".into(),
            key: "a\"b\\c\n".into(),
            date: None,
            sha256: None,
            rows: None,
        };
        assert_eq!(SalesMessage::parse(&odd.to_body()), Ok(odd));
    }

    #[test]
    fn hand_forms() {
        let k = format!("s3://{BUCKET}/sales/2026-01-15/sales.csv");
        for body in [
            format!("{{datafilelocation:{k}}}"),
            format!("  {{ datafilelocation : {k} }}\n"),
            format!("{{\"datafilelocation\":{k}}}"),
            format!("{{datafilelocation:\"{k}\"}}"),
            format!("{{\"datafilelocation\": {k} }}"),
        ] {
            assert_eq!(check(&body), Ok(Some(date("2026-01-15"))), "{body:?}");
        }
        for body in [
            format!("{{datafilelocation:{k}"),
            format!("datafilelocation:{k}"),
            format!("{{datafilelocation:{k}}} x"),
            format!("{{datafilelocation={k}}}"),
            format!("{{datafilelocation:{k},rows:3}}"),
            format!("{{Datafilelocation:{k}}}"),
            format!("{{data file location:{k}}}"),
            format!("{{datafilelocation:\"{k}}}"),
            format!("{{datafilelocation:{k} extra}}"),
            "{datafilelocation:}".to_owned(),
            "{}".to_owned(),
        ] {
            assert!(SalesMessage::parse(&body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn error_messages_are_plain() {
        let e = |b: &str| SalesMessage::parse(b).unwrap_err().0;
        assert!(e("hello").starts_with("not JSON and not the {datafilelocation:s3://…} form"));
        assert_eq!(e(r#"{"bucket":"x"}"#), "no datafilelocation");
        assert!(e(r#"{"datafilelocation":"https://x/y"}"#).starts_with("not an s3:// URL: "));
        assert!(e("{datafilelocation:/tmp/x}").starts_with("not an s3:// URL: "));
        assert_eq!(e("   "), "empty message body");
        assert!(e("[1]").contains("an array"));
        assert!(e(r#"{"datafilelocation":5}"#).contains("a number, not a string"));
        assert!(e(r#"{"datafilelocation":"s3://Bucket/k"}"#).contains("bucket name"));
        assert!(e(r#"{"datafilelocation":"s3://bucket"}"#).starts_with("not an s3:// URL"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/"}"#).contains("no object key"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/k","date":"2026-02-30"}"#).contains("date"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/k","sha256":"abc"}"#).contains("sha256"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/k","rows":-1}"#).contains("rows"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/k","rows":1.5}"#).contains("rows"));
        assert!(e(r#"{"datafilelocation":"s3://bucket/k","rows":"3"}"#).contains("rows"));
        let long = e(&"x".repeat(10_000));
        assert!(long.chars().count() < 200, "errors are bounded: {long}");
    }

    /// Nesting past the parser's limit is said as such, not as "not JSON"; deep but
    /// parseable nesting in an unknown field is ignored like any unknown field.
    #[test]
    fn too_deep_json_is_said_so() {
        for body in [
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
            format!(
                r#"{{"datafilelocation":"s3://{BUCKET}/k","x":{}1{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
            "{\"a\":".repeat(300),
        ] {
            let e = SalesMessage::parse(&body).unwrap_err().0;
            assert!(e.starts_with("too deeply nested: the JSON nests"), "{e}");
            assert!(e.chars().count() < 250, "bounded: {e}");
        }
        let ok = format!(
            r#"{{"datafilelocation":"s3://{BUCKET}/k","x":{}1{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(SalesMessage::parse(&ok).map(|m| m.key), Ok("k".to_owned()));
        // Brackets inside strings do not count.
        assert_eq!(json_depth(r#"{"a":"[[[[{{{\"]]]"}"#), 1);
        assert!(SalesMessage::parse("{\"a\":").unwrap_err().0.starts_with("not JSON"));
    }

    #[test]
    fn bodies_over_the_limit_are_refused_unread() {
        let body =
            format!(r#"{{"datafilelocation":"s3://{BUCKET}/k","pad":"{}"}}"#, "x".repeat(2000));
        let e = SalesMessage::parse_within(&body, 1024).unwrap_err().0;
        assert!(e.contains("more than 1024 (limits.max_message_bytes)"), "{e}");
        assert!(SalesMessage::parse_within(&body, body.len()).is_ok());
        let huge = "x".repeat(Limits::default().max_message_bytes + 1);
        assert!(SalesMessage::parse(&huge).unwrap_err().0.contains("limits.max_message_bytes"));
    }

    #[test]
    fn nulls_mean_absent() {
        let m = SalesMessage::parse(
            r#"{"datafilelocation":"s3://bucket/k","date":null,"sha256":null,"rows":null}"#,
        )
        .unwrap();
        assert_eq!((m.date, m.sha256, m.rows), (None, None, None));
    }

    #[test]
    fn bucket_names() {
        let valid_bucket = keys::is_valid_bucket_name;
        for good in ["abc", "my-bucket", "my.bucket.1", "1bucket", &"a".repeat(63)] {
            assert!(valid_bucket(good), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "-abc",
            "abc-",
            ".abc",
            "abc.",
            "a..b",
            "ABC",
            "a_b",
            "192.168.1.1",
            "user@bucket",
            "bucket:443",
            "buсket",
            "",
            "a b",
        ] {
            assert!(!valid_bucket(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_and_malformed_bodies() {
        let dated = |d: &str| Ok::<_, ()>(Some(date(d)));
        let undated = Ok::<_, ()>(None);
        let url = |k: &str| format!(r#"{{"datafilelocation":"s3://{BUCKET}/{k}"}}"#);
        let huge_key = format!("sales/2026-01-15/{}.csv", "a/".repeat(600));
        let table: Vec<(String, Result<Option<SalesDate>, ()>)> = vec![
            // Accepted: salesapp's keys, and the lab's by-hand uploads anywhere else.
            (url("sales/2026-01-15/sales.csv"), dated("2026-01-15")),
            (url("sales/2024-02-29/Day_1.v2-final.csv"), dated("2024-02-29")),
            (
                format!("{{datafilelocation:s3://{BUCKET}/sales/2026-01-15/sales.csv}}"),
                dated("2026-01-15"),
            ),
            (
                format!(
                    r#"{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv","date":"2026-01-15"}}"#
                ),
                dated("2026-01-15"),
            ),
            (format!("{{datafilelocation:s3://{BUCKET}/test.txt}}"), undated),
            (format!("{{datafilelocation:s3://{BUCKET}/day.csv}}"), undated),
            (url("incoming/day.csv"), undated),
            (url("sales/2026-01-15"), undated),
            // Other buckets, and tricks around the bucket name.
            (
                r#"{"datafilelocation":"s3://other-bucket/sales/2026-01-15/sales.csv"}"#.into(),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":"s3://{BUCKET}x/sales/2026-01-15/sales.csv"}}"#),
                Err(()),
            ),
            (
                format!(
                    r#"{{"datafilelocation":"s3://user@{BUCKET}/sales/2026-01-15/sales.csv"}}"#
                ),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":"s3://{BUCKET}:443/sales/2026-01-15/sales.csv"}}"#),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":"S3://{BUCKET}/sales/2026-01-15/sales.csv"}}"#),
                Err(()),
            ),
            (
                format!(
                    r#"{{"datafilelocation":"https://{BUCKET}.s3.amazonaws.com/sales/2026-01-15/sales.csv"}}"#
                ),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":"s3:///{BUCKET}/sales/2026-01-15/sales.csv"}}"#),
                Err(()),
            ),
            (
                format!(
                    r#"{{"datafilelocation":"s3://{}/sales/2026-01-15/sales.csv"}}"#,
                    BUCKET.to_uppercase()
                ),
                Err(()),
            ),
            // Traversal and path games.
            (url("../x"), Err(())),
            (url("sales/2026-01-15/../2026-01-16/sales.csv"), Err(())),
            (url("sales/2026-01-01/%2e%2e/x.csv"), Err(())),
            (url("sales/2026-01-15/sales%2Ecsv"), Err(())),
            (url("/sales/2026-01-15/sales.csv"), Err(())),
            (url("sales//2026-01-15/sales.csv"), Err(())),
            (url("./compensation/ledger.csv"), Err(())),
            (url("sales/./2026-01-15/sales.csv"), Err(())),
            (url("sales/2026-01-15//sales.csv"), Err(())),
            (url(r"sales\\2026-01-15\\sales.csv"), Err(())),
            (url("sales/2026-01-15/sales.csv?versionId=1"), Err(())),
            (url("sales/2026-01-15/sales.csv#x"), Err(())),
            (url(r"sales/2026-01-15/sales.csv\u0000"), Err(())),
            (url(r"sales/2026-01-15/sa\tles.csv"), Err(())),
            (url(r"sales/2026-01-15/sales\u00a0.csv"), Err(())),
            (url("reports/2026-01-15/report.csv"), Err(())),
            (url("compensation/ledger.csv"), Err(())),
            (url("quarantine/x.json"), Err(())),
            (url("doctor/x.txt"), Err(())),
            (url("sales/2026-02-30/sales.csv"), Err(())),
            (url(&huge_key), Err(())),
            // Unicode lookalikes: Cyrillic 'а', fullwidth digits, division slash, fullwidth dot.
            (url("sаles/2026-01-15/sales.csv"), Err(())),
            (url("sales/２026-01-15/sales.csv"), Err(())),
            (url("sales∕2026-01-15∕sales.csv"), Err(())),
            (url("sales/2026-01-15/sales．csv"), Err(())),
            (url("sales/2026-01-15/ѕales.csv"), Err(())),
            // Message date disagreeing with the key's.
            (
                format!(
                    r#"{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv","date":"2026-01-16"}}"#
                ),
                Err(()),
            ),
            // Not messages at all.
            ("".into(), Err(())),
            ("   \n".into(), Err(())),
            ("[]".into(), Err(())),
            (format!(r#"["s3://{BUCKET}/sales/2026-01-15/sales.csv"]"#), Err(())),
            ("42".into(), Err(())),
            ("null".into(), Err(())),
            (format!(r#""s3://{BUCKET}/sales/2026-01-15/sales.csv""#), Err(())),
            (
                format!(
                    r#"{{"message":{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv"}}}}"#
                ),
                Err(()),
            ),
            (
                format!(
                    r#"{{"datafilelocation":{{"s3":"s3://{BUCKET}/sales/2026-01-15/sales.csv"}}}}"#
                ),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":["s3://{BUCKET}/sales/2026-01-15/sales.csv"]}}"#),
                Err(()),
            ),
            (r#"{"datafilelocation":123}"#.into(), Err(())),
            (r#"{"datafilelocation":""}"#.into(), Err(())),
            (
                format!(
                    r#"{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv","datafilelocation":"s3://evil/x"}}"#
                ),
                Err(()),
            ),
            (
                format!(r#"{{"datafilelocation":"s3://{BUCKET}/sales/2026-01-15/sales.csv""#),
                Err(()),
            ),
        ];
        assert!(table.len() >= 20);
        for (body, want) in &table {
            let got = check(body).map_err(|_| ());
            assert_eq!(&got, want, "{body:?} → {:?}", check(body));
        }
    }
}
