//! Failures that are not the input's fault (docs/design.md, What happens to a failure), against
//! the lab's real answers: the workshop's by-hand flow with the AWS CLI; a corrupt ledger
//! met by `upload`, `watch` and the engine, then repaired; a missing ledger behind a 403;
//! and one-shot commands against an endpoint where nothing listens.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::checks::{self, LEDGER_KEY};
use e2e::daemon::{wait_until, Daemon};
use e2e::iam;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, unused_port, Emulator, Run};
use serde_json::json;

/// The right name, the wrong content: a hand edit gone wrong.
const CORRUPT_LEDGER: &str = "date,sales_rep,orders\n2026-01-01,Ann,lots\n";
/// What an operator puts back: a ledger with no rows yet.
const EMPTY_LEDGER: &str = "date,sales_rep,orders,units,revenue_cents,commission_cents\n";

fn by_hand_message(em: &Emulator, key: &str) -> String {
    format!("{{datafilelocation:s3://{}/{key}}}", em.bucket())
}

/// The workshop's flow: a sales file copied by hand with `aws s3 cp` to the bucket's root and
/// to another prefix, announced with `aws sqs send-message` in the unquoted form. Each gives
/// an exact report naming its key; nothing is quarantined.
#[test]
fn by_hand_uploads_anywhere_in_the_bucket_give_exact_reports() {
    let em = Emulator::start();
    let (path_a, bytes_a) = generate(&em, "2026-05-01", 80, 31);
    let (path_b, bytes_b) = generate(&em, "2026-05-02", 60, 32);
    let bucket = em.bucket().to_string();
    for (path, key) in [(&path_a, "day.csv"), (&path_b, "incoming/2026-05-02.csv")] {
        let to = format!("s3://{bucket}/{key}");
        em.aws_cli(&["s3", "cp", &path.to_string_lossy(), &to]).assert_ok();
        let body = by_hand_message(&em, key);
        let sent = em.aws_cli(&[
            "sqs",
            "send-message",
            "--queue-url",
            em.queue_url(),
            "--message-body",
            &body,
        ]);
        sent.assert_ok();
        assert!(sent.stdout.contains("MessageId"), "{}", sent.output());
    }
    run(reportsengine(&em).arg("once")).assert_ok();
    let (a, b) = (reference_of(&em, &bytes_a), reference_of(&em, &bytes_b));
    checks::assert_report_of(&em, &a, &[], "day.csv");
    checks::assert_report_of(&em, &b, &[], "incoming/2026-05-02.csv");
    checks::assert_no_quarantine(&em);
    checks::assert_queue_empty(&em);
    assert!(
        em.get_object(LEDGER_KEY).is_none(),
        "no ledger was invented (a 404 is plainly missing)"
    );
}

/// `reportsengine.input_prefix` narrows the accepted keys: a by-hand file elsewhere is
/// quarantined with the setting named, a key under the prefix still gives its report.
#[test]
fn an_input_prefix_narrows_the_keys_a_message_may_name() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-05-03", 40, 33);
    em.put_object("day.csv", bytes.clone());
    em.put_object("incoming/day.csv", bytes.clone());
    let outside = em.send_raw(&by_hand_message(&em, "day.csv"));
    em.send_raw(&by_hand_message(&em, "incoming/day.csv"));
    let r = run(reportsengine(&em).args(["--set", "reportsengine.input_prefix=incoming/", "once"]));
    r.assert_ok();
    let record = quarantine_record(&em, &outside).expect("quarantined");
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("reportsengine.input_prefix"), "{reason}");
    checks::assert_report_of(&em, &reference_of(&em, &bytes), &[], "incoming/day.csv");
    assert_eq!(quarantine_keys(&em).len(), 1);
    drop(path);
}

/// Asserts the ledger's own failure: exit 69, the ledger named with what to do, the sales
/// file not blamed.
#[track_caller]
fn assert_ledger_blamed(em: &Emulator, r: &Run) {
    r.assert_code(69);
    let ledger = format!("s3://{}/{LEDGER_KEY} is not a valid ledger", em.bucket());
    assert!(r.stderr.contains(&ledger), "{}", r.output());
    assert!(r.stderr.contains("not a problem of the sales file"), "{}", r.output());
    assert!(r.stderr.contains("repair the ledger"), "{}", r.output());
    assert!(!r.stderr.contains("not a valid sales file"), "{}", r.output());
}

/// A corrupt ledger is our own state: `upload` of a valid file exits 69 naming the ledger,
/// sends nothing and leaves the ledger alone; once repaired, the same command succeeds.
#[test]
fn a_corrupt_ledger_makes_upload_exit_69_without_blaming_the_file() {
    let em = Emulator::start();
    em.put_object(LEDGER_KEY, CORRUPT_LEDGER);
    let (path, bytes) = generate(&em, "2026-05-04", 50, 34);
    let r = run(salesapp(&em).arg("upload").arg(&path));
    assert_ledger_blamed(&em, &r);
    assert_eq!(em.queue_counts(), (0, 0), "nothing sent");
    assert_eq!(em.get_object(LEDGER_KEY).as_deref(), Some(CORRUPT_LEDGER.as_bytes()));

    em.put_object(LEDGER_KEY, EMPTY_LEDGER);
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    checks::assert_ledger(&em, &[&reference_of(&em, &bytes)]);
    assert_eq!(em.drain_messages().len(), 1);
}

/// `watch` meets a corrupt ledger: the valid file stays in `incoming/` (never `failed/`),
/// the hold is logged loudly once however often it is retried, and once the ledger is
/// repaired the file goes through by itself.
#[test]
fn a_corrupt_ledger_holds_watch_until_it_is_repaired() {
    let em = Emulator::start();
    em.put_object(LEDGER_KEY, CORRUPT_LEDGER);
    let (path, bytes) = generate(&em, "2026-05-05", 50, 35);
    let mut d = Daemon::spawn(watch_cmd(&em, &[]), em.dir(), "watch");
    d.wait_for_log("watching the spool", 1, LONG);
    let inside = drop_in(&em, &path, "day.csv");
    // At least three attempts, all held.
    d.wait_for_log("taking file", 3, LONG);
    assert!(inside.exists(), "the file stays in incoming/");
    assert!(names_in(&spool(&em).join("failed")).is_empty(), "a valid file is never failed/");
    let loud = d.log_lines("an operator must act");
    assert_eq!(loud.len(), 1, "logged loudly once:\n{}", d.log());
    assert!(loud[0].contains("ERROR") && loud[0].contains("not a valid ledger"), "{}", loud[0]);
    assert_eq!(em.queue_counts(), (0, 0), "nothing sent while held");

    em.put_object(LEDGER_KEY, EMPTY_LEDGER);
    let done = spool(&em).join("done/day.csv");
    wait_until(LONG, "day.csv in done/", || done.exists().then_some(()));
    d.wait_for_log("resumed", 1, LONG);
    checks::assert_ledger(&em, &[&reference_of(&em, &bytes)]);
    assert_eq!(em.drain_messages().len(), 1);
    stop(&mut d);
}

/// The engine meets a corrupt ledger: the message stays on the queue (no report, nothing
/// quarantined), the hold is logged once across redeliveries, and after the repair the
/// report is built from the message left waiting.
#[test]
fn a_corrupt_ledger_holds_the_engine_until_it_is_repaired() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-05-06", 50, 36);
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    em.put_object(LEDGER_KEY, CORRUPT_LEDGER);
    em.set_queue_visibility(2);
    let mut engine = engine(&em, &["--set", "reportsengine.visibility_timeout=2s"]);
    // Delivered at least three times, held each time.
    engine.wait_for_log("receive_count=3", 1, LONG);
    let loud = engine.log_lines("an operator must act");
    assert_eq!(loud.len(), 1, "logged loudly once:\n{}", engine.log());
    assert!(loud[0].contains("not a valid ledger"), "{}", loud[0]);
    assert!(em.get_object("reports/2026-05-06/report.json").is_none(), "no report");
    assert!(quarantine_keys(&em).is_empty(), "nothing quarantined");

    let day = reference_of(&em, &bytes);
    let history = format!("{EMPTY_LEDGER}{}", ledger_rows_of(&day));
    em.put_object(LEDGER_KEY, history);
    wait_for_object(&em, "reports/2026-05-06/report.json", LONG);
    wait_queue_empty(&em, LONG);
    engine.wait_for_log("resumed", 1, LONG);
    stop(&mut engine);
    checks::assert_report(&em, &day, &[]);
    checks::assert_no_quarantine(&em);
}

/// The ledger rows salesapp writes for `day`, computed independently.
fn ledger_rows_of(day: &e2e::reference::DayRef) -> String {
    e2e::reference::ledger_records(&[day])
        .into_iter()
        .skip(1)
        .map(|r| format!("{}\n", r.join(",")))
        .collect()
}

/// The lab's 403 for a missing ledger (IAM enforcement, an explicit Deny on GetObject of the
/// ledger for the engine): with no ledger yet the engine creates an empty one and builds the
/// report of a hand-sent message; once a ledger exists and may not be read, it builds none,
/// quarantines nothing, leaves the message and exits 77 saying so.
#[test]
fn the_engine_reads_a_missing_ledger_behind_a_403_and_refuses_an_unreadable_one() {
    let mut em = Emulator::start();
    let policy = iam::with_statement(
        iam::lab_policy(&em, &[]),
        json!({"Effect": "Deny", "Action": "s3:GetObject",
               "Resource": format!("arn:aws:s3:::{}/{LEDGER_KEY}", em.bucket())}),
    );
    let engine_user = em.create_user("engine-no-ledger-read", &policy);
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (_, first) = generate(&em, "2026-05-07", 40, 37);
    let (second_path, second) = generate(&em, "2026-05-08", 40, 38);
    em.enforce_iam(&admin);

    // Before the first upload ever: a file put by hand and a hand-sent message.
    em.put_object("day.csv", first.clone());
    em.send_raw(&by_hand_message(&em, "day.csv"));
    run(engine_user.apply(&mut reportsengine(&em)).arg("once")).assert_ok();
    checks::assert_report_of(&em, &reference_of(&em, &first), &[], "day.csv");
    let created = em.get_object(LEDGER_KEY).expect("the 403 was settled by creating the ledger");
    assert_eq!(String::from_utf8_lossy(&created), EMPTY_LEDGER, "created empty");

    // Now the ledger exists (salesapp, as an admin, adds a day): the engine may not read it.
    run(admin.apply(&mut salesapp(&em)).arg("upload").arg(&second_path)).assert_ok();
    let r = run(engine_user.apply(&mut reportsengine(&em)).arg("once"));
    r.assert_code(77);
    let resource = format!("s3://{}/{LEDGER_KEY}", em.bucket());
    assert!(r.stderr.contains(&format!("GetObject on {resource} was denied")), "{}", r.output());
    assert!(r.stderr.contains("The ledger exists"), "{}", r.output());
    assert!(em.get_object("reports/2026-05-08/report.json").is_none(), "no report without YTD");
    assert!(quarantine_keys(&em).is_empty(), "a good message is not quarantined");
    let (visible, in_flight) = em.queue_counts();
    assert_eq!(visible + in_flight, 1, "the message stays on the queue");
    drop(second);
}

/// One-shot commands against an endpoint where nothing listens give up after
/// `endpoints.give_up_after` (here 4 s) and exit 69 naming the operation and the endpoint;
/// `doctor` makes each call once and exits 69 too.
#[test]
fn one_shot_commands_give_up_on_an_unreachable_endpoint_within_the_bound() {
    let em = Emulator::start();
    let dead = format!("http://127.0.0.1:{}", unused_port());
    let (path, _) = generate(&em, "2026-05-09", 10, 39);
    let window = Duration::from_secs(4);
    let with_dead_endpoints = |mut cmd: Command| {
        for set in [
            format!("endpoints.s3={dead}"),
            format!("endpoints.sqs={dead}"),
            format!("endpoints.give_up_after={}s", window.as_secs()),
            "endpoints.connect_timeout=1s".to_string(),
            "endpoints.attempt_timeout=1s".to_string(),
        ] {
            cmd.args(["--set", &set]);
        }
        cmd
    };
    let cases: Vec<(&str, Command, &str, bool)> = vec![
        (
            "salesapp upload",
            {
                let mut c = with_dead_endpoints(salesapp(&em));
                c.arg("upload").arg(&path);
                c
            },
            "HeadObject on s3://",
            true,
        ),
        (
            "reportsengine once",
            {
                let mut c = with_dead_endpoints(reportsengine(&em));
                c.arg("once");
                c
            },
            "ReceiveMessage on http://",
            true,
        ),
        (
            "salesapp doctor",
            {
                let mut c = with_dead_endpoints(salesapp(&em));
                c.arg("doctor");
                c
            },
            "FAIL",
            false,
        ),
        (
            "reportsengine doctor",
            {
                let mut c = with_dead_endpoints(reportsengine(&em));
                c.arg("doctor");
                c
            },
            "FAIL",
            false,
        ),
    ];
    for (what, mut cmd, names, retries) in cases {
        let started = Instant::now();
        let r = run(&mut cmd);
        let took = started.elapsed();
        r.assert_code(69);
        let said = format!("{}{}", r.stdout, r.stderr);
        assert!(said.contains(names), "{what}: {}", r.output());
        assert!(said.contains(&dead), "{what}: the endpoint is not named:\n{}", r.output());
        if retries {
            assert!(said.contains("Gave up after retrying for 4s"), "{what}: {}", r.output());
            assert!(took >= window, "{what}: gave up after {took:?}, before the window");
        }
        assert!(took < window + Duration::from_secs(40), "{what}: took {took:?}");
        eprintln!("{what}: exit 69 after {took:.1?}");
    }
    assert_eq!(em.queue_counts(), (0, 0));
}
