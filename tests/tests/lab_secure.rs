//! The workshop's edits, from its starting point to its end, with the daemons at work all the
//! way: `lab.sh start --state starting`, `salesapp watch` and `reportsengine run` as on EC2,
//! days dropped into the spool throughout; `lab.sh secure` with the bucket policy first (the
//! walkthrough in the starting state, then with that one control alone: the expectation
//! follows the controls, not the workshop's order), then the rest in the workshop's order,
//! the walkthrough after each edit. Every day is reported exactly, nothing is quarantined or
//! held, and `doctor --controls` goes from naming the missing controls to passing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use e2e::checks::{self, Objects};
use e2e::daemon::{wait_until, Daemon};
use e2e::lab::{
    assert_answers, assert_cli_error, Lab, Refusal, SECURED_REFUSALS, STARTING_REFUSALS,
};
use e2e::reference::{self, DayRef};
use e2e::run;
use serde_json::Value;

/// The days fed to `salesapp watch` while the edits are made.
const DAYS: usize = 6;

fn reference_of(bytes: &[u8]) -> DayRef {
    reference::compute(bytes, 500, &Default::default()).expect("a valid day")
}

/// A step of `secure --json`: the edit's name (`None` for the walk before the first), whether
/// it was applied, its walk and the checks it changed.
fn step(secured: &Value, i: usize) -> (Option<&str>, bool, &Value, Vec<&str>) {
    let s = &secured["steps"][i];
    let changed = s["changed"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    (s["edit"]["name"].as_str(), s["applied"] == true, &s["walkthrough"], changed)
}

/// `doctor --controls` on both instances: its exit code, how many of the controls it judged
/// are in place (from its note "controls: N of M in place"), and its table.
fn doctor(lab: &Lab) -> Vec<(i32, (u32, u32), String)> {
    [("salesapp", "salesapp"), ("reportsengine", "reportsengine")]
        .iter()
        .map(|(host, binary)| {
            let ran = run(lab.daemon(host, binary).args(["doctor", "--controls"]));
            let note = ran.stdout.lines().find_map(|l| l.split("controls: ").nth(1)).unwrap_or("");
            let numbers: Vec<u32> =
                note.split_whitespace().filter_map(|w| w.parse().ok()).take(2).collect();
            let counted =
                (numbers.first().copied().unwrap_or(0), numbers.get(1).copied().unwrap_or(0));
            (ran.status.code().unwrap_or(-1), counted, ran.stdout)
        })
        .collect()
}

/// Drops day `n` into salesapp's spool (written aside, then renamed in: complete).
fn drop_day(lab: &Lab, incoming: &Path, n: usize) -> (PathBuf, Vec<u8>) {
    let date = format!("2026-04-{:02}", n + 1);
    let (path, bytes) = lab.generate(&date, 300, n as u64 + 1);
    let aside = incoming.join(format!(".day{n}.partial"));
    std::fs::copy(&path, &aside).expect("copy into the spool");
    std::fs::rename(&aside, incoming.join(format!("day{n}.csv"))).expect("rename in");
    (path, bytes)
}

#[test]
fn the_workshops_edits_with_the_daemons_at_work() {
    let lab = Lab::start("starting");
    let restricted = lab.output("RestrictedS3Bucket");
    assert_cli_error(
        &lab.aws("cloud9", &["s3api", "get-bucket-policy", "--bucket", &restricted]),
        "NoSuchBucketPolicy",
    );
    // Before anything runs: doctor names the controls still missing.
    for (code, (in_place, judged), table) in doctor(&lab) {
        assert_eq!(code, 77, "doctor --controls in the starting state:\n{table}");
        assert!(in_place < judged, "{table}");
        for control in ["DeleteObject denied", "unrestricted PutObject denied", "ListQueues denied"]
        {
            let line = table.lines().find(|l| l.contains(control)).unwrap_or_default();
            assert!(
                line.starts_with("FAIL") && line.contains("NOT in place"),
                "{control}:\n{table}"
            );
        }
    }

    let spool = lab.state_dir().join("hosts/salesapp/spool");
    let incoming = spool.join("incoming");
    let work = lab.dir();
    let mut watch = lab.daemon("salesapp", "salesapp");
    watch.arg("watch");
    let mut watch = Daemon::spawn(watch, &work, "watch");
    let mut engine = lab.daemon("reportsengine", "reportsengine");
    engine.arg("run");
    let mut engine = Daemon::spawn(engine, &work, "run");

    // Days arrive while the edits are made, one every few seconds.
    let editing = AtomicBool::new(true);
    let (days, secured) = std::thread::scope(|s| {
        let feeder = s.spawn(|| {
            let mut days = Vec::new();
            for n in 0..DAYS {
                days.push(drop_day(&lab, &incoming, n).1);
                for _ in 0..200 {
                    if !editing.load(Ordering::Relaxed) && days.len() > 1 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            days
        });
        let secured = lab.secure(&[
            "bucket-policy",
            "s3-endpoint-policy",
            "endpoint-security-group",
            "sqs-endpoint-policy",
            "queue-policy",
        ]);
        editing.store(false, Ordering::Relaxed);
        (feeder.join().expect("the feeder"), secured)
    });

    // The starting state, then the bucket policy alone (out of the workshop's order): only
    // Cloud9's write changes.
    let (edit, _, walk, _) = step(&secured, 0);
    assert_eq!(edit, None);
    assert_answers(walk, STARTING_REFUSALS, "the starting state");
    let (edit, applied, walk, changed) = step(&secured, 1);
    assert_eq!(
        (edit, applied, changed),
        (Some("bucket-policy"), true, vec!["cloud9-s3-put-restricted"])
    );
    let mut refused: Vec<Refusal> = STARTING_REFUSALS.to_vec();
    refused.push(("cloud9-s3-put-restricted", "access-denied", "bucket"));
    assert_answers(walk, &refused, "the bucket policy alone");
    assert_eq!(walk["controls"]["bucket_policy"], "workshop");
    assert_eq!(walk["controls"]["s3_endpoint_policy"], "open");

    // Then the rest, in the workshop's order, the walkthrough as expected after each edit,
    // and each changing the checks it is there for.
    let rest = [
        (
            "s3-endpoint-policy",
            vec![
                ("salesapp-s3-put-unrestricted", "access-denied", "endpoint"),
                ("salesapp-s3-delete-unrestricted", "access-denied", "endpoint"),
                ("salesapp-s3-delete-restricted", "access-denied", "endpoint"),
            ],
        ),
        ("endpoint-security-group", vec![("cloud9-sqs-send", "times-out", "security_group")]),
        ("sqs-endpoint-policy", vec![("salesapp-sqs-list-queues", "access-denied", "endpoint")]),
        ("queue-policy", vec![("internet-sqs-send", "access-denied", "queue")]),
    ];
    for (i, (name, more)) in rest.iter().enumerate() {
        let (edit, applied, walk, changed) = step(&secured, i + 2);
        let want: Vec<&str> = more.iter().map(|r| r.0).collect();
        assert_eq!((edit, applied, changed), (Some(*name), true, want), "edit {name}");
        refused.extend(more.iter().copied());
        assert_answers(walk, &refused, &format!("after {name}"));
    }
    assert_answers(step(&secured, 5).2, SECURED_REFUSALS, "after the last edit");
    assert_eq!(secured["ok"], true);
    let typed = secured["steps"][3]["edit"]["typed"].as_array().expect("typed");
    assert!(
        typed[0]
            .as_str()
            .is_some_and(|c| c.starts_with("aws ec2 authorize-security-group-ingress"))
            && typed[1]
                .as_str()
                .is_some_and(|c| c.starts_with("aws ec2 revoke-security-group-ingress")),
        "the apps' groups in before the VPC's range out: {typed:?}"
    );

    // Every day reported exactly (and the walkthrough's own day), none held or quarantined.
    let done = spool.join("done");
    wait_until(Duration::from_secs(180), "every day in done/", || {
        (std::fs::read_dir(&done).map(|d| d.count()).unwrap_or(0) == DAYS).then_some(())
    });
    let refs: Vec<DayRef> = days.iter().map(|b| reference_of(b)).collect();
    let history: Vec<&DayRef> = refs.iter().collect();
    wait_until(Duration::from_secs(180), "every day's report", || {
        let keys = lab.list_keys();
        refs.iter()
            .all(|d| keys.contains(&checks::report_key(&d.date, "report.html")))
            .then_some(())
    });
    std::fs::read_dir(spool.join("failed")).map(|d| assert_eq!(d.count(), 0, "failed/")).ok();
    let walkthrough_day = reference_of(
        &std::fs::read(lab.state_dir().join("walkthrough/sales.csv")).expect("walkthrough file"),
    );
    engine.signal("TERM");
    watch.signal("TERM");
    assert!(
        engine.wait_exit(Duration::from_secs(60)).is_some_and(|s| s.success()),
        "{}",
        engine.log()
    );
    assert!(
        watch.wait_exit(Duration::from_secs(60)).is_some_and(|s| s.success()),
        "{}",
        watch.log()
    );
    for (d, bytes) in refs.iter().zip(&days) {
        checks::assert_sales_object(&lab, &d.date, bytes);
        checks::assert_report(&lab, d, &history);
    }
    checks::assert_ledger(&lab, &history);
    checks::assert_report_of(&lab, &walkthrough_day, &history, "walkthrough/sales.csv");
    let mut indexed = history.clone();
    indexed.insert(0, &walkthrough_day);
    checks::assert_index(&lab, &indexed);
    checks::assert_no_quarantine(&lab);
    for log in [engine.log(), watch.log()] {
        assert!(!log.contains(" held") && !log.contains("ERROR"), "a daemon held work:\n{log}");
    }

    // And doctor sees every control in place.
    for (code, (in_place, judged), table) in doctor(&lab) {
        assert_eq!(code, 0, "doctor --controls after the edits:\n{table}");
        assert!(in_place == judged && judged >= 7, "{table}");
    }
    checks::assert_no_quarantine(&lab);
}
