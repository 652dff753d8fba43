//! Scenarios shared by the fault-injection tests (`poison`, `faults`, `shutdown`, `scale`,
//! `failures`): a daemon with fast settings, waiting for objects and an empty queue,
//! quarantine records, a message stuck mid-way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::daemon::{wait_until, Daemon};
pub use crate::generate;
use crate::reference::{self, DayRef};
use crate::{reportsengine, run, salesapp, Emulator, Run};
use serde_json::Value;

/// Generous deadlines: these tests run beside others on a loaded 2-core machine.
pub const LONG: Duration = Duration::from_secs(60);

/// Settings for a daemon under test: short polls and timeouts so an outage is noticed in
/// seconds, not minutes.
pub const FAST: &[&str] = &[
    "--set",
    "reportsengine.wait_time=1s",
    "--set",
    "endpoints.attempt_timeout=2s",
    "--set",
    "endpoints.connect_timeout=1s",
];

pub fn upload(em: &Emulator, path: &Path) -> Run {
    run(salesapp(em).arg("upload").arg(path))
}

pub fn reference_of(em: &Emulator, bytes: &[u8]) -> DayRef {
    reference::compute(bytes, em.options().commission_bps, &em.options().overrides)
        .unwrap_or_else(|e| panic!("the test's own file is not valid: {e}"))
}

/// `reportsengine run` with [`FAST`] settings and `extra` arguments, in the background.
pub fn engine(em: &Emulator, extra: &[&str]) -> Daemon {
    let mut cmd = reportsengine(em);
    cmd.args(FAST).args(extra).arg("run");
    Daemon::spawn(cmd, em.dir(), "reportsengine")
}

/// Waits until `key` exists in the bucket.
#[track_caller]
pub fn wait_for_object(em: &Emulator, key: &str, timeout: Duration) -> Vec<u8> {
    wait_until(timeout, key, || em.get_object(key))
}

/// Waits until the queue holds nothing, visible or in flight.
#[track_caller]
pub fn wait_queue_empty(em: &Emulator, timeout: Duration) {
    wait_until(timeout, "an empty queue", || (em.queue_counts() == (0, 0)).then_some(()));
}

/// `quarantine/<id>.json`, parsed, with the documented keys checked.
#[track_caller]
pub fn quarantine_record(em: &Emulator, id: &str) -> Option<Value> {
    let key = format!("quarantine/{id}.json");
    let bytes = em.get_object(&key)?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"));
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["body", "message_id", "reason", "receive_count", "time"], "{key}");
    assert_eq!(v["message_id"].as_str(), Some(id), "{key}");
    assert!(v["receive_count"].as_u64().is_some_and(|n| n >= 1), "{key}: {v}");
    let time = v["time"].as_str().unwrap_or_default();
    assert!(time.len() >= 20 && time.starts_with("20") && time.contains('T'), "{key}: {time}");
    Some(v)
}

/// Keys under `quarantine/`.
pub fn quarantine_keys(em: &Emulator) -> Vec<String> {
    em.list_keys().into_iter().filter(|k| k.starts_with("quarantine/")).collect()
}

/// SIGTERM and expect a prompt exit 0.
#[track_caller]
pub fn stop(d: &mut Daemon) {
    d.signal("TERM");
    let st = d.wait_exit(LONG).unwrap_or_else(|| panic!("{} did not stop:\n{}", d.name, d.log()));
    assert_eq!(st.code(), Some(0), "{} exit status {st}:\n{}", d.name, d.log());
}

/// The three report objects of `date`, bytes, in order csv, json, html.
pub fn report_bytes(em: &Emulator, date: &str) -> Vec<Option<Vec<u8>>> {
    ["report.csv", "report.json", "report.html"]
        .iter()
        .map(|n| em.get_object(&format!("reports/{date}/{n}")))
        .collect()
}

/// Tab-separated lines of a corpus expectations file, comments and blanks skipped.
pub fn tsv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

pub fn corpus_dir() -> PathBuf {
    crate::workspace_root().join("tests/corpus")
}

/// Starts the engine, queues `rows` rows for `date` and returns once the engine has
/// started on it and the emulator is stopped: the message is certainly in flight.
pub fn stuck_mid_message(
    em: &Emulator,
    extra: &[&str],
    date: &str,
    rows: u32,
) -> (Daemon, Vec<u8>) {
    let (path, bytes) = generate(em, date, rows, 21);
    let mut engine = engine(em, extra);
    engine.wait_for_log("consuming", 1, LONG);
    upload(em, &path).assert_ok();
    engine.wait_for_log("processing message", 1, LONG);
    em.pause();
    (engine, bytes)
}

// The spool daemon, `salesapp watch`.

/// Fast settings for tests: scan every 100 ms, settle after 1.5 s.
pub const POLL: &str = "salesapp.poll_interval=100ms";
pub const SETTLE: &str = "salesapp.settle_time=1500ms";

pub fn spool(em: &Emulator) -> PathBuf {
    em.dir().join("spool")
}

pub fn incoming(em: &Emulator) -> PathBuf {
    spool(em).join("incoming")
}

/// `salesapp --set … watch`. Every `--set` goes before the subcommand: clap keeps only the
/// occurrences on one side of it.
pub fn watch_cmd(em: &Emulator, sets: &[&str]) -> Command {
    let mut cmd = salesapp(em);
    for set in [POLL, SETTLE].iter().chain(sets) {
        cmd.args(["--set", set]);
    }
    cmd.arg("watch");
    cmd
}

pub fn start_watch(em: &Emulator) -> Daemon {
    let mut d = Daemon::spawn(watch_cmd(em, &[]), em.dir(), "watch");
    d.wait_for_log("watching the spool", 1, LONG);
    d
}

/// The writers' contract: written elsewhere on the same file system, renamed in.
pub fn drop_in(em: &Emulator, from: &Path, name: &str) -> PathBuf {
    let dest = incoming(em).join(name);
    std::fs::rename(from, &dest).expect("rename into incoming/");
    dest
}

pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
