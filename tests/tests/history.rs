//! The year so far in each report and the index of every reported day, end to end: days
//! across a year boundary, two engines at once, a day replaced with `--replace`, a
//! redelivered message, and an index that is not an index. Every figure is checked against
//! `e2e::reference`, computed from the sales files alone.

use std::collections::BTreeMap;

use e2e::checks::{self, INDEX_HTML_KEY, INDEX_JSON_KEY};
use e2e::daemon::Daemon;
use e2e::reference::DayRef;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, Emulator};

/// Days on both sides of January 1, with gaps (days without a report).
const DATES: [&str; 8] = [
    "2025-12-29",
    "2025-12-30",
    "2025-12-31",
    "2026-01-02",
    "2026-01-03",
    "2026-01-05",
    "2026-01-06",
    "2026-01-07",
];
const REPLACED: &str = "2026-01-03";

/// `reportsengine once` twice at the same moment on one queue; both must succeed.
fn two_engines_at_once(em: &Emulator) {
    let mut engines: Vec<Daemon> = (0..2)
        .map(|_| {
            let mut cmd = reportsengine(em);
            cmd.args(["--log-level", "debug"]).args(FAST);
            cmd.args(["--set", "reportsengine.concurrency=4", "once"]);
            Daemon::spawn(cmd, em.dir(), "once")
        })
        .collect();
    for e in &mut engines {
        let st = e.wait_exit(LONG).unwrap_or_else(|| panic!("{} did not end", e.name));
        assert!(st.success(), "{}: {st}\n{}", e.name, e.log());
    }
    let share: Vec<usize> =
        engines.iter().map(|e| e.log().matches("processing message").count()).collect();
    let raced = engines.iter().filter(|e| e.log().contains("report index changed")).count();
    eprintln!("messages per engine: {share:?}; engines that lost an index write: {raced}");
}

/// The days of `history` in the ledger at build time, one per date.
fn refs(days: &BTreeMap<String, DayRef>) -> Vec<&DayRef> {
    days.values().collect()
}

#[test]
fn year_to_date_and_index_across_a_year_replace_and_two_engines() {
    let em = Emulator::start();
    let mut days = BTreeMap::new();
    for (i, date) in DATES.iter().enumerate() {
        let (path, bytes) = generate(&em, date, 30 + 7 * i as u32, 500 + i as u64);
        upload(&em, &path).assert_ok();
        days.insert(date.to_string(), reference_of(&em, &bytes));
    }
    two_engines_at_once(&em);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
    let first = days.clone();
    for day in first.values() {
        checks::assert_report(&em, day, &refs(&first));
    }
    checks::assert_index(&em, &refs(&first));

    // The year restarts on January 1; the previous reported day does not.
    let jan2: serde_json::Value =
        serde_json::from_slice(&em.get_object("reports/2026-01-02/report.json").unwrap()).unwrap();
    assert_eq!(jan2["year_to_date"]["days"].as_array().map(Vec::len), Some(1), "{jan2}");
    assert_eq!(jan2["previous_day"]["date"], "2025-12-31", "{jan2}");
    let jan7: serde_json::Value =
        serde_json::from_slice(&em.get_object("reports/2026-01-07/report.json").unwrap()).unwrap();
    assert_eq!(jan7["year_to_date"]["days"].as_array().map(Vec::len), Some(5), "{jan7}");

    // A different file for one day, with --replace: its report and its index entry follow
    // the new file; the reports of the other days keep the year as it stood when built.
    let (path, bytes) = generate(&em, REPLACED, 44, 999);
    upload(&em, &path).assert_code(65);
    run(salesapp(&em).arg("upload").arg(&path).arg("--replace")).assert_ok();
    let replaced = reference_of(&em, &bytes);
    assert_ne!(replaced.revenue_cents, days[REPLACED].revenue_cents);
    days.insert(REPLACED.to_string(), replaced);
    two_engines_at_once(&em);
    checks::assert_queue_empty(&em);
    checks::assert_report(&em, &days[REPLACED], &refs(&days));
    checks::assert_report(&em, &first["2026-01-07"], &refs(&first));
    checks::assert_index(&em, &refs(&days));

    // A redelivered message: nothing in the index changes, and its JSON is not even written.
    let json = em.get_object(INDEX_JSON_KEY);
    let html = em.get_object(INDEX_HTML_KEY);
    em.send_raw(&format!(
        "{{\"datafilelocation\":\"s3://{}/sales/2026-01-05/sales.csv\"}}",
        em.bucket()
    ));
    em.start_recording();
    run(reportsengine(&em).arg("once")).assert_ok();
    let requests = em.stop_recording();
    assert!(em.get_object(INDEX_JSON_KEY) == json, "index.json changed on a redelivery");
    assert!(em.get_object(INDEX_HTML_KEY) == html, "index.html changed on a redelivery");
    let index_puts = requests
        .iter()
        .filter(|r| r.action() == "s3:PutObject" && r.s3_path().ends_with(INDEX_JSON_KEY))
        .count();
    assert_eq!(index_puts, 0, "the merged index equals the stored one: no write");
    checks::assert_index(&em, &refs(&days));
}

/// The same through three daemons (`run`) sharing the queue: every day lands in the index
/// and the page shows them all, whichever engine wrote last.
#[test]
fn engines_racing_on_the_index_lose_no_day() {
    let em = Emulator::start();
    let mut days = BTreeMap::new();
    for i in 0..12u32 {
        let date = format!("2026-02-{:02}", i + 1);
        let (path, bytes) = generate(&em, &date, 20, 700 + u64::from(i));
        upload(&em, &path).assert_ok();
        days.insert(date, reference_of(&em, &bytes));
    }
    let mut engines: Vec<Daemon> =
        (0..3).map(|_| engine(&em, &["--set", "reportsengine.concurrency=4"])).collect();
    wait_queue_empty(&em, LONG);
    for e in &mut engines {
        stop(e);
    }
    checks::assert_index(&em, &refs(&days));
    for day in days.values() {
        checks::assert_report(&em, day, &refs(&days));
    }
}

/// An index that is not an index is our own state unreadable: the message waits (the day's
/// report is written, the index left alone, nothing quarantined, the hold logged loudly
/// once), and once the index is repaired the message left waiting completes it.
#[test]
fn a_corrupt_index_holds_the_message_until_it_is_repaired() {
    let em = Emulator::start();
    let corrupt = "{\"days\":[{\"date\":\"2026-05-01\",\"revenue\":\"lots\"}]}\n";
    em.put_object(INDEX_JSON_KEY, corrupt);
    let (path, bytes) = generate(&em, "2026-05-02", 40, 41);
    upload(&em, &path).assert_ok();
    em.set_queue_visibility(2);
    let mut engine = engine(&em, &["--set", "reportsengine.visibility_timeout=2s"]);
    engine.wait_for_log("receive_count=2", 1, LONG);
    let loud = engine.log_lines("an operator must act");
    assert_eq!(loud.len(), 1, "logged loudly once:\n{}", engine.log());
    let named = format!("s3://{}/{INDEX_JSON_KEY} is not a valid report index", em.bucket());
    assert!(
        loud[0].contains(&named) && loud[0].contains("our own state unreadable"),
        "{}",
        loud[0]
    );
    assert!(em.get_object(INDEX_JSON_KEY).as_deref() == Some(corrupt.as_bytes()), "left alone");
    assert!(em.get_object(INDEX_HTML_KEY).is_none(), "no page of an unreadable index");
    assert!(em.get_object("reports/2026-05-02/report.json").is_some(), "the report itself");
    assert!(quarantine_keys(&em).is_empty(), "nothing quarantined");

    em.put_object(INDEX_JSON_KEY, "{\"days\":[]}");
    wait_queue_empty(&em, LONG);
    engine.wait_for_log("resumed", 1, LONG);
    stop(&mut engine);
    let day = reference_of(&em, &bytes);
    checks::assert_index(&em, &[&day]);
    checks::assert_report(&em, &day, &[]);
}

/// `once` meets an index that is not an index: the report is written, the message is left
/// on the queue, and the exit (69) says whose fault it is.
#[test]
fn once_exits_69_naming_a_corrupt_index() {
    let em = Emulator::start();
    em.put_object(INDEX_JSON_KEY, "[]");
    let (path, _) = generate(&em, "2026-05-03", 40, 42);
    upload(&em, &path).assert_ok();
    let r = run(reportsengine(&em).args(FAST).arg("once"));
    r.assert_code(69);
    let named = format!("s3://{}/{INDEX_JSON_KEY} is not a valid report index", em.bucket());
    assert!(r.stderr.contains(&named), "{}", r.output());
    assert!(r.stderr.contains("not a problem of the sales file"), "{}", r.output());
    assert!(em.get_object("reports/2026-05-03/report.json").is_some(), "the report itself");
    assert_eq!(em.queue_counts(), (0, 1), "the message waits, in flight");
    assert!(quarantine_keys(&em).is_empty(), "nothing quarantined");
}
