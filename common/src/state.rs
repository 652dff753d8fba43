//! Our own state in the bucket: the compensation ledger, as both binaries read it, and the
//! report index, which the engine keeps.
//!
//! Both are read under the 403 rule ([`Store::read_own`]) and parsed strictly. One that does
//! not parse is *our own state unreadable* ([`Kind::StateUnreadable`]): not the fault of the
//! sales file or message at hand, so nothing is set aside; the work waits, and goes through
//! by itself once someone repairs it.

use bytes::Bytes;

use crate::failure::{Error, Kind, Operation, Result};
use crate::store::{Own, Seed, Store};
use sales_domain::keys;
use sales_domain::ledger::Ledger;
use sales_domain::report::index::Index;

/// The ledger as found in the bucket.
#[derive(Debug, Clone)]
pub enum LedgerRead {
    /// It exists and parses; `etag` for a conditional replace.
    Found { ledger: Ledger, etag: Option<String> },
    /// It does not exist. `seeded`: it has just been created holding the seed.
    Missing { seeded: bool },
}

/// The report index as found in the bucket.
#[derive(Debug, Clone)]
pub enum IndexRead {
    /// It exists and parses; `etag` for a conditional replace.
    Found { index: Index, etag: Option<String> },
    /// It does not exist. `seeded`: it has just been created holding the seed.
    Missing { seeded: bool },
}

/// Reads and parses `compensation/ledger.csv`. Where a 403 leaves its existence in doubt it
/// is settled by creating the ledger as `seed` (salesapp: the day's rows; the engine: empty).
pub async fn read_ledger(store: &Store, seed: &Ledger) -> Result<LedgerRead> {
    let seed = Seed { body: Bytes::from(seed.to_csv()), content_type: "text/csv" };
    let own = OwnState { key: keys::LEDGER, label: "ledger", operation: Operation::ReadLedger };
    Ok(match read_state(store, &own, seed, Ledger::parse).await? {
        Read::Found(ledger, etag) => LedgerRead::Found { ledger, etag },
        Read::Missing { seeded } => LedgerRead::Missing { seeded },
    })
}

/// Reads and parses `reports/index.json`, settling a 403 by creating it as `seed`.
pub async fn read_index(store: &Store, seed: &Index) -> Result<IndexRead> {
    let seed = Seed { body: Bytes::from(seed.to_json()), content_type: "application/json" };
    let own = OwnState {
        key: keys::REPORT_INDEX_JSON,
        label: "report index",
        operation: Operation::ReadIndex,
    };
    Ok(match read_state(store, &own, seed, Index::parse).await? {
        Read::Found(index, etag) => IndexRead::Found { index, etag },
        Read::Missing { seeded } => IndexRead::Missing { seeded },
    })
}

/// Which of our objects, named for people, and the operation that fails when it does not parse.
struct OwnState {
    key: &'static str,
    label: &'static str,
    operation: Operation,
}

enum Read<T> {
    Found(T, Option<String>),
    Missing { seeded: bool },
}

/// One of our own objects, read under the 403 rule and parsed.
async fn read_state<T, E>(
    store: &Store,
    own: &OwnState,
    seed: Seed,
    parse: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
) -> Result<Read<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match store.read_own(own.key, own.label, seed).await? {
        Own::Missing { seeded } => Ok(Read::Missing { seeded }),
        Own::Found(object) => {
            let value = parse(&object.body).map_err(|e| unreadable(store, own, e))?;
            Ok(Read::Found(value, object.etag))
        }
    }
}

/// The failure of our own state that does not parse: it names the object and what to do.
fn unreadable<E>(store: &Store, own: &OwnState, problem: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let (url, label) = (store.url(own.key), own.label);
    Error::new(
        Kind::StateUnreadable,
        own.operation,
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
