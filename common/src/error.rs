//! The library's typed errors, each classified for the daemons and mapped to an exit code.
//!
//! Two questions are asked of every failure, and this module answers both in one place:
//! - *what should a daemon do with the message?* ([`Class`]: retry later, quarantine it, or
//!   stop), and
//! - *what should a one-shot command exit with?* ([`Error::exit_code`], sysexits as SPEC §5).

use crate::sales::ValidationErrors;

/// What a daemon does when processing fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Transient (timeout, 5xx, throttling, connection refused): leave the message for
    /// redelivery and back off.
    Retry,
    /// Can never succeed (malformed message, bad file, missing object): quarantine and delete.
    Poison,
    /// Nothing will work until an operator acts (configuration, permissions on our own
    /// prefixes): log loudly, leave the message, back off.
    Fatal,
}

/// sysexits(3) codes used by both binaries (SPEC §5).
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 64;
    pub const DATAERR: i32 = 65;
    pub const UNAVAILABLE: i32 = 69;
    pub const IOERR: i32 = 74;
    pub const NOPERM: i32 = 77;
    pub const CONFIG: i32 = 78;
}

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable: unknown key, bad value, missing file.
    #[error("configuration error: {0}")]
    Config(String),

    /// The sales file is not valid; every problem is located.
    #[error("{0}")]
    Invalid(#[from] ValidationErrors),

    /// Input that can never succeed, said plainly (a poison message, a foreign bucket, …).
    #[error("{0}")]
    Rejected(String),

    /// A request was refused with 403. `hint` names the lab's control that typically causes it.
    #[error("{operation} on {resource} was denied (HTTP 403{code}). {hint}")]
    Denied { operation: &'static str, resource: String, code: String, hint: String },

    /// The service could not be reached or answered with a transient failure.
    #[error("{operation} on {resource} failed: {detail}")]
    Unavailable { operation: &'static str, resource: String, detail: String },

    /// The service answered with an error that retrying will not fix.
    #[error("{operation} on {resource} failed: {detail}")]
    Service { operation: &'static str, resource: String, detail: String },

    /// Local I/O failed (reading a sales file, writing a report).
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl Error {
    /// How a daemon should treat this failure.
    pub fn class(&self) -> Class {
        match self {
            Error::Invalid(_) | Error::Rejected(_) => Class::Poison,
            Error::Unavailable { .. } => Class::Retry,
            Error::Config(_) | Error::Denied { .. } | Error::Service { .. } | Error::Io { .. } => {
                Class::Fatal
            }
        }
    }

    /// The process exit code for a one-shot command that ends with this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit::CONFIG,
            Error::Invalid(_) | Error::Rejected(_) => exit::DATAERR,
            Error::Denied { .. } => exit::NOPERM,
            Error::Unavailable { .. } | Error::Service { .. } => exit::UNAVAILABLE,
            Error::Io { .. } => exit::IOERR,
        }
    }

    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io { path: path.to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
