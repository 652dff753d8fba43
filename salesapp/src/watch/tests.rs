//! The spool daemon's rules, in-process: a scripted [`Uploader`] in a temporary spool, on
//! tokio's paused clock, round by round.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use common::failure::Kind;
use tokio::sync::Notify;

use super::*;

/// Answers per file name, in order; once they run out the upload succeeds.
#[derive(Default)]
struct Script {
    answers: Mutex<HashMap<String, VecDeque<Kind>>>,
    /// Names whose upload waits until notified.
    gates: Mutex<HashMap<String, Arc<Notify>>>,
    /// Names whose upload appends to the file (a writer still at work).
    grows: Mutex<Vec<String>>,
    /// Every upload, by name, in order.
    calls: Mutex<Vec<String>>,
}

impl Script {
    fn failing(self, name: &str, kinds: &[Kind]) -> Script {
        self.answers.lock().unwrap().insert(name.into(), kinds.iter().copied().collect());
        self
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Uploader for Script {
    async fn upload(&self, path: PathBuf) -> Result<Uploaded> {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        self.calls.lock().unwrap().push(name.clone());
        let gate = self.gates.lock().unwrap().get(&name).cloned();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        if self.grows.lock().unwrap().contains(&name) {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            writeln!(f, "more").unwrap();
        }
        let next = self.answers.lock().unwrap().get_mut(&name).and_then(VecDeque::pop_front);
        match next {
            Some(kind) => Err(Error::new(
                kind,
                Operation::GetObject,
                "s3://b/ledger",
                format!("scripted {}", kind.label()),
            )),
            None => Ok(Uploaded {
                summary: format!("uploaded {name}"),
                unchanged: false,
                bytes_sent: 14,
            }),
        }
    }
}

/// A spool in a fresh temporary directory, removed on drop.
struct TempSpool(PathBuf, Spool);

impl TempSpool {
    fn new(tag: &str) -> TempSpool {
        let root = std::env::temp_dir().join(format!("watch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let spool = Spool::open(&root).unwrap();
        TempSpool(root, spool)
    }
    fn drop_in(&self, name: &str) {
        std::fs::write(self.1.incoming.join(name), "date,order_id\n").unwrap();
    }
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempSpool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn settings() -> SalesappConfig {
    SalesappConfig {
        poll_interval: Duration::from_millis(100),
        settle_time: Duration::ZERO,
        shutdown_grace: Duration::from_secs(5),
        ..SalesappConfig::default()
    }
}

fn watcher(script: Script, spool: &TempSpool) -> Watcher<Script> {
    Watcher::new(Arc::new(script), spool.1.clone(), settings())
}

/// Rounds until the files have been seen twice (the settle rule) and taken.
async fn rounds(w: &mut Watcher<Script>, n: usize) -> Vec<Duration> {
    let mut pauses = Vec::new();
    for _ in 0..n {
        pauses.push(w.round().await);
    }
    pauses
}

#[tokio::test(start_paused = true)]
async fn a_complete_file_goes_to_done_and_a_bad_one_to_failed_with_its_reason() {
    let spool = TempSpool::new("outcomes");
    spool.drop_in("bad.csv");
    spool.drop_in("good.csv");
    let mut w = watcher(Script::default().failing("bad.csv", &[Kind::BadInput]), &spool);
    rounds(&mut w, 2).await;
    assert_eq!(TempSpool::names(&spool.1.done), ["good.csv"]);
    assert_eq!(TempSpool::names(&spool.1.failed), ["bad.csv", "bad.csv.error.txt"]);
    let reason = std::fs::read_to_string(spool.1.failed.join("bad.csv.error.txt")).unwrap();
    assert!(reason.contains("scripted bad input") && reason.contains("exit code 65"), "{reason}");
    assert!(TempSpool::names(&spool.1.incoming).is_empty());
    assert_eq!((w.stats.uploaded, w.stats.failed), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_hold_keeps_the_file_and_pauses_the_others_until_it_is_fixed() {
    let spool = TempSpool::new("hold");
    spool.drop_in("a.csv");
    spool.drop_in("b.csv");
    let held = [Kind::StateUnreadable, Kind::StateUnreadable, Kind::StateUnreadable];
    let mut w = watcher(Script::default().failing("a.csv", &held), &spool);
    let pauses = rounds(&mut w, 4).await;
    // Three attempts, each pausing the round before b.csv: b is never tried while held.
    assert_eq!(w.uploader.calls(), ["a.csv", "a.csv", "a.csv"]);
    assert_eq!(TempSpool::names(&spool.1.incoming), ["a.csv", "b.csv"]);
    assert!(TempSpool::names(&spool.1.failed).is_empty(), "never failed/ for our own state");
    assert!(w.stats.holds.current().is_some_and(|h| h.contains("scripted")), "STATUS= shows it");
    assert!(w.stats.status_line(None).contains("held: scripted"));
    assert!(pauses[3] > settings().poll_interval, "backed off: {pauses:?}");
    // Fixed (the script has no more failures): both go through, without anyone moving files.
    rounds(&mut w, 2).await;
    assert_eq!(TempSpool::names(&spool.1.done), ["a.csv", "b.csv"]);
    assert!(w.stats.holds.current().is_none(), "the hold is over");
}

#[tokio::test(start_paused = true)]
async fn the_backoff_grows_while_failing_and_starts_again_after_a_success() {
    let spool = TempSpool::new("backoff");
    spool.drop_in("a.csv");
    let kinds = [Kind::Transient; 6];
    let mut w = watcher(Script::default().failing("a.csv", &kinds), &spool);
    let pauses = rounds(&mut w, 7).await;
    let poll = settings().poll_interval;
    assert!(pauses[6] >= poll * 8, "grew: {pauses:?}");
    // The seventh try succeeded; the next failure starts from the base delay again.
    spool.drop_in("b.csv");
    *w.uploader.answers.lock().unwrap() =
        HashMap::from([("b.csv".to_string(), VecDeque::from([Kind::Transient]))]);
    let pauses = rounds(&mut w, 3).await;
    let after = pauses.iter().copied().find(|p| *p != poll).expect("one failure");
    assert!(after <= poll, "reset: {pauses:?}");
}

#[tokio::test(start_paused = true)]
async fn a_file_that_changes_during_its_upload_is_looked_at_again() {
    let spool = TempSpool::new("changing");
    spool.drop_in("a.csv");
    let script = Script::default();
    script.grows.lock().unwrap().push("a.csv".into());
    let mut w = watcher(script, &spool);
    rounds(&mut w, 2).await;
    assert_eq!(TempSpool::names(&spool.1.incoming), ["a.csv"], "not moved: it changed");
    w.uploader.grows.lock().unwrap().clear();
    rounds(&mut w, 3).await;
    assert_eq!(TempSpool::names(&spool.1.done), ["a.csv"], "taken once it stayed the same");
}

/// Runs the daemon until `a.csv`'s upload has started, then signals; `finish` decides.
async fn shutdown_during_an_upload(unblock_after: Option<Duration>) -> TempSpool {
    let spool = TempSpool::new(if unblock_after.is_some() { "grace-ok" } else { "grace-over" });
    spool.drop_in("a.csv");
    let script = Arc::new(Script::default());
    let gate = Arc::new(Notify::new());
    script.gates.lock().unwrap().insert("a.csv".into(), gate.clone());
    let stop = Arc::new(Notify::new());
    let daemon = tokio::spawn(run(script.clone(), spool.1.clone(), settings(), {
        let stop = stop.clone();
        async move { stop.notified().await }
    }));
    while script.calls().is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.notify_one();
    if let Some(after) = unblock_after {
        tokio::time::sleep(after).await;
        gate.notify_one();
    }
    daemon.await.unwrap();
    spool
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_the_current_upload_finish_within_the_grace() {
    let spool = shutdown_during_an_upload(Some(Duration::from_secs(2))).await;
    assert_eq!(TempSpool::names(&spool.1.done), ["a.csv"]);
}

#[tokio::test(start_paused = true)]
async fn an_upload_past_the_grace_leaves_its_file_in_incoming() {
    let spool = shutdown_during_an_upload(None).await;
    assert_eq!(TempSpool::names(&spool.1.incoming), ["a.csv"]);
    assert!(TempSpool::names(&spool.1.done).is_empty());
}

/// The error file of a file that is not valid lists every problem, where the log and the
/// terminal show a screenful: 45 problems, 25 of them the same, all there.
#[test]
fn the_error_file_lists_every_problem() {
    use sales_domain::sales::{validate_slice, Limits};
    let mut csv = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
    for i in 0..25 {
        csv.push_str(&format!("2026-01-15,{i},Ada,EMEA,Widget,0,1.00\n"));
    }
    for i in 25..45 {
        csv.push_str(&format!("2026-01-15,{i},Ada,EMEA,Widget,1,{i}.999\n"));
    }
    let invalid = validate_slice("incoming/bad.csv", csv.as_bytes(), Limits::default());
    let err = common::failure::Error::from(invalid.unwrap_err());
    assert!(err.to_string().lines().count() <= 21, "a screenful in the log");
    let text = super::reason_text("bad.csv", &err);
    assert!(text.starts_with("salesapp watch could not upload bad.csv (exit code 65):\n"));
    assert!(text.contains("incoming/bad.csv is not a valid sales file: 45 problems\n"), "{text}");
    assert!(text.contains(
        "incoming/bad.csv:2: quantity: \"0\" is not a whole number ≥ 1: 25 rows, lines 2–26\n"
    ));
    for line in 2..=46 {
        assert!(text.contains(&format!("\nincoming/bad.csv:{line}: ")), "line {line}:\n{text}");
    }
    assert!(!text.contains("more problem"), "{text}");
}
