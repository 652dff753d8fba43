//! The consumer loop's rules, in-process: a scripted [`Backend`] stands for SQS and the work,
//! on tokio's paused clock (sleeps end at once, in order, so timings are exact).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::failure::{Error, Kind, Operation, Result};
use common::queue::Received;
use sales_domain::report::index::IndexDay;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::*;

/// What one ReceiveMessage answers.
enum Answer {
    Messages(Vec<Received>),
    Fail(Kind),
}

#[derive(Default)]
struct Script {
    /// Answers in order; once they run out the queue is empty (after the long poll).
    receives: Mutex<VecDeque<Answer>>,
    /// When each receive was made.
    received_at: Mutex<Vec<Instant>>,
    /// Messages whose processing fails, and how.
    failing: Mutex<HashMap<String, Kind>>,
    /// Messages whose processing waits until notified.
    blocked: Mutex<HashMap<String, Arc<Notify>>>,
    /// Messages whose processing never ends.
    endless: Mutex<HashSet<String>>,
    /// Message ids in the order their processing started.
    processed: Mutex<Vec<String>>,
    quarantined: Mutex<Vec<String>>,
    /// Receipt handles whose batch entry fails; and those whose single delete fails too.
    batch_refuses: Mutex<HashSet<String>>,
    single_refuses: Mutex<HashSet<String>>,
    /// Receipt handles deleted, and the size of every batch.
    deleted: Mutex<Vec<String>>,
    batches: Mutex<Vec<usize>>,
    /// The index updates (the report keys of each), and how many more are to fail.
    indexed: Mutex<Vec<Vec<String>>>,
    index_failures: Mutex<u32>,
}

fn failure(kind: Kind, operation: Operation) -> Error {
    Error::new(kind, operation, "scripted", format!("scripted {}", kind.label()))
}

fn message(id: &str, receipt: &str) -> Received {
    Received {
        message_id: id.into(),
        receipt_handle: receipt.into(),
        body: format!("body of {id}"),
        receive_count: 1,
        sent_at: None,
    }
}

impl Script {
    fn answers(self, answers: Vec<Answer>) -> Script {
        *self.receives.lock().unwrap() = answers.into();
        self
    }
    fn failing(self, id: &str, kind: Kind) -> Script {
        self.failing.lock().unwrap().insert(id.into(), kind);
        self
    }
    fn blocked(&self, id: &str) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.blocked.lock().unwrap().insert(id.into(), gate.clone());
        gate
    }
    fn deleted(&self) -> Vec<String> {
        let mut d = self.deleted.lock().unwrap().clone();
        d.sort();
        d
    }
    fn processed(&self) -> Vec<String> {
        self.processed.lock().unwrap().clone()
    }
}

impl Backend for Script {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>> {
        self.received_at.lock().unwrap().push(Instant::now());
        let next = self.receives.lock().unwrap().pop_front();
        match next {
            Some(Answer::Messages(list)) => {
                assert!(list.len() <= max, "asked for {max}, scripted {}", list.len());
                Ok(list)
            }
            Some(Answer::Fail(kind)) => Err(failure(kind, Operation::ReceiveMessage)),
            None => {
                tokio::time::sleep(wait).await;
                Ok(Vec::new())
            }
        }
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<Option<Error>>> {
        self.batches.lock().unwrap().push(receipts.len());
        let refuses = self.batch_refuses.lock().unwrap().clone();
        Ok(receipts
            .iter()
            .map(|r| {
                if refuses.contains(r) {
                    Some(failure(Kind::Transient, Operation::DeleteMessageBatch))
                } else {
                    self.deleted.lock().unwrap().push(r.clone());
                    None
                }
            })
            .collect())
    }
    async fn delete(&self, receipt: &str) -> Result<()> {
        if self.single_refuses.lock().unwrap().contains(receipt) {
            return Err(failure(Kind::Transient, Operation::DeleteMessage));
        }
        self.deleted.lock().unwrap().push(receipt.into());
        Ok(())
    }
    async fn process(&self, message: &Received) -> Result<Built> {
        let id = message.message_id.clone();
        self.processed.lock().unwrap().push(id.clone());
        let gate = self.blocked.lock().unwrap().get(&id).cloned();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        if self.endless.lock().unwrap().contains(&id) {
            std::future::pending::<()>().await;
        }
        if let Some(kind) = self.failing.lock().unwrap().get(&id) {
            return Err(failure(*kind, Operation::GetObject));
        }
        let date: sales_domain::sales::SalesDate = "2026-01-15".parse().unwrap();
        let index_day = IndexDay {
            date,
            orders: 1,
            units: 1,
            revenue_cents: sales_domain::money::Cents(100),
            commission_cents: sales_domain::money::Cents(5),
            report: format!("reports/{id}/report.html"),
        };
        Ok(Built { date, headline: format!("report of {id}"), index_day })
    }
    async fn index(&self, days: &[IndexDay]) -> Result<()> {
        let mut failures = self.index_failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(failure(Kind::Transient, Operation::PutObject));
        }
        self.indexed.lock().unwrap().push(days.iter().map(|d| d.report.clone()).collect());
        Ok(())
    }
    async fn quarantine(&self, message: &Received, _reason: &str) -> Result<String> {
        self.quarantined.lock().unwrap().push(message.message_id.clone());
        Ok(format!("quarantine/{}.json", message.message_id))
    }
}

fn settings() -> Settings {
    Settings {
        concurrency: 4,
        wait_time: Duration::from_secs(20),
        visibility_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(25),
        give_up_after: Duration::from_secs(60),
    }
}

/// `run` in the background; notify the returned `Notify` to signal it.
fn daemon(
    script: &Arc<Script>,
) -> (tokio::task::JoinHandle<Result<Arc<ConsumerStats>>>, Arc<Notify>) {
    let stop = Arc::new(Notify::new());
    let run = tokio::spawn({
        let (script, stop) = (script.clone(), stop.clone());
        async move {
            consume(script, settings(), Mode::Daemon, async move { stop.notified().await }).await
        }
    });
    (run, stop)
}

async fn once(script: &Arc<Script>) -> Result<Arc<ConsumerStats>> {
    consume(script.clone(), settings(), Mode::UntilEmpty, std::future::pending()).await
}

#[tokio::test(start_paused = true)]
async fn once_reports_every_message_and_stops_when_the_queue_is_empty() {
    let script = Arc::new(Script::default().answers(vec![Answer::Messages(vec![
        message("a", "ra"),
        message("b", "rb"),
        message("c", "rc"),
    ])]));
    let stats = once(&script).await.unwrap();
    assert_eq!(script.deleted(), ["ra", "rb", "rc"]);
    assert_eq!(stats.processed.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(stats.exit_code(), 0);
    // The batch; an empty answer while its work may still run; one more once nothing runs.
    assert!((2..=3).contains(&script.received_at.lock().unwrap().len()));
}

#[tokio::test(start_paused = true)]
async fn deletes_are_batched() {
    let messages: Vec<Received> =
        (0..4).map(|i| message(&format!("m{i}"), &format!("r{i}"))).collect();
    let script = Arc::new(Script::default().answers(vec![Answer::Messages(messages)]));
    once(&script).await.unwrap();
    assert_eq!(script.deleted().len(), 4);
    assert_eq!(*script.batches.lock().unwrap(), [4], "four finished together: one request");
}

#[tokio::test(start_paused = true)]
async fn input_that_can_never_succeed_is_quarantined_then_deleted() {
    let script = Arc::new(
        Script::default()
            .answers(vec![Answer::Messages(vec![message("bad", "rbad"), message("gone", "rgone")])])
            .failing("bad", Kind::BadInput)
            .failing("gone", Kind::Missing),
    );
    let stats = once(&script).await.unwrap();
    let mut quarantined = script.quarantined.lock().unwrap().clone();
    quarantined.sort();
    assert_eq!(quarantined, ["bad", "gone"]);
    assert_eq!(script.deleted(), ["rbad", "rgone"]);
    assert_eq!(stats.exit_code(), 0, "quarantined counts as done");
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_is_not_the_input_s_fault_leaves_the_message() {
    for (kind, code) in [(Kind::Transient, 69), (Kind::StateUnreadable, 69), (Kind::Denied, 77)] {
        let script = Arc::new(
            Script::default()
                .answers(vec![Answer::Messages(vec![message("m", "r")])])
                .failing("m", kind),
        );
        let stats = once(&script).await.unwrap();
        assert!(script.deleted().is_empty(), "{kind:?}: deleted");
        assert!(script.quarantined.lock().unwrap().is_empty(), "{kind:?}: quarantined");
        assert_eq!(stats.exit_code(), code, "{kind:?}");
        let holds = kind.rule().action == Action::Hold;
        assert_eq!(stats.held().is_some(), holds, "{kind:?}: STATUS= shows a hold");
    }
}

#[tokio::test(start_paused = true)]
async fn a_report_ends_a_hold() {
    let script = Arc::new(
        Script::default()
            .answers(vec![
                Answer::Messages(vec![message("m", "r1")]),
                Answer::Messages(vec![message("n", "r2")]),
            ])
            .failing("m", Kind::StateUnreadable),
    );
    let stats = once(&script).await.unwrap();
    assert_eq!(script.deleted(), ["r2"]);
    assert_eq!(stats.held(), None, "the report of n showed the ledger readable again");
    assert_eq!(stats.exit_code(), 69, "m is still on the queue");
}

#[tokio::test(start_paused = true)]
async fn a_message_redelivered_while_in_flight_runs_once_and_its_newest_receipt_deletes_it() {
    let script = Arc::new(Script::default().answers(vec![
        Answer::Messages(vec![message("slow", "first")]),
        Answer::Messages(vec![message("slow", "second")]),
    ]));
    let gate = script.blocked("slow");
    let run = tokio::spawn({
        let script = script.clone();
        async move { once(&script).await }
    });
    // Both receives happen while "slow" waits; then it may finish.
    while script.received_at.lock().unwrap().len() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate.notify_one();
    run.await.unwrap().unwrap();
    assert_eq!(script.processed(), ["slow"], "not started twice");
    assert_eq!(script.deleted(), ["second"], "deleted with the newest receipt handle");
}

#[tokio::test(start_paused = true)]
async fn once_waits_for_slow_work_then_asks_again() {
    let script = Arc::new(Script::default().answers(vec![
        Answer::Messages(vec![message("slow", "r1")]),
        Answer::Messages(vec![]),
        Answer::Messages(vec![message("late", "r2")]),
    ]));
    let gate = script.blocked("slow");
    let run = tokio::spawn({
        let script = script.clone();
        async move { once(&script).await }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    gate.notify_one();
    run.await.unwrap().unwrap();
    assert_eq!(script.processed(), ["slow", "late"], "asked again after the slow one finished");
    assert_eq!(script.deleted(), ["r1", "r2"]);
}

#[tokio::test(start_paused = true)]
async fn the_backoff_starts_again_after_the_queue_answers() {
    let mut answers: Vec<Answer> = (0..6).map(|_| Answer::Fail(Kind::Transient)).collect();
    answers.push(Answer::Messages(vec![]));
    answers.push(Answer::Fail(Kind::Transient));
    answers.push(Answer::Messages(vec![message("m", "r")]));
    let script = Arc::new(Script::default().answers(answers));
    let (run, stop) = daemon(&script);
    while script.deleted().is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.notify_one();
    run.await.unwrap().unwrap();
    let at = script.received_at.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // Six failures in a row: 0.2, 0.4, … s, growing (each drawn in [d/2, d]).
    assert!(gaps[5] >= Duration::from_millis(3200), "grown: {gaps:?}");
    // After an answer, the next failure waits the base delay again, not the grown one.
    assert!(gaps[7] <= Duration::from_millis(200), "reset: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_receiving_at_once_and_lets_in_flight_work_finish() {
    let script =
        Arc::new(Script::default().answers(vec![Answer::Messages(vec![message("m", "r")])]));
    let gate = script.blocked("m");
    let (run, stop) = daemon(&script);
    while script.processed().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The loop is now in a 20 s long poll; the signal ends it at once.
    let signalled = Instant::now();
    stop.notify_one();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let receives = script.received_at.lock().unwrap().len();
    gate.notify_one();
    run.await.unwrap().unwrap();
    assert_eq!(script.received_at.lock().unwrap().len(), receives, "no receive after the signal");
    assert_eq!(script.deleted(), ["r"], "the message in flight finished and was deleted");
    assert!(signalled.elapsed() < Duration::from_secs(5), "did not wait out the long poll");
}

#[tokio::test(start_paused = true)]
async fn work_past_the_grace_is_left_undeleted() {
    let script =
        Arc::new(Script::default().answers(vec![Answer::Messages(vec![message("m", "r")])]));
    script.endless.lock().unwrap().insert("m".into());
    let (run, stop) = daemon(&script);
    while script.processed().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    stop.notify_one();
    run.await.unwrap().unwrap();
    assert!(script.deleted().is_empty(), "abandoned undeleted, for redelivery");
    let took = signalled.elapsed();
    assert!(took >= Duration::from_secs(25) && took < Duration::from_secs(30), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn once_gives_up_when_the_queue_stays_unreachable() {
    let answers = (0..1000).map(|_| Answer::Fail(Kind::Transient)).collect();
    let script = Arc::new(Script::default().answers(answers));
    let started = Instant::now();
    let err = once(&script).await.unwrap_err();
    assert_eq!(err.exit_code(), 69);
    assert!(err.to_string().contains("Gave up after retrying for 1m"), "{err}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(60) && took < Duration::from_secs(130), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn once_stops_at_once_on_a_denied_receive() {
    let script = Arc::new(Script::default().answers(vec![Answer::Fail(Kind::Denied)]));
    let err = once(&script).await.unwrap_err();
    assert_eq!(err.exit_code(), 77);
    assert_eq!(script.received_at.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_batch_entry_is_retried_alone_and_one_still_refused_stays_on_the_queue() {
    let script = Arc::new(Script::default().answers(vec![Answer::Messages(vec![
        message("a", "ra"),
        message("b", "rb"),
        message("c", "rc"),
    ])]));
    script.batch_refuses.lock().unwrap().extend(["rb".to_string(), "rc".to_string()]);
    script.single_refuses.lock().unwrap().insert("rc".into());
    let stats = once(&script).await.unwrap();
    assert_eq!(script.deleted(), ["ra", "rb"], "rb deleted on its second try; rc left");
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.exit_code(), 69, "a message was left on the queue");
}

#[tokio::test(start_paused = true)]
async fn reported_days_are_indexed_together_before_their_delete() {
    let messages: Vec<Received> =
        (0..4).map(|i| message(&format!("m{i}"), &format!("r{i}"))).collect();
    let script = Arc::new(
        Script::default()
            .answers(vec![Answer::Messages(messages), Answer::Messages(vec![message("bad", "rb")])])
            .failing("bad", Kind::BadInput),
    );
    once(&script).await.unwrap();
    let indexed = script.indexed.lock().unwrap().clone();
    assert_eq!(indexed.len(), 1, "one update for the four days: {indexed:?}");
    assert_eq!(indexed[0].len(), 4, "a quarantined message is not in the index");
    assert_eq!(script.deleted(), ["r0", "r1", "r2", "r3", "rb"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_index_update_leaves_its_messages_on_the_queue() {
    let script = Arc::new(
        Script::default()
            .answers(vec![Answer::Messages(vec![message("a", "ra"), message("b", "rb")])]),
    );
    *script.index_failures.lock().unwrap() = 1;
    let stats = once(&script).await.unwrap();
    assert!(script.deleted().is_empty(), "deleted without its day in the index");
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(stats.exit_code(), 69);
}
