//! What happens to a message, from ReceiveMessage to DeleteMessage.
//!
//! ```text
//! receive (long poll, up to min(10, free slots))
//!   └─ for each message, in its own task holding a slot:
//!        process ─ok─────────▶ delete                        (report uploaded first)
//!                ─set aside──▶ quarantine/<id>.json ▶ delete  (can never succeed)
//!                ─retry──────▶ leave it; SQS redelivers after the visibility timeout; back off
//!                ─hold───────▶ leave it; log loudly once (an operator must act); back off
//! ```
//!
//! Which of the last three a failure gets is decided by its kind alone, in the one table of
//! [`common::failure`]: nothing here chooses "quarantine" for a particular error.
//!
//! Deletion happens only after the report (or quarantine record) is written, so a crash at
//! any point loses nothing: the message comes back after the visibility timeout and, since
//! reports are pure functions of their inputs, rewrites identical objects.
//!
//! The lab's policy has no `sqs:ChangeMessageVisibility`, so no heartbeat can keep a slow
//! message hidden: a warning tells the operator when work nears `visibility_timeout`, and a
//! message redelivered while this process still works on it is not started twice (its newer
//! receipt handle is kept for the delete instead).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::failure::{Action, Error, Holds, Kind, Result};
use common::notify;
use common::queue::{Received, MAX_BATCH};
use common::retry::Backoff;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::process::{self, Engine};
use crate::quarantine;

/// `run` polls forever; `once` stops when the queue answers empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    UntilEmpty,
}

/// How long `once` waits on a poll before deciding the queue is empty.
const ONCE_WAIT: Duration = Duration::from_secs(1);

/// With most slots busy, how long the loop waits for more of them to free up before it
/// receives: one ReceiveMessage for several messages instead of one per finished message
/// (each request costs the same at the endpoint whatever it carries).
const GATHER_WAIT: Duration = Duration::from_millis(20);

/// Counters for logs, `systemctl status` and the exit code of `once`.
#[derive(Debug, Default)]
pub struct Stats {
    pub processed: AtomicU64,
    pub quarantined: AtomicU64,
    /// Messages left on the queue by a failure (retry or hold).
    pub failed: AtomicU64,
    /// The worst kind of failure that left a message behind (or stopped `once`).
    worst: Mutex<Option<Kind>>,
    last_report: Mutex<Option<String>>,
    /// The failure holding work up, logged once and shown in `STATUS=`.
    holds: Mutex<Holds>,
}

impl Stats {
    fn status_line(&self) -> String {
        let last = self.last_report.lock().map(|l| l.clone()).unwrap_or_default();
        let mut line = format!(
            "processed {}, quarantined {}, failed {}, last report {}",
            self.processed.load(Ordering::Relaxed),
            self.quarantined.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            last.as_deref().unwrap_or("none")
        );
        if let Some(held) = self.holds.lock().ok().and_then(|h| h.current().map(str::to_string)) {
            line.push_str("; held: ");
            line.push_str(&sales_domain::keys::excerpt(&held));
        }
        line
    }

    /// Notes a failure that left work behind: counted for the exit code, logged (a hold
    /// once), shown in `STATUS=`.
    fn left_behind(&self, err: &Error, what: &str) {
        if let Ok(mut worst) = self.worst.lock() {
            if worst.is_none_or(|w| err.kind().severity() > w.severity()) {
                *worst = Some(err.kind());
            }
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds.failed(err, what);
        }
    }

    /// Notes work that succeeded: a hold in place is over.
    fn went_through(&self) {
        if let Ok(mut holds) = self.holds.lock() {
            holds.succeeded();
        }
    }

    /// `once`: 0 when every message was reported or quarantined; otherwise the code of the
    /// worst failure (SPEC §5's table), since messages were left behind.
    pub fn exit_code(&self) -> u8 {
        let worst = self.worst.lock().ok().and_then(|w| *w);
        worst.map_or(0, |kind| u8::try_from(kind.rule().exit_code).unwrap_or(1))
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Reported,
    Quarantined,
    /// Left on the queue, by a failure of this kind.
    Left(Kind),
}

/// Messages being worked on, by message id → newest receipt handle.
type InFlight = Arc<Mutex<HashMap<String, String>>>;

/// Receives and processes messages until `shutdown` resolves (or, in `UntilEmpty` mode, the
/// queue answers empty), then lets in-flight messages finish within `shutdown_grace`.
pub async fn consume(
    engine: Arc<Engine>,
    mode: Mode,
    shutdown: impl Future<Output = ()>,
) -> Result<Arc<Stats>> {
    tokio::pin!(shutdown);
    let settings = &engine.config.reportsengine;
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    let in_flight: InFlight = Arc::default();
    let stats = Arc::new(Stats::default());
    let mut tasks: JoinSet<Disposition> = JoinSet::new();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));
    let mut must_back_off = false;
    let _watchdog = notify::spawn_watchdog();
    let mut ready = false;
    let wait = match mode {
        Mode::Daemon => settings.wait_time,
        Mode::UntilEmpty => settings.wait_time.min(ONCE_WAIT),
    };
    let give_up_after = engine.config.endpoints.give_up_after;
    let mut failing_since: Option<Instant> = None;
    let mut gave_up: Option<Error> = None;
    tracing::info!(queue = %engine.queue.url(), bucket = %engine.config.bucket, concurrency = settings.concurrency, "consuming");

    'receive: loop {
        while let Some(done) = tasks.try_join_next() {
            must_back_off |= note(&stats, done);
        }
        if must_back_off {
            must_back_off = false;
            let delay = backoff.next_delay();
            tracing::info!(?delay, "backing off after a failure");
            tokio::select! {
                _ = &mut shutdown => break 'receive,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = &mut shutdown => break 'receive,
                Some(done) = tasks.join_next() => { must_back_off |= note(&stats, done); }
            }
            continue;
        }
        let batch = settings.concurrency.min(MAX_BATCH as usize).div_ceil(2);
        if free < batch && !tasks.is_empty() {
            let deadline = tokio::time::sleep(GATHER_WAIT);
            tokio::pin!(deadline);
            while slots.available_permits() < batch && !tasks.is_empty() {
                tokio::select! {
                    _ = &mut shutdown => break 'receive,
                    Some(done) = tasks.join_next() => { must_back_off |= note(&stats, done); }
                    _ = &mut deadline => break,
                }
            }
            if must_back_off {
                continue;
            }
        }
        let free = slots.available_permits();
        if !ready {
            // READY once the configuration is valid and the first request is going out.
            notify::ready();
            notify::status(&stats.status_line());
            ready = true;
        }
        let max = i32::try_from(free).unwrap_or(MAX_BATCH).min(MAX_BATCH);
        let received = tokio::select! {
            _ = &mut shutdown => break 'receive,
            received = engine.queue.receive(max, wait) => received,
        };
        let messages = match received {
            Ok(messages) => {
                // The queue answered: the endpoint is back. Without this reset an empty
                // answer (the usual one) would keep the delay of the last outage, and the
                // next single failure would wait the cap.
                if !must_back_off {
                    backoff.reset();
                }
                messages
            }
            Err(err) => {
                stats.left_behind(&err, "receive failed; will retry");
                if mode == Mode::UntilEmpty {
                    // One-shot: a hold will not pass by waiting, and a transient failure is
                    // retried only for `endpoints.give_up_after` (SPEC §5).
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if err.action() == Action::Hold || since.elapsed() >= give_up_after {
                        gave_up = Some(err);
                        break 'receive;
                    }
                }
                must_back_off = true;
                continue;
            }
        };
        failing_since = None;
        if messages.is_empty() {
            if mode == Mode::UntilEmpty {
                // Let running work finish, then ask once more: it may have been slow.
                if tasks.is_empty() {
                    break 'receive;
                }
                while let Some(done) = tokio::select! {
                    _ = &mut shutdown => break 'receive,
                    done = tasks.join_next() => done,
                } {
                    must_back_off |= note(&stats, done);
                }
            }
            continue;
        }
        for message in messages {
            {
                let Ok(mut running) = in_flight.lock() else { break 'receive };
                if let Some(receipt) = running.get_mut(&message.message_id) {
                    tracing::warn!(
                        message_id = %message.message_id,
                        receive_count = message.receive_count,
                        visibility_timeout = ?settings.visibility_timeout,
                        "message redelivered while still being processed here: not starting it \
                         twice; raise the queue's visibility timeout (and reportsengine.visibility_timeout)"
                    );
                    *receipt = message.receipt_handle.clone();
                    continue;
                }
                running.insert(message.message_id.clone(), message.receipt_handle.clone());
            }
            let Ok(permit) = slots.clone().acquire_owned().await else { break 'receive };
            let span = tracing::info_span!("message", message_id = %message.message_id, receive_count = message.receive_count);
            tasks.spawn(
                handle(engine.clone(), message, permit, in_flight.clone(), stats.clone())
                    .instrument(span),
            );
        }
    }

    drain(&engine, &mut tasks, &stats, &in_flight).await;
    match gave_up {
        Some(err) if err.action() == Action::Hold => Err(err),
        Some(err) => Err(err.gave_up_after(give_up_after)),
        None => Ok(stats),
    }
}

/// After shutdown: let in-flight messages finish within `shutdown_grace`; what does not
/// finish is abandoned undeleted and redelivered by SQS after its visibility timeout.
async fn drain(
    engine: &Engine,
    tasks: &mut JoinSet<Disposition>,
    stats: &Stats,
    in_flight: &InFlight,
) {
    notify::stopping();
    if tasks.is_empty() {
        return;
    }
    let grace = engine.config.reportsengine.shutdown_grace;
    tracing::info!(in_flight = tasks.len(), ?grace, "waiting for in-flight messages");
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                let left: Vec<String> = in_flight.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default();
                tracing::warn!(?left, "shutdown grace over: leaving these messages for redelivery");
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
            done = tasks.join_next() => match done {
                Some(done) => { note(stats, done); }
                None => break,
            }
        }
    }
    tracing::info!(status = %stats.status_line(), "stopped");
}

/// Counts a finished task; true when the receive loop should back off.
fn note(stats: &Stats, done: std::result::Result<Disposition, tokio::task::JoinError>) -> bool {
    let disposition = match done {
        Ok(d) => d,
        Err(e) => {
            // A panic in a task is a bug; the message stays on the queue for redelivery.
            tracing::error!(error = %e, "message task ended abnormally");
            Disposition::Left(Kind::Unexpected)
        }
    };
    let counter = match disposition {
        Disposition::Reported => &stats.processed,
        Disposition::Quarantined => &stats.quarantined,
        Disposition::Left(_) => &stats.failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    notify::status(&stats.status_line());
    matches!(disposition, Disposition::Left(_))
}

/// One message's whole life in this process.
async fn handle(
    engine: Arc<Engine>,
    message: Received,
    _slot: OwnedSemaphorePermit,
    in_flight: InFlight,
    stats: Arc<Stats>,
) -> Disposition {
    let started = Instant::now();
    tracing::info!(bytes = message.body.len(), "processing message");
    let visibility = engine.config.reportsengine.visibility_timeout;
    let work = process::process(&engine, &message.message_id, &message.body);
    tokio::pin!(work);
    // No heartbeat is allowed, so warn at 80 % of the visibility timeout: after it, SQS
    // hands the message to whoever polls next.
    let warn_at = tokio::time::sleep(visibility.mul_f64(0.8));
    tokio::pin!(warn_at);
    let mut warned = false;
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = &mut warn_at, if !warned => {
                warned = true;
                tracing::warn!(
                    elapsed = ?started.elapsed(),
                    ?visibility,
                    "processing is nearing the queue's visibility timeout; SQS may redeliver this \
                     message to another consumer. Raise the queue's VisibilityTimeout and \
                     reportsengine.visibility_timeout to match"
                );
            }
        }
    };

    let disposition = match result {
        Ok(built) => {
            match delete(&engine, &message, &in_flight).await {
                Ok(()) => {
                    tracing::info!(date = %built.date, elapsed_ms = started.elapsed().as_millis() as u64, "{}", built.headline);
                    if let Ok(mut last) = stats.last_report.lock() {
                        *last = Some(built.date.to_string());
                    }
                    stats.went_through();
                    Disposition::Reported
                }
                Err(err) => {
                    stats.left_behind(&err, "delete failed; the message will be redelivered and rewrite identical objects");
                    Disposition::Left(err.kind())
                }
            }
        }
        Err(err) => match err.action() {
            Action::SetAside => {
                let reason = err.to_string();
                match quarantine::record(&engine.store, &message, &reason).await {
                    Ok(key) => {
                        tracing::warn!(quarantine = %key, kind = err.kind().label(), operation = err.operation().name(), resource = err.resource(), %reason, "message quarantined");
                        match delete(&engine, &message, &in_flight).await {
                            Ok(()) => Disposition::Quarantined,
                            Err(err) => {
                                stats.left_behind(&err, "delete failed; the message will be redelivered and quarantined again");
                                Disposition::Left(err.kind())
                            }
                        }
                    }
                    Err(qerr) => {
                        stats.left_behind(
                            &qerr,
                            &format!("cannot write the quarantine record; leaving the message ({reason})"),
                        );
                        Disposition::Left(qerr.kind())
                    }
                }
            }
            Action::Retry => {
                stats.left_behind(&err, "transient failure; the message will be redelivered");
                Disposition::Left(err.kind())
            }
            Action::Hold => {
                stats.left_behind(&err, "cannot process; the message is left on the queue");
                Disposition::Left(err.kind())
            }
        },
    };
    if let Ok(mut running) = in_flight.lock() {
        running.remove(&message.message_id);
    }
    disposition
}

/// Deletes with the newest receipt handle (a redelivery while we worked replaced it).
async fn delete(engine: &Engine, message: &Received, in_flight: &InFlight) -> Result<()> {
    let receipt = in_flight
        .lock()
        .ok()
        .and_then(|m| m.get(&message.message_id).cloned())
        .unwrap_or_else(|| message.receipt_handle.clone());
    engine.queue.delete(&receipt).await
}
