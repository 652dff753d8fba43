//! SIGTERM/SIGINT stop receiving at once (an in-flight long poll is
//! cancelled, not waited out), let in-flight messages finish within `shutdown_grace`, delete
//! what finished, leave the rest for redelivery and exit 0; a second signal exits at once
//! (130).
//!
//! "In flight" is made certain, not hoped for: once the engine logs that it started a
//! message, the emulator is stopped (SIGSTOP), so the message cannot finish until the test
//! lets it (SIGCONT).

use std::time::{Duration, Instant};

use e2e::checks;
use e2e::scenario::*;
use e2e::Emulator;

/// The generous bound on "promptly": far below the 20 s poll, far above a loaded machine's
/// scheduling noise.
const PROMPT: Duration = Duration::from_secs(5);

/// SIGTERM (then, on a second engine, SIGINT) during an idle 20 s long poll: exit 0 well
/// before the poll would have ended.
#[test]
fn signal_during_idle_long_poll_exits_0_promptly() {
    let em = Emulator::start();
    em.start_recording();
    for sig in ["TERM", "INT"] {
        let mut engine = engine(&em, &["--set", "reportsengine.wait_time=20s"]);
        engine.wait_for_log("consuming", 1, LONG);
        // Wait until the long poll has reached the server, so it is really in flight.
        e2e::daemon::wait_until(LONG, "a ReceiveMessage", || {
            let polled = em.stop_recording().iter().any(|r| r.action() == "sqs:ReceiveMessage");
            // Resume recording without clearing it.
            em.http("POST", "/moto-api/recorder/start-recording");
            polled.then_some(())
        });
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        engine.signal(sig);
        let status = engine.wait_exit(Duration::from_secs(30)).expect("exited");
        let took = t.elapsed();
        eprintln!("SIG{sig} during an idle 20 s long poll: exit {status} after {took:?}");
        assert_eq!(status.code(), Some(0), "SIG{sig}: {status}\n{}", engine.log());
        assert!(
            took < PROMPT,
            "SIG{sig}: took {took:?}, the poll was waited out?\n{}",
            engine.log()
        );
        assert!(engine.log().contains(&format!("SIG{sig}")), "{}", engine.log());
        em.start_recording();
    }
}

/// Starts an engine, queues one day, and returns once the engine is working on it with the
/// emulator stopped (so the message is certainly in flight).
fn engine_stuck_mid_message(em: &Emulator, extra: &[&str]) -> (e2e::daemon::Daemon, Vec<u8>) {
    // ~2 MB: processing takes long enough that it cannot be over before the SIGSTOP lands.
    // The default attempt timeout (30 s): the stall must not turn into a retry here.
    let mut args = vec!["--set", "endpoints.attempt_timeout=30s"];
    args.extend_from_slice(extra);
    stuck_mid_message(em, &args, "2026-06-01", 25_000)
}

/// SIGTERM with a message in flight: no new receive, the message finishes within
/// `shutdown_grace`, is deleted, and the daemon exits 0.
#[test]
fn sigterm_lets_the_in_flight_message_finish() {
    let em = Emulator::start();
    let (mut engine, bytes) =
        engine_stuck_mid_message(&em, &["--set", "reportsengine.shutdown_grace=20s"]);
    engine.signal("TERM");
    engine.wait_for_log("waiting for in-flight messages", 1, LONG);
    std::thread::sleep(Duration::from_millis(500));
    em.resume();
    let status = engine.wait_exit(LONG).expect("exited within the grace");
    assert_eq!(status.code(), Some(0), "{status}\n{}", engine.log());
    let log = engine.log();
    assert!(!log.contains("shutdown grace over"), "{log}");
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
    checks::assert_queue_empty(&em);
}

/// SIGTERM with a message that cannot finish within `shutdown_grace`: exit 0 after the
/// grace, the message left (not deleted) for redelivery — and delivered again it produces
/// the report.
#[test]
fn grace_over_leaves_the_message_for_redelivery() {
    let em = Emulator::start();
    em.set_queue_visibility(3);
    let (mut engine, bytes) = engine_stuck_mid_message(
        &em,
        &[
            "--set",
            "reportsengine.shutdown_grace=1s",
            "--set",
            "reportsengine.visibility_timeout=3s",
        ],
    );
    engine.signal("TERM");
    let status = engine.wait_exit(LONG).expect("exited after the grace");
    assert_eq!(status.code(), Some(0), "{status}\n{}", engine.log());
    assert!(engine.log().contains("shutdown grace over"), "{}", engine.log());
    em.resume();
    let (visible, hidden) = em.queue_counts();
    assert_eq!(visible + hidden, 1, "the unfinished message must stay on the queue");

    let mut next = e2e::scenario::engine(&em, &[]);
    wait_for_object(&em, "reports/2026-06-01/report.json", LONG);
    wait_queue_empty(&em, LONG);
    stop(&mut next);
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
}

/// A second signal while in-flight work drains: exit 130 at once; the message is not
/// deleted.
#[test]
fn second_signal_exits_at_once_with_130() {
    let em = Emulator::start();
    let (mut engine, _) =
        engine_stuck_mid_message(&em, &["--set", "reportsengine.shutdown_grace=20s"]);
    engine.signal("TERM");
    engine.wait_for_log("waiting for in-flight messages", 1, LONG);
    let t = Instant::now();
    engine.signal("TERM");
    let status = engine.wait_exit(Duration::from_secs(30)).expect("exited");
    let took = t.elapsed();
    eprintln!("second SIGTERM: exit {status} after {took:?}");
    assert_eq!(status.code(), Some(130), "{status}\n{}", engine.log());
    assert!(took < PROMPT, "took {took:?}");
    em.resume();
    let (visible, hidden) = em.queue_counts();
    assert_eq!(visible + hidden, 1, "the unfinished message must stay on the queue");
}

/// SIGHUP neither kills nor stops a daemon (it used to end both with exit 129 and no log
/// line): each logs that it ignored it and why, keeps working, and still stops on SIGTERM
/// with exit 0. The spool daemon's stop speaks of files, the engine's of messages.
#[test]
fn sighup_is_logged_and_ignored_by_both_daemons() {
    let em = Emulator::start();
    let mut engine = engine(&em, &[]);
    engine.wait_for_log("consuming", 1, LONG);
    let mut watch = start_watch(&em);
    for d in [&mut engine, &mut watch] {
        d.signal("HUP");
        d.wait_for_log("SIGHUP ignored", 1, LONG);
        d.signal("HUP");
        d.wait_for_log("SIGHUP ignored", 2, LONG);
        assert!(d.try_status().is_none(), "{} ended on SIGHUP:\n{}", d.name, d.log());
        assert!(d.log().contains("restart the daemon to apply a change"), "{}", d.log());
    }
    // Still at work: a file dropped in after the SIGHUPs is uploaded and reported.
    let (path, bytes) = generate(&em, "2026-06-02", 30, 3);
    drop_in(&em, &path, "day.csv");
    wait_for_object(&em, "reports/2026-06-02/report.json", LONG);
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
    stop(&mut watch);
    stop(&mut engine);
    assert!(watch.log().contains("no new files are taken"), "{}", watch.log());
    assert!(
        !watch.log().contains("messages"),
        "the spool daemon speaks of files:\n{}",
        watch.log()
    );
    assert!(engine.log().contains("no new messages"), "{}", engine.log());
}
