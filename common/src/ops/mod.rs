//! Operator tooling: what both binaries' command lines share ([`cli`]), writing the
//! configuration from the lab's stack outputs ([`configure`]), and the checks of an instance
//! ([`doctor`]), the only code that makes the calls the lab's policies deny.

pub mod cli;
pub mod configure;
pub mod doctor;
