//! The operator tooling of `salesapp` and `reportsengine`, beside the daemons' shell:
//!
//! ```text
//! cli        what both binaries' mains share: the global flags, loading the configuration,
//!            logging, and a failure turned into a message and an exit code
//! configure  the configuration file from the lab's CloudFormation stack outputs
//! doctor/    the checks of an instance, and with --controls of the lab's denials
//! effective  `config`: the configuration in effect and where each value came from
//! assets     the man pages and shell completions a package installs
//! ```
//!
//! This crate makes no AWS call of its own: it has no SDK among its dependencies. Doctor's
//! calls are `common::probe`'s named probes, so the only code that can call AWS stays in
//! the shell crate, where the calls the lab denies are kept apart from the daemons' store
//! and queue.
#![forbid(unsafe_code)]

pub mod assets;
pub mod cli;
pub mod configure;
pub mod doctor;
pub mod effective;
