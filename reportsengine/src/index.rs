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

use bytes::Bytes;
use common::failure::{Error, Kind, Operation, Result};
use common::state::{self, Change, StateRead};
use common::store::{Condition, Store};
use sales_domain::keys::{REPORT_INDEX_HTML, REPORT_INDEX_JSON};
use sales_domain::report::index::{Index, IndexDay};

use crate::files::content_type;

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

/// The index as stored once `days` are in it, and whether this call wrote it (the read,
/// the 403 rule, the conditional write and its retries: [`state::update`]).
async fn merge_days(store: &Store, days: &[IndexDay]) -> Result<(Index, bool)> {
    let merged = state::update(store, |index: Index| {
        days.iter().fold(index, |i, day| i.merged(day.clone()))
    })
    .await?;
    let wrote = merged.change != Change::Unchanged;
    Ok((merged.value, wrote))
}

/// Writes the page of `index`, then redoes it from the stored JSON until the two agree.
async fn publish_page(store: &Store, mut index: Index) -> Result<()> {
    for _ in 0..PAGE_ROUNDS {
        let body = Bytes::from(index.to_html());
        store
            .put(REPORT_INDEX_HTML, body, content_type(REPORT_INDEX_HTML), &[], Condition::None)
            .await?;
        match state::read(store, &index).await? {
            StateRead::Found { value: stored, .. } if stored == index => return Ok(()),
            StateRead::Found { value: stored, .. } => {
                tracing::debug!("report index changed while its page was written; again");
                index = stored;
            }
            // A 403 settled by creating it: it holds `index` now.
            StateRead::Missing { seeded: true } => return Ok(()),
            StateRead::Missing { seeded: false } => return Err(vanished(store)),
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

fn vanished(store: &Store) -> Error {
    let url = store.url(REPORT_INDEX_JSON);
    Error::new(
        Kind::Unexpected,
        Operation::GetObject,
        &url,
        format!("GetObject on {url}: the index was written a moment ago and is now missing"),
    )
}
