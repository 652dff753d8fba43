//! Assertions on what the pipeline leaves in the restricted bucket, against
//! [`crate::reference`], wherever the bucket is read from ([`Objects`]).

use serde_json::Value;

use crate::reference::{self, DayRef};
use crate::{Emulator, ObjectInfo};

/// Reading the restricted bucket: the emulator directly, or the lab through a host that may.
pub trait Objects {
    /// The object's bytes, `None` when it does not exist.
    fn get_object(&self, key: &str) -> Option<Vec<u8>>;
    /// HeadObject, `None` when it does not exist.
    fn head_object(&self, key: &str) -> Option<ObjectInfo>;
    /// Every key.
    fn list_keys(&self) -> Vec<String>;
}

impl Objects for Emulator {
    fn get_object(&self, key: &str) -> Option<Vec<u8>> {
        Emulator::get_object(self, key)
    }
    fn head_object(&self, key: &str) -> Option<ObjectInfo> {
        Emulator::head_object(self, key)
    }
    fn list_keys(&self) -> Vec<String> {
        Emulator::list_keys(self)
    }
}

/// `sales/D/sales.csv`
pub fn sales_key(date: &str) -> String {
    format!("sales/{date}/sales.csv")
}

/// `reports/D/<name>`
pub fn report_key(date: &str, name: &str) -> String {
    format!("reports/{date}/{name}")
}

pub const LEDGER_KEY: &str = "compensation/ledger.csv";

/// The daemons' own prefixes (docs/design.md, The key rule): no message may make the engine read under them.
pub const OWN_PREFIXES: [&str; 4] = ["reports/", "quarantine/", "doctor/", "compensation/"];

/// True when `key` is one of the daemons' own objects.
pub fn is_own_key(key: &str) -> bool {
    OWN_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Parses CSV bytes (RFC 4180, any line ending) into records, header included.
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    rdr.records().map(|r| r.expect("valid CSV").iter().map(str::to_string).collect()).collect()
}

/// Compares records one by one, reporting the first difference readably.
#[track_caller]
pub fn assert_records(what: &str, got: &[Vec<String>], want: &[Vec<String>]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: record {i} differs (0 = header)");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} records, want {} (extra/missing: {:?})",
        got.len(),
        want.len(),
        if got.len() > want.len() { &got[want.len()..] } else { &want[got.len()..] }
    );
}

/// `sales/D/sales.csv` is byte-identical to `bytes`, has metadata `sha256` and SSE AES256.
#[track_caller]
pub fn assert_sales_object(em: &impl Objects, date: &str, bytes: &[u8]) {
    let key = sales_key(date);
    let got = em.get_object(&key).unwrap_or_else(|| panic!("{key} missing"));
    assert!(
        got == bytes,
        "{key} differs from the uploaded file ({} vs {} bytes)",
        got.len(),
        bytes.len()
    );
    let info = em.head_object(&key).expect("head sales object");
    let want = reference::sha256_hex(bytes);
    let meta = info.metadata.get("sha256").map(|s| s.to_ascii_lowercase());
    assert_eq!(
        meta.as_deref(),
        Some(want.as_str()),
        "{key}: metadata sha256 ({:?})",
        info.metadata
    );
    assert_eq!(info.sse.as_deref(), Some("AES256"), "{key}: server-side encryption");
}

/// The three report files of `day` exist and every number equals the reference's.
/// `history`: the other days whose ledger rows exist (for the year-to-date commission).
#[track_caller]
pub fn assert_report(em: &impl Objects, day: &DayRef, history: &[&DayRef]) {
    assert_report_of(em, day, history, &sales_key(&day.date));
}

/// [`assert_report`] for a file uploaded by hand to `source_key` (docs/design.md, The key rule: any key of the
/// bucket outside the daemons' own prefixes), which the report names as its source.
#[track_caller]
pub fn assert_report_of(em: &impl Objects, day: &DayRef, history: &[&DayRef], source_key: &str) {
    let date = day.date.as_str();
    // report.csv
    let key = report_key(date, "report.csv");
    let csv =
        em.get_object(&key).unwrap_or_else(|| panic!("{key} missing; keys: {:?}", em.list_keys()));
    let text = String::from_utf8(csv.clone()).expect("report.csv is UTF-8");
    assert!(
        text.starts_with("sales_rep,orders,units,revenue,commission,commission_ytd\n")
            || text.starts_with("sales_rep,orders,units,revenue,commission,commission_ytd\r\n"),
        "{key}: header line: {:?}",
        text.lines().next()
    );
    assert_records(&key, &parse_csv(&csv), &reference::report_csv_records(day, history));

    // report.json
    let key = report_key(date, "report.json");
    let json = em.get_object(&key).unwrap_or_else(|| panic!("{key} missing"));
    let got: Value =
        serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{key}: not JSON: {e}"));
    let want = reference::report_json(day, source_key, history);
    let obj = got.as_object().unwrap_or_else(|| panic!("{key}: not an object"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "date",
            "generated_by",
            "previous_day",
            "regions",
            "reps",
            "source",
            "top_products",
            "totals",
            "year_to_date"
        ],
        "{key}: top-level keys"
    );
    for field in [
        "date",
        "source",
        "totals",
        "regions",
        "reps",
        "top_products",
        "year_to_date",
        "previous_day",
    ] {
        assert_eq!(
            got[field], want[field],
            "{key}: `{field}` differs\n got: {}\nwant: {}",
            got[field], want[field]
        );
    }
    let gen = got["generated_by"].to_string();
    assert!(gen.contains("reportsengine"), "{key}: generated_by = {gen}");

    // report.html: present, self-contained, about this day.
    let key = report_key(date, "report.html");
    let html = em.get_object(&key).unwrap_or_else(|| panic!("{key} missing"));
    let html = String::from_utf8(html).expect("report.html is UTF-8");
    assert_self_contained(&key, &html);
    assert!(html.contains(date), "{key}: does not mention {date}");

    // Every report object is encrypted.
    for name in ["report.csv", "report.json", "report.html"] {
        let info = em.head_object(&report_key(date, name)).expect("head report");
        assert_eq!(info.sse.as_deref(), Some("AES256"), "{name}: server-side encryption");
    }
}

pub const INDEX_JSON_KEY: &str = "reports/index.json";
pub const INDEX_HTML_KEY: &str = "reports/index.html";

/// `$1,234.56`, as the pages show money (written here, not taken from the code under test).
pub fn dollars(cents: i128) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

/// `reports/index.json` lists exactly `days` (each as last reported), and `reports/index.html`
/// shows every one of them, with a relative link to a report that exists.
#[track_caller]
pub fn assert_index(em: &impl Objects, days: &[&DayRef]) {
    let json = em.get_object(INDEX_JSON_KEY).unwrap_or_else(|| panic!("{INDEX_JSON_KEY} missing"));
    let got: Value =
        serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{INDEX_JSON_KEY}: not JSON: {e}"));
    let want = reference::index_json(days);
    assert_eq!(got, want, "{INDEX_JSON_KEY}\n got: {got}\nwant: {want}");
    let text = String::from_utf8(json).expect("UTF-8");
    assert!(text.ends_with("}\n"), "{INDEX_JSON_KEY}: one document and a newline");

    let html = em.get_object(INDEX_HTML_KEY).unwrap_or_else(|| panic!("{INDEX_HTML_KEY} missing"));
    let html = String::from_utf8(html).expect("index.html is UTF-8");
    assert_self_contained(INDEX_HTML_KEY, &html);
    let links = html.matches("href=\"").count();
    assert_eq!(links, days.len() + 1, "{INDEX_HTML_KEY}: one link per day, and the latest's");
    for d in days {
        let link = format!("href=\"{}/report.html\"", d.date);
        assert!(html.contains(&link), "{INDEX_HTML_KEY}: no {link}");
        assert!(html.contains(&dollars(d.revenue_cents)), "{INDEX_HTML_KEY}: {}", d.date);
        let page = report_key(&d.date, "report.html");
        assert!(em.head_object(&page).is_some(), "{INDEX_HTML_KEY} links to a missing {page}");
    }
    for key in [INDEX_JSON_KEY, INDEX_HTML_KEY] {
        let info = em.head_object(key).expect("head index");
        assert_eq!(info.sse.as_deref(), Some("AES256"), "{key}: server-side encryption");
    }
}

/// A page that loads nothing from anywhere.
#[track_caller]
fn assert_self_contained(key: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(lower.contains("<html") && lower.contains("</html>"), "{key}: not an HTML document");
    for pat in ["src=", "http:", "https:", "@import", "url(", "<link"] {
        assert!(!lower.contains(pat), "{key}: not self-contained ({pat}…)");
    }
}

/// `compensation/ledger.csv` holds exactly the rows of `days` (one entry per date).
#[track_caller]
pub fn assert_ledger(em: &impl Objects, days: &[&DayRef]) {
    let ledger = em.get_object(LEDGER_KEY).unwrap_or_else(|| panic!("{LEDGER_KEY} missing"));
    assert_records(LEDGER_KEY, &parse_csv(&ledger), &reference::ledger_records(days));
}

/// No message left on the queue, visible or in flight.
#[track_caller]
pub fn assert_queue_empty(em: &Emulator) {
    assert_eq!(em.queue_counts(), (0, 0), "queue (visible, in flight) should be empty");
}

/// Nothing under `quarantine/`.
#[track_caller]
pub fn assert_no_quarantine(em: &impl Objects) {
    let q: Vec<String> =
        em.list_keys().into_iter().filter(|k| k.starts_with("quarantine/")).collect();
    assert!(q.is_empty(), "unexpected quarantine objects: {q:?}");
}

/// Every API action the lab's permissions authorize (HeadObject is `s3:GetObject`, the
/// multipart calls `s3:PutObject`, the batches their single forms).
pub const ALLOWED_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:HeadObject",
    "s3:PutObject",
    "s3:CreateMultipartUpload",
    "s3:UploadPart",
    "s3:CompleteMultipartUpload",
    "sqs:SendMessage",
    "sqs:SendMessageBatch",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:DeleteMessageBatch",
];
