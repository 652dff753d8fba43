//! Puts the reported days in the index of every day, many at a time, before their messages
//! are deleted: one update (a read, a conditional write, the page) for all the days that
//! came meanwhile, instead of one per message, and the engine's own messages never race each
//! other for the index. A failed update leaves its messages on the queue; they come back
//! and rewrite identical reports.

use std::sync::Arc;
use std::time::Duration;

use common::failure::Error;
use sales_domain::report::index::IndexDay;
use tokio::sync::mpsc;

use super::deleter::{Done, DoneAs};
use super::{gather, Backend, Stage};

/// How long the indexer waits for more days once one has come, and how many it takes at
/// most: each update costs the same requests whatever it carries (three, and the index
/// grows with every day). The wait only delays the delete, never the report. In practice
/// the admitted bound (`concurrency` + 20) caps a batch before `MOST_DAYS` does.
const GATHER: Duration = Duration::from_millis(200);
const MOST_DAYS: usize = 64;

/// Runs until every sender is gone and each day handed over is indexed (or left).
pub(super) async fn run<B: Backend>(
    backend: Arc<B>,
    mut handed: mpsc::UnboundedReceiver<Done>,
    to_delete: mpsc::UnboundedSender<Done>,
    stage: Stage,
) {
    while let Some(batch) = gather(&mut handed, GATHER, MOST_DAYS).await {
        let days: Vec<IndexDay> = batch
            .iter()
            .filter_map(|d| match &d.outcome {
                DoneAs::Reported(built) => Some(built.index_day.clone()),
                DoneAs::Quarantined => None,
            })
            .collect();
        match backend.index(&days).await {
            Ok(()) => {
                for done in batch {
                    if let Err(lost) = to_delete.send(done) {
                        leave(&stage, &lost.0, &stopped());
                    }
                }
            }
            Err(err) => {
                for done in &batch {
                    leave(&stage, done, &err);
                }
            }
        }
    }
}

fn leave(stage: &Stage, done: &Done, err: &Error) {
    stage.leave(
        done,
        err,
        "the report is written but the index could not be updated; the message will be \
         redelivered",
    );
}

fn stopped() -> Error {
    Error::internal(
        common::failure::Operation::DeleteMessageBatch,
        "the deleter",
        "stopping: the deleter is gone".into(),
    )
}
