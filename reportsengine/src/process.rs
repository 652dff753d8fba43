//! One message, start to finish: parse → guard → stream the object through the validator →
//! read the ledger → build the report → upload it. The consumer then puts the day in the
//! index and deletes the message (or quarantines it), as this function's result says.
//!
//! Every failure is returned as a [`common::failure::Error`] whose kind alone says what
//! happens to the message (docs/design.md, What happens to a failure): set aside (quarantine it), retry, or hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use bytes::Bytes;
use common::config::Config;
use common::failure::{Error, Operation, Result};

use crate::consumer::{Backend, Built};
use crate::files::{content_type, render};
use common::queue::{Queue, Received, MAX_BATCH};
use common::state::{self, StateRead};
use common::store::{Condition, ReadPlan, Store};
use sales_domain::keys;
use sales_domain::ledger::Ledger;
use sales_domain::message::SalesMessage;
use sales_domain::report::{index::IndexDay, Report};
use sales_domain::sales::Validator;

/// Everything a message needs: the configuration, the two clients, and the ledger reads
/// shared by the messages of one ReceiveMessage answer.
pub struct Engine {
    pub config: Config,
    pub store: Store,
    pub queue: Queue,
    ledgers: SharedLedgers,
}

impl Engine {
    pub async fn connect(config: Config) -> Result<Engine> {
        let (store, queue) = common::connect(&config, common::Program::Reportsengine).await?;
        Ok(Engine { config, store, queue, ledgers: SharedLedgers::default() })
    }
}

/// One ledger read for all the messages of one ReceiveMessage answer.
///
/// A read made after the answer came is fresh for every message in it: salesapp merges a
/// day into the ledger before it sends the day's message, so each of those merges happened
/// before the receive. Sharing the read saves one GetObject per message but the first.
#[derive(Default)]
struct SharedLedgers {
    /// Each message of a recent answer: the read its answer shares, and when it came.
    by_message: Mutex<HashMap<String, (SharedRead, Instant)>>,
}

/// A ledger read made at most once, by whichever message of the answer gets there first.
type SharedRead = Arc<OnceCell<Ledger>>;

/// A message received and never processed (seen again while in flight) leaves its entry;
/// entries older than this are dropped.
const SHARED_LEDGER_KEEP: Duration = Duration::from_secs(15 * 60);

impl SharedLedgers {
    fn received(&self, messages: &[Received]) {
        let Ok(mut by_message) = self.by_message.lock() else { return };
        let now = Instant::now();
        by_message.retain(|_, (_, at)| now.duration_since(*at) < SHARED_LEDGER_KEEP);
        let cell = Arc::new(OnceCell::new());
        for m in messages {
            by_message.insert(m.message_id.clone(), (cell.clone(), now));
        }
    }

    /// The read `message_id` shares (a fresh one for a message of no known answer).
    fn of(&self, message_id: &str) -> SharedRead {
        let shared = self.by_message.lock().ok().and_then(|mut m| m.remove(message_id));
        shared.map_or_else(|| Arc::new(OnceCell::new()), |(cell, _)| cell)
    }
}

/// The real world of the consumer loop: SQS for the messages, S3 for the work.
impl Backend for Engine {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>> {
        let messages = self.queue.receive(i32::try_from(max).unwrap_or(MAX_BATCH), wait).await?;
        self.ledgers.received(&messages);
        Ok(messages)
    }
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<Vec<Option<Error>>> {
        self.queue.delete_batch(receipt_handles).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<()> {
        self.queue.delete(receipt_handle).await
    }
    async fn process(&self, message: &Received) -> Result<Built> {
        process(self, &message.message_id, &message.body).await
    }
    async fn index(&self, days: &[IndexDay]) -> Result<()> {
        crate::index::update(&self.store, days).await
    }
    async fn quarantine(&self, message: &Received, reason: &str) -> Result<String> {
        crate::quarantine::record(&self.store, message, reason).await
    }
}

/// Processes one message body. Reports are a pure function of the sales object, the ledger
/// and the rates, so a redelivered message rewrites identical objects.
pub async fn process(engine: &Engine, message_id: &str, body: &str) -> Result<Built> {
    let bad_message = |why: String| {
        Error::bad_input(Operation::ReadMessage, format!("message {message_id}"), why)
    };
    let limits = engine.config.limits;
    let message = SalesMessage::parse_within(body, limits.max_message_bytes)
        .map_err(|e| bad_message(e.to_string()))?;
    // The confused-deputy guard: only the configured bucket, only keys the key rule accepts.
    let settings = &engine.config.reportsengine;
    let key_date = message
        .accepted_key(&engine.config.bucket, settings.input_prefix.as_deref())
        .map_err(|e| bad_message(e.to_string()))?;
    let url = engine.store.url(&message.key);
    let too_large = |what: String| Error::bad_input(Operation::GetObject, &url, what);

    let plan = ReadPlan { part: settings.read_part_size, connections: settings.read_connections };
    let mut object = engine.store.open_input(&message.key, plan).await?;
    let max = settings.max_object_size;
    if let Some(size) = object.size {
        if size > max {
            return Err(too_large(format!(
                "{url} is {size} bytes, over reportsengine.max_object_size ({max} bytes)"
            )));
        }
    }

    // Stream the body through the validator: a report is built while the object arrives,
    // with memory bounded by the validator's state (bounded in turn by `[limits]`: a file
    // over one is refused where it crosses it, and read no further), whatever the object's
    // size. The rows must carry the date the key or the message names, if either does.
    let mut validator = Validator::new(&url, limits);
    if let Some(date) = message.expected_date(key_date) {
        validator = validator.with_expected_date(date);
    }
    let mut read: u64 = 0;
    while let Some(chunk) = object.next_chunk().await? {
        common::metrics::bytes_read(chunk.len() as u64);
        read += chunk.len() as u64;
        if read > max {
            return Err(too_large(format!(
                "{url} is over reportsengine.max_object_size ({max} bytes)"
            )));
        }
        validator.feed(&chunk)?;
    }
    let day = validator.finish()?;
    object.verify(&url, &day.sha256)?;
    if let Some(expected) = &message.sha256 {
        let actual = hex::encode(day.sha256);
        if !expected.eq_ignore_ascii_case(&actual) {
            // The day was replaced (`upload --replace`) after this message was sent; the
            // report is built from what is there now, which the newer message also names.
            tracing::info!(key = %message.key, %expected, %actual, "object changed since the message was sent");
        }
    }

    // The 403 rule: where a 403 leaves the ledger's existence in doubt, creating it empty
    // settles it; a ledger that exists but may not be read is a denial (the message waits),
    // never a report with the year-to-date figures silently missing.
    let shared = engine.ledgers.of(message_id);
    let ledger = shared.get_or_try_init(|| ledger_now(&engine.store)).await?;
    let report = Report::build(
        &day,
        &message.key,
        ledger,
        &engine.config.compensation,
        &common::program_version("reportsengine"),
    );
    for (name, body) in render(&report) {
        let key = keys::report(day.date, name);
        engine.store.put(&key, Bytes::from(body), content_type(name), &[], Condition::None).await?;
    }
    // Only once the report is there may the index link to it: the consumer's indexer puts
    // the day in before the message is deleted.
    Ok(Built { date: day.date, headline: report.headline(), index_day: IndexDay::of(&report) })
}

/// The ledger as it is now (empty when missing).
async fn ledger_now(store: &Store) -> Result<Ledger> {
    Ok(match state::read(store, &Ledger::default()).await? {
        StateRead::Found { value, .. } => value,
        StateRead::Missing { .. } => Ledger::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(message_id: &str) -> Received {
        Received {
            message_id: message_id.to_owned(),
            receipt_handle: format!("handle-{message_id}"),
            body: String::new(),
            receive_count: 1,
            sent_at: None,
        }
    }

    #[test]
    fn the_messages_of_one_answer_share_one_read_and_a_later_answer_reads_again() {
        let ledgers = SharedLedgers::default();
        ledgers.received(&[received("a"), received("b")]);
        let (a, b) = (ledgers.of("a"), ledgers.of("b"));
        assert!(Arc::ptr_eq(&a, &b), "one answer, one read");

        // The same message seen again in a later answer reads the ledger as it is then.
        ledgers.received(&[received("a")]);
        assert!(!Arc::ptr_eq(&ledgers.of("a"), &a), "a later answer reads afresh");
    }

    #[test]
    fn a_message_of_no_known_answer_reads_on_its_own() {
        let ledgers = SharedLedgers::default();
        ledgers.received(&[received("a")]);
        let first = ledgers.of("a");
        // Taken once: a second call for the same id (a duplicate in flight) does not share.
        assert!(!Arc::ptr_eq(&ledgers.of("a"), &first));
        assert!(!Arc::ptr_eq(&ledgers.of("unknown"), &ledgers.of("unknown")));
    }
}
