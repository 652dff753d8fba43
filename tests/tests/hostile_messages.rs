//! No data leaves through the daemons. Anyone who can SendMessage chooses
//! what reportsengine reads and where it writes, with reportsengine's credentials; these
//! hostile messages go to a real engine, and the emulator's request recorder shows what it
//! did with them: each is quarantined, nothing is read outside the configured bucket nor
//! under the daemons' own prefixes (but the ledger), nothing written outside `reports/` and
//! `quarantine/`, and report keys come only from validated dates (docs/design.md, The key
//! rule).
//!
//! IAM enforcement is deliberately off here: a read of another bucket would *succeed* and
//! show in the recording, rather than be hidden by a denial.

use std::collections::{BTreeMap, BTreeSet};

use e2e::checks::{self, LEDGER_KEY};
use e2e::{generate, reportsengine, run, salesapp, Emulator};
use serde_json::{json, Value};

const DAY: &str = "2026-08-01";

fn location(url: &str) -> String {
    json!({ "datafilelocation": url }).to_string()
}

/// (name, body) of every hostile message. `b` is the configured bucket, `other` a second
/// bucket holding a perfectly valid sales file at the same key.
fn hostile(b: &str, other: &str) -> Vec<(&'static str, String)> {
    let day_key = format!("sales/{DAY}/sales.csv");
    vec![
        ("other bucket", location(&format!("s3://{other}/{day_key}"))),
        ("other bucket, hand form", format!("{{datafilelocation:s3://{other}/{day_key}}}")),
        ("bucket suffix", location(&format!("s3://{b}x/{day_key}"))),
        ("bucket as prefix", location(&format!("s3://{b}.{other}/{day_key}"))),
        (
            "dotdot to other prefix",
            location(&format!("s3://{b}/sales/{DAY}/../../secret/data.csv")),
        ),
        ("dotdot to other bucket", location(&format!("s3://{b}/../{other}/{day_key}"))),
        ("dotdot in date", location(&format!("s3://{b}/sales/../sales/{DAY}/sales.csv"))),
        ("absolute key", location(&format!("s3://{b}//etc/passwd"))),
        ("absolute sales key", location(&format!("s3://{b}//{day_key}"))),
        ("no bucket", location("s3:///etc/passwd")),
        ("userinfo", location(&format!("s3://user@{b}/{day_key}"))),
        ("userinfo to other", location(&format!("s3://{b}@{other}/{day_key}"))),
        ("fragment userinfo", location(&format!("s3://{other}#@{b}/{day_key}"))),
        ("port", location(&format!("s3://{b}:443/{day_key}"))),
        ("virtual host", location(&format!("s3://{b}.s3.amazonaws.com/{day_key}"))),
        ("https url", location(&format!("https://{other}.s3.amazonaws.com/{day_key}"))),
        ("uppercase scheme", location(&format!("S3://{b}/{day_key}"))),
        (
            "percent dotdot",
            location(&format!("s3://{b}/sales/{DAY}/%2e%2e/%2e%2e/secret/data.csv")),
        ),
        ("percent slash", location(&format!("s3://{b}/sales%2F{DAY}%2Fsales.csv"))),
        ("percent absolute", location(&format!("s3://{b}/%2Fetc%2Fpasswd"))),
        ("backslashes", location(&format!("s3://{b}/sales\\{DAY}\\sales.csv"))),
        ("query", location(&format!("s3://{b}/{day_key}?versionId=1"))),
        ("fragment", location(&format!("s3://{b}/{day_key}#x"))),
        ("nul byte", location(&format!("s3://{b}/{day_key}\u{0}"))),
        ("newline", location(&format!("s3://{b}/sales/{DAY}/sales\n.csv"))),
        ("long name", location(&format!("s3://{b}/sales/{DAY}/{}.csv", "a".repeat(2000)))),
        ("deep key", location(&format!("s3://{b}/sales/{DAY}/{}sales.csv", "a/".repeat(700)))),
        ("cyrillic a", location(&format!("s3://{b}/s\u{430}les/{DAY}/sales.csv"))),
        ("fullwidth solidus", location(&format!("s3://{b}/sales\u{ff0f}{DAY}\u{ff0f}sales.csv"))),
        ("division slash", location(&format!("s3://{b}/sales\u{2215}{DAY}\u{2215}sales.csv"))),
        ("fullwidth dot", location(&format!("s3://{b}/sales/{DAY}/sales\u{ff0e}csv"))),
        ("fullwidth digit", location(&format!("s3://{b}/sales/\u{ff12}026-08-01/sales.csv"))),
        ("cyrillic bucket", location(&format!("s3://{}/{day_key}", b.replacen('e', "\u{435}", 1)))),
        ("the ledger", location(&format!("s3://{b}/{LEDGER_KEY}"))),
        ("a report", location(&format!("s3://{b}/reports/{DAY}/report.csv"))),
        ("lab's test.txt", format!("{{datafilelocation:s3://{b}/test.txt}}")),
        (
            "duplicate key",
            format!(
                r#"{{"datafilelocation":"s3://{b}/{day_key}","datafilelocation":"s3://{other}/{day_key}"}}"#
            ),
        ),
        (
            "date traversal",
            json!({"datafilelocation": format!("s3://{b}/{day_key}"), "date": "../../x"})
                .to_string(),
        ),
        (
            "date disagrees",
            json!({"datafilelocation": format!("s3://{b}/{day_key}"), "date": "2026-08-02"})
                .to_string(),
        ),
        (
            "nested",
            json!({"message": {"datafilelocation": format!("s3://{b}/{day_key}")}}).to_string(),
        ),
        ("not json", "hello; rm -rf /".to_string()),
        // Well-formed, but the object's content is for another day than its key says.
        ("misdated object", location(&format!("s3://{b}/sales/2026-08-09/sales.csv"))),
        // Well-formed, but absent.
        ("missing object", location(&format!("s3://{b}/sales/2026-08-07/sales.csv"))),
    ]
}

#[test]
fn hostile_messages_are_quarantined_and_steer_no_read_or_write() {
    let em = Emulator::start();
    let b = em.bucket().to_string();
    let other = format!("{b}-other");
    let (path, bytes) = generate(&em, DAY, 60, 1);
    let (_, misdated) = generate(&em, "2026-08-03", 20, 3);
    em.block_on(async {
        em.s3().create_bucket().bucket(&other).send().await.expect("CreateBucket other");
        for key in [format!("sales/{DAY}/sales.csv"), "etc/passwd".into(), "secret/data.csv".into()]
        {
            em.s3()
                .put_object()
                .bucket(&other)
                .key(key)
                .body(bytes.clone().into())
                .send()
                .await
                .expect("PutObject other");
        }
    });
    em.put_object("secret/data.csv", bytes.clone());
    em.put_object("etc/passwd", bytes.clone());
    em.put_object("sales/2026-08-09/sales.csv", misdated);
    // The legitimate day (object + ledger); its message is replaced by a hand-sent one below.
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    em.drain_messages();

    let cases = hostile(&b, &other);
    let mut ids = BTreeMap::new();
    for (name, body) in &cases {
        ids.insert(em.send_raw(body), *name);
    }
    let control = em.send_raw(&format!("{{datafilelocation:s3://{b}/sales/{DAY}/sales.csv}}"));

    em.start_recording();
    let r = run(reportsengine(&em).arg("once"));
    let requests = em.stop_recording();
    r.assert_ok();

    // Every hostile message quarantined (and deleted), the control one reported.
    let keys = em.list_keys();
    let mut missing = Vec::new();
    for (id, name) in &ids {
        let key = format!("quarantine/{id}.json");
        match em.get_object(&key) {
            None => missing.push(format!("{name}: no {key}")),
            Some(record) => {
                let v: Value = serde_json::from_slice(&record).expect("quarantine JSON");
                let reason = v["reason"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "{name}: {v}");
                let want = match *name {
                    "misdated object" => "2026-08-09",
                    "missing object" | "lab's test.txt" => "does not exist",
                    "other bucket" => "not the configured bucket",
                    "cyrillic a" | "fullwidth solidus" | "division slash" | "fullwidth dot"
                    | "fullwidth digit" => "non-ASCII",
                    "the ledger" | "a report" => "own prefixes",
                    "long name" | "deep key" => "over S3's 1024",
                    _ => "",
                };
                assert!(reason.contains(want), "{name}: {reason}");
            }
        }
    }
    assert!(missing.is_empty(), "not quarantined:\n{}\n{}", missing.join("\n"), r.output());
    assert!(em.get_object(&format!("quarantine/{control}.json")).is_none(), "control quarantined");
    assert_eq!(em.queue_counts(), (0, 0), "every message deleted");

    // Reports only for the one validated date, and the index of reports naming only it.
    let reports: BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("reports/"))
        .filter_map(|k| k.split_once('/').map(|(date, _)| date))
        .collect();
    assert_eq!(reports, BTreeSet::from([DAY]), "{keys:?}");
    let index: Value =
        serde_json::from_slice(&em.get_object(checks::INDEX_JSON_KEY).expect("index")).unwrap();
    let dates: Vec<&str> =
        index["days"].as_array().unwrap().iter().filter_map(|d| d["date"].as_str()).collect();
    assert_eq!(dates, [DAY], "{index}");

    // The recording: reads only in the configured bucket, never under the daemons' own
    // prefixes but for the ledger; writes only reports/ and quarantine/; nothing else at all.
    let prefix = format!("/{b}/");
    let mut reads = BTreeSet::new();
    let mut bad = Vec::new();
    for req in &requests {
        let action = req.action();
        if action.starts_with("sqs:") {
            if !["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:DeleteMessageBatch"]
                .contains(&action.as_str())
            {
                bad.push(format!("{action} (the engine never sends)"));
            }
            continue;
        }
        let path = req.s3_path();
        let Some(key) = path.strip_prefix(&prefix) else {
            bad.push(format!("{action} outside the bucket: {}", req.url));
            continue;
        };
        match action.as_str() {
            "s3:GetObject" | "s3:HeadObject" => {
                // The engine's own state: the ledger, and the index it keeps.
                if checks::is_own_key(key) && key != LEDGER_KEY && key != checks::INDEX_JSON_KEY {
                    bad.push(format!("{action} of one of the daemons' own objects: {key}"));
                }
                reads.insert(key.to_string());
            }
            "s3:PutObject" => {
                if !(key.starts_with("reports/") || key.starts_with("quarantine/")) {
                    bad.push(format!("{action} outside reports/ and quarantine/: {key}"));
                }
            }
            _ => bad.push(format!("{action} {}", req.url)),
        }
    }
    assert!(bad.is_empty(), "requests the messages steered:\n{}", bad.join("\n"));
    let want: BTreeSet<String> = [
        format!("sales/{DAY}/sales.csv"),
        "sales/2026-08-09/sales.csv".into(),
        "sales/2026-08-07/sales.csv".into(),
        "test.txt".into(),
        LEDGER_KEY.into(),
        checks::INDEX_JSON_KEY.into(),
    ]
    .into();
    assert_eq!(reads, want, "objects read");
    println!(
        "{} hostile messages quarantined; objects read: {reads:?}; reports for {reports:?}",
        ids.len()
    );
}
