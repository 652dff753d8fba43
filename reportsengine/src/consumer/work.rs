//! One message's task: process it, quarantine it if it can never succeed, and hand it to
//! the deleter, or leave it on the queue.

use std::sync::Arc;
use std::time::Duration;

use common::failure::Action;
use common::queue::Received;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::Instant;
use tracing::Instrument;

use super::deleter::{Done, DoneAs};
use super::{Backend, ConsumerStats, InFlight, TaskEnd};

/// What a task needs besides its message.
pub(super) struct Task<B> {
    pub(super) backend: Arc<B>,
    pub(super) in_flight: InFlight,
    pub(super) stats: Arc<ConsumerStats>,
    /// A reported message goes to the indexer, a quarantined one straight to the deleter.
    pub(super) to_index: mpsc::UnboundedSender<Done>,
    pub(super) to_delete: mpsc::UnboundedSender<Done>,
    pub(super) visibility: Duration,
}

impl<B: Backend> Task<B> {
    /// The message's work in this process, holding `_slot` until its report (or quarantine
    /// record) is written; `admitted` goes on with it until it is deleted or left.
    pub(super) async fn run(
        self,
        message: Received,
        _slot: OwnedSemaphorePermit,
        admitted: OwnedSemaphorePermit,
    ) -> TaskEnd {
        let span = tracing::info_span!("message", message_id = %message.message_id, receive_count = message.receive_count);
        self.decide(message, admitted).instrument(span).await
    }

    async fn decide(self, message: Received, admitted: OwnedSemaphorePermit) -> TaskEnd {
        let started = Instant::now();
        tracing::info!(bytes = message.body.len(), "processing message");
        let outcome = match self.process_warning_late(&message, started).await {
            Ok(built) => DoneAs::Reported(built),
            Err(err) => match err.action() {
                Action::SetAside => {
                    let reason = err.to_string();
                    match self.backend.quarantine(&message, &reason).await {
                        Ok(key) => {
                            tracing::warn!(quarantine = %key, kind = err.kind().label(), operation = err.operation().name(), resource = err.resource(), %reason, "message quarantined");
                            DoneAs::Quarantined
                        }
                        Err(qerr) => {
                            let what = format!("cannot write the quarantine record; leaving the message ({reason})");
                            return self.leave(&message, &qerr, &what, started);
                        }
                    }
                }
                Action::Retry => {
                    return self.leave(
                        &message,
                        &err,
                        "transient failure; the message will be redelivered",
                        started,
                    )
                }
                Action::Hold => {
                    return self.leave(
                        &message,
                        &err,
                        "cannot process; the message is left on the queue",
                        started,
                    )
                }
            },
        };
        let next = match outcome {
            DoneAs::Reported(_) => &self.to_index,
            DoneAs::Quarantined => &self.to_delete,
        };
        let done = Done {
            message_id: message.message_id.clone(),
            receipt: message.receipt_handle,
            outcome,
            started,
            _admitted: admitted,
        };
        if next.send(done).is_err() {
            // The stages are gone only once the loop has stopped waiting for them.
            tracing::warn!(
                "stopping: the message is left for redelivery (its objects are written)"
            );
            self.in_flight.finish(&message.message_id);
            return TaskEnd::Left;
        }
        TaskEnd::Done
    }

    fn leave(
        &self,
        message: &Received,
        err: &common::failure::Error,
        what: &str,
        started: Instant,
    ) -> TaskEnd {
        self.stats.left(err, what, started.elapsed());
        self.in_flight.finish(&message.message_id);
        TaskEnd::Left
    }

    /// Processes the message; no heartbeat is allowed, so at 80 % of the visibility timeout
    /// a warning says that SQS may soon hand the message to whoever polls next.
    async fn process_warning_late(
        &self,
        message: &Received,
        started: Instant,
    ) -> common::failure::Result<super::Built> {
        let work = self.backend.process(message);
        tokio::pin!(work);
        let warn_at = tokio::time::sleep(self.visibility.mul_f64(0.8));
        tokio::pin!(warn_at);
        let mut warned = false;
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = &mut warn_at, if !warned => {
                    warned = true;
                    tracing::warn!(
                        elapsed = ?started.elapsed(),
                        visibility = ?self.visibility,
                        "processing is nearing the queue's visibility timeout; SQS may redeliver \
                         this message to another consumer. Raise the queue's VisibilityTimeout and \
                         reportsengine.visibility_timeout to match"
                    );
                }
            }
        }
    }
}
