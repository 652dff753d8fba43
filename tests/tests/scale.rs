//! Several engines on one queue, concurrent uploads, and an
//! upload interrupted at any step then simply run again.

use e2e::checks::{self, sales_key, LEDGER_KEY};
use e2e::daemon::{wait_until, Daemon};
use e2e::reference::DayRef;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, Emulator};

/// Three `reportsengine run` on one queue with 20 days queued: every report is
/// produced and correct (against the independent reference, year-to-date included), the
/// index holds every day, the queue ends empty, nothing is quarantined.
#[test]
fn three_engines_share_one_queue() {
    let em = Emulator::start();
    let mut days = Vec::new();
    for i in 0..20u32 {
        let date = format!("2026-03-{:02}", i + 1);
        let (path, bytes) = generate(&em, &date, 30 + i, 100 + u64::from(i));
        upload(&em, &path).assert_ok();
        days.push(reference_of(&em, &bytes));
    }
    assert_eq!(em.queue_counts(), (20, 0));
    let mut engines: Vec<Daemon> =
        (0..3).map(|_| engine(&em, &["--set", "reportsengine.concurrency=2"])).collect();
    wait_until(LONG, "20 reports", || {
        let n = em.list_keys().iter().filter(|k| k.ends_with("/report.json")).count();
        (n == 20).then_some(())
    });
    wait_queue_empty(&em, LONG);
    for e in &mut engines {
        stop(e);
    }
    let share: Vec<usize> =
        engines.iter().map(|e| e.log().matches("processing message").count()).collect();
    eprintln!("messages processed per engine: {share:?}");
    assert!(share.iter().sum::<usize>() >= 20, "{share:?}");
    let history: Vec<&DayRef> = days.iter().collect();
    checks::assert_ledger(&em, &history);
    for day in &days {
        checks::assert_report(&em, day, &history);
    }
    checks::assert_index(&em, &history);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
}

/// Two `salesapp upload` of different days started at the same moment both end
/// up in the ledger (conditional writes retried on 412), round after round.
#[test]
fn concurrent_uploads_both_land_in_the_ledger() {
    let em = Emulator::start();
    let rounds: u32 = 6;
    let mut days = Vec::new();
    let mut raced = 0;
    for round in 0..rounds {
        let files: Vec<_> = (0..2)
            .map(|k| {
                let date = format!("2026-04-{:02}", round * 2 + k + 1);
                generate(&em, &date, 25, 200 + u64::from(round * 2 + k))
            })
            .collect();
        let mut procs: Vec<Daemon> = files
            .iter()
            .map(|(path, _)| {
                let mut cmd = salesapp(&em);
                cmd.args(["--log-level", "debug", "upload"]).arg(path);
                Daemon::spawn(cmd, em.dir(), "salesapp")
            })
            .collect();
        for p in &mut procs {
            let st = p.wait_exit(LONG).expect("upload finished");
            assert!(st.success(), "{}: {st}\n{}", p.name, p.log());
            if p.log().contains("merging again") {
                raced += 1;
            }
        }
        days.extend(files.iter().map(|(_, b)| reference_of(&em, b)));
        let history: Vec<&DayRef> = days.iter().collect();
        checks::assert_ledger(&em, &history);
    }
    eprintln!("{raced} of {} uploads lost a ledger race (412) and merged again", rounds * 2);
    assert_eq!(em.queue_counts().0, u64::from(rounds * 2), "one message per upload");
}

/// Where an interrupted upload was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Killed as soon as the sales object appeared.
    AfterObject,
    /// Killed as soon as the ledger changed.
    AfterLedger,
}

/// `salesapp upload` killed after the object, or after the ledger (before the
/// message), run again, ends in the same state as one clean run of the same files on a fresh
/// emulator: same objects, same ledger bytes, one message per day, identical reports.
#[test]
fn interrupted_upload_rerun_ends_like_a_clean_run() {
    let em = Emulator::start();
    let clean = Emulator::start();
    // A day already there, so the ledger merge has something to merge with.
    let (first, _) = generate(&em, "2026-05-01", 20, 300);
    upload(&em, &first).assert_ok();
    upload(&clean, &first).assert_ok();

    let mut states = Vec::new();
    let mut dates = vec!["2026-05-01".to_string()];
    for (i, step) in [Step::AfterObject, Step::AfterLedger].iter().cycle().take(6).enumerate() {
        let date = format!("2026-05-{:02}", i + 2);
        let (path, bytes) = generate(&em, &date, 40, 301 + i as u64);
        let ledger_before = em.get_object(LEDGER_KEY).expect("ledger");
        let messages_before = em.queue_counts().0;

        let mut cmd = salesapp(&em);
        cmd.arg("upload").arg(&path);
        let mut up = Daemon::spawn(cmd, em.dir(), "salesapp");
        let key = sales_key(&date);
        // The step's own log line is the earliest sign it is done: watch it closely (the next
        // step takes a few milliseconds) and SIGKILL at once.
        let marker = match step {
            Step::AfterObject => "sales file uploaded",
            Step::AfterLedger => "ledger updated",
        };
        let deadline = std::time::Instant::now() + LONG;
        let hit = loop {
            if up.log().contains(marker) {
                up.kill();
                break true;
            }
            if up.try_status().is_some() {
                break false;
            }
            assert!(std::time::Instant::now() < deadline, "salesapp hangs:\n{}", up.log());
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        let state = (
            *step,
            hit,
            em.head_object(&key).is_some(),
            em.get_object(LEDGER_KEY).is_some_and(|l| l != ledger_before),
            em.queue_counts().0 - messages_before,
        );
        states.push(state);
        let sent_before_rerun = state.4;

        upload(&em, &path).assert_ok();
        upload(&clean, &path).assert_ok();
        checks::assert_sales_object(&em, &date, &bytes);
        let sent = em.queue_counts().0 - messages_before;
        assert_eq!(sent, sent_before_rerun + 1, "{date}: the rerun sends one message");
        dates.push(date);
    }
    eprintln!("(step, killed in time, object, ledger changed, messages) before each rerun:");
    for s in &states {
        eprintln!("  {s:?}");
    }
    assert!(
        states.iter().any(|s| s.1 && s.2 && !s.3),
        "never caught the state `object written, ledger not`: {states:?}"
    );
    assert!(
        states.iter().any(|s| s.1 && s.3 && s.4 == 0),
        "never caught the state `ledger written, message not sent`: {states:?}"
    );

    // Same ledger bytes and objects as the clean run.
    assert!(
        em.get_object(LEDGER_KEY) == clean.get_object(LEDGER_KEY),
        "ledger differs from the clean run's"
    );
    for d in &dates {
        assert!(em.get_object(&sales_key(d)) == clean.get_object(&sales_key(d)), "{d}");
    }
    // Every message produces the same reports as the clean run's.
    run(reportsengine(&em).args(FAST).arg("once")).assert_ok();
    run(reportsengine(&clean).args(FAST).arg("once")).assert_ok();
    for d in &dates {
        let got = report_bytes(&em, d);
        assert!(got.iter().all(Option::is_some), "{d}: reports missing");
        assert!(got == report_bytes(&clean, d), "{d}: reports differ from the clean run's");
    }
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
}
