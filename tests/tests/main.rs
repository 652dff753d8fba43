//! The end-to-end tests: the real binaries against a real moto server on 127.0.0.1, in one
//! test binary (the AWS SDK is linked once), one module per concern. The helpers are the
//! `e2e` library (`tests/src/`); `deploy/local/test.sh` runs them all.

#![forbid(unsafe_code)]

mod browser;
mod code_policy;
mod configuration;
mod failures;
mod faults;
mod harness;
mod history;
mod hostile_input;
mod hostile_messages;
mod journal;
mod lab_daemons;
mod lab_live;
mod lab_workshop;
mod large_objects;
mod least_privilege;
mod man_pages;
mod metrics;
mod operate;
mod pipeline;
mod poison;
mod private_endpoints;
mod same_cause;
mod scale;
mod sdk;
mod secrets;
mod shutdown;
mod spool;
mod systemd;
