//! Hostile and careless input, end to end: the limits on every dimension of a sales file
//! (both binaries refuse a file over one, with the limit named), names a spreadsheet would
//! run (written as text in report.csv and the ledger, read back exactly), a message over its
//! size or nested too deep, a key with a `.` segment; and what an operator sees of a file
//! that is not valid: `salesapp validate` / `upload --dry-run` (touching nothing, as moto's
//! request recorder shows), problems grouped, `--max-errors`, the complete error file.

use e2e::checks::{self, parse_csv, LEDGER_KEY};
use e2e::daemon::wait_until;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, Emulator};

const HEADER: &str = "date,order_id,sales_rep,region,product,quantity,unit_price\n";

/// A file of `rows` rows: `row(i)` gives each.
fn write(
    em: &Emulator,
    name: &str,
    rows: usize,
    row: impl Fn(usize) -> String,
) -> std::path::PathBuf {
    let mut text = HEADER.to_string();
    for i in 0..rows {
        text.push_str(&row(i));
    }
    em.write_file(name, text)
}

/// `salesapp validate` and `upload --dry-run` check a file with the upload's rules and
/// touch nothing: no request at all reaches the emulator, valid or not, with or without a
/// configuration file.
#[test]
fn validate_and_dry_run_touch_nothing() {
    let em = Emulator::start();
    let (good, _) = generate(&em, "2026-05-01", 500, 1);
    let bad = write(&em, "bad.csv", 12, |i| format!("2026-05-01,{i},Ada,EMEA,Widget,0,1.00\n"));

    em.start_recording();
    let r = run(salesapp(&em).arg("validate").arg(&good));
    r.assert_ok();
    assert!(
        r.stdout.starts_with(&format!("valid: {}: 2026-05-01, 500 rows", good.display())),
        "{}",
        r.output()
    );
    let r = run(salesapp(&em).args(["upload", "--dry-run"]).arg(&good));
    r.assert_ok();
    assert!(r.stdout.starts_with("valid: "), "{}", r.output());
    run(salesapp(&em).args(["upload", "--dry-run"]).arg(&bad)).assert_code(65);
    run(salesapp(&em).arg("validate").arg(&bad)).assert_code(65);
    run(salesapp(&em).args(["validate", "--date", "2026-05-02"]).arg(&good)).assert_code(65);
    // No configuration file: the default limits, and still nothing sent anywhere.
    let r = run(em.bare_command("salesapp").arg("validate").arg(&good));
    r.assert_ok();
    let r = run(em
        .bare_command("salesapp")
        .args(["--set", "limits.max_reps=10", "validate"])
        .arg(&good));
    r.assert_code(65);
    assert!(r.stderr.contains("limits.max_reps"), "{}", r.output());
    // A file name need not be UTF-8; a VPCE_LAB_* variable that is not is a configuration
    // error naming it (neither is a panic, exit 101).
    let odd = {
        use std::os::unix::ffi::OsStrExt;
        let name = good.with_file_name(std::ffi::OsStr::from_bytes(b"day-\xff.csv"));
        std::fs::copy(&good, &name).expect("copy");
        name
    };
    run(em.bare_command("salesapp").arg("validate").arg(&odd)).assert_ok();
    let not_utf8 = {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b"b\xff")
    };
    for program in ["salesapp", "reportsengine"] {
        let r = run(em.bare_command(program).arg("config").env("VPCE_LAB_BUCKET", not_utf8));
        r.assert_code(78);
        assert!(
            r.stderr.contains("VPCE_LAB_BUCKET: the variable's name or value is not UTF-8"),
            "{}",
            r.output()
        );
    }
    let requests = em.stop_recording();
    assert!(requests.is_empty(), "validation made requests: {requests:?}");
    assert!(em.list_keys().is_empty(), "{:?}", em.list_keys());
    assert_eq!(em.queue_counts(), (0, 0));
}

/// Problems that say the same thing are one line with their rows and lines; a wrong
/// `--date` is one line; a screenful by default, every problem with `--max-errors all`,
/// the same on `upload` (which then writes nothing).
#[test]
fn problems_are_grouped_and_max_errors_shows_them_all() {
    let em = Emulator::start();
    // Lines 2–9: quantity 0; lines 10–35: 26 prices with three decimals, each different.
    let bad = write(&em, "bad.csv", 34, |i| match i {
        0..8 => format!("2026-05-01,{i},Ada,EMEA,Widget,0,1.00\n"),
        _ => format!("2026-05-01,{i},Ada,EMEA,Widget,1,{i}.125\n"),
    });
    let name = bad.display().to_string();
    let r = run(salesapp(&em).arg("validate").arg(&bad));
    r.assert_code(65);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!("salesapp: {name} is not a valid sales file: 34 problems"),
        "{}",
        r.output()
    );
    assert_eq!(
        lines[1],
        format!("{name}:2: quantity: \"0\" is not a whole number ≥ 1: 8 rows, lines 2–9")
    );
    assert!(
        lines[2].starts_with(&format!("{name}:10: unit_price: more than 2 decimals in \"8.125\"")),
        "{}",
        r.output()
    );
    assert!(lines[2].ends_with(": 26 rows like this, lines 10–35"), "{}", r.output());
    assert_eq!(lines.len(), 3, "{}", r.output());

    // Every problem, one per line, with --max-errors all (and on upload too).
    for cmd in ["validate", "upload"] {
        let r = run(salesapp(&em).args([cmd, "--max-errors", "all"]).arg(&bad));
        r.assert_code(65);
        for line in 2..=35 {
            let column = if line <= 9 { "quantity" } else { "unit_price" };
            let located = format!("\n{name}:{line}: {column}: ");
            assert!(r.stderr.contains(&located), "{cmd}: no {located:?}:\n{}", r.output());
        }
    }
    // A screenful of one line: the rest counted, and how to see it.
    let r = run(salesapp(&em).args(["upload", "--max-errors", "1"]).arg(&bad));
    r.assert_code(65);
    assert!(
        r.stderr.contains("\n… and 26 more problems\n(--max-errors all lists every problem)"),
        "{}",
        r.output()
    );
    assert!(em.list_keys().is_empty() && em.queue_counts() == (0, 0), "a refused upload wrote");

    // A wrong --date: one line, whatever the rows.
    let (good, _) = generate(&em, "2026-05-01", 1000, 2);
    let r = run(salesapp(&em).args(["upload", "--date", "2026-05-02"]).arg(&good));
    r.assert_code(65);
    let date_lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(": date: ")).collect();
    assert_eq!(
        date_lines,
        [format!(
            "{}:2: date: 2026-05-01 is not the date given for this file (2026-05-02): 1000 rows, lines 2–1001",
            good.display()
        )],
        "{}",
        r.output()
    );
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.output());
}

/// `watch` moves a file that is not valid to `failed/` with every one of its problems in
/// `NAME.error.txt` (the log shows a screenful).
#[test]
fn the_spool_s_error_file_lists_every_problem() {
    let em = Emulator::start();
    let bad = write(&em, "bad.csv", 60, |i| match i % 2 {
        0 => format!("2026-05-03,{i},Ada,EMEA,Widget,{}x,1.00\n", i),
        _ => format!("2026-05-03,{i},Ada,EMEA,Widget,1,{i}.001\n"),
    });
    std::fs::create_dir_all(incoming(&em)).unwrap();
    let mut d = start_watch(&em);
    drop_in(&em, &bad, "many.csv");
    let note = spool(&em).join("failed/many.csv.error.txt");
    let text = wait_until(LONG, "many.csv.error.txt", || std::fs::read_to_string(&note).ok());
    stop(&mut d);
    assert!(text.contains("exit code 65"), "{text}");
    assert!(text.contains("is not a valid sales file: 60 problems"), "{text}");
    for line in 2..=61 {
        let column = if line % 2 == 0 { "quantity" } else { "unit_price" };
        assert!(text.contains(&format!(":{line}: {column}: ")), "line {line} missing:\n{text}");
    }
    assert!(!text.contains("more problem"), "cut:\n{text}");
    assert!(em.list_keys().is_empty());
}

/// A file over a limit (here 50 distinct reps; `generate` writes up to 300) is bad input in
/// both binaries, refused where it crosses the limit, with the limit named: `upload` exits
/// 65 writing nothing, `build` exits 65, the engine quarantines the message; the same
/// `[limits]` settings (a flag, a `VPCE_LAB_LIMITS_*` variable) apply to both.
#[test]
fn files_over_a_limit_are_refused_by_both_binaries() {
    let em = Emulator::start();
    let (many, bytes) = generate(&em, "2026-05-04", 2000, 3);
    let reps = reference_of(&em, &bytes).reps.len();
    assert!(reps > 50, "only {reps} reps");
    let limit = ["--set", "limits.max_reps=50"];

    let r = run(salesapp(&em).args(limit).arg("upload").arg(&many));
    r.assert_code(65);
    assert!(
        r.stderr.contains(": sales_rep: ")
            && r.stderr.contains(
                "would be one more than 50 distinct sales reps in one file (limits.max_reps)"
            ),
        "{}",
        r.output()
    );
    assert!(em.list_keys().is_empty(), "{:?}", em.list_keys());
    let r = run(reportsengine(&em)
        .env("VPCE_LAB_LIMITS_MAX_REPS", "50")
        .arg("build")
        .arg(&many)
        .arg("-o")
        .arg(em.dir().join("out")));
    r.assert_code(65);
    assert!(r.stderr.contains("(limits.max_reps)"), "{}", r.output());

    // The engine, on the same file put there by someone else.
    let key = "uploads/many.csv";
    em.put_object(key, bytes.clone());
    let id = em.send_raw(&format!("{{\"datafilelocation\":\"s3://{}/{key}\"}}", em.bucket()));
    run(reportsengine(&em).args(FAST).args(limit).arg("once")).assert_ok();
    let rec = quarantine_record(&em, &id).expect("quarantined");
    let reason = rec["reason"].as_str().unwrap_or_default();
    let located = format!("s3://{}/{key}:", em.bucket());
    assert!(reason.starts_with(&located) && reason.contains(": sales_rep: "), "{reason}");
    assert!(reason.contains("(limits.max_reps)"), "{reason}");
    assert!(!em.list_keys().iter().any(|k| k.starts_with("reports/2026-05-04/")));

    // Under the default limits the same file goes through.
    upload(&em, &many).assert_ok();
}

/// A message body over `limits.max_message_bytes` is quarantined unread.
#[test]
fn a_message_over_its_limit_is_quarantined() {
    let em = Emulator::start();
    let body = format!(
        "{{\"datafilelocation\":\"s3://{}/sales/2026-05-05/sales.csv\",\"pad\":\"{}\"}}",
        em.bucket(),
        "x".repeat(3000)
    );
    let id = em.send_raw(&body);
    run(reportsengine(&em).args(FAST).args(["--set", "limits.max_message_bytes=2048"]).arg("once"))
        .assert_ok();
    let rec = quarantine_record(&em, &id).expect("quarantined");
    let reason = rec["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("more than 2048 (limits.max_message_bytes)"), "{reason}");
}

/// Names a spreadsheet would run are written as text (a leading quote) in report.csv and
/// the ledger, the same rule in both; report.json keeps them raw; and both binaries read
/// the ledger back exactly: a re-upload finds it up to date, and the next day's report
/// counts the first day's commission in the year to date of those same reps.
#[test]
fn formula_names_are_text_in_report_csv_and_the_ledger() {
    let em = Emulator::start();
    let names = ["=1+2", "+SUM(A1:A9)", "-3", "@A1", "\tTabbed", "\rCarriage", "'t Hooft", "Ada"];
    let day = |date: &str, name: &str| {
        let mut text = HEADER.to_string();
        for (i, rep) in names.iter().enumerate() {
            let rep = format!("\"{}\"", rep.replace('"', "\"\""));
            text.push_str(&format!("{date},{i},{rep},EMEA,Widget,{},12.50\n", i + 1));
        }
        em.write_file(name, text)
    };
    let first = day("2026-05-06", "first.csv");
    let second = day("2026-05-07", "second.csv");
    let ref1 = reference_of(&em, &std::fs::read(&first).unwrap());
    let ref2 = reference_of(&em, &std::fs::read(&second).unwrap());

    upload(&em, &first).assert_ok();
    let r = upload(&em, &first);
    r.assert_ok();
    assert!(
        r.stdout.contains("ledger already up to date"),
        "salesapp read its ledger back:\n{}",
        r.output()
    );
    upload(&em, &second).assert_ok();
    run(reportsengine(&em).args(FAST).arg("once")).assert_ok();

    // The reference applies the rule on its own (reference::spreadsheet_text).
    checks::assert_ledger(&em, &[&ref1, &ref2]);
    checks::assert_report(&em, &ref1, &[]);
    checks::assert_report(&em, &ref2, &[&ref1]);
    for key in [LEDGER_KEY.to_string(), checks::report_key("2026-05-07", "report.csv")] {
        let records = parse_csv(&em.get_object(&key).unwrap());
        let column = if key == LEDGER_KEY { 1 } else { 0 };
        for record in &records[1..] {
            let name = &record[column];
            assert!(!name.starts_with(['=', '+', '-', '@', '\t', '\r']), "{key}: {name:?}");
        }
        let marked = records.iter().filter(|r| r[column].starts_with('\'')).count();
        let per_day = if key == LEDGER_KEY { 2 } else { 1 };
        assert_eq!(marked, 7 * per_day, "{key}: {records:?}");
    }
    let json: serde_json::Value = serde_json::from_slice(
        &em.get_object(&checks::report_key("2026-05-07", "report.json")).unwrap(),
    )
    .unwrap();
    let raw: Vec<&str> =
        json["reps"].as_array().unwrap().iter().filter_map(|r| r["sales_rep"].as_str()).collect();
    for name in names {
        assert!(raw.contains(&name), "report.json lacks the raw {name:?}: {raw:?}");
    }
}
