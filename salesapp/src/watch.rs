//! `salesapp watch`: the spool daemon (SPEC §5).
//!
//! ```text
//! spool_dir/
//!   incoming/  NAME.csv dropped here (written elsewhere, then renamed in)
//!   done/      NAME.csv after a successful upload (NAME.1.csv, NAME.2.csv… on a name clash)
//!   failed/    NAME.csv + NAME.csv.error.txt when the file can never be uploaded as it is
//! ```
//!
//! # When a file is taken
//! The contract for writers is *write it elsewhere on the same file system (or under a name
//! this daemon ignores: a dotfile, `*.partial`, `*.tmp`), then rename it into
//! `incoming/NAME.csv`*: a rename is atomic, so the daemon sees all of the file or none of it.
//! `salesapp generate -o` does exactly that. A file written in place is tolerated: it is
//! taken only once its size, mtime and inode have stayed the same across two scans *and* for
//! `settle_time` (by its mtime or by our own observation, whichever shows it first). A writer
//! that pauses longer than `settle_time` in the middle of a file defeats this, which is why
//! rename-in is the contract.
//!
//! # Polling, not inotify
//! The directory is scanned every `poll_interval` (default 2 s). Polling sees files that
//! arrived while the daemon was down, cannot overflow an event queue or miss an event, works
//! on any file system, and the settle rule needs periodic looks anyway; a daily file does not
//! need sub-second latency, and a scan is one `readdir`.
//!
//! # Crash and restart safety
//! A file is in exactly one of `incoming/`, `done/`, `failed/` at any instant, because it
//! moves by `rename(2)`, which is atomic. The upload itself is idempotent (`upload.rs`): the
//! same content again is a no-op that re-sends the message. So:
//! - killed before or during the upload: the file is still in `incoming/` and is simply
//!   uploaded again on restart; the ledger holds the day once;
//! - killed after the upload but before the rename (or a power loss undoes the rename): the
//!   same, plus one more message, which only makes the engine rewrite identical reports;
//! - killed after the rename: done.
//!
//! Nothing is deleted and nothing is overwritten: a name already in `done/` or `failed/`
//! gets a numeric suffix. The daemon assumes it is the only writer of `done/` and `failed/`
//! (one daemon per spool directory; the systemd unit guarantees one instance).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::config::Config;
use common::failure::{Action, Error, Holds, Operation, Result};
use common::notify;
use common::retry::{Backoff, Patience};

/// Longest pause between attempts while the service is unavailable or an operator must act.
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// The three directories under `spool_dir`.
#[derive(Debug, Clone)]
pub struct Spool {
    pub incoming: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
}

impl Spool {
    /// Creates the directories that are missing, mode 0750 (the daemon's user writes, its
    /// group may look). Existing directories keep their mode: an operator may have opened
    /// `incoming/` to an uploaders' group on purpose.
    pub fn open(root: &Path) -> Result<Spool> {
        let spool = Spool {
            incoming: root.join("incoming"),
            done: root.join("done"),
            failed: root.join("failed"),
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true).mode(0o750);
        for dir in [&spool.incoming, &spool.done, &spool.failed] {
            builder.create(dir).map_err(|e| Error::write_io(dir.display(), e))?;
        }
        Ok(spool)
    }
}

/// What the daemon has done, for logs and `systemctl status`.
#[derive(Debug, Default)]
struct Stats {
    uploaded: u64,
    failed: u64,
    retries: u64,
    last: Option<String>,
    /// The failure holding uploads up, logged once and shown in `STATUS=`.
    holds: Holds,
    /// The last `STATUS=` sent.
    published: String,
}

impl Stats {
    /// Sends `STATUS=` to systemd when it changed (not on every scan).
    fn publish(&mut self, current: Option<&str>) {
        let line = self.status_line(current);
        if line != self.published {
            notify::status(&line);
            self.published = line;
        }
    }

    fn status_line(&self, current: Option<&str>) -> String {
        let mut s = String::new();
        if let Some(name) = current {
            let _ = write!(s, "uploading {name}; ");
        }
        let _ = write!(
            s,
            "uploaded {}, failed {}, retries {}, last file {}",
            self.uploaded,
            self.failed,
            self.retries,
            self.last.as_deref().unwrap_or("none")
        );
        if let Some(held) = self.holds.current() {
            let _ = write!(s, "; held: {}", sales_domain::keys::excerpt(held));
        }
        s
    }
}

/// A file's identity as far as "is it still being written?" goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    size: u64,
    mtime: SystemTime,
    ino: u64,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            size: meta.len(),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ino: meta.ino(),
        }
    }

    fn now_of(path: &Path) -> Option<Fingerprint> {
        std::fs::symlink_metadata(path).ok().filter(|m| m.is_file()).map(|m| Fingerprint::of(&m))
    }
}

/// What the scanner knows of one candidate in `incoming/`.
#[derive(Debug, Clone, Copy)]
struct Seen {
    print: Fingerprint,
    /// When we first saw it with this fingerprint.
    since: Instant,
    /// Consecutive scans that saw this fingerprint.
    scans: u32,
}

impl Seen {
    /// Complete = unchanged across two scans and for `settle` (by its mtime or by our clock:
    /// the mtime lets a restart take an old file at once, our clock copes with a future mtime).
    fn settled(&self, settle: Duration, now: SystemTime) -> bool {
        let quiet_by_mtime = now.duration_since(self.print.mtime).is_ok_and(|age| age >= settle);
        self.scans >= 2 && (quiet_by_mtime || self.since.elapsed() >= settle)
    }
}

/// How a name in `incoming/` is treated.
#[derive(Debug, PartialEq, Eq)]
enum NameKind {
    /// `*.csv`: a sales file.
    Candidate,
    /// Dotfiles, `*.partial`, `*.tmp`: work in progress by a writer; silently ignored.
    InProgress,
    /// Anything else: left alone, with one warning.
    Foreign,
}

fn classify_name(name: &OsStr) -> NameKind {
    let bytes = name.as_encoded_bytes();
    if bytes.starts_with(b".") || bytes.ends_with(b".partial") || bytes.ends_with(b".tmp") {
        NameKind::InProgress
    } else if bytes.len() > 4 && bytes.ends_with(b".csv") {
        NameKind::Candidate
    } else {
        NameKind::Foreign
    }
}

/// `NAME.csv` for n = 0, else `NAME.n.csv` (the extension kept last, so tools still know it).
fn suffixed(name: &OsStr, n: u32) -> OsString {
    if n == 0 {
        return name.to_os_string();
    }
    let text = name.to_string_lossy();
    match text.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => OsString::from(format!("{stem}.{n}.{ext}")),
        _ => OsString::from(format!("{text}.{n}")),
    }
}

/// The first `dir/suffixed(name, n)` that does not exist.
fn free_name(dir: &Path, name: &OsStr) -> Result<PathBuf> {
    for n in 0..10_000 {
        let dest = dir.join(suffixed(name, n));
        match std::fs::symlink_metadata(&dest) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dest),
            Err(e) => return Err(Error::read_io(dest.display(), e)),
            Ok(_) => continue,
        }
    }
    Err(Error::write_io(
        dir.display(),
        std::io::Error::other(format!("no free name for {}", name.to_string_lossy())),
    ))
}

/// Moves `src` into `dir` under a name not yet taken there; returns the new path.
fn move_into(src: &Path, dir: &Path, name: &OsStr) -> Result<PathBuf> {
    let dest = free_name(dir, name)?;
    std::fs::rename(src, &dest).map_err(|e| Error::write_io(src.display(), e))?;
    Ok(dest)
}

/// Moves `src` to `failed/` with `NAME.error.txt` beside it. The reason is written first:
/// a crash in between leaves the file in `incoming/` (it fails again on restart and reuses
/// the name, since a name counts as taken only when the sales file itself is there).
fn move_to_failed(spool: &Spool, src: &Path, name: &OsStr, reason: &str) -> Result<PathBuf> {
    let dest = free_name(&spool.failed, name)?;
    let mut note = dest.clone().into_os_string();
    note.push(".error.txt");
    common::local::write_atomically(Path::new(&note), reason.as_bytes())?;
    std::fs::rename(src, &dest).map_err(|e| Error::write_io(src.display(), e))?;
    Ok(dest)
}

/// The text of `NAME.error.txt`: what went wrong and the way out.
fn reason_text(name: &str, err: &Error) -> String {
    let hint = match err.operation() {
        // A different file for a day already uploaded.
        Operation::PutObject => {
            "If this file should replace the day already uploaded, run \
             `salesapp upload --replace FILE` on it."
        }
        _ => "Fix the file and drop it into incoming/ again (written elsewhere, renamed in).",
    };
    format!(
        "salesapp watch could not upload {name} (exit code {code}):\n{err}\n\n{hint}\n",
        code = err.exit_code()
    )
}

/// Runs the daemon until `shutdown` resolves; the file being uploaded then gets
/// `salesapp.shutdown_grace` to finish (else it stays in `incoming/` for the next start).
pub async fn watch(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let settings = config.salesapp.clone();
    let spool = Spool::open(&settings.spool_dir)?;
    let (store, queue) = common::connect(&config).await?;
    let target = crate::upload::Target { config: &config, store: &store, queue: &queue };
    tokio::pin!(shutdown);
    let mut stopping = false;
    let mut stats = Stats::default();
    let mut seen: BTreeMap<OsString, Seen> = BTreeMap::new();
    let mut warned: BTreeSet<OsString> = BTreeSet::new();
    let mut backoff = Backoff::new(settings.poll_interval, BACKOFF_CAP.max(settings.poll_interval));
    let _watchdog = notify::spawn_watchdog();
    tracing::info!(
        incoming = %spool.incoming.display(),
        poll_interval = ?settings.poll_interval,
        settle_time = ?settings.settle_time,
        bucket = %config.bucket,
        "watching the spool"
    );
    // READY: the configuration is valid, the spool exists, the SQS endpoint checked out and
    // the first scan is about to run. (Requests go out only when a file arrives.)
    notify::ready();
    stats.publish(None);

    'scan: while !stopping {
        let mut pause = settings.poll_interval;
        let ready = scan(&spool.incoming, &mut seen, &mut warned, settings.settle_time);
        for (name, print) in ready {
            if stopping {
                break 'scan;
            }
            let path = spool.incoming.join(&name);
            let label = name.to_string_lossy().into_owned();
            stats.publish(Some(&label));
            tracing::info!(file = %label, bytes = print.size, "taking file");
            // No retries inside the upload: this loop backs off and tries again itself.
            let mut patience = Patience::none();
            let work = crate::upload::upload(&target, &path, None, false, &mut patience);
            tokio::pin!(work);
            let result = tokio::select! {
                result = &mut work => Some(result),
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    let grace = settings.shutdown_grace;
                    tracing::info!(file = %label, ?grace, "finishing the current upload before stopping");
                    match tokio::time::timeout(grace, &mut work).await {
                        Ok(result) => Some(result),
                        Err(_) => {
                            tracing::warn!(file = %label, "shutdown grace over: the file stays in incoming/ and is uploaded again on the next start");
                            None
                        }
                    }
                }
            };
            let Some(result) = result else { break 'scan };
            // A file that changed (or vanished) while we uploaded it was still being written
            // or was taken back: forget what we knew and look again.
            if Fingerprint::now_of(&path) != Some(print) {
                tracing::warn!(file = %label, "file changed during the upload; looking at it again");
                seen.remove(&name);
                continue;
            }
            seen.remove(&name);
            match result {
                Ok(summary) => {
                    backoff.reset();
                    stats.holds.succeeded();
                    let summary = summary.to_string().replace('\n', "; ");
                    match move_into(&path, &spool.done, &name) {
                        Ok(dest) => {
                            stats.uploaded += 1;
                            stats.last = Some(format!("{label} (done)"));
                            tracing::info!(file = %label, moved_to = %dest.display(), summary = %summary, "uploaded");
                        }
                        Err(e) => {
                            // Uploaded, but still in incoming/: the next attempt is a no-op
                            // upload (one more message) followed by another try to move it.
                            tracing::error!(file = %label, error = %e, "uploaded but cannot move to done/; will retry");
                            stats.retries += 1;
                            pause = backoff.next_delay();
                            break;
                        }
                    }
                }
                Err(err) => match err.action() {
                    Action::SetAside => {
                        let reason = reason_text(&label, &err);
                        match move_to_failed(&spool, &path, &name, &reason) {
                            Ok(dest) => {
                                stats.failed += 1;
                                stats.last = Some(format!("{label} (failed)"));
                                tracing::error!(file = %label, moved_to = %dest.display(), operation = err.operation().name(), kind = err.kind().label(), error = %err, exit_code = err.exit_code(), "cannot be uploaded; moved to failed/");
                            }
                            Err(e) => {
                                tracing::error!(file = %label, error = %e, upload_error = %err, "cannot move to failed/; will retry");
                                stats.retries += 1;
                                pause = backoff.next_delay();
                                break;
                            }
                        }
                    }
                    Action::Retry | Action::Hold => {
                        stats.retries += 1;
                        stats.last = Some(format!("{label} (retrying)"));
                        pause = backoff.next_delay();
                        let what = match err.action() {
                            Action::Retry => "service unavailable",
                            _ => "upload failed",
                        };
                        stats.holds.failed(
                            &err,
                            &format!("{what}: {label} stays in incoming/ and is tried again with backoff"),
                        );
                        // The service (or our access to it, or our own state) is the problem,
                        // not the file: wait before trying this or any other file.
                        break;
                    }
                },
            }
            stats.publish(None);
        }
        stats.publish(None);
        if stopping {
            break;
        }
        tokio::select! {
            _ = &mut shutdown => { stopping = true; }
            _ = tokio::time::sleep(pause) => {}
        }
    }
    notify::stopping();
    tracing::info!(status = %stats.status_line(None), "stopped");
    Ok(())
}

/// One look at `incoming/`: updates `seen` and returns the settled candidates, by name.
fn scan(
    incoming: &Path,
    seen: &mut BTreeMap<OsString, Seen>,
    warned: &mut BTreeSet<OsString>,
    settle: Duration,
) -> Vec<(OsString, Fingerprint)> {
    let entries = match std::fs::read_dir(incoming) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(dir = %incoming.display(), error = %e, "cannot read the spool");
            return Vec::new();
        }
    };
    let mut present = BTreeSet::new();
    let mut names = BTreeSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        names.insert(name.clone());
        match classify_name(&name) {
            NameKind::InProgress => continue,
            NameKind::Foreign => {
                if warned.insert(name.clone()) {
                    tracing::warn!(file = %name.to_string_lossy(), "ignored: not a *.csv file");
                }
                continue;
            }
            NameKind::Candidate => {}
        }
        // symlink_metadata: a symlink (or directory) named *.csv is not a sales file, and
        // following links would let the spool reach files outside it.
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => {
                if warned.insert(name.clone()) {
                    tracing::warn!(file = %name.to_string_lossy(), "ignored: not a regular file");
                }
                continue;
            }
            Err(_) => continue,
        };
        let print = Fingerprint::of(&meta);
        present.insert(name.clone());
        seen.entry(name)
            .and_modify(|s| {
                if s.print == print {
                    s.scans = s.scans.saturating_add(1);
                } else {
                    *s = Seen { print, since: Instant::now(), scans: 1 };
                }
            })
            .or_insert(Seen { print, since: Instant::now(), scans: 1 });
    }
    seen.retain(|name, _| present.contains(name));
    warned.retain(|name| names.contains(name));
    let now = SystemTime::now();
    seen.iter().filter(|(_, s)| s.settled(settle, now)).map(|(n, s)| (n.clone(), s.print)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(classify_name(OsStr::new("2026-01-15.csv")), NameKind::Candidate);
        assert_eq!(classify_name(OsStr::new(".2026-01-15.csv")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.csv.partial")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.csv.tmp")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new(".csv")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.txt")), NameKind::Foreign);
        assert_eq!(classify_name(OsStr::new("x.CSV")), NameKind::Foreign);
    }

    #[test]
    fn suffixes_keep_the_extension() {
        assert_eq!(suffixed(OsStr::new("day.csv"), 0), "day.csv");
        assert_eq!(suffixed(OsStr::new("day.csv"), 2), "day.2.csv");
        assert_eq!(suffixed(OsStr::new("a.b.csv"), 1), "a.b.1.csv");
    }

    #[test]
    fn settling_needs_two_scans_and_quiet_time() {
        let old = SystemTime::now() - Duration::from_secs(60);
        let print = Fingerprint { size: 1, mtime: old, ino: 1 };
        let now = SystemTime::now();
        let settle = Duration::from_secs(5);
        let once = Seen { print, since: Instant::now(), scans: 1 };
        assert!(!once.settled(settle, now), "one scan is never enough");
        let twice = Seen { scans: 2, ..once };
        assert!(twice.settled(settle, now), "old mtime: taken at the second scan");
        let fresh = Seen { print: Fingerprint { mtime: now, ..print }, ..twice };
        assert!(!fresh.settled(settle, now), "just written: wait for settle_time");
        let future = Seen { print: Fingerprint { mtime: now + settle * 10, ..print }, ..twice };
        assert!(!future.settled(settle, now), "a future mtime waits on our own clock");
    }

    #[test]
    fn moves_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("watch-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir).unwrap();
        let mode = std::fs::metadata(&spool.done).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o750);
        for (i, body) in ["one", "two", "three"].iter().enumerate() {
            let src = spool.incoming.join("day.csv");
            std::fs::write(&src, body).unwrap();
            let dest = if i < 2 {
                move_into(&src, &spool.done, OsStr::new("day.csv")).unwrap()
            } else {
                move_to_failed(&spool, &src, OsStr::new("day.csv"), "bad").unwrap()
            };
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), *body);
            assert!(!src.exists());
        }
        assert_eq!(std::fs::read_to_string(spool.done.join("day.csv")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(spool.done.join("day.1.csv")).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(spool.failed.join("day.csv.error.txt")).unwrap(), "bad");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
