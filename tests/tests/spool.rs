//! `salesapp watch`, the spool daemon, end to end against its own moto server: complete files
//! are uploaded and moved to `done/`, bad ones to `failed/` with their reason, a file still
//! being written is left alone, and a crash (kill -9) or restart loses and duplicates nothing.

use std::io::Write;
use std::time::Duration;

use e2e::checks::{self, sales_key, LEDGER_KEY};
use e2e::daemon::{wait_until, Daemon};
use e2e::scenario::*;
use e2e::{run, salesapp, Emulator};

/// The dates present in the ledger, with how many rows each.
fn ledger_dates(em: &Emulator) -> Vec<String> {
    let Some(bytes) = em.get_object(LEDGER_KEY) else { return Vec::new() };
    let mut dates: Vec<String> =
        checks::parse_csv(&bytes).into_iter().skip(1).map(|r| r[0].clone()).collect();
    dates.dedup();
    dates
}

/// A complete file renamed in is uploaded exactly like `salesapp upload` (object, ledger,
/// message), moved to `done/`; the spool dirs are 0750; a second file of the same name and
/// content lands beside it with a suffix instead of overwriting; SIGTERM exits 0.
#[test]
fn spool_uploads_a_complete_file_and_moves_it_to_done() {
    let em = Emulator::start();
    let mut d = start_watch(&em);
    for sub in ["incoming", "done", "failed"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(spool(&em).join(sub)).expect(sub).permissions().mode();
        assert_eq!(mode & 0o777, 0o750, "{sub}/ mode");
    }
    let date = "2026-03-02";
    let (path, bytes) = generate(&em, date, 400, 7);
    let day = reference_of(&em, &bytes);
    // Work in progress under ignored names is left alone.
    std::fs::write(incoming(&em).join(".hidden.csv"), b"not yet").unwrap();
    std::fs::write(incoming(&em).join("next.csv.partial"), b"not yet").unwrap();
    std::fs::write(incoming(&em).join("notes.txt"), b"not a sales file").unwrap();
    drop_in(&em, &path, "day.csv");

    let done = spool(&em).join("done");
    wait_until(LONG, "day.csv in done/", || done.join("day.csv").exists().then_some(()));
    assert_eq!(std::fs::read(done.join("day.csv")).unwrap(), bytes, "moved byte for byte");
    checks::assert_sales_object(&em, date, &bytes);
    checks::assert_ledger(&em, &[&day]);
    let bodies = em.drain_messages();
    assert_eq!(bodies.len(), 1, "one message: {bodies:?}");
    let want = format!("s3://{}/{}", em.bucket(), sales_key(date));
    assert!(bodies[0].contains(&want), "message names the object: {}", bodies[0]);

    // The same file again under the same name: a no-op upload that re-sends the message,
    // and done/day.csv is not overwritten.
    let (path2, _) = generate(&em, date, 400, 7);
    drop_in(&em, &path2, "day.csv");
    wait_until(LONG, "day.1.csv in done/", || done.join("day.1.csv").exists().then_some(()));
    assert_eq!(names_in(&done), ["day.1.csv", "day.csv"]);
    assert_eq!(em.drain_messages().len(), 1, "the no-op upload re-sends the message");
    checks::assert_ledger(&em, &[&day]);

    assert_eq!(names_in(&incoming(&em)), [".hidden.csv", "next.csv.partial", "notes.txt"]);
    assert!(names_in(&spool(&em).join("failed")).is_empty());
    stop(&mut d);
    assert!(d.log().contains("stopped"), "{}", d.log());
}

/// Bad data and a different file for a day already uploaded go to `failed/` with
/// `NAME.error.txt` naming every problem; nothing of theirs is uploaded or queued.
#[test]
fn spool_moves_bad_files_to_failed_with_their_reason() {
    let em = Emulator::start();
    let (good_path, good) = generate(&em, "2026-03-03", 50, 1);
    let day = reference_of(&em, &good);
    let bad = "date,order_id,sales_rep,region,product,quantity,unit_price\n\
               2026-03-04,A1,Ada,EU,Widget,2,1.50\n\
               2026-03-04,A2,Ada,EU,Widget,zero,1.50\n\
               2026-03-04,A2,Bob,EU,Widget,1,1.999\n";
    std::fs::write(em.dir().join("bad.csv"), bad).unwrap();
    let (other_path, _) = generate(&em, "2026-03-03", 60, 2);

    let mut d = start_watch(&em);
    drop_in(&em, &good_path, "a-good.csv");
    drop_in(&em, &em.dir().join("bad.csv"), "b-bad.csv");
    let failed = spool(&em).join("failed");
    wait_until(LONG, "b-bad.csv in failed/", || {
        failed.join("b-bad.csv.error.txt").exists().then_some(())
    });
    wait_until(LONG, "a-good.csv in done/", || {
        spool(&em).join("done/a-good.csv").exists().then_some(())
    });
    // A different file for the same day, after the first is in: refused, not replaced.
    drop_in(&em, &other_path, "c-other.csv");
    wait_until(LONG, "c-other.csv in failed/", || {
        failed.join("c-other.csv.error.txt").exists().then_some(())
    });

    assert_eq!(
        names_in(&failed),
        ["b-bad.csv", "b-bad.csv.error.txt", "c-other.csv", "c-other.csv.error.txt"]
    );
    assert_eq!(std::fs::read_to_string(failed.join("b-bad.csv")).unwrap(), bad, "kept as is");
    let reason = std::fs::read_to_string(failed.join("b-bad.csv.error.txt")).unwrap();
    for want in ["exit code 65", ":3: quantity", ":4: order_id", ":4: unit_price"] {
        assert!(reason.contains(want), "reason lacks {want:?}:\n{reason}");
    }
    let reason = std::fs::read_to_string(failed.join("c-other.csv.error.txt")).unwrap();
    assert!(reason.contains("--replace"), "reason names the way out:\n{reason}");
    assert!(reason.contains("already holds a different file"), "{reason}");

    // Only the good day is in S3, the ledger and the queue.
    checks::assert_sales_object(&em, "2026-03-03", &good);
    assert!(em.head_object(&sales_key("2026-03-04")).is_none());
    checks::assert_ledger(&em, &[&day]);
    assert_eq!(em.drain_messages().len(), 1);
    assert!(names_in(&incoming(&em)).is_empty());
    assert!(d.log().contains("moved to failed/"), "{}", d.log());
    stop(&mut d);
}

/// A file written in place is not taken while it is being written, even across pauses
/// shorter than `settle_time`; once complete (closed, quiet) it is taken, whole.
#[test]
fn spool_does_not_take_a_file_still_being_written() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-03-05", 300, 3);
    let day = reference_of(&em, &bytes);
    let mut d = start_watch(&em);
    let target = incoming(&em).join("inplace.csv");
    let mut file = std::fs::File::create(&target).unwrap();
    // Cut mid-row: taken now, the file would be rejected as invalid.
    let cut = bytes.len() / 2 + 3;
    let chunks = [&bytes[..cut / 2], &bytes[cut / 2..cut], &bytes[cut..]];
    for chunk in chunks {
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        // Well below the 1.5 s settle time, but many 100 ms scans.
        std::thread::sleep(Duration::from_millis(900));
        assert!(target.exists(), "taken while being written; log:\n{}", d.log());
        assert!(names_in(&spool(&em).join("failed")).is_empty(), "taken half-way");
        assert!(!d.log().contains("taking file"), "taken half-way; log:\n{}", d.log());
    }
    drop(file);
    let done = spool(&em).join("done/inplace.csv");
    wait_until(LONG, "inplace.csv in done/", || done.exists().then_some(()));
    assert_eq!(std::fs::read(&done).unwrap(), bytes);
    checks::assert_sales_object(&em, "2026-03-05", &bytes);
    checks::assert_ledger(&em, &[&day]);
    drop(path);
    stop(&mut d);
}

/// kill -9 in the middle of uploading (a multipart-sized file, two files queued), then a
/// restart: every file ends in `done/` exactly once, the ledger holds each day once, and
/// nothing is left in `incoming/`. Then the crash window between upload and move: the file
/// was uploaded (by hand here) but is still in `incoming/`; the daemon re-uploads it as a
/// no-op and moves it once.
#[test]
fn spool_restart_mid_file_loses_and_duplicates_nothing() {
    let em = Emulator::start();
    // ~22 MB: above the 16 MiB single-PUT limit, so a multipart upload is in flight.
    let (big_path, big) = generate(&em, "2026-03-06", 250_000, 4);
    let (small_path, small) = generate(&em, "2026-03-07", 100, 5);
    let (big_day, small_day) = (reference_of(&em, &big), reference_of(&em, &small));

    let mut d = start_watch(&em);
    drop_in(&em, &big_path, "1-big.csv");
    drop_in(&em, &small_path, "2-small.csv");
    d.wait_for_log("taking file", 1, LONG);
    std::thread::sleep(Duration::from_millis(400));
    d.kill();
    let before = names_in(&spool(&em).join("done"));
    assert!(
        !before.contains(&"2-small.csv".to_string()),
        "the kill came too late to test anything: {before:?}"
    );

    let mut d = start_watch(&em);
    let done = spool(&em).join("done");
    wait_until(LONG, "both files in done/", || {
        (names_in(&done) == ["1-big.csv", "2-small.csv"]).then_some(())
    });
    assert!(names_in(&incoming(&em)).is_empty());
    assert!(names_in(&spool(&em).join("failed")).is_empty());
    checks::assert_sales_object(&em, "2026-03-06", &big);
    checks::assert_sales_object(&em, "2026-03-07", &small);
    checks::assert_ledger(&em, &[&big_day, &small_day]);
    assert_eq!(ledger_dates(&em), ["2026-03-06", "2026-03-07"]);
    stop(&mut d);

    // The window between "uploaded" and "moved": simulate it exactly.
    let (path, bytes) = generate(&em, "2026-03-08", 80, 6);
    let third = reference_of(&em, &bytes);
    let inside = drop_in(&em, &path, "3-third.csv");
    run(salesapp(&em).arg("upload").arg(&inside)).assert_ok();
    em.drain_messages();
    let mut d = start_watch(&em);
    wait_until(LONG, "3-third.csv in done/", || done.join("3-third.csv").exists().then_some(()));
    assert_eq!(names_in(&done), ["1-big.csv", "2-small.csv", "3-third.csv"]);
    checks::assert_ledger(&em, &[&big_day, &small_day, &third]);
    assert!(d.log().contains("unchanged (same content already uploaded)"), "{}", d.log());
    assert_eq!(em.drain_messages().len(), 1, "the message is re-sent once");
    stop(&mut d);
}

/// While the service is unavailable (the emulator stopped with SIGSTOP) the file stays in
/// `incoming/` and is retried with backoff; when the service is back it is uploaded. SIGTERM
/// during a stalled upload exits 0 once the grace is over, leaving the file in `incoming/`.
#[test]
fn spool_retries_while_the_service_is_unavailable() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-03-09", 40, 8);
    let day = reference_of(&em, &bytes);
    let sets = [
        "endpoints.attempt_timeout=1s",
        "endpoints.connect_timeout=1s",
        "salesapp.shutdown_grace=2s",
    ];
    let mut d = Daemon::spawn(watch_cmd(&em, &sets), em.dir(), "watch");
    d.wait_for_log("watching the spool", 1, LONG);

    em.pause();
    let inside = drop_in(&em, &path, "day.csv");
    d.wait_for_log("service unavailable", 2, Duration::from_secs(90));
    assert!(inside.exists(), "the file stays in incoming/ while the service is down");
    assert!(names_in(&spool(&em).join("failed")).is_empty(), "a transient failure is not bad data");
    em.resume();
    let done = spool(&em).join("done/day.csv");
    wait_until(Duration::from_secs(120), "day.csv in done/", || done.exists().then_some(()));
    checks::assert_ledger(&em, &[&day]);

    // SIGTERM while an upload hangs: the grace (2 s) bounds the wait, and the file stays.
    let (path2, _) = generate(&em, "2026-03-10", 40, 9);
    em.pause();
    let inside2 = drop_in(&em, &path2, "day2.csv");
    d.wait_for_log("file=day2.csv", 1, LONG);
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(15)).expect("exits once the grace is over");
    em.resume();
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(inside2.exists(), "the unfinished file stays in incoming/ for the next start");
    assert!(names_in(&spool(&em).join("failed")).is_empty(), "{}", d.log());
}

/// What is not a regular file is left where it is, said once, and never read: a FIFO
/// (opening it for reading would wait for a writer for ever), a symlink to a file outside
/// the spool (it would be uploaded with the daemon's rights), a directory. The files beside
/// them go through, one named with a line break and escape sequences among them, and the
/// text log stays one line per event with every control character escaped. SIGTERM then
/// ends the daemon at once. (The same refusals when the swap happens between the scan and
/// the open are in the daemon's unit tests, made certain by a seam, not by timing.)
#[test]
fn spool_leaves_what_is_not_a_regular_file_and_escapes_hostile_names() {
    let em = Emulator::start();
    let mut cmd = watch_cmd(&em, &[]);
    cmd.args(["--log-format", "text"]);
    let mut d = Daemon::spawn(cmd, em.dir(), "watch");
    d.wait_for_log("watching the spool", 1, LONG);
    let secret = em.write_file("secret.csv", "SECRET,outside the spool\n");
    std::os::unix::fs::symlink(&secret, incoming(&em).join("a-link.csv")).unwrap();
    let fifo = incoming(&em).join("b-fifo.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::fs::create_dir(incoming(&em).join("c-dir.csv")).unwrap();
    let (path, bytes) = generate(&em, "2026-03-11", 30, 11);
    let hostile = "d\n2026-03-11T00:00:00.000000Z ERROR forged \x1b[2J\r.csv";
    drop_in(&em, &path, hostile);
    let (path, good) = generate(&em, "2026-03-12", 30, 12);
    drop_in(&em, &path, "e-good.csv");

    let done = spool(&em).join("done");
    wait_until(LONG, "both files in done/", || (names_in(&done).len() == 2).then_some(()));
    checks::assert_sales_object(&em, "2026-03-11", &bytes);
    checks::assert_sales_object(&em, "2026-03-12", &good);
    assert_eq!(names_in(&incoming(&em)), ["a-link.csv", "b-fifo.csv", "c-dir.csv"]);
    assert!(names_in(&spool(&em).join("failed")).is_empty());
    for (name, kind) in
        [("a-link.csv", "a symbolic link"), ("b-fifo.csv", "a FIFO"), ("c-dir.csv", "a directory")]
    {
        let said = d.log_lines(&format!("file={name}"));
        assert_eq!(said.len(), 1, "{name} said once:\n{}", d.log());
        assert!(said[0].contains(&format!("ignored: {kind}, not a regular file")), "{}", said[0]);
    }
    let t = std::time::Instant::now();
    stop(&mut d);
    eprintln!("stopped {:?} after SIGTERM", t.elapsed());
    let log = d.log();
    assert!(!log.chars().any(|c| c.is_control() && c != '\n'), "raw controls in:\n{log:?}");
    for line in log.lines() {
        assert!(line.starts_with("20") && line.contains('Z'), "a line of its own: {line:?}");
        assert!(!line.contains("ERROR forged") || line.contains("\\n2026"), "{line}");
    }
    assert!(
        log.contains("file=d\\n2026-03-11T00:00:00.000000Z ERROR forged \\x1b[2J\\r.csv"),
        "{log}"
    );
}

/// The spool's own problems are an operator's, said once and resumed from by themselves:
/// an `incoming/` removed under the daemon is one ERROR (not one per poll), then `resumed`;
/// a file uploaded while `done/` cannot be written is uploaded and queued once, not once
/// per poll (before: 22 messages in 40 s), the pause growing, and moved once `done/` is
/// back, without another upload.
#[test]
fn spool_problems_hold_it_once_and_resume_by_themselves() {
    let em = Emulator::start();
    let mut d = start_watch(&em);
    std::fs::remove_dir(incoming(&em)).unwrap();
    d.wait_for_log("cannot read the spool's", 1, LONG);
    std::thread::sleep(Duration::from_secs(3)); // some thirty polls at 100 ms
    assert_eq!(d.log_lines("cannot read the spool's").len(), 1, "said once:\n{}", d.log());
    std::fs::create_dir(incoming(&em)).unwrap();
    d.wait_for_log("resumed", 1, LONG);

    let done = spool(&em).join("done");
    std::fs::remove_dir(&done).unwrap();
    std::fs::write(&done, "not a directory").unwrap();
    let (path, bytes) = generate(&em, "2026-03-13", 40, 13);
    let day = reference_of(&em, &bytes);
    let inside = drop_in(&em, &path, "day.csv");
    d.wait_for_log("cannot be moved to done/", 1, LONG);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(d.log_lines("taking file").len(), 1, "uploaded once:\n{}", d.log());
    assert_eq!(d.log_lines("cannot be moved to done/").len(), 1, "said once:\n{}", d.log());
    assert_eq!(em.queue_counts(), (1, 0), "one message, not one per poll");
    assert!(inside.exists(), "it stays in incoming/");

    std::fs::remove_file(&done).unwrap();
    std::fs::create_dir(&done).unwrap();
    wait_until(LONG, "day.csv in done/", || done.join("day.csv").exists().then_some(()));
    d.wait_for_log("resumed", 2, LONG);
    assert_eq!(d.log_lines("taking file").len(), 1, "moved, not uploaded again");
    assert_eq!(em.drain_messages().len(), 1);
    checks::assert_ledger(&em, &[&day]);
    stop(&mut d);
}
