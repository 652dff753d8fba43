//! `salesapp upload FILE`: validate → put the object → merge the ledger → send the message.
//!
//! Each step is idempotent, so an upload interrupted anywhere (killed after the object,
//! after the ledger, before the message) is finished by simply running it again:
//! - the object is written only when absent (`If-None-Match: *`) or, with `--replace`, over
//!   the version we looked at (`If-Match`); the same content again is skipped;
//! - the ledger merge *replaces* the day's rows, and is a conditional write retried on 412,
//!   so two concurrent uploads of different days both land;
//! - the message is sent every time (a duplicate only rewrites identical reports).
//!
//! The file is opened once ([`LocalFile`]) and everything reads that descriptor: the
//! validation, the SHA-256 and the bytes sent, a multipart upload's parts included. The
//! bytes sent are hashed again, so a file written to since its validation is not completed.

use std::fmt;

use bytes::Bytes;
use common::config::Config;
use common::failure::{Error, Operation, Result};
use common::local::LocalFile;
use common::queue::Queue;
use common::retry::Patience;
use common::state::{self, Change};
use common::store::CompletedPart;
use common::store::{Condition, Presence, Store, Written, SHA256_METADATA};
use indicatif::{ProgressBar, ProgressStyle};
use sales_domain::keys;
use sales_domain::ledger::{self, Ledger};
use sales_domain::message::SalesMessage;
use sales_domain::sales::{DaySummary, Limits, SalesDate};
use sha2::{Digest, Sha256};

/// Files up to this size are sent in one PutObject from memory; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 16 << 20;
/// Multipart part size. With [`PARTS_IN_FLIGHT`] parts (and the one being read) this bounds
/// the upload's buffers to 24 MiB whatever the file's size, and 10 000 parts (S3's limit)
/// of 6 MiB allow a 58 GiB file. Larger parts were no faster (docs/performance.md).
const PART_SIZE: usize = 6 << 20;
const PARTS_IN_FLIGHT: usize = 3;

/// What an upload did, printed for the operator.
pub struct UploadSummary {
    file: String,
    day: DaySummary,
    object: ObjectOutcome,
    object_url: String,
    ledger_changed: bool,
    message_id: String,
}

enum ObjectOutcome {
    Uploaded,
    Replaced,
    AlreadyThere,
}

impl UploadSummary {
    /// True when the same content was already uploaded: only the message was sent again.
    pub fn unchanged(&self) -> bool {
        matches!(self.object, ObjectOutcome::AlreadyThere)
    }

    /// The bytes of the sales file written to S3 (none when it was already there).
    pub fn bytes_sent(&self) -> u64 {
        if self.unchanged() {
            0
        } else {
            self.day.bytes
        }
    }
}

impl fmt::Display for UploadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.day;
        writeln!(
            f,
            "validated {}: {}, {} rows, {} reps, revenue {}",
            self.file,
            d.date,
            d.rows,
            d.reps.len(),
            d.revenue
        )?;
        let what = match self.object {
            ObjectOutcome::Uploaded => "uploaded",
            ObjectOutcome::Replaced => "replaced",
            ObjectOutcome::AlreadyThere => "unchanged (same content already uploaded)",
        };
        writeln!(f, "{what} {} (sha256 {})", self.object_url, hex::encode(d.sha256))?;
        writeln!(
            f,
            "ledger {} for {}",
            if self.ledger_changed { "updated" } else { "already up to date" },
            d.date
        )?;
        write!(f, "queued message {} for the reports engine", self.message_id)
    }
}

/// Where an upload goes: the configuration (bucket, rates), the store and the queue.
pub struct Target {
    pub config: Config,
    pub store: Store,
    pub queue: Queue,
}

/// The whole upload. Nothing is written or sent unless the file is entirely valid.
/// `patience` says how long transient failures are retried (a one-shot `upload` retries for
/// a while; `watch` retries nothing here, since its own rounds back off).
pub async fn upload(
    target: &Target,
    file: LocalFile,
    expected_date: Option<SalesDate>,
    replace: bool,
    patience: &mut Patience,
) -> Result<UploadSummary> {
    let day = {
        let (reading, limits) = (file.clone(), target.config.limits);
        tokio::task::spawn_blocking(move || validate_file(&reading, expected_date, limits))
            .await
            .map_err(|e| {
            Error::internal(
                Operation::ValidateSales,
                file.label(),
                format!("validation stopped: {e}"),
            )
        })??
    };
    upload_valid(target, &file, day, replace, patience).await
}

/// The upload of a file `validate_file` found valid (`day`): `salesapp upload` validates
/// before it builds any AWS client, so a file that is not valid is refused without one.
pub async fn upload_valid(
    target: &Target,
    file: &LocalFile,
    day: DaySummary,
    replace: bool,
    patience: &mut Patience,
) -> Result<UploadSummary> {
    let label = file.label().to_string();
    for column in &day.extra_columns {
        tracing::warn!(file = %label, column = %column, "extra column ignored");
    }

    let Target { config, store, queue } = target;
    let key = keys::sales(day.date);
    let object = patience.retry(|| put_sales_object(store, file, &key, &day, replace)).await?;
    let stored = |what: Stored| {
        let (url, label) = (store.url(&key), label.clone());
        move |err: Error| what.said_on(err, &url, &label)
    };
    let rows = ledger::day_rows(&day, &config.compensation);
    let ledger_changed = patience
        .retry(|| merge_ledger(store, day.date, &rows))
        .await
        .map_err(stored(Stored::File))?;
    let message = SalesMessage {
        bucket: config.bucket.clone(),
        key: key.clone(),
        date: Some(day.date),
        sha256: Some(hex::encode(day.sha256)),
        rows: Some(day.rows),
    };
    let body = message.to_body();
    let message_id =
        patience.retry(|| queue.send(&body)).await.map_err(stored(Stored::FileAndLedger))?;
    tracing::info!(key = %key, message_id = %message_id, "queued for the reports engine");
    Ok(UploadSummary {
        file: label,
        object_url: store.url(&key),
        day,
        object,
        ledger_changed,
        message_id,
    })
}

/// What an upload that failed part-way had already stored: nothing stored can be taken back
/// (no `s3:DeleteObject`), so the failure says what is there and what running it again does.
#[derive(Debug, Clone, Copy)]
enum Stored {
    /// The sales object, not the ledger.
    File,
    /// The sales object and the day's ledger rows: only the message is missing.
    FileAndLedger,
}

impl Stored {
    /// `err`, with what is stored and what running the upload of `file` again does.
    fn said_on(self, err: Error, url: &str, file: &str) -> Error {
        let rerun = format!("`salesapp upload {file}`");
        err.hint(match self {
            Stored::File => format!(
                "The file is stored at {url}; the ledger was not updated and the message was not \
                 sent: running {rerun} again finishes both (the same content is not uploaded \
                 twice)."
            ),
            Stored::FileAndLedger => format!(
                "The day is stored at {url} and in {}; the message was not sent: running \
                 {rerun} again sends it (the same content again is a no-op).",
                keys::LEDGER
            ),
        })
    }
}

/// Validates the file under `limits`, with a progress bar on a terminal (also what
/// `salesapp validate` and `upload --dry-run` run).
pub fn validate_file(
    file: &LocalFile,
    expected_date: Option<SalesDate>,
    limits: Limits,
) -> Result<DaySummary> {
    let progress = progress_bar(file.len(), "validating");
    let result =
        common::local::validate_file(file, expected_date, limits, &mut |n| progress.inc(n));
    progress.finish_and_clear();
    result
}

/// A byte progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// Puts `sales/DATE/sales.csv` unless the same content is already there.
async fn put_sales_object(
    store: &Store,
    file: &LocalFile,
    key: &str,
    day: &DaySummary,
    replace: bool,
) -> Result<ObjectOutcome> {
    let sha = hex::encode(day.sha256);
    // HeadObject first: a re-run after a crash must not upload gigabytes again. Under the
    // lab's policy a missing key answers 403, so that only means "unknown": the conditional
    // create below settles it.
    let condition = match store.head(key).await? {
        Presence::Found(info) if info.sha256.as_deref() == Some(sha.as_str()) => {
            return Ok(ObjectOutcome::AlreadyThere)
        }
        Presence::Found(info) if !replace => {
            return Err(Error::bad_input(
                Operation::PutObject,
                store.url(key),
                format!(
                    "{} already holds a different file for {} (sha256 {}, {} bytes); \
                     run again with --replace to overwrite it",
                    store.url(key),
                    day.date,
                    info.sha256.as_deref().unwrap_or("unknown"),
                    info.size
                ),
            ))
        }
        Presence::Found(info) => info.etag.map(Condition::Match).unwrap_or(Condition::None),
        Presence::Absent | Presence::Unknown => Condition::Create,
    };
    let replacing = !matches!(condition, Condition::Create);
    match put_file(store, file, key, &sha, day.bytes, condition).await? {
        Written::Ok { .. } => {
            tracing::info!(key = %key, bytes = day.bytes, "sales file uploaded");
            Ok(if replacing { ObjectOutcome::Replaced } else { ObjectOutcome::Uploaded })
        }
        // Someone else wrote the key between our look and our write: look again.
        Written::PreconditionFailed => match store.head(key).await? {
            Presence::Found(info) if info.sha256.as_deref() == Some(sha.as_str()) => {
                Ok(ObjectOutcome::AlreadyThere)
            }
            _ => Err(Error::bad_input(
                Operation::PutObject,
                store.url(key),
                format!(
                    "{} was written by someone else during this upload; run again (with \
                     --replace to overwrite it)",
                    store.url(key)
                ),
            )),
        },
    }
}

/// Uploads the file's bytes: one PutObject when small, else multipart with bounded memory.
/// The bytes are read from the file's one descriptor and hashed again as they are sent; a
/// file changed since validation is not completed (its parts are left for the bucket's
/// lifecycle rule: no AbortMultipartUpload).
async fn put_file(
    store: &Store,
    file: &LocalFile,
    key: &str,
    sha: &str,
    size: u64,
    condition: Condition,
) -> Result<Written> {
    let label = file.label().to_string();
    let metadata = [(SHA256_METADATA, sha)];
    let changed = || {
        Error::bad_input(
            Operation::ReadFile,
            &label,
            format!("{label} changed while it was being uploaded"),
        )
    };
    if size <= SINGLE_PUT_MAX {
        // One byte more than was validated: a file that grew since is told by its digest,
        // and memory stays bounded whatever it grew to.
        let whole = usize::try_from(size).unwrap_or(usize::MAX).saturating_add(1);
        let body = read_part(file, 0, whole).await.map_err(|e| Error::read_io(&label, e))?;
        if hex::encode(Sha256::digest(&body)) != sha {
            return Err(changed());
        }
        return store.put(key, Bytes::from(body), "text/csv", &metadata, condition).await;
    }

    let progress = progress_bar(size, "uploading");
    let upload_id = store.create_multipart(key, "text/csv", &metadata).await?;
    let mut hasher = Sha256::new();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut parts = Vec::new();
    let mut part_number = 0i32;
    let mut offset = 0u64;
    loop {
        let chunk =
            read_part(file, offset, PART_SIZE).await.map_err(|e| Error::read_io(&label, e))?;
        if chunk.is_empty() {
            break;
        }
        offset += chunk.len() as u64;
        hasher.update(&chunk);
        part_number += 1;
        while in_flight.len() >= PARTS_IN_FLIGHT {
            parts.push(join_part(&mut in_flight, &progress, key).await?);
        }
        let (store, key, upload_id) = (store.clone(), key.to_string(), upload_id.clone());
        let len = chunk.len() as u64;
        in_flight.spawn(async move {
            store
                .upload_part(&key, &upload_id, part_number, Bytes::from(chunk))
                .await
                .map(|p| (p, len))
        });
    }
    while !in_flight.is_empty() {
        parts.push(join_part(&mut in_flight, &progress, key).await?);
    }
    progress.finish_and_clear();
    if hex::encode(hasher.finalize()) != sha {
        return Err(changed());
    }
    parts.sort_by_key(|p| p.part_number());
    store.complete_multipart(key, &upload_id, parts, condition).await
}

async fn join_part(
    in_flight: &mut tokio::task::JoinSet<Result<(CompletedPart, u64)>>,
    progress: &ProgressBar,
    key: &str,
) -> Result<CompletedPart> {
    match in_flight.join_next().await {
        Some(Ok(Ok((part, len)))) => {
            progress.inc(len);
            Ok(part)
        }
        Some(Ok(Err(e))) => Err(e),
        Some(Err(join)) => Err(Error::internal(
            Operation::UploadPart,
            key,
            format!("an upload task failed: {join}"),
        )),
        None => {
            Err(Error::internal(Operation::UploadPart, key, "no upload task to wait for".into()))
        }
    }
}

/// Up to `len` bytes of `file` from `offset` (fewer only at the end of the file), read on
/// the blocking pool.
async fn read_part(file: &LocalFile, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || file.read_range(offset, len))
        .await
        .map_err(std::io::Error::other)?
}

/// Merges the day into `compensation/ledger.csv`; returns whether the ledger changed.
///
/// [`state::update`] does the work the ledger shares with the report index: the 403 rule
/// (where a 403 leaves the ledger's existence in doubt it is created holding only this day,
/// which settles it, or proves it exists and may not be read: a permission problem, said
/// so), the conditional write retried on 412, and a ledger that does not parse reported as
/// our own state unreadable (exit 69, and `watch` keeps the file): never blamed on the sales
/// file. The merge *replaces* the day's rows, so running it again changes nothing.
async fn merge_ledger(store: &Store, date: SalesDate, rows: &[ledger::LedgerRow]) -> Result<bool> {
    let merged = state::update(store, |mut ledger: Ledger| {
        ledger.merge_day(date, rows.to_vec());
        ledger
    })
    .await?;
    let attempt = merged.attempt;
    match merged.change {
        Change::Created => {
            tracing::info!(key = keys::LEDGER, date = %date, attempt, "ledger created");
        }
        Change::Written => {
            tracing::info!(key = keys::LEDGER, date = %date, attempt, "ledger updated");
        }
        Change::Unchanged => return Ok(false),
    }
    Ok(true)
}
