//! Deletes the messages whose work is done, up to ten per DeleteMessageBatch (authorized as
//! `sqs:DeleteMessage`). Every entry of the answer is checked: an entry that failed gets one
//! more try on its own, with the message's newest receipt handle; a message still not
//! deleted is redelivered later and rewrites identical objects.

use std::sync::Arc;
use std::time::Duration;

use common::queue::MAX_BATCH;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::{gather, Backend, Built, Stage};

/// A message whose report (or quarantine record) is written: it may be deleted.
pub(super) struct Done {
    pub(super) message_id: String,
    /// The receipt handle it was received with (the newest is looked up in flight).
    pub(super) receipt: String,
    pub(super) outcome: DoneAs,
    pub(super) started: Instant,
    /// Its place among the messages received and not yet deleted, freed with it.
    pub(super) _admitted: OwnedSemaphorePermit,
}

pub(super) enum DoneAs {
    Reported(Built),
    Quarantined,
}

/// How long the deleter waits for more finished messages to fill a batch: a few
/// milliseconds more before a delete, against one request per message.
const LINGER: Duration = Duration::from_millis(10);

/// Runs until every sender is gone and everything handed over is deleted (or left).
pub(super) async fn run<B: Backend>(
    backend: Arc<B>,
    mut handed: mpsc::UnboundedReceiver<Done>,
    stage: Stage,
) {
    while let Some(batch) = gather(&mut handed, LINGER, MAX_BATCH as usize).await {
        delete(&*backend, batch, &stage).await;
    }
}

/// What happens to a message still on the queue after its delete failed.
const NOT_DELETED: &str =
    "delete failed; the message will be redelivered and rewrite identical objects";

async fn delete<B: Backend>(backend: &B, batch: Vec<Done>, stage: &Stage) {
    let receipt =
        |d: &Done| stage.in_flight.receipt(&d.message_id).unwrap_or_else(|| d.receipt.clone());
    let receipts: Vec<String> = batch.iter().map(receipt).collect();
    let answers = match backend.delete_batch(&receipts).await {
        Ok(answers) => answers,
        Err(err) => {
            for done in &batch {
                stage.leave(done, &err, NOT_DELETED);
            }
            return;
        }
    };
    for (done, answer) in batch.into_iter().zip(answers) {
        let deleted = match answer {
            None => Ok(()),
            // Its second chance, with the newest receipt handle (a redelivery may have
            // replaced the one the batch used).
            Some(first) => {
                tracing::debug!(message_id = %done.message_id, error = %first, "batch entry not deleted; trying it alone");
                backend.delete(&receipt(&done)).await
            }
        };
        if let Err(err) = deleted {
            stage.leave(&done, &err, NOT_DELETED);
            continue;
        }
        let took = done.started.elapsed();
        stage.in_flight.finish(&done.message_id);
        match done.outcome {
            DoneAs::Reported(built) => {
                tracing::info!(message_id = %done.message_id, date = %built.date, elapsed_ms = took.as_millis() as u64, "{}", built.headline);
                stage.stats.reported(built.date, took);
            }
            DoneAs::Quarantined => stage.stats.quarantined(took),
        }
    }
}
