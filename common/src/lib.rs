//! Shared library of `salesapp` and `reportsengine`.
//!
//! # The flow
//! ```text
//! CSV file ─validate─▶ DaySummary ─▶ S3 object + ledger rows + SQS message
//!   SQS message ─parse/guard─▶ object stream ─validate─▶ DaySummary + ledger ─▶ Report ─▶ S3 ─▶ delete
//! ```
//!
//! # The lab's constraints, and where each lives
//! The daemons run behind VPC endpoint policies that leave them only `s3:GetObject`,
//! `s3:PutObject`, `sqs:SendMessage`, `sqs:ReceiveMessage` and `sqs:DeleteMessage`:
//! - a GetObject of a missing key answers 403, not 404 ([`store`], [`ledger`] merge in salesapp);
//! - the queue URL and visibility timeout come from [`config`], never from the queue;
//! - there is no heartbeat and nothing can be deleted or aborted ([`store`], [`queue`] expose
//!   only the allowed calls, so nothing else can be called by accident).
//!
//! # Pure core, thin shell
//! [`money`], [`sales`], [`ledger`], [`report`], [`message`], [`net`] and [`generate`] do no I/O:
//! they are functions over bytes and values, unit-tested and benchmarked without AWS.
//! [`aws`], [`store`], [`queue`], [`shutdown`] and [`notify`] are the shell.
#![forbid(unsafe_code)]

pub(crate) mod aws;
pub mod config;
pub mod failure;
pub mod local;
pub mod logging;
pub mod notify;
pub mod ops;
pub mod queue;
pub mod retry;
pub mod shutdown;
pub mod state;
pub mod store;

pub use aws::connect;

/// The program name and version written into reports (`generated_by`).
pub fn program_version(program: &str) -> String {
    format!("{program} {}", env!("CARGO_PKG_VERSION"))
}
