//! `salesapp watch`: the spool daemon (docs/design.md, salesapp watch).
//!
//! ```text
//! spool_dir/
//!   incoming/  NAME.csv dropped here (written elsewhere, then renamed in)
//!   done/      NAME.csv after a successful upload (NAME.1.csv, NAME.2.csv… on a name clash)
//!   failed/    NAME.csv + NAME.csv.error.txt when the file can never be uploaded as it is
//! ```
//!
//! Each round: scan `incoming/` for complete files (`spool.rs`), upload them one by one,
//! and move each as its outcome says. What a failure does to the file is decided by its
//! kind alone, in the one table of [`common::failure`]: set aside (the file is at fault)
//! goes to `failed/` with the reason; retry and hold (a service, a permission, our own
//! ledger) leave it in `incoming/` and pause the rounds with a capped backoff, since every
//! other file would meet the same failure. A hold is logged loudly once and shown in
//! `STATUS=`; once the cause is fixed the files go through by themselves.
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

mod spool;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::config::{Config, SalesappConfig};
use common::failure::{Action, Error, Holds, Operation, Result};
use common::metrics::{self, UploadOutcome};
use common::notify;
use common::retry::{Backoff, Patience};
use common::Program;
use sales_domain::sales::Shown;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use spool::Spool;
use spool::{move_into, move_to_failed, Fingerprint, Scanner};

/// Longest pause between rounds while the service is unavailable or an operator must act.
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What the daemon needs from the world: one upload. The real one is `upload.rs` against the
/// bucket and queue; the tests script one.
pub trait Uploader: Send + Sync + 'static {
    /// Uploads the file at `path`.
    fn upload(&self, path: PathBuf) -> impl Future<Output = Result<Uploaded>> + Send;
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// One line for the log.
    pub summary: String,
    /// The same content was already there: only the message was sent again.
    pub unchanged: bool,
    /// Bytes of the sales file written to S3.
    pub bytes_sent: u64,
}

/// The real uploads: validate, put the object, merge the ledger, send the message.
impl Uploader for crate::upload::Target {
    async fn upload(&self, path: PathBuf) -> Result<Uploaded> {
        // No retries inside the upload: the daemon's rounds back off and try again.
        let summary =
            crate::upload::upload(self, &path, None, false, &mut Patience::none()).await?;
        Ok(Uploaded {
            summary: summary.to_string().replace('\n', "; "),
            unchanged: summary.unchanged(),
            bytes_sent: summary.bytes_sent(),
        })
    }
}

/// Runs the daemon until `shutdown` resolves; the file being uploaded then gets
/// `salesapp.shutdown_grace` to finish (else it stays in `incoming/` for the next start).
pub async fn watch(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let settings = config.salesapp.clone();
    let spool = Spool::open(&settings.spool_dir)?;
    let exporter = metrics::export(&config.metrics, Program::Salesapp).await?;
    let looked_at = spool.clone();
    metrics::watch_spool(move || looked_at.files());
    let (store, queue) = common::connect(&config, Program::Salesapp).await?;
    tracing::info!(
        incoming = %spool.incoming.display(),
        poll_interval = ?settings.poll_interval,
        settle_time = ?settings.settle_time,
        bucket = %config.bucket,
        "watching the spool"
    );
    let uploader = Arc::new(crate::upload::Target { config, store, queue });
    run(uploader, spool, settings, shutdown).await;
    if let Some(exporter) = exporter {
        exporter.finish().await;
    }
    Ok(())
}

/// The rounds, over any [`Uploader`].
pub async fn run<U: Uploader>(
    uploader: Arc<U>,
    spool: Spool,
    settings: SalesappConfig,
    shutdown: impl Future<Output = ()>,
) {
    let _watchdog = notify::spawn_watchdog();
    let mut watcher = Watcher::new(uploader, spool, settings);
    // READY: the configuration is valid, the spool exists, the SQS endpoint checked out and
    // the first scan is about to run. (Requests go out only when a file arrives.)
    notify::ready();
    watcher.stats.publish(None);
    // Shutdown is selected here and only here. It drops the rounds wherever they wait; the
    // upload in progress runs in its own task, and `finish` gives it the grace.
    tokio::select! {
        _ = shutdown => {}
        () = watcher.rounds() => {}
    }
    watcher.finish().await;
}

/// The upload in progress, in its own task so that a shutdown does not cut it.
struct Current {
    name: OsString,
    print: Fingerprint,
    task: JoinHandle<Result<Uploaded>>,
    started: Instant,
}

struct Watcher<U> {
    uploader: Arc<U>,
    spool: Spool,
    settings: SalesappConfig,
    scanner: Scanner,
    backoff: Backoff,
    current: Option<Current>,
    stats: Stats,
}

/// After one file: take the next, or pause the rounds (the service or our state is the
/// problem, not the file: every other file would fail the same way).
enum Next {
    File,
    Pause(Duration),
}

impl<U: Uploader> Watcher<U> {
    fn new(uploader: Arc<U>, spool: Spool, settings: SalesappConfig) -> Watcher<U> {
        let backoff = Backoff::new(settings.poll_interval, BACKOFF_CAP.max(settings.poll_interval));
        Watcher {
            uploader,
            spool,
            settings,
            scanner: Scanner::default(),
            backoff,
            current: None,
            stats: Stats::default(),
        }
    }

    /// Round after round, for ever: scan, upload what is complete, pause.
    async fn rounds(&mut self) {
        loop {
            let pause = self.round().await;
            self.stats.publish(None);
            tokio::time::sleep(pause).await;
        }
    }

    /// One round; returns the pause before the next.
    async fn round(&mut self) -> Duration {
        let ready = self.scanner.scan(&self.spool.incoming, self.settings.settle_time);
        for (name, print) in ready {
            let label = name.to_string_lossy().into_owned();
            self.stats.publish(Some(&label));
            tracing::info!(file = %label, bytes = print.size, "taking file");
            let uploader = self.uploader.clone();
            let path = self.spool.incoming.join(&name);
            let task = tokio::spawn(async move { uploader.upload(path).await });
            let started = Instant::now();
            let current = self.current.insert(Current { name, print, task, started });
            let result = joined(&mut current.task).await;
            let Some(current) = self.current.take() else { break };
            if let Next::Pause(pause) = self.settle(current, result) {
                return pause;
            }
        }
        self.settings.poll_interval
    }

    /// Moves the file as the upload's outcome says, and counts the attempt.
    fn settle(&mut self, current: Current, result: Result<Uploaded>) -> Next {
        let Current { name, print, started, .. } = current;
        let path = self.spool.incoming.join(&name);
        let label = name.to_string_lossy().into_owned();
        let attempt = Attempt {
            took: started.elapsed(),
            bytes_sent: result.as_ref().map_or(0, |u| u.bytes_sent),
        };
        // A file that changed (or vanished) while we uploaded it was still being written or
        // was taken back: look at it again, from its first scan. One that stays (a retry, a
        // hold) stays settled, so it is the next one tried, before any other.
        if Fingerprint::now_of(&path) != Some(print) {
            tracing::warn!(file = %label, "file changed during the upload; looking at it again");
            self.scanner.forget(&name);
            attempt.counted(UploadOutcome::Retry);
            return Next::File;
        }
        match result {
            Ok(uploaded) => {
                self.backoff.reset();
                self.stats.holds.succeeded();
                match move_into(&path, &self.spool.done, &name) {
                    Ok(dest) => {
                        self.scanner.forget(&name);
                        self.stats.done(&label, &uploaded, attempt);
                        tracing::info!(file = %label, moved_to = %dest.display(), summary = %uploaded.summary, "uploaded");
                        Next::File
                    }
                    // Uploaded, but still in incoming/: the next attempt is a no-op upload
                    // (one more message) followed by another try to move it.
                    Err(e) => {
                        self.pause_after(&label, &e, "uploaded but cannot move to done/", attempt)
                    }
                }
            }
            Err(err) => match err.action() {
                Action::SetAside => {
                    match move_to_failed(&self.spool, &path, &name, &reason_text(&label, &err)) {
                        Ok(dest) => {
                            self.scanner.forget(&name);
                            self.stats.set_aside(&label, attempt);
                            tracing::error!(file = %label, moved_to = %dest.display(), operation = err.operation().name(), kind = err.kind().label(), error = %err, exit_code = err.exit_code(), "cannot be uploaded; moved to failed/");
                            Next::File
                        }
                        Err(e) => self.pause_after(&label, &e, "cannot move to failed/", attempt),
                    }
                }
                Action::Retry => self.pause_after(&label, &err, "service unavailable", attempt),
                Action::Hold => self.pause_after(&label, &err, "upload failed", attempt),
            },
        }
    }

    /// The file stays in `incoming/`; the rounds pause with the backoff's next delay. A hold
    /// is logged loudly once, a transient failure each time.
    fn pause_after(&mut self, label: &str, err: &Error, what: &str, attempt: Attempt) -> Next {
        self.stats.left(label, err, what, attempt);
        Next::Pause(self.backoff.next_delay())
    }

    /// After the shutdown: the upload in progress gets `shutdown_grace` to finish, and its
    /// file is moved as usual; otherwise it stays in `incoming/` for the next start.
    async fn finish(&mut self) {
        notify::stopping();
        if let Some(mut current) = self.current.take() {
            let label = current.name.to_string_lossy().into_owned();
            let grace = self.settings.shutdown_grace;
            tracing::info!(file = %label, ?grace, "finishing the current upload before stopping");
            match tokio::time::timeout(grace, joined(&mut current.task)).await {
                Ok(result) => {
                    self.settle(current, result);
                }
                Err(_) => {
                    current.task.abort();
                    tracing::warn!(file = %label, "shutdown grace over: the file stays in incoming/ and is uploaded again on the next start");
                }
            }
        }
        tracing::info!(status = %self.stats.status_line(None), "stopped");
    }
}

/// The upload task's result; a task that panicked is an internal failure (the file stays).
async fn joined(task: &mut JoinHandle<Result<Uploaded>>) -> Result<Uploaded> {
    task.await.unwrap_or_else(|e| {
        Err(Error::internal(
            Operation::PutObject,
            "upload task",
            format!("the upload task failed: {e}"),
        ))
    })
}

/// One upload attempt, for the metrics.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    took: Duration,
    bytes_sent: u64,
}

impl Attempt {
    fn counted(self, outcome: UploadOutcome) {
        metrics::upload_done(outcome, self.bytes_sent, self.took);
    }
}

/// What the daemon has done, for logs, `systemctl status` and the metrics (each attempt's
/// outcome is recorded where it is counted here).
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) uploaded: u64,
    pub(super) failed: u64,
    pub(super) retries: u64,
    pub(super) last: Option<String>,
    /// The failure holding uploads up, logged once and shown in `STATUS=`.
    pub(super) holds: Holds,
    /// The last `STATUS=` sent.
    published: String,
}

impl Stats {
    /// `label` was uploaded (or was already there) and moved to `done/`.
    fn done(&mut self, label: &str, uploaded: &Uploaded, attempt: Attempt) {
        let outcome =
            if uploaded.unchanged { UploadOutcome::Unchanged } else { UploadOutcome::Uploaded };
        attempt.counted(outcome);
        self.uploaded += 1;
        self.last = Some(format!("{label} (done)"));
    }

    /// `label` can never be uploaded as it is and was moved to `failed/`.
    fn set_aside(&mut self, label: &str, attempt: Attempt) {
        attempt.counted(UploadOutcome::Failed);
        self.failed += 1;
        self.last = Some(format!("{label} (failed)"));
    }

    /// `label` stays in `incoming/` because of `err`: a retry, or held when an operator must
    /// act (logged loudly once).
    fn left(&mut self, label: &str, err: &Error, what: &str, attempt: Attempt) {
        attempt.counted(UploadOutcome::left_by(err.action()));
        self.retries += 1;
        self.last = Some(format!("{label} (retrying)"));
        self.holds.failed(
            err,
            &format!("{what}: {label} stays in incoming/ and is tried again with backoff"),
        );
    }

    /// Sends `STATUS=` to systemd when it changed (not on every scan).
    pub(super) fn publish(&mut self, current: Option<&str>) {
        let line = self.status_line(current);
        if line != self.published {
            notify::status(&line);
            self.published = line;
        }
    }

    pub(super) fn status_line(&self, current: Option<&str>) -> String {
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

/// The text of `NAME.error.txt`: what went wrong and the way out. A file that is not valid
/// gets its complete problem list (every group, then every problem on its own line, up to
/// `limits.max_problems`), where the terminal and the log show a screenful.
fn reason_text(name: &str, err: &Error) -> String {
    let hint = match err.operation() {
        // A different file for a day already uploaded.
        Operation::PutObject => {
            "If this file should replace the day already uploaded, run \
             `salesapp upload --replace FILE` on it."
        }
        _ => "Fix the file and drop it into incoming/ again (written elsewhere, renamed in).",
    };
    let why = match err.validation() {
        Some(invalid) => crate::validate::problems_text(invalid, Shown::All, ""),
        None => err.to_string(),
    };
    format!(
        "salesapp watch could not upload {name} (exit code {code}):\n{why}\n\n{hint}\n",
        code = err.exit_code()
    )
}
