//! A message that can never succeed is written to
//! `quarantine/<message-id>.json` (docs/design.md, Quarantine records: its keys, a reason a person understands), deleted, and
//! the daemon goes on with the next message. Driven by the committed corpus in
//! `tests/corpus/` (bad messages and bad sales files, each with its expected outcome).

use std::collections::BTreeMap;

use e2e::checks::{self, LEDGER_KEY};
use e2e::daemon::wait_until;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp};

const DATE: &str = "2026-01-15";

/// Every bad message of the corpus, then a good one: each bad one is quarantined with its
/// reason and deleted, nothing outside the configured bucket is ever requested (the
/// confused-deputy guard: the other bucket is not even fetched), and the good message that
/// comes after them all gets its report.
#[test]
fn bad_messages_are_quarantined_and_the_daemon_goes_on() {
    let em = e2e::Emulator::start();
    let dir = corpus_dir().join("bad-messages");
    let cases = tsv(&dir.join("expected.tsv"));
    assert!(cases.len() >= 10, "the corpus needs at least 10 bad messages");

    let mut sent = BTreeMap::new(); // message id → (file, body, expected reason)
    for case in &cases {
        let [file, reason] = &case[..] else { panic!("bad expected.tsv line {case:?}") };
        let raw = std::fs::read_to_string(dir.join(file)).expect("corpus message");
        let body = raw.replace("{BUCKET}", em.bucket());
        let id = em.send_raw(&body);
        sent.insert(id, (file.clone(), body, reason.clone()));
    }
    // The good day comes last.
    let (path, bytes) = generate(&em, DATE, 60, 11);
    let day = reference_of(&em, &bytes);

    em.start_recording();
    let mut engine = engine(&em, &[]);
    upload(&em, &path).assert_ok();
    wait_for_object(&em, "reports/2026-01-15/report.json", LONG);
    wait_until(LONG, "every bad message quarantined", || {
        (quarantine_keys(&em).len() >= sent.len()).then_some(())
    });
    wait_queue_empty(&em, LONG);
    stop(&mut engine);
    let requests = em.stop_recording();

    let mut failures = Vec::new();
    for (id, (file, body, reason)) in &sent {
        match quarantine_record(&em, id) {
            None => failures.push(format!("{file}: no quarantine/{id}.json")),
            Some(rec) => {
                if rec["body"].as_str() != Some(body.as_str()) {
                    failures.push(format!("{file}: body {:?}, sent {body:?}", rec["body"]));
                }
                let got = rec["reason"].as_str().unwrap_or_default();
                if !got.contains(reason.as_str()) {
                    failures.push(format!("{file}: reason {got:?} lacks {reason:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}\nlog:\n{}", failures.join("\n"), engine.log());
    assert_eq!(quarantine_keys(&em).len(), sent.len(), "one record per bad message");
    checks::assert_report(&em, &day, &[]);
    checks::assert_queue_empty(&em);

    // The guard: no request ever left the configured bucket, and no key a bad message named
    // under the daemons' own prefixes (the ledger via `..`, a report) was fetched as a sales
    // file (the engine reads its own state, the ledger and the report index); the lab's
    // `test.txt` may be asked for (any other key may), and is missing.
    for r in &requests {
        let action = r.action();
        if action.starts_with("s3:") {
            assert_eq!(r.bucket().as_deref(), Some(em.bucket()), "{action} {}", r.url);
            let path = r.s3_path();
            let key = path.trim_start_matches('/').split_once('/').map_or("", |(_, k)| k);
            if action == "s3:GetObject" {
                assert!(
                    key.starts_with("sales/2026-01-15/sales.csv")
                        || key == LEDGER_KEY
                        || key == checks::INDEX_JSON_KEY
                        || key == "sales/2026-01-15/missing.csv"
                        || key == "test.txt",
                    "GetObject of {key} (from a poison message?)"
                );
            }
        }
    }
    assert!(
        !requests.iter().any(|r| r.url.contains("someone-elses-bucket")),
        "the other bucket was contacted"
    );
}

/// Every bad sales file of the corpus, named by a well-formed message: quarantined with the
/// located problem (`s3://…:LINE: column: reason`), deleted; and `salesapp upload` refuses
/// the same file with exit 65, writing and sending nothing.
#[test]
fn bad_sales_files_are_quarantined_and_refused_by_salesapp() {
    let em = e2e::Emulator::start();
    let dir = corpus_dir().join("bad-files");
    let cases = tsv(&dir.join("expected.tsv"));
    assert!(cases.len() >= 20, "the corpus needs at least 20 bad files");

    // salesapp first, while bucket and queue are empty: nothing written, nothing sent.
    let mut failures = Vec::new();
    for case in &cases {
        let [file, line, column, reason] = &case[..] else { panic!("bad line {case:?}") };
        let r = run(salesapp(&em).arg("upload").arg(dir.join(file)).args(["--date", DATE]));
        let located = format!("{file}:{line}: {column}: ");
        if r.code() != Some(65)
            || !r.stderr.contains(&located)
            || !r.stderr.contains(reason.as_str())
        {
            failures.push(format!(
                "salesapp upload {file}: want 65 and {located}…{reason}:\n{}",
                r.output()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(em.list_keys().is_empty(), "a refused upload wrote {:?}", em.list_keys());
    assert_eq!(em.queue_counts(), (0, 0), "a refused upload sent a message");

    // Then the engine, on the same files put there by someone else.
    let mut sent = BTreeMap::new();
    for case in &cases {
        let file = &case[0];
        let key = format!("sales/{DATE}/{file}");
        em.put_object(&key, std::fs::read(dir.join(file)).expect("corpus file"));
        let id = em.send_raw(&format!("{{\"datafilelocation\":\"s3://{}/{key}\"}}", em.bucket()));
        sent.insert(id, case.clone());
    }
    let (path, bytes) = generate(&em, "2026-01-16", 40, 12);
    let day = reference_of(&em, &bytes);
    let mut engine = engine(&em, &[]);
    upload(&em, &path).assert_ok();
    wait_for_object(&em, "reports/2026-01-16/report.json", LONG);
    wait_until(LONG, "every bad file quarantined", || {
        (quarantine_keys(&em).len() >= sent.len()).then_some(())
    });
    wait_queue_empty(&em, LONG);
    stop(&mut engine);

    for (id, case) in &sent {
        let [file, line, column, reason] = &case[..] else { unreachable!() };
        let Some(rec) = quarantine_record(&em, id) else {
            failures.push(format!("{file}: no quarantine record"));
            continue;
        };
        let got = rec["reason"].as_str().unwrap_or_default();
        let located = format!("s3://{}/sales/{DATE}/{file}:{line}: {column}: ", em.bucket());
        if !got.starts_with(&located) || !got.contains(reason.as_str()) {
            failures.push(format!("{file}: reason {got:?}, want {located}…{reason}"));
        }
    }
    assert!(failures.is_empty(), "{}\nlog:\n{}", failures.join("\n"), engine.log());
    checks::assert_report(&em, &day, &[]);
    assert!(
        !em.list_keys().iter().any(|k| k.starts_with("reports/2026-01-15/")),
        "a report was built from a bad file"
    );
}

/// An object over `reportsengine.max_object_size` is quarantined (its size is known from
/// the answer's Content-Length: the body is not read), and the next message still works.
#[test]
fn oversized_object_is_quarantined() {
    let em = e2e::Emulator::start();
    let (big_path, _) = generate(&em, "2026-02-01", 400, 1);
    upload(&em, &big_path).assert_ok();
    let size = std::fs::metadata(&big_path).unwrap().len();
    assert!(size > 8 << 10, "the big file is {size} bytes");
    let (small_path, small) = generate(&em, "2026-02-02", 5, 2);
    assert!(small.len() < 8 << 10);
    upload(&em, &small_path).assert_ok();

    let r = run(reportsengine(&em)
        .args(FAST)
        .args(["--set", "reportsengine.max_object_size=8KiB"])
        .arg("once"));
    r.assert_ok();
    let q = quarantine_keys(&em);
    assert_eq!(q.len(), 1, "{q:?}\n{}", r.output());
    let id = q[0].trim_start_matches("quarantine/").trim_end_matches(".json");
    let rec = quarantine_record(&em, id).expect("record");
    let reason = rec["reason"].as_str().unwrap();
    assert!(
        reason.contains("max_object_size") && reason.contains(&size.to_string()),
        "reason: {reason}"
    );
    assert!(rec["body"].as_str().unwrap().contains("sales/2026-02-01/sales.csv"));
    assert!(em.get_object("reports/2026-02-01/report.json").is_none());
    let day = reference_of(&em, &small);
    let ledger_days = [&reference_of(&em, &std::fs::read(&big_path).unwrap()), &day];
    checks::assert_report(&em, &day, &ledger_days);
    checks::assert_queue_empty(&em);
}
