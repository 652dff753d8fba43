//! End to end: `salesapp` and `reportsengine` (the built binaries) against a moto server, each
//! test with its own. Every number is checked against `e2e::reference`, which shares no code
//! with the `common` crate.

use std::collections::BTreeMap;
use std::path::Path;

use e2e::checks::{self, sales_key, LEDGER_KEY};
use e2e::reference::{self, DayRef};
use e2e::{generate, reportsengine, run, salesapp, Emulator, Options, Run};
use serde_json::Value;

fn upload(em: &Emulator, path: &Path, extra: &[&str]) -> Run {
    run(salesapp(em).arg("upload").arg(path).args(extra))
}

fn once(em: &Emulator) -> Run {
    let r = run(reportsengine(em).arg("once"));
    r.assert_ok();
    r
}

fn reference_of(em: &Emulator, bytes: &[u8]) -> DayRef {
    reference::compute(bytes, em.options().commission_bps, &em.options().overrides)
        .unwrap_or_else(|e| panic!("the test's own file is not valid: {e}"))
}

/// The body salesapp sent: JSON whose `datafilelocation` names the day's object, and whose
/// optional `sha256`/`rows`/`date` agree with the file.
#[track_caller]
fn assert_salesapp_message(em: &Emulator, body: &str, day: &DayRef) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("message {body:?}: {e}"));
    let want = format!("s3://{}/{}", em.bucket(), sales_key(&day.date));
    assert_eq!(v["datafilelocation"].as_str(), Some(want.as_str()), "message {body}");
    if let Some(sha) = v.get("sha256") {
        assert_eq!(sha.as_str().map(str::to_ascii_lowercase), Some(day.sha256.clone()), "{body}");
    }
    if let Some(rows) = v.get("rows") {
        assert_eq!(rows.as_u64(), Some(day.rows), "{body}");
    }
    if let Some(date) = v.get("date") {
        assert_eq!(date.as_str(), Some(day.date.as_str()), "{body}");
    }
}

/// (a) generate → upload → once: the three report files, every number to the cent.
#[test]
fn generated_day_end_to_end() {
    let em = Emulator::start();
    let date = "2026-01-15";
    let (path, bytes) = generate(&em, date, 300, 7);

    // generate is deterministic, and writes the same bytes to stdout without -o.
    let again =
        run(salesapp(&em).args(["generate", "--date", date, "--rows", "300", "--seed", "7"]));
    again.assert_ok();
    assert!(again.stdout.as_bytes() == bytes, "generate to stdout differs from generate -o");

    let day = reference_of(&em, &bytes);
    assert_eq!(day.rows, 300);
    assert_eq!(day.date, date);

    upload(&em, &path, &[]).assert_ok();
    checks::assert_sales_object(&em, date, &bytes);
    checks::assert_ledger(&em, &[&day]);
    let msgs = em.peek_messages();
    assert_eq!(msgs.len(), 1, "one message after one upload: {msgs:?}");
    assert_salesapp_message(&em, &msgs[0], &day);

    once(&em);
    checks::assert_report(&em, &day, &[]);
    checks::assert_index(&em, &[&day]);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
    checks::assert_sales_object(&em, date, &bytes);
    let mut want = vec![
        LEDGER_KEY.to_string(),
        format!("reports/{date}/report.csv"),
        format!("reports/{date}/report.html"),
        format!("reports/{date}/report.json"),
        checks::INDEX_HTML_KEY.to_string(),
        checks::INDEX_JSON_KEY.to_string(),
        sales_key(date),
    ];
    want.sort();
    assert_eq!(em.list_keys(), want, "objects in the bucket");
}

/// A hand-written tricky file: UTF-8 BOM, CRLF, quoted commas, a quoted newline, a doubled
/// quote, non-ASCII names, reordered columns, an extra column, bytewise name order, prices
/// without decimals or with one, half-cent commissions (half to even), a per-rep override.
const TRICKY: &str = "\u{feff}region,order_id,product,sales_rep,unit_price,quantity,date,note\r\n\
Nord,A-1,\"Widget, large\",\"Lovelace, Ada\",12.50,2,2026-03-02,\"first, with comma\"\r\n\
Süd,A-2,\"Gadget \"\"Pro\"\"\",Zoë Ødegaard,0.99,10,2026-03-02,\"multi\r\nline note\"\r\n\
Nord,A-3,Gizmo,José Núñez,0.10,1,2026-03-02,\r\n\
Ost,A-4,Gizmo,Ünal Çelik,0.15,2,2026-03-02,\r\n\
Süd,A-5,\"Widget, large\",José Núñez,12,3,2026-03-02,x\r\n\
West,A-6,東京ペン,Zoë Ødegaard,1000.5,7,2026-03-02,\r\n\
Nord,A-7,Gizmo,\"Lovelace, Ada\",0.5,1,2026-03-02,\"\"\r\n\
Ost,A-8,Gizmo,ada lovelace,0.30,1,2026-03-02,\r\n\
West,A-9,Ölkanne,Éva Szabó,0.50,1,2026-03-02,\r\n";

#[test]
fn tricky_file_end_to_end() {
    let mut overrides = BTreeMap::new();
    overrides.insert("Zoë Ødegaard".to_string(), 725);
    let em = Emulator::start_with(Options { commission_bps: 500, overrides });
    let date = "2026-03-02";
    let path = em.write_file("tricky.csv", TRICKY);
    let day = reference_of(&em, TRICKY.as_bytes());
    // The reference itself, on the cases this file is about.
    assert_eq!(day.rows, 9);
    assert_eq!(day.reps["José Núñez"].revenue_cents, 3610);
    assert_eq!(day.reps["José Núñez"].commission_cents, 180, "180.5 → 180 (half to even)");
    assert_eq!(day.reps["Ünal Çelik"].commission_cents, 2, "1.5 → 2 (half to even)");
    assert_eq!(day.reps["Éva Szabó"].commission_cents, 2, "2.5 → 2 (half to even)");
    assert_eq!(day.reps["Zoë Ødegaard"].commission_cents, 50_847, "override 725 bps");
    let names: Vec<&str> = day.reps.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["José Núñez", "Lovelace, Ada", "Zoë Ødegaard", "ada lovelace", "Éva Szabó", "Ünal Çelik"]
    );

    let up = upload(&em, &path, &[]);
    up.assert_ok();
    checks::assert_sales_object(&em, date, TRICKY.as_bytes());
    checks::assert_ledger(&em, &[&day]);
    once(&em);
    checks::assert_report(&em, &day, &[]);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
}

/// (c) The ledger over three days; a re-upload of the same day; a different file for an
/// existing day refused, then accepted with --replace.
#[test]
fn ledger_reupload_and_replace() {
    let em = Emulator::start();
    let dates = ["2026-02-01", "2026-02-02", "2026-02-03"];
    let mut files = Vec::new();
    for (i, date) in dates.iter().enumerate() {
        let (path, bytes) = generate(&em, date, 40, 1 + i as u64);
        upload(&em, &path, &[]).assert_ok();
        files.push((path, bytes));
    }
    let days: Vec<DayRef> = files.iter().map(|(_, b)| reference_of(&em, b)).collect();
    checks::assert_ledger(&em, &[&days[0], &days[1], &days[2]]);
    assert_eq!(em.queue_counts(), (3, 0), "one message per upload");
    let ledger_before = em.get_object(LEDGER_KEY).unwrap();

    // Same content again: a no-op that re-sends the message.
    upload(&em, &files[1].0, &[]).assert_ok();
    assert!(em.get_object(LEDGER_KEY).unwrap() == ledger_before, "re-upload changed the ledger");
    checks::assert_sales_object(&em, dates[1], &files[1].1);
    assert_eq!(em.queue_counts(), (4, 0), "a re-upload re-sends the message");

    // Different content for an existing day: refused, nothing changes.
    let (other_path, other) = generate(&em, dates[1], 25, 99);
    assert_ne!(other, files[1].1);
    let refused = upload(&em, &other_path, &[]);
    assert!(
        !refused.status.success(),
        "different file for an existing day accepted:\n{}",
        refused.output()
    );
    assert!(
        em.get_object(LEDGER_KEY).unwrap() == ledger_before,
        "refused upload changed the ledger"
    );
    checks::assert_sales_object(&em, dates[1], &files[1].1);
    assert_eq!(em.queue_counts(), (4, 0), "a refused upload sends nothing");

    // With --replace: the day's rows are replaced, not added.
    upload(&em, &other_path, &["--replace"]).assert_ok();
    let replaced = reference_of(&em, &other);
    checks::assert_ledger(&em, &[&days[0], &replaced, &days[2]]);
    checks::assert_sales_object(&em, dates[1], &other);
    assert_eq!(em.queue_counts(), (5, 0));

    // The reports follow the current files (redelivered messages rewrite identical objects).
    once(&em);
    checks::assert_queue_empty(&em);
    let history = [&days[0], &replaced, &days[2]];
    checks::assert_report(&em, &days[0], &history);
    checks::assert_report(&em, &replaced, &history);
    checks::assert_report(&em, &days[2], &history);
    checks::assert_index(&em, &history);
}

/// (d) Year-to-date commission: the report of a day = the ledger's days before it in the same
/// year + the day itself; the previous year and later days do not count.
#[test]
fn year_to_date_commission() {
    let em = Emulator::start();
    let dates = ["2025-12-31", "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"];
    let mut days = Vec::new();
    for (i, date) in dates.iter().enumerate() {
        let (path, bytes) = generate(&em, date, 30, 10 + i as u64);
        upload(&em, &path, &[]).assert_ok();
        days.push(reference_of(&em, &bytes));
    }
    let history: Vec<&DayRef> = days.iter().collect();
    checks::assert_ledger(&em, &history);
    once(&em);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
    for day in &days {
        checks::assert_report(&em, day, &history);
    }
    checks::assert_index(&em, &history);

    // Cross-check against the engine's own ledger: day 3 (2026-01-07) = ledger rows of
    // 2026-01-05 and 2026-01-06 + the day's commission.
    let ledger = checks::parse_csv(&em.get_object(LEDGER_KEY).unwrap());
    let report: Value =
        serde_json::from_slice(&em.get_object("reports/2026-01-07/report.json").unwrap()).unwrap();
    for rep in report["reps"].as_array().expect("reps") {
        let name = rep["sales_rep"].as_str().unwrap();
        let before: i64 = ledger[1..]
            .iter()
            .filter(|r| r[1] == name && (r[0] == "2026-01-05" || r[0] == "2026-01-06"))
            .map(|r| r[5].parse::<i64>().unwrap())
            .sum();
        assert_eq!(
            rep["commission_ytd_cents"].as_i64(),
            Some(before + rep["commission_cents"].as_i64().unwrap()),
            "{name}: ytd = ledger 01-05..01-06 + day"
        );
    }
}

/// (e) The lab's hand-sent, unquoted message form produces the report.
#[test]
fn lab_unquoted_message() {
    let em = Emulator::start();
    let date = "2026-04-01";
    let (path, bytes) = generate(&em, date, 20, 5);
    let day = reference_of(&em, &bytes);
    upload(&em, &path, &[]).assert_ok();
    let sent = em.drain_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_salesapp_message(&em, &sent[0], &day);
    assert!(em.get_object("reports/2026-04-01/report.json").is_none());

    em.send_raw(&format!("{{datafilelocation:s3://{}/sales/{date}/sales.csv}}", em.bucket()));
    once(&em);
    checks::assert_report(&em, &day, &[]);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
}

const HEADER: &str = "date,order_id,sales_rep,region,product,quantity,unit_price\n";

fn row(
    date: &str,
    id: &str,
    rep: &str,
    region: &str,
    product: &str,
    qty: &str,
    price: &str,
) -> String {
    format!("{date},{id},{rep},{region},{product},{qty},{price}\n")
}

fn ok_row(id: &str) -> String {
    row("2026-01-15", id, "Ada", "North", "Widget", "2", "3.50")
}

/// One invalid file: its bytes and where the first problem must be reported.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Expected physical line (header = 1), when the contract fixes it.
    line: Option<u64>,
    /// Expected column, when the contract fixes it.
    column: Option<&'static str>,
}

fn case(name: &'static str, body: String, line: Option<u64>, column: Option<&'static str>) -> Case {
    Case { name, bytes: format!("{HEADER}{body}").into_bytes(), line, column }
}

fn invalid_cases() -> Vec<Case> {
    let d = "2026-01-15";
    let bad_value = |name, col, qty: &str, price: &str| {
        case(
            name,
            format!("{}{}", ok_row("1"), row(d, "2", "Ada", "North", "Widget", qty, price)),
            Some(3),
            Some(col),
        )
    };
    let mut binary = b"\x00\x01\x02\xff\xfe\x00PK\x03\x04".to_vec();
    binary.extend((0..=255u8).cycle().take(600));
    let mut latin1 = HEADER.as_bytes().to_vec();
    latin1.extend(b"2026-01-15,1,Jos\xe9,North,Widget,1,1.00\n");
    let mut many = String::new();
    for i in 0..25 {
        many.push_str(&row(d, &i.to_string(), "Ada", "North", "Widget", "0", "1.00"));
    }
    vec![
        case(
            "bad-date-feb30",
            row("2026-02-30", "1", "Ada", "North", "W", "1", "1.00"),
            Some(2),
            Some("date"),
        ),
        case(
            "bad-date-format",
            row("15/01/2026", "1", "Ada", "North", "W", "1", "1.00"),
            Some(2),
            Some("date"),
        ),
        case(
            "mixed-dates",
            format!("{}{}", ok_row("1"), row("2026-01-16", "2", "Ada", "North", "W", "1", "1.00")),
            Some(3),
            Some("date"),
        ),
        case(
            "duplicate-order-id",
            format!("{}{}", ok_row("7"), ok_row("7")),
            Some(3),
            Some("order_id"),
        ),
        case(
            "empty-sales-rep",
            row(d, "1", "", "North", "W", "1", "1.00"),
            Some(2),
            Some("sales_rep"),
        ),
        case("empty-region", row(d, "1", "Ada", "", "W", "1", "1.00"), Some(2), Some("region")),
        case(
            "empty-product",
            row(d, "1", "Ada", "North", "", "1", "1.00"),
            Some(2),
            Some("product"),
        ),
        bad_value("quantity-0", "quantity", "0", "1.00"),
        bad_value("quantity-negative", "quantity", "-1", "1.00"),
        bad_value("quantity-fraction", "quantity", "1.5", "1.00"),
        bad_value("quantity-abc", "quantity", "abc", "1.00"),
        bad_value("price-negative", "unit_price", "1", "-1"),
        bad_value("price-3-decimals", "unit_price", "1", "1.234"),
        bad_value("price-abc", "unit_price", "1", "abc"),
        case(
            "wrong-field-count",
            format!("{}{d},2,Ada,North,Widget,1\n", ok_row("1")),
            Some(3),
            None,
        ),
        Case {
            name: "missing-column",
            bytes: b"date,order_id,sales_rep,region,product,quantity\n2026-01-15,1,Ada,North,W,1\n"
                .to_vec(),
            line: Some(1),
            column: None,
        },
        Case { name: "empty-file", bytes: Vec::new(), line: None, column: None },
        Case { name: "header-only", bytes: HEADER.as_bytes().to_vec(), line: None, column: None },
        Case { name: "binary", bytes: binary, line: None, column: None },
        Case { name: "not-utf8", bytes: latin1, line: Some(2), column: None },
        // Physical lines: the quoted newline in row 2 makes the bad row 3 start on line 4.
        case(
            "physical-lines",
            format!(
                "{d},1,Ada,North,\"Two\nlines\",1,1.00\n{}",
                row(d, "2", "Ada", "North", "W", "x", "1.00")
            ),
            Some(4),
            Some("quantity"),
        ),
        case("many-errors", many, Some(2), Some("quantity")),
    ]
}

/// Lines of `stderr` of the form `FILE:LINE: column: reason` for `file` (as given, or absolute).
fn located_lines<'a>(stderr: &'a str, names: &[String]) -> Vec<(&'a str, u64, &'a str)> {
    let mut out = Vec::new();
    for l in stderr.lines() {
        for n in names {
            let Some(i) = l.find(&format!("{n}:")) else { continue };
            let rest = &l[i + n.len() + 1..];
            let Some((num, rest)) = rest.split_once(": ") else { continue };
            let Ok(num) = num.parse::<u64>() else { continue };
            let Some((col, reason)) = rest.split_once(": ") else { continue };
            if !col.is_empty() && !reason.trim().is_empty() {
                out.push((col, num, reason));
                break;
            }
        }
    }
    out
}

/// (f) Every kind of invalid file: exit 65, `FILE:LINE: column: reason` on stderr, nothing in
/// the bucket, nothing on the queue.
#[test]
fn invalid_files_are_refused_with_located_errors() {
    let em = Emulator::start();
    let mut failures = Vec::new();
    for c in invalid_cases() {
        let file = format!("{}.csv", c.name);
        let abs = em.write_file(&file, &c.bytes);
        // Relative to the command's working directory (the emulator's dir): FILE as given.
        let r = run(salesapp(&em).arg("upload").arg(&file));
        let names = [file.clone(), abs.display().to_string()];
        let located = located_lines(&r.stderr, &names);
        let mut problems = Vec::new();
        if r.code() != Some(65) {
            problems.push(format!("exit {:?}, want 65", r.code()));
        }
        match located.first() {
            None => problems.push("no `FILE:LINE: column: reason` line on stderr".into()),
            Some(&(col, line, _)) => {
                if c.line.is_some_and(|want| want != line) {
                    problems.push(format!("first problem at line {line}, want {:?}", c.line));
                }
                if c.column.is_some_and(|want| want != col) {
                    problems.push(format!("first problem in column {col:?}, want {:?}", c.column));
                }
            }
        }
        if c.name == "many-errors" {
            // 25 rows with the same problem: one line that says how many and where (a
            // screenful never repeats one problem 20 times), every one with --max-errors all.
            let grouped = located.len() == 1 && located[0].2.ends_with(": 25 rows, lines 2–26");
            if !grouped {
                problems.push(format!("{located:?}: want one line for the 25 alike"));
            }
            let all = run(salesapp(&em).args(["upload", "--max-errors", "all"]).arg(&file));
            let lines: Vec<u64> =
                located_lines(&all.stderr, &names).iter().map(|&(_, line, _)| line).collect();
            if all.code() != Some(65) || !(2..=26).all(|l| lines.contains(&l)) {
                problems.push(format!("--max-errors all: lines {lines:?}, want 2 to 26"));
            }
        }
        let keys = em.list_keys();
        if !keys.is_empty() {
            problems.push(format!("bucket not empty: {keys:?}"));
        }
        let counts = em.queue_counts();
        if counts != (0, 0) {
            problems.push(format!("queue not empty: {counts:?}"));
            em.drain_messages();
        }
        if !problems.is_empty() {
            failures.push(format!("[{}] {}\n{}", c.name, problems.join("; "), r.output()));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// (g) The lab leaves the daemons only s3:GetObject/PutObject on the restricted bucket and
/// sqs:SendMessage/ReceiveMessage/DeleteMessage: an upload and a report use nothing else
/// (HeadObject is authorised as s3:GetObject, multipart parts as s3:PutObject, batches as
/// their single forms).
#[test]
fn daemons_use_only_the_labs_allowed_actions() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-05-04", 50, 3);
    em.start_recording();
    upload(&em, &path, &[]).assert_ok();
    once(&em);
    let requests = em.stop_recording();
    let mut bad = Vec::new();
    for r in &requests {
        let action = r.action();
        if !checks::ALLOWED_ACTIONS.contains(&action.as_str()) {
            bad.push(format!("{action}: {} {}", r.method, r.url));
        } else if action.starts_with("s3:") && r.bucket().as_deref() != Some(em.bucket()) {
            bad.push(format!("{action} outside the restricted bucket: {}", r.url));
        }
    }
    assert!(bad.is_empty(), "calls the lab denies:\n{}", bad.join("\n"));
    let actions: Vec<String> = requests.iter().map(|r| r.action()).collect();
    for needed in ["sqs:ReceiveMessage", "sqs:Send", "sqs:Delete", "s3:GetObject"] {
        assert!(actions.iter().any(|a| a.starts_with(needed)), "no {needed} in {actions:?}");
    }
    let day = reference_of(&em, &bytes);
    checks::assert_report(&em, &day, &[]);
}
