//! Failures made by signals only: an outage of the endpoints (SIGSTOP /
//! SIGCONT of the emulator), a crash of the engine mid-report (SIGKILL), and work slower
//! than the queue's visibility timeout.

use std::time::{Duration, Instant};

use e2e::checks;
use e2e::scenario::*;
use e2e::{reportsengine, run, Emulator};

/// A `Debug`-printed `Duration` (`412.5ms`, `1.25s`, `800µs`) in seconds.
fn parse_debug_duration(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "s" => n,
        "ms" => n / 1e3,
        "µs" | "us" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    })
}

/// The `delay=…` of every "backing off" line.
fn backoff_delays(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains("backing off after a failure"))
        .filter_map(|l| l.split("delay=").nth(1))
        .filter_map(|rest| parse_debug_duration(rest.split_whitespace().next().unwrap_or("")))
        .collect()
}

/// During an outage (the emulator stopped while the engine is mid-message and
/// polling) the failure is logged with its operation and resource, once per failure; the
/// engine backs off (capped exponential, growing while the outage lasts; no hot loop); the
/// message is neither deleted nor lost; after SIGCONT it resumes by itself and the report
/// appears.
#[test]
fn outage_is_logged_backed_off_and_survived() {
    let em = Emulator::start();
    em.set_queue_visibility(3);
    // A healthy day first.
    let (path_a, bytes_a) = generate(&em, "2026-07-01", 20, 1);
    let day_a = reference_of(&em, &bytes_a);
    let (mut engine, bytes_b) = {
        let mut e = e2e::scenario::engine(&em, &["--set", "reportsengine.visibility_timeout=3s"]);
        e.wait_for_log("consuming", 1, LONG);
        upload(&em, &path_a).assert_ok();
        wait_for_object(&em, "reports/2026-07-01/report.json", LONG);
        let (path_b, bytes_b) = generate(&em, "2026-07-02", 25_000, 2);
        upload(&em, &path_b).assert_ok();
        e.wait_for_log("processing message", 2, LONG);
        em.pause();
        (e, bytes_b)
    };
    let outage = Instant::now();
    // Let the outage last until the engine has failed to receive twice (each failure is
    // three SDK attempts of wait_time + attempt_timeout = 3 s).
    engine.wait_for_log("receive failed", 2, Duration::from_secs(90));
    let during = engine.log();
    let outage_secs = outage.elapsed().as_secs_f64();
    em.resume();
    wait_for_object(&em, "reports/2026-07-02/report.json", LONG);
    wait_queue_empty(&em, LONG);
    stop(&mut engine);
    let day_b = reference_of(&em, &bytes_b);
    checks::assert_report(&em, &day_a, &[&day_a, &day_b]);
    checks::assert_report(&em, &day_b, &[&day_a, &day_b]);
    checks::assert_no_quarantine(&em);

    let failures: Vec<&str> = during
        .lines()
        .filter(|l| l.contains("receive failed") || l.contains("transient failure"))
        .collect();
    eprintln!(
        "{} failure lines in a {outage_secs:.1} s outage:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Context: every failure names its operation and resource.
    for l in &failures {
        assert!(
            (l.contains("ReceiveMessage on http://127.0.0.1") && l.contains(em.queue_url()))
                || l.contains(&format!("on s3://{}/", em.bucket())),
            "failure logged without operation and resource: {l}"
        );
    }
    // The message in flight failed transiently and was left for redelivery, not deleted.
    assert!(
        during.contains("transient failure; the message will be redelivered"),
        "the in-flight message's failure was not logged:\n{during}"
    );
    // No hot loop: well under one failure per second of outage.
    assert!(
        (failures.len() as f64) <= outage_secs / 2.0 + 2.0,
        "{} failures in {outage_secs:.1} s: a hot loop?",
        failures.len()
    );
    // Each failed receive is logged once and followed by a back-off (a message that failed
    // meanwhile shares it: one back-off per turn of the receive loop).
    let delays = backoff_delays(&during);
    let receive_failures = during.matches("receive failed").count();
    assert!(
        delays.len() >= receive_failures,
        "back-offs {delays:?} for {receive_failures} failed receives"
    );
    // Capped exponential with jitter in [d/2, d]: the delays never shrink during one outage.
    assert!(
        delays.windows(2).all(|w| w[1] >= w[0] * 0.999) && delays.iter().all(|d| *d <= 60.0),
        "back-off delays do not grow: {delays:?}"
    );
    eprintln!("back-off delays during the outage: {delays:?}");
}

/// `kill -9` of the engine mid-report (stuck on the emulator, which is then
/// continued) loses nothing: the message comes back after the (short) visibility timeout,
/// a new engine builds the report, and the report objects are byte-identical to those of a
/// clean run on a fresh emulator.
#[test]
fn kill_9_mid_report_loses_nothing_and_rewrites_identical_objects() {
    let em = Emulator::start();
    em.set_queue_visibility(3);
    let date = "2026-08-03";
    let vis =
        ["--set", "reportsengine.visibility_timeout=3s", "--set", "endpoints.attempt_timeout=30s"];
    let (mut first, bytes) = stuck_mid_message(&em, &vis, date, 25_000);
    first.signal("KILL");
    first.wait_exit(LONG).expect("killed");
    em.resume();
    let (visible, hidden) = em.queue_counts();
    assert_eq!(visible + hidden, 1, "the message must survive the crash");
    assert!(em.get_object(&format!("reports/{date}/report.json")).is_none());

    let mut second = engine(&em, &vis);
    wait_for_object(&em, &format!("reports/{date}/report.json"), LONG);
    wait_queue_empty(&em, LONG);
    stop(&mut second);
    assert!(second.log().contains("receive_count=2"), "not a redelivery?\n{}", second.log());
    let day = reference_of(&em, &bytes);
    checks::assert_report(&em, &day, &[]);
    let after_crash = report_bytes(&em, date);
    drop(em);

    // The reference: one clean run of the same file on a fresh emulator.
    let clean = Emulator::start();
    let path = clean.write_file("day.csv", &bytes);
    upload(&clean, &path).assert_ok();
    run(reportsengine(&clean).args(FAST).arg("once")).assert_ok();
    let reference = report_bytes(&clean, date);
    for (i, name) in ["report.csv", "report.json", "report.html"].iter().enumerate() {
        assert!(reference[i].is_some(), "{name} missing in the clean run");
        assert!(after_crash[i] == reference[i], "{name} differs from the clean run's");
    }
}

/// Processing that nears the (tiny) visibility timeout logs the warning naming
/// what to raise; the message, redelivered to this same process while it still works on it,
/// is not started a second time; it is reported once and deleted.
#[test]
fn slow_work_warns_and_is_not_processed_twice_at_once() {
    let em = Emulator::start();
    em.set_queue_visibility(1);
    let date = "2026-09-09";
    let (mut engine, bytes) = stuck_mid_message(
        &em,
        &["--set", "reportsengine.visibility_timeout=1s", "--set", "endpoints.attempt_timeout=30s"],
        date,
        25_000,
    );
    engine.wait_for_log("nearing the queue's visibility timeout", 1, LONG);
    // Past the visibility timeout: SQS hands the message to the next poll, ours.
    std::thread::sleep(Duration::from_millis(1500));
    em.resume();
    wait_for_object(&em, &format!("reports/{date}/report.json"), LONG);
    wait_queue_empty(&em, LONG);
    stop(&mut engine);
    let log = engine.log();
    let warning = log
        .lines()
        .find(|l| l.contains("nearing the queue's visibility timeout"))
        .expect("warning");
    assert!(
        warning
            .contains("Raise the queue's VisibilityTimeout and reportsengine.visibility_timeout"),
        "the warning does not say what to raise: {warning}"
    );
    assert!(
        log.contains("redelivered while still being processed here"),
        "the redelivery during processing was not seen:\n{log}"
    );
    assert_eq!(log.matches("processing message").count(), 1, "started twice:\n{log}");
    assert_eq!(log.matches(&format!("{date}: ")).count(), 1, "reported twice:\n{log}");
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
}
