//! One message, start to finish: parse → guard → stream the object through the validator →
//! read the ledger → build the report → upload it. Deleting (or quarantining) is the
//! consumer's decision, made from this function's result.
//!
//! Every failure is returned as a [`common::error::Error`] whose class says what happens to
//! the message: `Poison` (quarantine and delete), `Retry` (leave it for redelivery, back
//! off) or `Fatal` (leave it, an operator must act).

use bytes::Bytes;
use common::config::Config;
use common::error::{Error, Result};
use common::ledger::Ledger;
use common::message::SalesMessage;
use common::queue::Queue;
use common::report::Report;
use common::sales::{SalesDate, Validator};
use common::store::{Condition, Store};
use common::{aws, keys};

/// Everything a message needs: the configuration and the two clients.
pub struct Engine {
    pub config: Config,
    pub store: Store,
    pub queue: Queue,
}

impl Engine {
    pub async fn connect(config: Config) -> Result<Engine> {
        let sdk = aws::sdk_config(&config).await?;
        let store = Store::new(aws::s3_client(&sdk, &config), &config.bucket);
        let queue = Queue::new(aws::sqs_client(&sdk, &config), &config.queue_url);
        Ok(Engine { config, store, queue })
    }
}

/// What a processed message produced.
#[derive(Debug)]
pub struct Built {
    pub date: SalesDate,
    pub headline: String,
}

/// The three report files, by name.
pub fn render(report: &Report) -> [(&'static str, String); 3] {
    [
        ("report.csv", report.to_csv()),
        ("report.json", report.to_json()),
        ("report.html", report.to_html()),
    ]
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/html; charset=utf-8",
    }
}

/// Processes one message body. Reports are a pure function of the sales object, the ledger
/// and the rates, so a redelivered message rewrites identical objects.
pub async fn process(engine: &Engine, body: &str) -> Result<Built> {
    let message = SalesMessage::parse(body)
        .map_err(|e| Error::Rejected(format!("malformed message: {e}")))?;
    // The confused-deputy guard: only the configured bucket, only sales/DATE/NAME.csv.
    let key_date =
        message.trusted_key(&engine.config.bucket).map_err(|e| Error::Rejected(e.to_string()))?;
    let url = engine.store.url(&message.key);

    let mut object = match engine.store.open(&message.key).await {
        Ok(Some(object)) => object.inner,
        Ok(None) => return Err(Error::Rejected(format!("{url} does not exist"))),
        // Without s3:ListBucket a missing key answers 403: it can never succeed either way.
        Err(Error::Denied { .. }) => {
            return Err(Error::Rejected(format!(
                "{url} is missing or not readable (403; under the lab's policy a missing \
                 object answers 403)"
            )))
        }
        Err(e) => return Err(e),
    };
    let max = engine.config.reportsengine.max_object_size;
    if let Some(size) = object.size {
        if size > max {
            return Err(Error::Rejected(format!(
                "{url} is {size} bytes, over reportsengine.max_object_size ({max} bytes)"
            )));
        }
    }

    // Stream the body through the validator: a report is built while the object arrives,
    // with memory bounded by the validator's state, whatever the object's size.
    let mut validator = Validator::new(&url, common::local::limits()).with_expected_date(key_date);
    let mut read: u64 = 0;
    while let Some(chunk) = object.next_chunk().await? {
        read += chunk.len() as u64;
        if read > max {
            return Err(Error::Rejected(format!(
                "{url} is over reportsengine.max_object_size ({max} bytes)"
            )));
        }
        validator.feed(&chunk)?;
    }
    let day = validator.finish()?;
    if let Some(expected) = &message.sha256 {
        let actual = hex::encode(day.sha256);
        if !expected.eq_ignore_ascii_case(&actual) {
            // The day was replaced (`upload --replace`) after this message was sent; the
            // report is built from what is there now, which the newer message also names.
            tracing::info!(key = %message.key, %expected, %actual, "object changed since the message was sent");
        }
    }

    let ledger = match engine.store.get(keys::LEDGER).await? {
        Some(object) => Ledger::parse(&object.body).map_err(|e| Error::Service {
            operation: "GetObject",
            resource: engine.store.url(keys::LEDGER),
            detail: format!("not a valid ledger: {e}"),
        })?,
        None => Ledger::default(),
    };
    let report = Report::build(
        &day,
        &message.key,
        &ledger,
        &engine.config.compensation,
        &common::program_version("reportsengine"),
    );
    for (name, body) in render(&report) {
        let key = keys::report(day.date, name);
        engine.store.put(&key, Bytes::from(body), content_type(name), &[], Condition::None).await?;
    }
    Ok(Built { date: day.date, headline: report.headline() })
}
