//! Our own state in the bucket: the compensation ledger, as both binaries read it.
//!
//! The ledger is read under the 403 rule ([`Store::read_own`]) and parsed strictly. A ledger
//! that does not parse is *our own state unreadable* ([`Kind::StateUnreadable`]): not the
//! fault of the sales file or message at hand, so nothing is set aside; the work waits, and
//! goes through by itself once someone repairs the ledger.

use bytes::Bytes;

use crate::failure::{Error, Kind, Operation, Result};
use crate::store::{Own, Store};
use sales_domain::keys;
use sales_domain::ledger::Ledger;

/// The ledger as found in the bucket.
#[derive(Debug, Clone)]
pub enum LedgerRead {
    /// It exists and parses; `etag` for a conditional replace.
    Found { ledger: Ledger, etag: Option<String> },
    /// It does not exist. `seeded`: it has just been created holding the seed.
    Missing { seeded: bool },
}

/// Reads and parses `compensation/ledger.csv`. Where a 403 leaves its existence in doubt it
/// is settled by creating the ledger as `seed` (salesapp: the day's rows; the engine: empty).
pub async fn read_ledger(store: &Store, seed: &Ledger) -> Result<LedgerRead> {
    match store.read_own(keys::LEDGER, "ledger", Bytes::from(seed.to_csv())).await? {
        Own::Missing { seeded } => Ok(LedgerRead::Missing { seeded }),
        Own::Found(object) => {
            let url = store.url(keys::LEDGER);
            let ledger = Ledger::parse(&object.body).map_err(|e| unreadable(&url, e))?;
            Ok(LedgerRead::Found { ledger, etag: object.etag })
        }
    }
}

/// The failure of a ledger that does not parse: it names the ledger and what to do.
fn unreadable(url: &str, problem: sales_domain::ledger::LedgerError) -> Error {
    Error::new(
        Kind::StateUnreadable,
        Operation::ReadLedger,
        url,
        format!(
            "{url} is not a valid ledger ({problem}). This is the daemons' own state, not a \
             problem of the sales file: repair the ledger (the line named) or put back a good \
             copy of it; the files and messages waiting on it then go through by themselves."
        ),
    )
    .with_source(problem)
}
