//! Our own state in the bucket: the compensation ledger (both binaries read it, salesapp
//! merges each day into it) and the report index (the engine merges each reported day into
//! it). Both are kept by one update function, [`update`], so the rules that keep them right
//! live in one place:
//!
//! - **The 403 rule** ([`read`]): without `s3:ListBucket` a GetObject of a missing key
//!   answers 403, so a 403 may mean "missing" or "denied". A create-only write
//!   (`If-None-Match: *`) of a seed settles it: if it succeeds the object was missing and now
//!   holds the seed; if it answers 412 the object exists, and after one more read (a
//!   concurrent writer may have just created it) a 403 is a permission problem, said
//!   plainly ([`Kind::Denied`]). Never "missing", so no caller works without it silently.
//! - **Strict parsing**: an object that does not parse is *our own state unreadable*
//!   ([`Kind::StateUnreadable`]): not the fault of the sales file or message at hand, so
//!   nothing is set aside; the work waits, and goes through by itself once it is repaired.
//!   So is one larger than its parser takes ([`OwnState::MAX_BYTES`]: a hand edit or a
//!   foreign object at our key): refused by the size S3 gives, before its body is read, so
//!   it cannot make a daemon hold it in memory.
//! - **Conditional writes**: a change is written with `If-Match` the ETag read (or
//!   `If-None-Match: *` where there was nothing), so two writers never lose each other's
//!   update; on a 412 the object is read and changed again after a short, jittered backoff,
//!   at most [`ATTEMPTS`] times, then the failure is transient (the work comes back). A read
//!   without an ETag cannot be written back safely: that is an unexpected answer. A change
//!   that changes nothing writes nothing.
//!
//! The bucket is reached through a two-call seam, [`StateBucket`] (read whole, write with a
//! condition), which [`Store`] implements; the unit tests (`tests.rs`) drive the same
//! function with a bucket in memory and tokio's paused clock.
//!
//! The rules as the documentation states them: docs/design.md, "The 403 rule" and "Our own
//! state".

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::failure::{Error, Kind, Operation, Result};
use crate::retry::Backoff;
use crate::store::{Condition, Fetched, Store, Written};
use sales_domain::keys;
use sales_domain::ledger::{self, Ledger, LedgerError};
use sales_domain::report::index::{self, Index, IndexError};

#[cfg(test)]
mod tests;

/// Conditional writes that lose a race (HTTP 412) before the update gives up.
pub const ATTEMPTS: u32 = 10;

/// The two calls our state needs from the bucket, and how the bucket names a key.
pub trait StateBucket: Sync {
    /// `s3://bucket/key`, for messages.
    fn url(&self, key: &str) -> String;
    /// GetObject of a small object, read whole unless it is over `max_bytes`
    /// ([`Fetched::TooLarge`], the body left unread). A 404 or 403 is an answer here, not a
    /// failure: the 403 rule judges it.
    fn read(&self, key: &str, max_bytes: u64) -> impl Future<Output = Result<Fetched>> + Send;
    /// PutObject with `condition`: written, or lost to another writer (412).
    fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &'static str,
        condition: Condition,
    ) -> impl Future<Output = Result<Written>> + Send;
}

impl StateBucket for Store {
    fn url(&self, key: &str) -> String {
        Store::url(self, key)
    }
    async fn read(&self, key: &str, max_bytes: u64) -> Result<Fetched> {
        self.get_small(key, max_bytes).await
    }
    async fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &'static str,
        condition: Condition,
    ) -> Result<Written> {
        self.put(key, body, content_type, &[], condition).await
    }
}

/// One of our own objects: where it lives, how it is named for people, how it reads and
/// writes.
pub trait OwnState: Clone + Default + PartialEq + Send + Sync {
    const KEY: &'static str;
    /// Its name in messages and logs ("ledger", "report index").
    const LABEL: &'static str;
    const CONTENT_TYPE: &'static str;
    /// The operation that fails when it does not parse.
    const PARSE: Operation;
    /// The largest body its parser takes; a larger one is refused unread.
    const MAX_BYTES: usize;
    type Invalid: std::error::Error + Send + Sync + 'static;
    fn parse(bytes: &[u8]) -> std::result::Result<Self, Self::Invalid>;
    fn body(&self) -> Bytes;
    /// Called each time a conditional write of it loses a race (a metric, where there is one).
    fn lost_race() {}
}

impl OwnState for Ledger {
    const KEY: &'static str = keys::LEDGER;
    const LABEL: &'static str = "ledger";
    const CONTENT_TYPE: &'static str = "text/csv";
    const PARSE: Operation = Operation::ReadLedger;
    const MAX_BYTES: usize = ledger::MAX_LEDGER_BYTES;
    type Invalid = LedgerError;
    fn parse(bytes: &[u8]) -> std::result::Result<Ledger, LedgerError> {
        Ledger::parse(bytes)
    }
    fn body(&self) -> Bytes {
        Bytes::from(self.to_csv())
    }
    fn lost_race() {
        crate::metrics::ledger_conflict();
    }
}

impl OwnState for Index {
    const KEY: &'static str = keys::REPORT_INDEX_JSON;
    const LABEL: &'static str = "report index";
    const CONTENT_TYPE: &'static str = "application/json";
    const PARSE: Operation = Operation::ReadIndex;
    const MAX_BYTES: usize = index::MAX_INDEX_BYTES;
    type Invalid = IndexError;
    fn parse(bytes: &[u8]) -> std::result::Result<Index, IndexError> {
        Index::parse(bytes)
    }
    fn body(&self) -> Bytes {
        Bytes::from(self.to_json())
    }
}

/// One of our objects as found in the bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum StateRead<T> {
    /// It exists and parses; `etag` for a conditional replace.
    Found { value: T, etag: Option<String> },
    /// It does not exist. `seeded`: a 403 was settled by creating it holding the seed,
    /// which is now its content.
    Missing { seeded: bool },
}

/// Reads and parses `T` under the 403 rule (see the module docs), creating it as `seed`
/// where a 403 leaves its existence in doubt.
pub async fn read<T: OwnState>(bucket: &impl StateBucket, seed: &T) -> Result<StateRead<T>> {
    let denied = match bucket.read(T::KEY, max_bytes::<T>()).await? {
        Fetched::Found(object) => return found(bucket, &object.body, object.etag),
        Fetched::TooLarge { size } => return Err(too_large::<T>(bucket, size)),
        Fetched::NotFound => return Ok(StateRead::Missing { seeded: false }),
        Fetched::Denied { code } => code,
    };
    let url = bucket.url(T::KEY);
    match bucket.write(T::KEY, seed.body(), T::CONTENT_TYPE, Condition::Create).await {
        Ok(Written::Ok { .. }) => {
            tracing::info!(
                key = T::KEY,
                "{} was missing (403 to GetObject, created with If-None-Match)",
                T::LABEL
            );
            return Ok(StateRead::Missing { seeded: true });
        }
        Ok(Written::PreconditionFailed) => {}
        Err(put) => {
            return Err(Error::denied(Operation::GetObject, &url, &denied).hint(format!(
                "Whether the {} exists cannot be told: the create-only write that would \
                 settle it failed too ({put}).",
                T::LABEL
            )))
        }
    }
    match bucket.read(T::KEY, max_bytes::<T>()).await? {
        Fetched::Found(object) => found(bucket, &object.body, object.etag),
        Fetched::TooLarge { size } => Err(too_large::<T>(bucket, size)),
        Fetched::Denied { code } => {
            let code = if code.is_empty() { String::new() } else { format!(" {code}") };
            Err(Error::new(
                Kind::Denied,
                Operation::GetObject,
                &url,
                format!(
                    "GetObject on {url} was denied (HTTP 403{code}). The {} exists (a \
                     create-only write answered 412) but reading it is denied: this \
                     instance's role and the S3 gateway endpoint policy must allow \
                     s3:GetObject on it.",
                    T::LABEL
                ),
            ))
        }
        // It existed a moment ago (412): gone again is not a state we know how to read.
        Fetched::NotFound => Err(Error::new(
            Kind::Missing,
            Operation::GetObject,
            &url,
            format!("GetObject on {url}: not found (HTTP 404)"),
        )),
    }
}

/// What was read, parsed: one that does not parse is our own state unreadable.
fn found<T: OwnState>(
    bucket: &impl StateBucket,
    body: &[u8],
    etag: Option<String>,
) -> Result<StateRead<T>> {
    let value = T::parse(body).map_err(|problem| unreadable::<T>(bucket, problem))?;
    Ok(StateRead::Found { value, etag })
}

/// [`OwnState::MAX_BYTES`] as the bucket counts sizes.
fn max_bytes<T: OwnState>() -> u64 {
    u64::try_from(T::MAX_BYTES).unwrap_or(u64::MAX)
}

/// One of our objects larger than its parser takes, as S3 gave its size.
#[derive(Debug, thiserror::Error)]
#[error("it is {size} bytes, more than the {max} a {label} may hold")]
struct TooLarge {
    size: u64,
    max: usize,
    label: &'static str,
}

/// The failure of our own state too large to be read: unreadable, like one that does not
/// parse.
fn too_large<T: OwnState>(bucket: &impl StateBucket, size: u64) -> Error {
    unreadable::<T>(bucket, TooLarge { size, max: T::MAX_BYTES, label: T::LABEL })
}

/// The failure of our own state that does not parse: it names the object and what to do.
fn unreadable<T: OwnState>(
    bucket: &impl StateBucket,
    problem: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    let (url, label) = (bucket.url(T::KEY), T::LABEL);
    Error::new(
        Kind::StateUnreadable,
        T::PARSE,
        &url,
        format!(
            "{url} is not a valid {label} ({problem}). This is the daemons' own state, not a \
             problem of the sales file: repair the {label} (the place named) or put back a \
             good copy of it; the files and messages waiting on it then go through by \
             themselves."
        ),
    )
    .with_source(problem)
}

/// What an [`update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The change was already there: nothing written.
    Unchanged,
    /// Written over the version read (or created where there was none).
    Written,
    /// A 403 was settled by creating the object with the change applied to an empty one.
    Created,
}

/// The object as stored once [`update`] is done, what it did, and on which attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<T> {
    pub value: T,
    pub change: Change,
    pub attempt: u32,
}

/// Applies `change` to `T` in the bucket: read (under the 403 rule), change, write back with
/// a condition, and on a lost race (412) again, at most [`ATTEMPTS`] times (see the module
/// docs). `change` must be a pure function of what was read: it may run several times.
pub async fn update<T: OwnState>(
    bucket: &impl StateBucket,
    change: impl Fn(T) -> T + Sync,
) -> Result<Updated<T>> {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    // Where a 403 leaves the object's existence in doubt, the create that settles it writes
    // the change applied to an empty object: what the update would write.
    let seed = change(T::default());
    for attempt in 1..=ATTEMPTS {
        let (current, condition) = match read(bucket, &seed).await? {
            StateRead::Missing { seeded: true } => {
                return Ok(Updated { value: seed, change: Change::Created, attempt })
            }
            StateRead::Missing { seeded: false } => (T::default(), Condition::Create),
            StateRead::Found { value, etag: Some(etag) } => (value, Condition::Match(etag)),
            StateRead::Found { etag: None, .. } => return Err(no_etag::<T>(bucket)),
        };
        let next = change(current.clone());
        if next == current {
            return Ok(Updated { value: current, change: Change::Unchanged, attempt });
        }
        match bucket.write(T::KEY, next.body(), T::CONTENT_TYPE, condition).await? {
            Written::Ok { .. } => {
                return Ok(Updated { value: next, change: Change::Written, attempt })
            }
            Written::PreconditionFailed => {
                T::lost_race();
                let delay = backoff.next_delay();
                tracing::debug!(
                    attempt,
                    ?delay,
                    "{} changed under us (412); merging again",
                    T::LABEL
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
    let url = bucket.url(T::KEY);
    Err(Error::new(
        Kind::Transient,
        Operation::PutObject,
        &url,
        format!(
            "PutObject on {url}: the {} kept changing under us: {ATTEMPTS} conditional \
             writes lost",
            T::LABEL
        ),
    ))
}

fn no_etag<T: OwnState>(bucket: &impl StateBucket) -> Error {
    let url = bucket.url(T::KEY);
    Error::new(
        Kind::Unexpected,
        Operation::GetObject,
        &url,
        format!(
            "GetObject on {url}: the answer had no ETag, so the {} cannot be updated safely",
            T::LABEL
        ),
    )
}
