//! The daemons' metrics, for Prometheus: what an operator graphs and alarms on.
//!
//! Recorded here and only here, by named functions ([`message_received`], [`message_done`],
//! [`upload_done`], …) that the daemons call where an outcome is decided; the AWS calls are
//! counted by an interceptor on the SDK clients (`aws/metered.rs`), so every attempt is
//! seen, retries included, whatever the call site. [`export`] serves them in the Prometheus
//! text exposition format (0.0.4) on `[metrics] listen` and/or writes them to a textfile for
//! node_exporter; without `[metrics]` nothing is served, and recording costs a few atomic
//! operations.
//!
//! Each daemon exposes its own metrics and the shared ones (`aws_*`, `build_info`), never
//! the other daemon's. The shared ones carry a `program` label (`salesapp`,
//! `reportsengine`): the two daemons' textfiles in one node_exporter directory, or their
//! scrapes under one job, are then two series, never one series twice.
//! docs/operating.md ("Metrics") lists them with a sentence each.

mod export;
mod outcome;
mod spool;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::{Program, COMMIT};
pub use export::{export, Exporter};
pub use outcome::{MessageOutcome, UploadOutcome};
pub use spool::SpoolFiles;

/// A label set of one outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The labels of one AWS attempt.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    operation: String,
    status: String,
}

/// The labels of one AWS operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: String,
    operation: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

/// A label set of none, for a gauge that is absent until it has a value.
type Unlabelled = [(&'static str, &'static str); 0];

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Buckets of the AWS attempts: milliseconds on loopback, up to a 20 s long poll.
const REQUEST_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 25.0, 30.0];
/// Buckets of a message's age when received: the visibility timeout (30 s by default) must
/// fall on a bound for the backlog alarm, and a stopped engine ages messages by hours.
const AGE_BUCKETS: [f64; 17] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
    21600.0,
];
/// Buckets of one message's or one upload's work: a day's file takes seconds.
const WORK_BUCKETS: [f64; 14] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Buckets of `ApproximateReceiveCount`: 1 is a first delivery.
const RECEIVE_COUNT_BUCKETS: [f64; 7] = [1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

/// Every metric's handle (each a shared atomic), recorded through the functions below.
#[derive(Debug)]
struct Metrics {
    aws_requests: Family<RequestLabels, Counter>,
    aws_request_seconds: Histograms<OperationLabels>,
    build_info: Family<BuildLabels, Gauge>,
    messages: Family<OutcomeLabels, Counter>,
    message_age: Histogram,
    processing: Histogram,
    receive_count: Histogram,
    in_flight: Gauge,
    bytes_read: Counter,
    last_report: Family<Unlabelled, FloatGauge>,
    uploads: Family<OutcomeLabels, Counter>,
    upload_bytes: Counter,
    upload_seconds: Histogram,
    ledger_conflicts: Counter,
    spool: Arc<spool::SpoolCollector>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            aws_requests: Family::default(),
            aws_request_seconds: Family::new_with_constructor(request_histogram),
            build_info: Family::default(),
            messages: Family::default(),
            message_age: Histogram::new(AGE_BUCKETS),
            processing: Histogram::new(WORK_BUCKETS),
            receive_count: Histogram::new(RECEIVE_COUNT_BUCKETS),
            in_flight: Gauge::default(),
            bytes_read: Counter::default(),
            last_report: Family::default(),
            uploads: Family::default(),
            upload_bytes: Counter::default(),
            upload_seconds: Histogram::new(WORK_BUCKETS),
            ledger_conflicts: Counter::default(),
            spool: Arc::default(),
        }
    }
}

/// The process's metrics: the daemons record from many tasks (and the SDK's interceptor),
/// so the handles live in one place rather than being passed down every call.
static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

impl Metrics {
    /// The registry `program` exposes: the shared metrics (labelled with the program) and its
    /// own. Counters are named without `_total`, which the encoder appends.
    fn registry(&self, program: Program) -> Registry {
        let mut r = Registry::default();
        match program {
            Program::Reportsengine => self.register_engine(&mut r),
            Program::Salesapp => self.register_salesapp(&mut r),
        }
        let shared = r.sub_registry_with_label(("program".into(), program.name().into()));
        self.register_shared(shared);
        r
    }

    /// The metrics both daemons export.
    fn register_shared(&self, r: &mut Registry) {
        self.build_info.get_or_create(&BuildLabels { version: VERSION, commit: COMMIT }).set(1);
        r.register(
            "build_info",
            "The version and commit of the running binary (always 1)",
            self.build_info.clone(),
        );
        r.register(
            "aws_requests",
            "AWS request attempts, retries included, by service, operation and HTTP status (or \"timeout\", \"error\" without an answer)",
            self.aws_requests.clone(),
        );
        r.register(
            "aws_request_seconds",
            "Duration of AWS request attempts, by service and operation",
            self.aws_request_seconds.clone(),
        );
    }

    fn register_engine(&self, r: &mut Registry) {
        // Every outcome from 0, so that `increase()` and alarms see a series from the start.
        for outcome in MessageOutcome::ALL {
            let _ = self.messages.get_or_create(&OutcomeLabels { outcome: outcome.label() });
        }
        r.register(
            "reportsengine_messages",
            "Messages by outcome: reported, quarantined, or left on the queue (retry; held: an operator must act)",
            self.messages.clone(),
        );
        r.register(
            "reportsengine_message_age_seconds",
            "Age of each message when received (now minus its SentTimestamp): the queue's lag",
            self.message_age.clone(),
        );
        r.register(
            "reportsengine_processing_seconds",
            "Time from the start of a message's work to its outcome (delete included)",
            self.processing.clone(),
        );
        r.register(
            "reportsengine_receive_count",
            "ApproximateReceiveCount of each message received (1 = first delivery)",
            self.receive_count.clone(),
        );
        r.register(
            "reportsengine_in_flight",
            "Messages being worked on now",
            self.in_flight.clone(),
        );
        r.register(
            "reportsengine_bytes_read",
            "Bytes of sales objects streamed from S3",
            self.bytes_read.clone(),
        );
        r.register(
            "reportsengine_last_report_timestamp_seconds",
            "When the last report was written and its message deleted (Unix time; absent until the first report since start)",
            self.last_report.clone(),
        );
    }

    fn register_salesapp(&self, r: &mut Registry) {
        for outcome in UploadOutcome::ALL {
            let _ = self.uploads.get_or_create(&OutcomeLabels { outcome: outcome.label() });
        }
        r.register(
            "salesapp_uploads",
            "Upload attempts of spool files by outcome: uploaded, unchanged (same content already there), failed (moved to failed/), or left in incoming/ (retry; held: an operator must act)",
            self.uploads.clone(),
        );
        r.register(
            "salesapp_upload_bytes",
            "Bytes of sales files written to S3 (not counting unchanged ones)",
            self.upload_bytes.clone(),
        );
        r.register(
            "salesapp_upload_seconds",
            "Duration of each upload attempt: validate, put, merge the ledger, send",
            self.upload_seconds.clone(),
        );
        r.register(
            "salesapp_ledger_conflicts",
            "Conditional ledger writes that lost a race (412) and were merged again",
            self.ledger_conflicts.clone(),
        );
        r.register_collector(Box::new(self.spool.clone()));
    }
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Metrics {
    fn aws_attempt(&self, service: &str, operation: &str, status: &str, took: Duration) {
        let (service, operation) = (service.to_ascii_lowercase(), operation.to_string());
        let request = RequestLabels {
            service: service.clone(),
            operation: operation.clone(),
            status: status.to_string(),
        };
        self.aws_requests.get_or_create(&request).inc();
        let labels = OperationLabels { service, operation };
        self.aws_request_seconds.get_or_create(&labels).observe(took.as_secs_f64());
    }

    fn message_received(&self, sent_at: Option<SystemTime>, count: u32) -> Option<Duration> {
        self.receive_count.observe(f64::from(count));
        // A clock behind the queue's makes a message look younger than nothing: call it 0.
        let age = sent_at.map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
        if let Some(age) = age {
            self.message_age.observe(age.as_secs_f64());
        }
        age
    }

    fn message_done(&self, outcome: MessageOutcome, took: Duration) {
        self.messages.get_or_create(&OutcomeLabels { outcome: outcome.label() }).inc();
        self.processing.observe(took.as_secs_f64());
        if outcome == MessageOutcome::Reported {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            self.last_report.get_or_create(&[]).set(now.as_secs_f64());
        }
    }

    fn upload_done(&self, outcome: UploadOutcome, bytes_sent: u64, took: Duration) {
        self.uploads.get_or_create(&OutcomeLabels { outcome: outcome.label() }).inc();
        self.upload_bytes.inc_by(bytes_sent);
        self.upload_seconds.observe(took.as_secs_f64());
    }
}

/// One attempt of an AWS call ended: `status` is the HTTP status, or "timeout"/"error".
pub(crate) fn aws_attempt(service: &str, operation: &str, status: &str, took: Duration) {
    METRICS.aws_attempt(service, operation, status, took);
}

/// A message was received: its age (from `SentTimestamp`, when SQS gave it) and its
/// `ApproximateReceiveCount`. Returns the age, for `STATUS=`.
pub fn message_received(sent_at: Option<SystemTime>, receive_count: u32) -> Option<Duration> {
    METRICS.message_received(sent_at, receive_count)
}

/// A message's outcome was decided after `took`; a report also sets the last report's time.
pub fn message_done(outcome: MessageOutcome, took: Duration) {
    METRICS.message_done(outcome, took);
}

/// How many messages are being worked on now.
pub fn in_flight(messages: usize) {
    METRICS.in_flight.set(i64::try_from(messages).unwrap_or(i64::MAX));
}

/// `bytes` more of a sales object were read.
pub fn bytes_read(bytes: u64) {
    METRICS.bytes_read.inc_by(bytes);
}

/// An upload attempt of a spool file ended after `took`, having written `bytes_sent` bytes
/// of the sales file to S3.
pub fn upload_done(outcome: UploadOutcome, bytes_sent: u64, took: Duration) {
    METRICS.upload_done(outcome, bytes_sent, took);
}

/// A conditional write of the ledger lost a race (412): it is read and merged again.
pub fn ledger_conflict() {
    METRICS.ledger_conflicts.inc();
}

/// Where `salesapp_spool_files` and `salesapp_spool_oldest_incoming_seconds` come from:
/// `look` is called at each scrape, so the numbers are those of the directories then.
pub fn watch_spool(look: impl Fn() -> SpoolFiles + Send + Sync + 'static) {
    METRICS.spool.set(Box::new(look));
}

/// The registry `program` exposes, over the process's metrics.
fn registry(program: Program) -> Registry {
    METRICS.registry(program)
}

#[cfg(test)]
mod tests;
