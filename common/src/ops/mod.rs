//! Operator tooling: what both binaries' command lines share ([`cli`]), writing the
//! configuration from the lab's stack outputs ([`configure`]), the checks of an instance
//! ([`doctor`]), the only code that makes the calls the lab's policies deny, and the man
//! pages and completions a package installs ([`assets`]).

pub mod assets;
pub mod cli;
pub mod configure;
pub mod doctor;
