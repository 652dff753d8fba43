//! The one failure model of both binaries (docs/design.md, What happens to a failure).
//!
//! Every failure says what was being done ([`Operation`]), to what (a resource: an
//! `s3://` URL, the queue, a file), and what kind of failure it is ([`Kind`]). The kind
//! alone decides what happens next: [`Kind::rule`] is the one table that says what a daemon
//! does with the message or file ([`Action`]) and what a one-shot command exits with. No call
//! site chooses "quarantine" or an exit code; it says what went wrong and the table decides.
//!
//! The rule that matters most: a failure that is not the input's fault (a service that is
//! down, a denial, a broken configuration, our own ledger unreadable) never sets the input
//! aside, so once the cause is fixed everything left waiting goes through by itself.

use std::error::Error as StdError;
use std::fmt;

use sales_domain::sales::ValidationErrors;

/// sysexits(3) codes used by both binaries (docs/design.md, Exit codes).
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 64;
    pub const DATAERR: i32 = 65;
    pub const UNAVAILABLE: i32 = 69;
    pub const IOERR: i32 = 74;
    pub const NOPERM: i32 = 77;
    pub const CONFIG: i32 = 78;
}

/// What kind of failure it is: the only thing the daemons and the exit codes look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The input can never succeed as it is: a malformed message, a foreign bucket, an
    /// unsafe key, a file that is not a valid sales file, an object over the size limit.
    BadInput,
    /// The object a message names does not exist. Under the lab's policy (no
    /// `s3:ListBucket`) a GetObject of a missing key answers 403, so that counts too.
    Missing,
    /// Retrying later may succeed: a timeout, a refused connection, a 5xx, throttling.
    Transient,
    /// No usable credentials: no provider of the SDK's credential chain answered, or AWS
    /// refused the keys it gave (unknown, expired, a bad signature). Retrying the same call
    /// cannot fix it; an operator must (attach the instance profile, renew the keys).
    Credentials,
    /// A 403 that does not mean "missing": a policy refuses the call.
    Denied,
    /// The configuration is unusable (a bad value, a queue or bucket that does not exist).
    Config,
    /// Our own state is not what we wrote: the ledger is not a ledger.
    StateUnreadable,
    /// A local file could not be read or written.
    LocalIo,
    /// The service answered in a way none of the above explains and retrying will not
    /// change (an unexpected 4xx, an answer without a field it always carries).
    Unexpected,
}

/// What a daemon does with the message or file whose processing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It can never succeed: quarantine the message (and delete it), or move the file to
    /// `failed/` with the reason.
    SetAside,
    /// Leave the message on the queue, the file in `incoming/`; back off (capped), retry.
    Retry,
    /// Leave it as for `Retry`, but an operator must act: log it loudly once, show it in
    /// `STATUS=`, back off, and resume by itself once the cause is fixed.
    Hold,
}

impl Action {
    /// The word used in logs, `STATUS=` and the documented table.
    pub fn label(self) -> &'static str {
        match self {
            Action::SetAside => "set aside",
            Action::Retry => "retry",
            Action::Hold => "hold",
        }
    }
}

/// One row of the table: what a daemon does and what a one-shot command exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub exit_code: i32,
}

impl Kind {
    /// Every kind, in the order of the documented table.
    pub const ALL: [Kind; 9] = [
        Kind::BadInput,
        Kind::Missing,
        Kind::Transient,
        Kind::Credentials,
        Kind::Denied,
        Kind::Config,
        Kind::StateUnreadable,
        Kind::LocalIo,
        Kind::Unexpected,
    ];

    /// **The table** (docs/design.md, What happens to a failure). Everything that decides
    /// between quarantine, retry and hold, and every exit code of a failed command, comes
    /// from here.
    pub const fn rule(self) -> Rule {
        use Action::*;
        let (action, exit_code) = match self {
            Kind::BadInput => (SetAside, exit::DATAERR),
            Kind::Missing => (SetAside, exit::DATAERR),
            Kind::Transient => (Retry, exit::UNAVAILABLE),
            // Without credentials AWS permits nothing: the permission code, as for a denial.
            Kind::Credentials => (Hold, exit::NOPERM),
            Kind::Denied => (Hold, exit::NOPERM),
            Kind::Config => (Hold, exit::CONFIG),
            Kind::StateUnreadable => (Hold, exit::UNAVAILABLE),
            // Only an input file is read from disk by a daemon: one the daemon cannot read
            // must not block the files behind it.
            Kind::LocalIo => (SetAside, exit::IOERR),
            Kind::Unexpected => (Hold, exit::UNAVAILABLE),
        };
        Rule { action, exit_code }
    }

    /// How a person would name it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BadInput => "bad input",
            Kind::Missing => "missing",
            Kind::Transient => "transient",
            Kind::Credentials => "no usable credentials",
            Kind::Denied => "denied",
            Kind::Config => "configuration",
            Kind::StateUnreadable => "our own state unreadable",
            Kind::LocalIo => "local I/O",
            Kind::Unexpected => "unexpected answer",
        }
    }

    /// Which failure is worse when several were left behind (`reportsengine once` exits
    /// with the worst): one that needs an operator beats one that may pass by itself.
    pub fn severity(self) -> u8 {
        match self {
            Kind::BadInput | Kind::Missing | Kind::LocalIo => 0,
            Kind::Transient => 1,
            Kind::Unexpected => 2,
            Kind::StateUnreadable => 3,
            Kind::Denied => 4,
            Kind::Credentials => 5,
            Kind::Config => 6,
        }
    }

    /// Examples, for the documented table and the man pages' EXIT STATUS.
    pub fn examples(self) -> &'static str {
        match self {
            Kind::BadInput => {
                "malformed body, foreign bucket, unsafe key, not a valid sales file, too large"
            }
            Kind::Missing => {
                "the object a message names does not exist (404, or 403 under the lab's policy)"
            }
            Kind::Transient => "timeout, connection refused, 5xx, throttling",
            Kind::Credentials => {
                "no provider of the credential chain answered; keys AWS refuses (`InvalidAccessKeyId`, `ExpiredToken`, `SignatureDoesNotMatch`)"
            }
            Kind::Denied => "a 403 that is not \"missing\"",
            Kind::Config => {
                "a bad setting, a bucket or queue that does not exist, a queue in another region"
            }
            Kind::StateUnreadable => {
                "`compensation/ledger.csv` is not a ledger, `reports/index.json` not an index"
            }
            Kind::LocalIo => "a file in `incoming/` that cannot be read",
            Kind::Unexpected => "an answer none of the above explains",
        }
    }

    /// The table as Markdown, exactly as docs/design.md shows it (a test keeps them equal).
    pub fn markdown_table() -> String {
        let mut out = String::from(
            "| kind | examples | daemon (`run`, `watch`) | one-shot exit |\n|---|---|---|---|\n",
        );
        for kind in Kind::ALL {
            let rule = kind.rule();
            let daemon = match (rule.action, kind) {
                (Action::SetAside, Kind::LocalIo) => "move the file to `failed/`",
                (Action::SetAside, _) => "quarantine the message / move the file to `failed/`",
                (Action::Retry, _) => "leave it, back off, retry",
                (Action::Hold, _) => "leave it, log it loudly once, back off, resume when fixed",
            };
            out.push_str(&format!(
                "| {} | {} | {daemon} | {} |\n",
                kind.label(),
                kind.examples(),
                rule.exit_code
            ));
        }
        out
    }
}

/// The AWS service an operation talks to. The two are reached differently in the lab: S3
/// through the *gateway* endpoint (a route: public DNS answers are expected), SQS through
/// the *interface* endpoint with private DNS (answers must be private).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    Sqs,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Sqs => "sqs",
        }
    }
}

/// What was being done when it failed. AWS operations know the IAM action AWS authorizes
/// them as and which of the lab's controls typically denies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetObject,
    HeadObject,
    PutObject,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    SendMessage,
    ReceiveMessage,
    DeleteMessage,
    DeleteMessageBatch,
    /// Parsing a message body and checking the object it names.
    ReadMessage,
    /// Validating a sales file (local, or streamed from S3).
    ValidateSales,
    /// Parsing the ledger we read.
    ReadLedger,
    /// Parsing the report index we read.
    ReadIndex,
    /// Reading a local file.
    ReadFile,
    /// Writing a local file.
    WriteFile,
    /// Loading and checking the configuration.
    LoadConfig,
    /// Resolving and checking an endpoint before anything is sent.
    CheckEndpoint,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::PutObject => "PutObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::SendMessage => "SendMessage",
            Operation::ReceiveMessage => "ReceiveMessage",
            Operation::DeleteMessage => "DeleteMessage",
            Operation::DeleteMessageBatch => "DeleteMessageBatch",
            Operation::ReadMessage => "read message",
            Operation::ValidateSales => "validate sales file",
            Operation::ReadLedger => "read ledger",
            Operation::ReadIndex => "read report index",
            Operation::ReadFile => "read file",
            Operation::WriteFile => "write file",
            Operation::LoadConfig => "load configuration",
            Operation::CheckEndpoint => "check endpoint",
        }
    }

    pub fn service(self) -> Option<Service> {
        use Operation::*;
        match self {
            GetObject
            | HeadObject
            | PutObject
            | CreateMultipartUpload
            | UploadPart
            | CompleteMultipartUpload => Some(Service::S3),
            SendMessage | ReceiveMessage | DeleteMessage | DeleteMessageBatch => Some(Service::Sqs),
            _ => None,
        }
    }

    /// The IAM action AWS authorizes the operation as: HeadObject as `s3:GetObject`, the
    /// multipart calls as `s3:PutObject`, a batch as its single form.
    pub fn iam_action(self) -> Option<&'static str> {
        use Operation::*;
        Some(match self {
            GetObject | HeadObject => "s3:GetObject",
            PutObject | CreateMultipartUpload | UploadPart | CompleteMultipartUpload => {
                "s3:PutObject"
            }
            SendMessage => "sqs:SendMessage",
            ReceiveMessage => "sqs:ReceiveMessage",
            DeleteMessage | DeleteMessageBatch => "sqs:DeleteMessage",
            _ => return None,
        })
    }

    /// Which of the lab's controls typically causes a 403 on this operation, for operators.
    pub fn denial_hint(self) -> &'static str {
        use Operation::*;
        match self {
            GetObject | HeadObject => {
                "Under the lab's policy a missing object also answers 403 (there is no \
                 s3:ListBucket). Otherwise the usual cause is the S3 gateway endpoint policy \
                 (only s3:GetObject and s3:PutObject on the restricted bucket) or the instance \
                 role lacking s3:GetObject."
            }
            PutObject | CreateMultipartUpload | UploadPart | CompleteMultipartUpload => {
                "Usual causes: the restricted bucket's policy denies s3:PutObject unless it \
                 arrives through the S3 gateway endpoint (aws:sourceVpce) — check that this \
                 subnet's route table is associated with the endpoint; the gateway endpoint \
                 policy (only the restricted bucket); or the instance role lacking s3:PutObject."
            }
            SendMessage | ReceiveMessage | DeleteMessage | DeleteMessageBatch => {
                "Usual causes: the SQS interface endpoint policy (only SendMessage, \
                 ReceiveMessage, DeleteMessage on the lab's queue); the queue policy, which \
                 allows them only through the interface endpoint (aws:sourceVpce) — check that \
                 endpoints.sqs or private DNS points at the endpoint; or the instance role \
                 lacking the action."
            }
            _ => "Check the file's owner and mode.",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure: operation, resource, kind, a sentence for people, what to do about it, and
/// the cause.
///
/// `Display` is the sentence then the advice (it names the operation and the resource where
/// that helps a reader); `doctor` shows the two apart, as a row's detail and its hint, so a
/// command and `doctor` say the same thing about the same cause. The fields are for
/// decisions and for structured logs.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    operation: Operation,
    resource: String,
    message: String,
    advice: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A failure of `kind` while doing `operation` on `resource`, said by `message`.
    pub fn new(
        kind: Kind,
        operation: Operation,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error {
            kind,
            operation,
            resource: resource.into(),
            message: message.into(),
            advice: None,
            source: None,
        }
    }

    /// Keeps `source` as the cause (the SDK's error, an `io::Error`, a parse error).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// Bad input: `message` says what is wrong with `resource`.
    pub fn bad_input(
        operation: Operation,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::new(Kind::BadInput, operation, resource, message)
    }

    /// A 403 that is not "missing": `operation` on `resource` was refused (`code`, S3's or
    /// SQS's error code, may be empty). The sentence names the IAM action it needs and the
    /// lab's control that usually refuses it.
    pub fn denied(operation: Operation, resource: impl Into<String>, code: &str) -> Error {
        let resource = resource.into();
        let code = if code.is_empty() { String::new() } else { format!(" {code}") };
        let needs = operation.iam_action().unwrap_or("an action the lab does not grant");
        let message = format!(
            "{operation} on {resource} was denied (HTTP 403{code}). It needs {needs} on this \
             resource."
        );
        Error::new(Kind::Denied, operation, resource, message).hint(operation.denial_hint())
    }

    /// The configuration is unusable.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(Kind::Config, Operation::LoadConfig, "configuration", message)
    }

    /// Reading `path` failed.
    pub fn read_io(path: impl fmt::Display, source: std::io::Error) -> Error {
        let path = path.to_string();
        Error::new(Kind::LocalIo, Operation::ReadFile, &path, format!("{path}: {source}"))
    }

    /// Writing `path` failed.
    pub fn write_io(path: impl fmt::Display, source: std::io::Error) -> Error {
        let path = path.to_string();
        Error::new(Kind::LocalIo, Operation::WriteFile, &path, format!("{path}: {source}"))
    }

    /// Something that "cannot happen" happened (a task panicked): retrying will not help and
    /// it is not the input's fault.
    pub fn internal(operation: Operation, resource: impl Into<String>, what: String) -> Error {
        Error::new(Kind::Unexpected, operation, resource, what)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn operation(&self) -> Operation {
        self.operation
    }
    pub fn resource(&self) -> &str {
        &self.resource
    }
    /// What a daemon does with the input (from the table).
    pub fn action(&self) -> Action {
        self.kind.rule().action
    }
    /// What a one-shot command exits with (from the table).
    pub fn exit_code(&self) -> i32 {
        self.kind.rule().exit_code
    }

    /// The sentence without the advice (doctor's detail of a failing row).
    pub fn summary(&self) -> &str {
        &self.message
    }
    /// What to do about it, when the failure knows (doctor's hint under a failing row).
    pub fn advice(&self) -> Option<&str> {
        self.advice.as_deref()
    }

    /// The located problems, when this is a sales file that did not validate.
    pub fn validation(&self) -> Option<&ValidationErrors> {
        self.source.as_ref().and_then(|s| s.downcast_ref::<ValidationErrors>())
    }

    /// The same failure, said more fully: `context` is put before the sentence.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same failure with a sentence of advice added after it (what to do about it).
    pub fn hint(mut self, hint: impl fmt::Display) -> Error {
        self.advice = Some(match self.advice.take() {
            Some(advice) => format!("{advice} {hint}"),
            None => hint.to_string(),
        });
        self
    }

    /// The same failure again, for another party waiting on the same work (its cause is
    /// kept by the first only).
    pub fn replicate(&self) -> Error {
        Error {
            advice: self.advice.clone(),
            ..Error::new(self.kind, self.operation, self.resource.clone(), self.message.clone())
        }
    }

    /// The same failure, final after retrying for `window` (a one-shot command gave up).
    pub fn gave_up_after(self, window: std::time::Duration) -> Error {
        self.hint(format!(
            "Gave up after retrying for {} (endpoints.give_up_after).",
            humantime::format_duration(window)
        ))
    }

    /// Logs the failure once, with its context as fields, at the level its action calls for
    /// (a hold is an error: somebody must act; the rest are warnings).
    pub fn log(&self, what: &str) {
        let (operation, resource, kind, action) = (
            self.operation.name(),
            self.resource.as_str(),
            self.kind.label(),
            self.action().label(),
        );
        if self.action() == Action::Hold {
            tracing::error!(operation, resource, kind, action, error = %self, "{what}");
        } else {
            tracing::warn!(operation, resource, kind, action, error = %self, "{what}");
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.advice {
            // The advice is a sentence of its own: the message ends before it.
            Some(advice) if self.message.ends_with(['.', '!', '?']) => write!(f, " {advice}"),
            Some(advice) => write!(f, ". {advice}"),
            None => Ok(()),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn StdError + 'static))
    }
}

/// A sales file that is not valid is bad input; its problems stay readable (for the CLI's
/// `FILE:LINE: column: reason` lines) through [`Error::validation`].
impl From<ValidationErrors> for Error {
    fn from(invalid: ValidationErrors) -> Error {
        let file = invalid.file.clone();
        Error::new(Kind::BadInput, Operation::ValidateSales, file, invalid.to_string())
            .with_source(invalid)
    }
}

/// What a daemon remembers of the failure that holds its work up, so that an operator sees
/// it once, loudly, rather than once per retry; sees it in `STATUS=` while it lasts; and sees
/// in the log when it is over.
#[derive(Debug, Default)]
pub struct Holds {
    /// (kind, operation, resource) of the hold in place, and its sentence.
    current: Option<((Kind, Operation, String), String)>,
}

impl Holds {
    /// Notes a failure that left the input waiting (`Retry` or `Hold`) and logs it: a
    /// transient failure each time (as a warning), a hold only when it is new.
    pub fn failed(&mut self, err: &Error, what: &str) {
        if err.action() != Action::Hold {
            err.log(what);
            return;
        }
        let cause = (err.kind, err.operation, err.resource.clone());
        if self.current.as_ref().is_some_and(|(held, _)| *held == cause) {
            tracing::debug!(operation = err.operation.name(), resource = %err.resource, error = %err, "still held");
            return;
        }
        err.log(&format!("{what}; an operator must act: this is logged once, and work resumes by itself once it is fixed"));
        self.current = Some((cause, err.to_string()));
    }

    /// Notes a success: a hold in place is over.
    pub fn succeeded(&mut self) {
        if let Some(((kind, operation, resource), _)) = self.current.take() {
            tracing::info!(operation = operation.name(), resource = %resource, kind = kind.label(), "resumed: the failure that held work up is gone");
        }
    }

    /// Notes that `operation` worked: a hold on it is over (a receive that answers ends a
    /// hold on receiving, not one on the ledger).
    pub fn cleared(&mut self, operation: Operation) {
        if self.current.as_ref().is_some_and(|((_, held, _), _)| *held == operation) {
            self.succeeded();
        }
    }

    /// The hold in place, for `STATUS=`.
    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|(_, text)| text.as_str())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the table, one assertion each.
    #[test]
    fn the_table() {
        let row = |k: Kind| (k.rule().action, k.rule().exit_code);
        assert_eq!(row(Kind::BadInput), (Action::SetAside, 65));
        assert_eq!(row(Kind::Missing), (Action::SetAside, 65));
        assert_eq!(row(Kind::Transient), (Action::Retry, 69));
        assert_eq!(row(Kind::Credentials), (Action::Hold, 77));
        assert_eq!(row(Kind::Denied), (Action::Hold, 77));
        assert_eq!(row(Kind::Config), (Action::Hold, 78));
        assert_eq!(row(Kind::StateUnreadable), (Action::Hold, 69));
        assert_eq!(row(Kind::LocalIo), (Action::SetAside, 74));
        assert_eq!(row(Kind::Unexpected), (Action::Hold, 69));
    }

    /// A failure that is not the input's fault never sets the input aside and never
    /// exits 65.
    #[test]
    fn only_the_input_s_own_faults_set_it_aside() {
        for kind in Kind::ALL {
            let inputs_fault = matches!(kind, Kind::BadInput | Kind::Missing | Kind::LocalIo);
            assert_eq!(kind.rule().action == Action::SetAside, inputs_fault, "{kind:?}");
            assert_eq!(
                kind.rule().exit_code == exit::DATAERR,
                matches!(kind, Kind::BadInput | Kind::Missing),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn the_design_document_shows_the_table_the_code_uses() {
        let design = include_str!("../../docs/design.md");
        let table = Kind::markdown_table();
        assert!(design.contains(&table), "docs/design.md lacks the failure table:\n{table}");
    }

    #[test]
    fn operations_know_their_iam_action_and_control() {
        assert_eq!(Operation::HeadObject.iam_action(), Some("s3:GetObject"));
        assert_eq!(Operation::UploadPart.iam_action(), Some("s3:PutObject"));
        assert_eq!(Operation::DeleteMessageBatch.iam_action(), Some("sqs:DeleteMessage"));
        assert_eq!(Operation::ReadLedger.iam_action(), None);
        assert!(Operation::PutObject.denial_hint().contains("aws:sourceVpce"));
        assert!(Operation::GetObject.denial_hint().contains("missing object"));
        assert!(Operation::SendMessage.denial_hint().contains("interface endpoint"));
    }

    /// Only a failure that may pass by itself is retried by a one-shot command: every other
    /// one ends it at once (docs/design.md, One-shot commands end).
    #[test]
    fn only_transient_failures_are_retried() {
        for kind in Kind::ALL {
            assert_eq!(kind.rule().action == Action::Retry, kind == Kind::Transient, "{kind:?}");
        }
    }

    /// The advice is part of the sentence people read, and apart for doctor's hint.
    #[test]
    fn advice_follows_the_sentence() {
        let e = Error::config("bucket is wrong").hint("Fix it.").hint("Then run again.");
        assert_eq!(e.to_string(), "bucket is wrong. Fix it. Then run again.");
        assert_eq!(e.summary(), "bucket is wrong");
        assert_eq!(e.advice(), Some("Fix it. Then run again."));
        let again = e.context("x.toml").replicate();
        assert_eq!(again.to_string(), "x.toml: bucket is wrong. Fix it. Then run again.");
        let denied = Error::denied(Operation::PutObject, "s3://b/k", "AccessDenied");
        assert!(denied.summary().ends_with("It needs s3:PutObject on this resource."));
        assert_eq!(denied.advice(), Some(Operation::PutObject.denial_hint()));
    }

    #[test]
    fn validation_errors_stay_readable() {
        let invalid = ValidationErrors {
            file: "day.csv".into(),
            problems: vec![sales_domain::sales::Problem {
                line: 3,
                column: "quantity".into(),
                reason: "not an integer".into(),
            }],
            total: 1,
        };
        let e = Error::from(invalid);
        assert_eq!(e.kind(), Kind::BadInput);
        assert_eq!(e.exit_code(), 65);
        assert_eq!(e.to_string(), "day.csv:3: quantity: not an integer");
        assert_eq!(e.validation().map(|v| v.total), Some(1));
    }
}
