//! The shell of `salesapp` and `reportsengine`: everything that touches the world, around
//! the pure domain of the `sales_domain` crate.
//!
//! ```text
//! salesapp, reportsengine     thin binaries: the command lines, the two daemons' loops
//!   ├─ ops                    operator tooling: the shared main, configure, doctor, assets
//!   └─ common (this crate)    the shell: what the daemons need, and doctor's probes
//!        ├─ config, failure   one configuration; one failure model and its table
//!        ├─ store, queue      the S3 and SQS calls the lab allows, nothing else
//!        ├─ state             our own state in the bucket: one update, ledger and index
//!        ├─ connect, endpoints  the clients' endpoints, checked before anything is sent
//!        ├─ probe/            doctor's named probes (the calls the lab denies: denied.rs only)
//!        ├─ metrics           what Prometheus scrapes: recorded here, served on [metrics]
//!        ├─ retry, shutdown, notify, logging, local
//!        └─ aws/              the SDK clients (crate-private) and how answers are classified
//!   └─ sales_domain           pure: money, the validator, ledger, report, message, keys
//! ```
//!
//! # The lab's constraints, and where each lives
//! The daemons run behind VPC endpoint policies that leave them only `s3:GetObject`,
//! `s3:PutObject`, `sqs:SendMessage`, `sqs:ReceiveMessage` and `sqs:DeleteMessage`:
//! - a GetObject of a missing key answers 403, not 404: the 403 rule is in [`store`] for
//!   inputs and in [`state`] for our own objects;
//! - the queue URL and visibility timeout come from [`config`], never from the queue;
//! - there is no heartbeat and nothing can be deleted or aborted: [`store`] and [`queue`]
//!   expose only the allowed calls, and the SDK clients are private to this crate, so no
//!   other crate can make another call; only [`probe`] (for `doctor --controls`) makes the
//!   calls the lab denies, to show that they are denied.
#![forbid(unsafe_code)]

pub(crate) mod aws;
pub mod config;
mod connect;
pub mod endpoints;
pub mod failure;
pub mod local;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod probe;
pub mod queue;
pub mod retry;
pub mod shutdown;
pub mod state;
pub mod store;

pub use connect::connect;

/// The release and the commit it was built from, as `--version` prints it after the
/// program's name: `0.1.0 (abc1234)` (`unknown` outside a git checkout; see `build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("VPCE_LAB_COMMIT"), ")");

/// The commit alone (`abc1234`, or `unknown`).
pub const COMMIT: &str = env!("VPCE_LAB_COMMIT");

/// Which of the two binaries is running: it names the process to AWS (the user agent's app
/// id, so CloudTrail tells the two apart), in the journal and in doctor's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Salesapp,
    Reportsengine,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Salesapp => "salesapp",
            Program::Reportsengine => "reportsengine",
        }
    }
}

/// The program name and version written into reports (`generated_by`). The release only,
/// not the commit: reports are a pure function of their inputs and the release's rules.
pub fn program_version(program: &str) -> String {
    format!("{program} {}", env!("CARGO_PKG_VERSION"))
}
