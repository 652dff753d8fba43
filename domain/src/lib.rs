//! The domain of `salesapp` and `reportsengine`, and nothing else: pure functions over bytes
//! and values. The compiler keeps it pure: this crate depends on no AWS SDK, no async
//! runtime, no command-line parser, and does no I/O but writing to a `std::io::Write` it is
//! given.
//!
//! ```text
//! sales CSV bytes ─sales::Validator─▶ DaySummary ─ledger::day_rows─▶ ledger rows
//!                                         └──────── report::Report::build ◀── ledger::Ledger
//!                                                        └─▶ CSV, JSON, HTML
//! SQS body ─message::SalesMessage::parse─▶ accepted_key (keys::check_input_key) ─▶ what to read
//! ```
//!
//! - [`money`]: integer cents, half-to-even commission, the commission rates.
//! - [`sales`]: the streaming validator of a day's sales file, and [`sales::SalesDate`].
//! - [`limits`]: a bound on every dimension an input can grow in.
//! - [`ledger`]: `compensation/ledger.csv`: rows, the merge of one day, the CSV round trip.
//! - [`report`]: the day's report and its three renderings.
//! - [`message`] and [`keys`]: the SQS body, which objects a message may name, our keys.
//! - [`net`]: private/public address classes (is an endpoint inside the VPC?).
//! - [`generate`]: deterministic, realistic sample data.
//! - [`text`]: text from outside escaped to stay on its line.
#![forbid(unsafe_code)]

mod csv_out;
pub mod generate;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod message;
pub mod money;
pub mod net;
pub mod report;
pub mod sales;
pub mod text;
