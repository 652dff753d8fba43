//! The local lab's gateway: the workshop's network paths and policies enforced in front of
//! the emulator (moto), which enforces none of them.
//!
//! One listener per *host* of the lab (`salesapp`, `reportsengine`, `cloud9`, `internet`)
//! on 127.0.0.1. For every request the gateway finds who signed it (the access key), what AWS
//! would authorize ([`s3`], [`sqs`], [`services`]: the action and resource of each
//! [`check::Check`]), how the host reaches the service ([`world::Path`]: a VPC endpoint or
//! the internet, and the context keys that implies), decides with an existing IAM policy
//! engine (iam-rs) wrapped in AWS's evaluation logic ([`decide`]), logs the decision
//! ([`record`]), and forwards what is allowed to the emulator unchanged ([`server`]).
//!
//! Everything that decides is pure and unit-tested here; [`live`] reads the emulator and
//! [`server`] does the network.
#![forbid(unsafe_code)]

pub mod check;
pub mod decide;
pub mod imds;
pub mod lab;
pub mod live;
pub mod policy;
pub mod record;
pub mod reply;
pub mod request;
pub mod s3;
pub mod server;
pub mod services;
pub mod sqs;
pub mod state;
pub mod upstream;
pub mod world;
