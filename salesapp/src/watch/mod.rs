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
//! `STATUS=`; once the cause is fixed the files go through by themselves. The backoff
//! starts again from `poll_interval` only on progress: a file that left `incoming/`.
//!
//! # Opening a file
//! The scan only decides what to wait for. A file it found complete is then opened once
//! (`Spool::open_settled`, `common::local`): no symlink followed, no FIFO waited on, a
//! regular file only, and the very file that settled; everything after reads that
//! descriptor. What is not a regular file stays where it is, with one warning.
//!
//! # The spool's own problems
//! Not the file's fault and not the service's: an `incoming/` that cannot be read, a
//! `done/` or `failed/` that cannot be written. Each holds the spool (logged once, at
//! ERROR; `resumed` once fixed). A file whose fate is decided but which cannot be moved is
//! remembered ([`Decided`]): only its move is tried again, not its upload.
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
//! - killed after the upload but before the rename (or a power loss undoes the rename, or
//!   the rename failed and the daemon restarted): the same, plus one more message, which
//!   only makes the engine rewrite identical reports;
//! - killed after the rename: done.
//!
//! Nothing is deleted and nothing is overwritten: a name already in `done/` or `failed/`
//! gets a numeric suffix. The daemon assumes it is the only writer of `done/` and `failed/`
//! (one daemon per spool directory; the systemd unit guarantees one instance).

mod spool;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::config::{Config, SalesappConfig};
use common::failure::{Action, Error, Operation, Result};
use common::local::LocalFile;
use common::metrics::{self, UploadOutcome};
use common::notify;
use common::retry::{Backoff, Patience};
use common::Program;
use sales_domain::sales::Shown;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use spool::Spool;
use spool::{move_into, move_to_failed, Fingerprint, Opened, Scanner};
use stats::{Attempt, Stats};

/// Longest pause between rounds while the service is unavailable or an operator must act.
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What the daemon needs from the world: one upload. The real one is `upload.rs` against the
/// bucket and queue; the tests script one.
pub trait Uploader: Send + Sync + 'static {
    /// Uploads `file`, which the spool opened once: everything is read from it, never from
    /// its path again.
    fn upload(&self, file: LocalFile) -> impl Future<Output = Result<Uploaded>> + Send;
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
    async fn upload(&self, file: LocalFile) -> Result<Uploaded> {
        // No retries inside the upload: the daemon's rounds back off and try again.
        let summary = crate::upload::upload(self, file, None, false, &mut Patience::none()).await?;
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

/// What became of a file that is still in `incoming/` only because it could not be moved.
enum Fate {
    /// Uploaded: it goes to `done/`.
    Done(Uploaded),
    /// It can never be uploaded as it is: it goes to `failed/` with the reason.
    Failed(Error),
}

/// A file whose fate is decided but which could not be moved out of `incoming/` (a
/// `done/` or `failed/` the daemon cannot write). The daemon remembers it, in memory, so
/// that only the move is tried again: not the upload, nor its message, once per round.
/// After a restart it is uploaded once more, which for the same content is a no-op upload
/// that sends the message again (docs/operating.md, The spool daemon).
struct Decided {
    print: Fingerprint,
    fate: Fate,
}

struct Watcher<U> {
    uploader: Arc<U>,
    spool: Spool,
    settings: SalesappConfig,
    scanner: Scanner,
    /// The pause after a failure; it starts again from `poll_interval` only when a file
    /// leaves `incoming/` (progress), not when an upload merely succeeds.
    backoff: Backoff,
    current: Option<Current>,
    decided: BTreeMap<OsString, Decided>,
    stats: Stats,
    /// Called with a file's path between the scan that found it settled and its opening:
    /// the seam where the tests swap a file for a FIFO or a symlink. Nothing in production.
    before_open: Box<dyn Fn(&Path) + Send + Sync>,
}

/// After one file: take the next, or pause the rounds (the service, the spool or our state
/// is the problem, not the file: every other file would fail the same way).
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
            decided: BTreeMap::new(),
            stats: Stats::default(),
            before_open: Box::new(|_| {}),
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

    /// One round; returns the pause before the next. The files already decided come first:
    /// until they are moved nothing new is taken, since its move would fail the same way.
    async fn round(&mut self) -> Duration {
        let ready = match self.scanner.scan(&self.spool.incoming, self.settings.settle_time) {
            Ok(ready) => {
                self.stats.holds.cleared(Operation::ReadFile);
                ready
            }
            Err(err) => {
                self.stats
                    .holds
                    .failed(&err, "the spool cannot be read: no file is taken until it can");
                return self.backoff.next_delay();
            }
        };
        let scanner = &self.scanner;
        self.decided.retain(|name, _| scanner.knows(name));
        let (first, then): (Vec<_>, Vec<_>) =
            ready.into_iter().partition(|(name, _)| self.decided.contains_key(name));
        for (name, print) in first.into_iter().chain(then) {
            let next = match self.decided.remove(&name) {
                Some(decided) if decided.print == print => {
                    let attempt = Attempt { took: Duration::ZERO, bytes_sent: 0 };
                    self.conclude(name, print, decided.fate, attempt)
                }
                _ => self.take(name, print).await,
            };
            if let Next::Pause(pause) = next {
                return pause;
            }
        }
        self.settings.poll_interval
    }

    /// Opens a settled file (once: `Spool::open_settled`) and uploads it.
    async fn take(&mut self, name: OsString, print: Fingerprint) -> Next {
        let label = name.to_string_lossy().into_owned();
        (self.before_open)(&self.spool.incoming.join(&name));
        let started = Instant::now();
        let file = match self.spool.open_settled(&name, print) {
            Opened::File(file) => file,
            Opened::Refused(why) => {
                self.scanner.ignore(&name, &why);
                return Next::File;
            }
            Opened::Changed => {
                tracing::debug!(file = %label, "changed since it was found complete; looking at it again");
                self.scanner.forget(&name);
                return Next::File;
            }
            Opened::Unreadable(err) => return self.settle(name, print, started, Err(err)),
        };
        self.stats.publish(Some(&label));
        tracing::info!(file = %label, bytes = print.size, "taking file");
        let uploader = self.uploader.clone();
        let task = tokio::spawn(async move { uploader.upload(file).await });
        let current = self.current.insert(Current { name, print, task, started });
        let result = joined(&mut current.task).await;
        match self.current.take() {
            Some(Current { name, print, started, .. }) => self.settle(name, print, started, result),
            None => Next::File,
        }
    }

    /// Decides from an upload's outcome what becomes of the file, and counts the attempt.
    fn settle(
        &mut self,
        name: OsString,
        print: Fingerprint,
        started: Instant,
        result: Result<Uploaded>,
    ) -> Next {
        let label = name.to_string_lossy().into_owned();
        let attempt = Attempt {
            took: started.elapsed(),
            bytes_sent: result.as_ref().map_or(0, |u| u.bytes_sent),
        };
        // A file that changed (or vanished) while we uploaded it was still being written or
        // was taken back: look at it again, from its first scan. One that stays (a retry, a
        // hold) stays settled, so it is the next one tried, before any other.
        if Fingerprint::now_of(&self.spool.incoming.join(&name)) != Some(print) {
            tracing::warn!(file = %label, "changed during the upload: it stays in incoming/ and is looked at again");
            self.scanner.forget(&name);
            attempt.counted(UploadOutcome::Retry);
            return Next::File;
        }
        let fate = match result {
            Ok(uploaded) => {
                self.stats.holds.succeeded();
                Fate::Done(uploaded)
            }
            Err(err) if err.action() == Action::SetAside => Fate::Failed(err),
            Err(err) => {
                let what = if err.action() == Action::Retry {
                    "service unavailable"
                } else {
                    "upload failed"
                };
                let what =
                    format!("{what}: {label} stays in incoming/ and is tried again with backoff");
                self.stats.left(&label, &err, &what, attempt);
                return Next::Pause(self.backoff.next_delay());
            }
        };
        self.conclude(name, print, fate, attempt)
    }

    /// Moves a decided file where its fate says. A move that fails holds the spool (logged
    /// once; the file stays in `incoming/`, remembered so that it is only moved later).
    fn conclude(
        &mut self,
        name: OsString,
        print: Fingerprint,
        fate: Fate,
        attempt: Attempt,
    ) -> Next {
        let label = name.to_string_lossy().into_owned();
        let path = self.spool.incoming.join(&name);
        let moved = match &fate {
            Fate::Done(uploaded) => move_into(&path, &self.spool.done, &name).map(|dest| {
                self.stats.done(&label, uploaded, attempt);
                tracing::info!(file = %label, moved_to = %dest.display(), summary = %uploaded.summary, "uploaded: now in done/");
            }),
            Fate::Failed(err) => {
                let reason = |dest: &Path| reason_text(&label, err, dest);
                move_to_failed(&self.spool, &path, &name, reason).map(|(dest, note)| {
                    self.stats.set_aside(&label, attempt);
                    tracing::error!(file = %label, moved_to = %dest.display(), reason = %note.display(), operation = err.operation().name(), kind = err.kind().label(), error = %err, exit_code = err.exit_code(), "cannot be uploaded: moved to failed/, the reason beside it");
                })
            }
        };
        match moved {
            Ok(()) => {
                // Progress: the file left incoming/.
                self.scanner.forget(&name);
                self.backoff.reset();
                self.stats.holds.cleared(Operation::WriteFile);
                Next::File
            }
            Err(move_failed) => {
                let what = match fate {
                    Fate::Done(_) => format!(
                        "{label} is uploaded but cannot be moved to done/: it stays in \
                         incoming/, is not uploaded again, and is moved once done/ can be written"
                    ),
                    Fate::Failed(_) => format!(
                        "{label} cannot be uploaded, and cannot be moved to failed/: it stays \
                         in incoming/ and is moved once failed/ can be written"
                    ),
                };
                self.stats.left(&label, &move_failed, &what, attempt);
                self.decided.insert(name, Decided { print, fate });
                Next::Pause(self.backoff.next_delay())
            }
        }
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
                    let Current { name, print, started, .. } = current;
                    self.settle(name, print, started, result);
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

/// The text of `NAME.error.txt`, beside the file at `dest` in `failed/`: what went wrong,
/// where the file is, and the way out. A file that is not valid gets its complete problem
/// list (every group, then every problem on its own line, up to `limits.max_problems`),
/// where the terminal and the log show a screenful.
fn reason_text(name: &str, err: &Error, dest: &Path) -> String {
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
    let now = dest.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!(
        "salesapp watch could not upload {name} (exit code {code}); it is now failed/{now}.\n\
         {why}\n\n{hint}\n",
        code = err.exit_code()
    )
}
