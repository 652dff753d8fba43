//! What happens to a message, from ReceiveMessage to DeleteMessage.
//!
//! ```text
//! receive loop (long poll, up to min(10, free slots))
//!   └─ each message in its own task, holding a slot (work.rs):
//!        process ─ok─────────▶ indexer ▶ deleter ▶ DeleteMessageBatch  (report uploaded first)
//!                ─set aside──▶ quarantine/<id>.json ▶ deleter          (can never succeed)
//!                ─retry──────▶ leave it; SQS redelivers after the visibility timeout; back off
//!                ─hold───────▶ leave it; log it loudly once (an operator must act); back off
//! ```
//!
//! Which of the last three a failure gets is decided by its kind alone, in the one table of
//! [`common::failure`]. Deletion happens only after the report (or quarantine record) is
//! written, so a crash at any point loses nothing: the message comes back after the
//! visibility timeout and, since reports are pure functions of their inputs, rewrites
//! identical objects. A message's slot is free once its report is written: the day then
//! waits for the index (`indexer.rs`: one update for all the days that came meanwhile) and
//! the delete (`deleter.rs`: one request for up to ten messages), while the loop receives.
//!
//! The lab's policy has no `sqs:ChangeMessageVisibility`, so no heartbeat can keep a slow
//! message hidden: a warning tells the operator when work nears `visibility_timeout`, and a
//! message redelivered while this process still works on it is not started twice (its newer
//! receipt handle is kept for the delete instead).
//!
//! The loop talks to the world through [`Backend`], so its rules are tested in-process
//! (`tests.rs`) with a scripted queue, on a paused clock.

mod deleter;
mod indexer;
mod stats;
#[cfg(test)]
mod tests;
mod work;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use common::config::Config;
use common::failure::{Action, Error, Result};
use common::notify;
use common::queue::{Received, MAX_BATCH};
use common::retry::Backoff;
use sales_domain::report::index::IndexDay;
use sales_domain::sales::SalesDate;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

pub use stats::ConsumerStats;

/// What the loop needs from the world: the queue's calls and the work on one message. The
/// engine (S3 and SQS) is the real one; the tests script one.
pub trait Backend: Send + Sync + 'static {
    /// ReceiveMessage: up to `max` messages, waiting up to `wait` for the first.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>>> + Send;
    /// DeleteMessageBatch: one answer per receipt handle (`None`: deleted).
    fn delete_batch(
        &self,
        receipt_handles: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Error>>>> + Send;
    /// DeleteMessage of one receipt handle (a batch entry's second chance).
    fn delete(&self, receipt_handle: &str) -> impl Future<Output = Result<()>> + Send;
    /// Builds and uploads the report a message asks for.
    fn process(&self, message: &Received) -> impl Future<Output = Result<Built>> + Send;
    /// Puts reported days in the index of every day (one update for all of them).
    fn index(&self, days: &[IndexDay]) -> impl Future<Output = Result<()>> + Send;
    /// Writes the quarantine record of a message that can never succeed; returns its key.
    fn quarantine(
        &self,
        message: &Received,
        reason: &str,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// What a processed message produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub date: SalesDate,
    pub headline: String,
    /// The day's line in the index, written before the message is deleted.
    pub index_day: IndexDay,
}

/// `run` polls forever; `once` stops when the queue answers empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    UntilEmpty,
}

/// The loop's settings, from `[reportsengine]` and `[endpoints]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub concurrency: usize,
    pub wait_time: Duration,
    pub visibility_timeout: Duration,
    pub shutdown_grace: Duration,
    /// `once` only: how long the queue may stay unreachable before it gives up.
    pub give_up_after: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let e = &config.reportsengine;
        Settings {
            concurrency: e.concurrency,
            wait_time: e.wait_time,
            visibility_timeout: e.visibility_timeout,
            shutdown_grace: e.shutdown_grace,
            give_up_after: config.endpoints.give_up_after,
        }
    }
}

/// How long `once` waits on a poll before deciding the queue is empty.
const ONCE_WAIT: Duration = Duration::from_secs(1);

/// With some slots busy, how long the loop waits for the rest to free up before it
/// receives: one ReceiveMessage for several messages instead of one per finished message
/// (each request costs the same at the endpoint whatever it carries). Messages started
/// together end within tens of milliseconds of each other (the effect is measured by
/// `bench/run.sh queue`), and an idle engine never waits.
const GATHER_WAIT: Duration = Duration::from_millis(60);

/// Messages received and not yet deleted (or left) at most: `concurrency` being worked on,
/// and this many more on their way through the index and the delete.
const PIPELINE_EXTRA: usize = 2 * MAX_BATCH as usize;

/// Backoff of the receive loop after a failure: from 200 ms, at most a minute.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// Receives and processes messages until `shutdown` resolves (or, in `UntilEmpty` mode, the
/// queue answers empty, or stays unreachable for `give_up_after`), then lets the messages
/// in flight finish within `shutdown_grace`.
pub async fn consume<B: Backend>(
    backend: Arc<B>,
    settings: Settings,
    mode: Mode,
    shutdown: impl Future<Output = ()>,
) -> Result<Arc<ConsumerStats>> {
    let _watchdog = notify::spawn_watchdog();
    let mut consumer = Consumer::new(backend, settings, mode);
    // Shutdown is selected here and only here. It drops the receive loop wherever it waits
    // (a long poll, a backoff, a free slot): receiving stops at once, while the messages
    // already started go on in their own tasks.
    let ended = tokio::select! {
        _ = shutdown => Ended::Shutdown,
        ended = consumer.receive_loop() => ended,
    };
    consumer.drain().await;
    match ended {
        Ended::Shutdown | Ended::Empty => Ok(consumer.stats),
        Ended::GaveUp(err) if err.action() == Action::Hold => Err(err),
        Ended::GaveUp(err) => Err(err.gave_up_after(consumer.settings.give_up_after)),
    }
}

/// Why the receive loop ended.
enum Ended {
    Shutdown,
    /// `once`: the queue answered empty with nothing left running.
    Empty,
    /// `once`: receiving failed for good.
    GaveUp(Error),
}

/// How a message's task ended, for the loop's backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskEnd {
    /// Handed on to the indexer (reported) or the deleter (quarantined).
    Done,
    /// Left on the queue by a failure.
    Left,
}

/// Messages received and not yet deleted or left, by id → newest receipt handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight(Arc<Mutex<HashMap<String, String>>>);

impl InFlight {
    /// Takes `message` in; false when it is already here (redelivered while in flight), in
    /// which case its newer receipt handle replaces the old one.
    fn start(&self, message: &Received) -> bool {
        let Ok(mut running) = self.0.lock() else { return false };
        match running.get_mut(&message.message_id) {
            Some(receipt) => {
                *receipt = message.receipt_handle.clone();
                false
            }
            None => {
                running.insert(message.message_id.clone(), message.receipt_handle.clone());
                common::metrics::in_flight(running.len());
                true
            }
        }
    }
    /// The newest receipt handle of a message in flight.
    fn receipt(&self, message_id: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(message_id).cloned())
    }
    fn finish(&self, message_id: &str) {
        if let Ok(mut running) = self.0.lock() {
            running.remove(message_id);
            common::metrics::in_flight(running.len());
        }
    }
    fn ids(&self) -> Vec<String> {
        self.0.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}

/// What the indexer and the deleter share with the loop.
#[derive(Clone)]
struct Stage {
    in_flight: InFlight,
    stats: Arc<ConsumerStats>,
    /// Tells the loop to back off.
    failed: Arc<AtomicBool>,
}

impl Stage {
    /// A message is left on the queue by `err`: counted, logged, and the loop backs off.
    fn leave(&self, done: &deleter::Done, err: &Error, what: &str) {
        self.stats.left(err, what, done.started.elapsed());
        self.in_flight.finish(&done.message_id);
        self.failed.store(true, Ordering::Relaxed);
    }
}

/// The next batch a stage works on: the first message handed over, then whatever else comes
/// within `wait`, up to `most`. `None` once every sender is gone and nothing is left.
async fn gather<T>(
    handed: &mut mpsc::UnboundedReceiver<T>,
    wait: Duration,
    most: usize,
) -> Option<Vec<T>> {
    let mut batch = vec![handed.recv().await?];
    let timer = tokio::time::sleep(wait);
    tokio::pin!(timer);
    while batch.len() < most {
        tokio::select! {
            biased;
            next = handed.recv() => match next {
                Some(item) => batch.push(item),
                None => break,
            },
            _ = &mut timer => break,
        }
    }
    Some(batch)
}

/// The receive loop's state: slots, tasks, the index and delete stages, backoff.
struct Consumer<B> {
    backend: Arc<B>,
    settings: Settings,
    mode: Mode,
    /// Messages being worked on (a task each).
    slots: Arc<Semaphore>,
    /// Messages received and not yet deleted or left: bounds what waits for the index and
    /// the delete.
    admitted: Arc<Semaphore>,
    tasks: JoinSet<TaskEnd>,
    in_flight: InFlight,
    stats: Arc<ConsumerStats>,
    to_index: Option<mpsc::UnboundedSender<deleter::Done>>,
    to_delete: Option<mpsc::UnboundedSender<deleter::Done>>,
    /// The indexer, then the deleter: drained in that order.
    stages: Vec<tokio::task::JoinHandle<()>>,
    /// Set by the stages when they leave a message: the loop backs off.
    stage_failed: Arc<AtomicBool>,
    backoff: Backoff,
    must_back_off: bool,
    /// `once`: since when receiving has failed without a break.
    failing_since: Option<Instant>,
    ready: bool,
}

impl<B: Backend> Consumer<B> {
    fn new(backend: Arc<B>, settings: Settings, mode: Mode) -> Consumer<B> {
        let stats = Arc::new(ConsumerStats::default());
        let in_flight = InFlight::default();
        let stage_failed = Arc::new(AtomicBool::new(false));
        let stage = Stage {
            in_flight: in_flight.clone(),
            stats: stats.clone(),
            failed: stage_failed.clone(),
        };
        let (to_delete, deletes) = mpsc::unbounded_channel();
        let (to_index, indexes) = mpsc::unbounded_channel();
        let indexer =
            tokio::spawn(indexer::run(backend.clone(), indexes, to_delete.clone(), stage.clone()));
        let deleter = tokio::spawn(deleter::run(backend.clone(), deletes, stage));
        Consumer {
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            admitted: Arc::new(Semaphore::new(settings.concurrency + PIPELINE_EXTRA)),
            backend,
            settings,
            mode,
            tasks: JoinSet::new(),
            in_flight,
            stats,
            to_index: Some(to_index),
            to_delete: Some(to_delete),
            stages: vec![indexer, deleter],
            stage_failed,
            backoff: Backoff::new(BACKOFF_BASE, BACKOFF_CAP),
            must_back_off: false,
            failing_since: None,
            ready: false,
        }
    }

    /// Receives until the queue is empty (`once`) or for ever (`run`); never returns on its
    /// own in `run`, where only the shutdown `select!` in [`consume`] ends it.
    async fn receive_loop(&mut self) -> Ended {
        loop {
            self.collect_finished();
            if std::mem::take(&mut self.must_back_off) {
                let delay = self.backoff.next_delay();
                tracing::info!(?delay, "backing off after a failure");
                tokio::time::sleep(delay).await;
            }
            let free = self.wait_for_slots().await;
            if self.must_back_off {
                continue;
            }
            self.announce_ready();
            match self.backend.receive(free.min(MAX_BATCH as usize), self.wait()).await {
                Ok(messages) if messages.is_empty() => {
                    self.queue_answered();
                    if self.mode == Mode::UntilEmpty {
                        if self.tasks.is_empty() {
                            return Ended::Empty;
                        }
                        // Let running work finish, then ask once more: it may have been slow.
                        self.wait_for_all_tasks().await;
                    }
                }
                Ok(messages) => {
                    self.queue_answered();
                    messages.into_iter().for_each(|m| self.start(m));
                }
                Err(err) => {
                    if let Some(ended) = self.receive_failed(err) {
                        return ended;
                    }
                }
            }
        }
    }

    fn wait(&self) -> Duration {
        match self.mode {
            Mode::Daemon => self.settings.wait_time,
            Mode::UntilEmpty => self.settings.wait_time.min(ONCE_WAIT),
        }
    }

    /// READY once the configuration is valid and the first request is going out.
    fn announce_ready(&mut self) {
        if !std::mem::replace(&mut self.ready, true) {
            tracing::info!(concurrency = self.settings.concurrency, "consuming");
            notify::ready();
            notify::status(&self.stats.status_line());
        }
    }

    /// Counts the tasks that ended; a failure means backing off before the next receive.
    fn collect_finished(&mut self) {
        while let Some(end) = self.tasks.try_join_next() {
            self.task_ended(end);
        }
        self.must_back_off |= self.stage_failed.swap(false, Ordering::Relaxed);
    }

    fn task_ended(&mut self, end: std::result::Result<TaskEnd, tokio::task::JoinError>) {
        let end = end.unwrap_or_else(|e| {
            // A panic in a task is a bug; the message stays on the queue for redelivery.
            tracing::error!(error = %e, "message task ended abnormally");
            TaskEnd::Left
        });
        self.must_back_off |= end == TaskEnd::Left;
    }

    /// Waits until a slot is free, and with some slots busy a little longer for all of
    /// them (see [`GATHER_WAIT`]); returns how many are free.
    async fn wait_for_slots(&mut self) -> usize {
        while self.slots.available_permits() == 0 {
            if let Some(end) = self.tasks.join_next().await {
                self.task_ended(end);
            }
        }
        // As many as may be already wait for the index and the delete: those first.
        if self.admitted.available_permits() == 0 {
            let Ok(one) = self.admitted.clone().acquire_owned().await else { return 0 };
            drop(one);
        }
        let batch = self.settings.concurrency.min(MAX_BATCH as usize);
        let deadline = tokio::time::sleep(GATHER_WAIT);
        tokio::pin!(deadline);
        while self.slots.available_permits() < batch && !self.tasks.is_empty() {
            tokio::select! {
                Some(end) = self.tasks.join_next() => self.task_ended(end),
                _ = &mut deadline => break,
            }
        }
        self.slots.available_permits().min(self.admitted.available_permits())
    }

    async fn wait_for_all_tasks(&mut self) {
        while let Some(end) = self.tasks.join_next().await {
            self.task_ended(end);
        }
    }

    /// The queue answered: the endpoint is back. Without this reset an empty answer (the
    /// usual one) would keep the delay of the last outage, and the next single failure
    /// would wait the cap.
    fn queue_answered(&mut self) {
        self.failing_since = None;
        self.stats.receive_worked();
        if !self.must_back_off {
            self.backoff.reset();
        }
    }

    /// A failed receive: back off and try again, except that `once` gives up at once on a
    /// hold (waiting will not fix it) and after `give_up_after` on a transient failure.
    fn receive_failed(&mut self, err: Error) -> Option<Ended> {
        self.stats.receive_failed(&err);
        if self.mode == Mode::UntilEmpty {
            let since = *self.failing_since.get_or_insert_with(Instant::now);
            if err.action() == Action::Hold || since.elapsed() >= self.settings.give_up_after {
                return Some(Ended::GaveUp(err));
            }
        }
        self.must_back_off = true;
        None
    }

    /// Starts a task for `message`, unless it is already in flight here.
    fn start(&mut self, message: Received) {
        self.stats.received(&message);
        if !self.in_flight.start(&message) {
            tracing::warn!(
                message_id = %message.message_id,
                receive_count = message.receive_count,
                visibility_timeout = ?self.settings.visibility_timeout,
                "message redelivered while still being processed here: not starting it twice; \
                 raise the queue's visibility timeout (and reportsengine.visibility_timeout)"
            );
            return;
        }
        // A slot is free for every message: at most that many were asked for.
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            tracing::warn!(message_id = %message.message_id, "no free slot; leaving the message for redelivery");
            self.in_flight.finish(&message.message_id);
            return;
        };
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            tracing::warn!(message_id = %message.message_id, "too many messages on their way; leaving this one for redelivery");
            self.in_flight.finish(&message.message_id);
            return;
        };
        let (Some(to_index), Some(to_delete)) = (self.to_index.clone(), self.to_delete.clone())
        else {
            return;
        };
        let task = work::Task {
            backend: self.backend.clone(),
            in_flight: self.in_flight.clone(),
            stats: self.stats.clone(),
            to_index,
            to_delete,
            visibility: self.settings.visibility_timeout,
        };
        self.tasks.spawn(task.run(message, slot, admitted));
    }

    /// After the loop: let the messages in flight finish within `shutdown_grace`, then the
    /// deletes they handed over. What does not finish is abandoned undeleted, and SQS
    /// redelivers it after its visibility timeout.
    async fn drain(&mut self) {
        notify::stopping();
        let grace = self.settings.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        if !self.tasks.is_empty() {
            tracing::info!(in_flight = self.tasks.len(), ?grace, "waiting for in-flight messages");
        }
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(end)) => self.task_ended(end),
                Ok(None) => break,
                Err(_) => {
                    let left = self.in_flight.ids();
                    tracing::warn!(
                        ?left,
                        "shutdown grace over: leaving these messages for redelivery"
                    );
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        // Closing the channels ends the indexer, then the deleter, once each has passed on
        // what it was handed.
        self.to_index = None;
        self.to_delete = None;
        let deadline = deadline.max(tokio::time::Instant::now() + Duration::from_secs(2));
        for stage in std::mem::take(&mut self.stages) {
            if tokio::time::timeout_at(deadline, stage).await.is_err() {
                tracing::warn!("shutdown grace over before every index update and delete was answered: those messages will be redelivered");
                break;
            }
        }
        tracing::info!(status = %self.stats.status_line(), "stopped");
    }
}
