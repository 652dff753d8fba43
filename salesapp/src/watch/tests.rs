//! The spool daemon's rules, in-process: a scripted [`Uploader`] in a temporary spool, on
//! tokio's paused clock, round by round.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
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
    /// Names whose upload appends to the file in this `incoming/` (a writer still at work).
    grows: Mutex<Vec<String>>,
    incoming: Mutex<PathBuf>,
    /// Every upload, by name, in order.
    calls: Mutex<Vec<String>>,
    /// The bytes each upload read, in order.
    read: Mutex<Vec<Vec<u8>>>,
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
    async fn upload(&self, file: LocalFile) -> Result<Uploaded> {
        let name = file.label().to_string();
        self.calls.lock().unwrap().push(name.clone());
        let gate = self.gates.lock().unwrap().get(&name).cloned();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        if self.grows.lock().unwrap().contains(&name) {
            use std::io::Write;
            let path = self.incoming.lock().unwrap().join(&name);
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            writeln!(f, "more").unwrap();
        }
        let bytes = file.read_range(0, 1 << 20).unwrap();
        self.read.lock().unwrap().push(bytes);
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
    *script.incoming.lock().unwrap() = spool.1.incoming.clone();
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
    assert!(reason.contains("it is now failed/bad.csv."), "where the file is now: {reason}");
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
    let text = super::reason_text("bad.csv", &err, Path::new("/spool/failed/bad.1.csv"));
    assert!(
        text.starts_with(
            "salesapp watch could not upload bad.csv (exit code 65); it is now failed/bad.1.csv.\n"
        ),
        "{text}"
    );
    assert!(text.contains("incoming/bad.csv is not a valid sales file: 45 problems\n"), "{text}");
    assert!(text.contains(
        "incoming/bad.csv:2: quantity: \"0\" is not a whole number ≥ 1: 25 rows, lines 2–26\n"
    ));
    for line in 2..=46 {
        assert!(text.contains(&format!("\nincoming/bad.csv:{line}: ")), "line {line}:\n{text}");
    }
    assert!(!text.contains("more problem"), "{text}");
}

/// Runs `rounds` rounds of a watcher over `spool` whose seam swaps each file the scan found
/// settled for what `swap` makes of it, on a runtime of its own in a thread of its own: a
/// round that blocks (a FIFO opened for reading waits for a writer) shows as a timeout,
/// not as a test that never ends. Returns the watcher once the rounds are over.
fn rounds_with_swaps(
    spool: &TempSpool,
    swap: impl Fn(&Path) + Send + Sync + 'static,
    rounds: usize,
) -> Watcher<Script> {
    let (done, finished) = std::sync::mpsc::channel();
    let mut w = watcher(Script::default(), spool);
    w.before_open = Box::new(swap);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..rounds {
                w.round().await;
            }
        });
        let _ = done.send(w);
    });
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the rounds ended: a swapped-in file blocked the spool")
}

/// The file the scan found settled is replaced, before it is opened, by `what` (once).
fn swapped_for(what: &'static str, outside: PathBuf) -> impl Fn(&Path) + Send + Sync {
    let done = Mutex::new(false);
    move |path: &Path| {
        if !path.ends_with("a.csv") || std::mem::replace(&mut *done.lock().unwrap(), true) {
            return;
        }
        std::fs::remove_file(path).unwrap();
        match what {
            "fifo" => {
                let made = std::process::Command::new("mkfifo").arg(path).status().unwrap();
                assert!(made.success());
            }
            "symlink" => std::os::unix::fs::symlink(&outside, path).unwrap(),
            "directory" => std::fs::create_dir(path).unwrap(),
            other => panic!("{other}"),
        }
    }
}

/// A FIFO, a symlink to a file outside the spool, or a directory swapped in between the
/// scan and the open: refused (never read, never moved, nothing blocks), and the file
/// behind it goes through.
#[test]
fn a_file_swapped_between_the_scan_and_the_open_is_refused_and_nothing_blocks() {
    for what in ["fifo", "symlink", "directory"] {
        let spool = TempSpool::new(&format!("swap-{what}"));
        let outside = spool.0.join("outside-secret.csv");
        std::fs::write(&outside, "SECRET,outside the spool\n").unwrap();
        spool.drop_in("a.csv");
        spool.drop_in("b.csv");
        let w = rounds_with_swaps(&spool, swapped_for(what, outside), 4);
        let read = w.uploader.read.lock().unwrap().clone();
        assert!(
            read.iter().all(|bytes| !String::from_utf8_lossy(bytes).contains("SECRET")),
            "{what}: the file outside the spool was read"
        );
        assert_eq!(w.uploader.calls(), ["b.csv"], "{what}: only the regular file is uploaded");
        assert_eq!(TempSpool::names(&spool.1.done), ["b.csv"], "{what}");
        assert_eq!(TempSpool::names(&spool.1.incoming), ["a.csv"], "{what}: left where it is");
        assert!(TempSpool::names(&spool.1.failed).is_empty(), "{what}: not a sales file's fault");
    }
}

/// Makes `dir` impossible to move into (a regular file in its place: ENOTDIR, even for
/// root), or a directory again.
fn breaks(dir: &Path, broken: bool) {
    if broken {
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::write(dir, "not a directory").unwrap();
    } else {
        std::fs::remove_file(dir).unwrap();
        std::fs::create_dir(dir).unwrap();
    }
}

/// A file uploaded but not movable to `done/` is uploaded once, not once per round (its
/// message was sent again each time): it is held, the pause grows instead of starting
/// again from `poll_interval` (the upload succeeded, but nothing left `incoming/`), the
/// files behind it wait, and once `done/` is writable it is moved without another upload.
#[tokio::test(start_paused = true)]
async fn a_file_uploaded_but_not_movable_is_not_uploaded_again() {
    let spool = TempSpool::new("unmovable");
    spool.drop_in("a.csv");
    breaks(&spool.1.done, true);
    let mut w = watcher(Script::default(), &spool);
    let pauses = rounds(&mut w, 4).await;
    spool.drop_in("b.csv");
    let more = rounds(&mut w, 4).await;
    assert_eq!(w.uploader.calls(), ["a.csv"], "uploaded once: {pauses:?} {more:?}");
    assert_eq!(TempSpool::names(&spool.1.incoming), ["a.csv", "b.csv"]);
    let held = w.stats.holds.current().expect("held").to_string();
    assert!(held.contains("cannot move a.csv into"), "{held}");
    let poll = settings().poll_interval;
    assert!(*more.last().unwrap() > poll * 8, "the pause grew: {pauses:?} {more:?}");

    breaks(&spool.1.done, false);
    rounds(&mut w, 3).await;
    assert_eq!(w.uploader.calls(), ["a.csv", "b.csv"], "a.csv moved, not uploaded again");
    assert_eq!(TempSpool::names(&spool.1.done), ["a.csv", "b.csv"]);
    assert!(w.stats.holds.current().is_none(), "resumed");
    assert_eq!(w.stats.uploaded, 2);
}

/// The same for a file that can never be uploaded, while `failed/` cannot be written: it is
/// judged once, and once `failed/` is writable it goes there with its reason (not, judged
/// again later, somewhere else).
#[tokio::test(start_paused = true)]
async fn a_refused_file_not_movable_to_failed_is_judged_once() {
    let spool = TempSpool::new("unmovable-failed");
    spool.drop_in("bad.csv");
    breaks(&spool.1.failed, true);
    let mut w = watcher(Script::default().failing("bad.csv", &[Kind::BadInput]), &spool);
    rounds(&mut w, 5).await;
    assert_eq!(w.uploader.calls(), ["bad.csv"]);
    assert_eq!(TempSpool::names(&spool.1.incoming), ["bad.csv"]);
    breaks(&spool.1.failed, false);
    rounds(&mut w, 2).await;
    assert_eq!(w.uploader.calls(), ["bad.csv"], "not judged again");
    assert_eq!(TempSpool::names(&spool.1.failed), ["bad.csv", "bad.csv.error.txt"]);
    assert!(TempSpool::names(&spool.1.done).is_empty());
}

/// A missing `incoming/` holds the spool (said once, in `STATUS=`), and once it is back
/// the files dropped there go through.
#[tokio::test(start_paused = true)]
async fn a_missing_incoming_holds_the_spool_until_it_is_back() {
    let spool = TempSpool::new("no-incoming");
    std::fs::remove_dir(&spool.1.incoming).unwrap();
    let mut w = watcher(Script::default(), &spool);
    let pauses = rounds(&mut w, 4).await;
    let held = w.stats.holds.current().expect("held").to_string();
    assert!(held.contains("cannot read the spool's"), "{held}");
    assert!(pauses[3] > settings().poll_interval, "backed off: {pauses:?}");
    std::fs::create_dir(&spool.1.incoming).unwrap();
    spool.drop_in("a.csv");
    rounds(&mut w, 2).await;
    assert!(w.stats.holds.current().is_none());
    assert_eq!(TempSpool::names(&spool.1.done), ["a.csv"]);
}
