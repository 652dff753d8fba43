//! The index of every reported day, `reports/index.json` and `reports/index.html`, brought
//! up to date after each report.
//!
//! Several engines (and the several messages one engine works on at once) may report days
//! at the same time, so the JSON is merged like salesapp merges the ledger: read it with its
//! ETag, merge the day, write it back only if nobody wrote since (If-Match, or If-None-Match
//! `*` when there was none), and on a 412 read and merge again. No day is lost, and a
//! redelivered message, whose merge changes nothing, writes nothing.
//!
//! One engine works on several messages at once: the consumer's indexer stage hands over
//! the days of many messages at a time, so one update (one read, one conditional write, one
//! page) serves them all.
//!
//! The page is a pure function of the JSON. Engines racing could still leave the page of an
//! older index last (A writes the JSON, B writes the JSON and its page, A's page lands), so
//! after writing the page an engine reads the JSON again and redoes the page from it when it
//! changed meanwhile: whoever writes the last page checked that it shows the last index.

use std::time::Duration;

use bytes::Bytes;
use common::failure::{Error, Kind, Operation, Result};
use common::retry::Backoff;
use common::state::{read_index, IndexRead};
use common::store::{Condition, Store, Written};
use sales_domain::keys::{REPORT_INDEX_HTML, REPORT_INDEX_JSON};
use sales_domain::report::index::{Index, IndexDay};

use crate::process::content_type;

/// Conditional writes of the JSON before giving up (a transient failure: the message stays
/// and comes back).
const JSON_ATTEMPTS: u32 = 10;
/// Pages written before giving up on the JSON holding still.
const PAGE_ROUNDS: u32 = 5;

/// Puts `days` in the index, then publishes the page of the index as it stands.
pub async fn update(store: &Store, days: &[IndexDay]) -> Result<()> {
    let (index, wrote) = merge_days(store, days).await?;
    tracing::info!(
        key = REPORT_INDEX_JSON,
        added = days.len(),
        days = index.days().len(),
        wrote,
        "report index"
    );
    publish_page(store, index).await
}

/// The index as stored once `days` are in it, and whether this call wrote it.
async fn merge_days(store: &Store, days: &[IndexDay]) -> Result<(Index, bool)> {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    let with_days = |index: Index| days.iter().fold(index, |i, day| i.merged(day.clone()));
    // Where a 403 leaves the index's existence in doubt, the create that settles it writes
    // the index of these days, which is what the merge would write.
    let only_these_days = with_days(Index::default());
    for attempt in 1..=JSON_ATTEMPTS {
        let (current, condition) = match read_index(store, &only_these_days).await? {
            IndexRead::Missing { seeded: true } => return Ok((only_these_days, true)),
            IndexRead::Missing { seeded: false } => (Index::default(), Condition::Create),
            IndexRead::Found { index, etag: Some(etag) } => (index, Condition::Match(etag)),
            IndexRead::Found { etag: None, .. } => return Err(no_etag(store)),
        };
        let next = with_days(current.clone());
        if next == current {
            return Ok((current, false));
        }
        let body = Bytes::from(next.to_json());
        let written = store
            .put(REPORT_INDEX_JSON, body, content_type(REPORT_INDEX_JSON), &[], condition)
            .await?;
        match written {
            Written::Ok { .. } => return Ok((next, true)),
            Written::PreconditionFailed => {
                let delay = backoff.next_delay();
                tracing::debug!(
                    attempt,
                    ?delay,
                    "report index changed under us (412); merging again"
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
    Err(Error::new(
        Kind::Transient,
        Operation::PutObject,
        store.url(REPORT_INDEX_JSON),
        format!(
            "PutObject on {}: the report index kept changing under us: {JSON_ATTEMPTS} \
             conditional writes lost",
            store.url(REPORT_INDEX_JSON)
        ),
    ))
}

/// Writes the page of `index`, then redoes it from the stored JSON until the two agree.
async fn publish_page(store: &Store, mut index: Index) -> Result<()> {
    for _ in 0..PAGE_ROUNDS {
        let body = Bytes::from(index.to_html());
        store
            .put(REPORT_INDEX_HTML, body, content_type(REPORT_INDEX_HTML), &[], Condition::None)
            .await?;
        match read_index(store, &index).await? {
            IndexRead::Found { index: stored, .. } if stored == index => return Ok(()),
            IndexRead::Found { index: stored, .. } => {
                tracing::debug!("report index changed while its page was written; again");
                index = stored;
            }
            // A 403 settled by creating it: it holds `index` now.
            IndexRead::Missing { seeded: true } => return Ok(()),
            IndexRead::Missing { seeded: false } => return Err(vanished(store)),
        }
    }
    Err(Error::new(
        Kind::Transient,
        Operation::PutObject,
        store.url(REPORT_INDEX_HTML),
        format!(
            "PutObject on {}: the report index kept changing while its page was written \
             ({PAGE_ROUNDS} pages)",
            store.url(REPORT_INDEX_HTML)
        ),
    ))
}

fn no_etag(store: &Store) -> Error {
    let url = store.url(REPORT_INDEX_JSON);
    Error::new(
        Kind::Unexpected,
        Operation::GetObject,
        &url,
        format!(
            "GetObject on {url}: the answer had no ETag, so the index cannot be updated safely"
        ),
    )
}

fn vanished(store: &Store) -> Error {
    let url = store.url(REPORT_INDEX_JSON);
    Error::new(
        Kind::Unexpected,
        Operation::GetObject,
        &url,
        format!("GetObject on {url}: the index was written a moment ago and is now missing"),
    )
}
