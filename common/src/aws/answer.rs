//! What the SDK reports, classified: the status and error code of an answer decide what it
//! means for us, then the store, the queue and doctor's probes turn it into a failure of the
//! one model, so a command and `doctor` give one cause one kind, one exit code and one hint.
//!
//! What the SDK reports is said in our words, one line, without its `Debug` structures:
//! `CODE: message (request id ID)` for an answer of the service, the `Display` chain of the
//! cause for a request that got no answer (`io error: … Connection refused`).

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::failure::{Error, Kind, Operation, Service};

/// What an SDK failure says, before we know which object it was about: the store and the
/// queue then turn it into a [`Error`] (the 403 rule needs to know which object it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// HTTP 403. Under the lab's policy this includes a GetObject of a missing key.
    Denied { code: String },
    /// HTTP 404 (the emulator, or AWS with `s3:ListBucket`).
    NotFound,
    /// HTTP 412: a conditional write lost a race.
    PreconditionFailed,
    /// Worth retrying later: timeouts, connection failures, 5xx, throttling.
    Transient(String),
    /// No usable credentials: the chain found none (`refused` false), or AWS refused the
    /// ones it found (`refused` true). Retrying the same call cannot fix either.
    Credentials { detail: String, refused: bool },
    /// The configuration names something the service does not have: a bucket, a queue (a
    /// queue URL of another region than the client's looks the same), a region.
    Misconfigured { code: String, detail: String },
    /// Anything else: retrying the same request will not help.
    Other { code: String, detail: String },
}

/// Error codes that mean "slow down" whatever their status.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
    "KMS.ThrottlingException",
];

/// Error codes that mean the configuration names something that does not exist, or a
/// region the bucket is not in.
const MISCONFIGURED_CODES: &[&str] = &[
    "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAddress",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
];

/// Error codes that mean AWS refused the credentials themselves (not what they may do):
/// an unknown key, an expired session, a secret that does not match the key.
const REFUSED_CREDENTIALS_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "TokenRefreshRequired",
    "InvalidToken",
    "MissingAuthenticationToken",
    "AuthFailure",
];

/// What to do when no provider of the credential chain answers: the same advice from
/// `doctor`'s `credentials` row and from a command that met the same cause.
pub const NO_CREDENTIALS_HINT: &str = "On EC2 attach the instance profile (IAMRoleForSalesApp / \
     IAMRoleForReportsEngine) and make sure IMDSv2 answers (the instance's metadata options: \
     tokens, hop limit); elsewhere set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY (and AWS_EC2_METADATA_DISABLED=true to skip IMDS). `doctor` shows \
     which provider answers.";

/// What to do when AWS refuses the keys the chain gave.
pub const REFUSED_CREDENTIALS_HINT: &str = "The credential chain gave keys AWS does not \
     accept (unknown, expired, or a secret that does not match): renew them, or on EC2 unset \
     AWS_ACCESS_KEY_ID / AWS_PROFILE for the daemons so that the instance profile answers. \
     `doctor` shows which provider answers.";

/// Classifies any SDK error by its kind, HTTP status and error code.
///
/// SQS denials under moto come back as HTTP 403 with no code the SDK can read, and AWS
/// itself varies the code (`AccessDenied`, `AccessDeniedException`,
/// `AWS.SimpleQueueService.AccessDenied`…), so the status decides, not the code. A request
/// the SDK could not sign, for want of credentials, fails before it is sent: its cause is the
/// credential chain's error, which decides.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(credentials) = credentials_cause(err) {
        return credentials_answer(credentials);
    }
    let chain = || cause_chain(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Answer::Transient(chain())
        }
        SdkError::ConstructionFailure(_) => Answer::Other { code: String::new(), detail: chain() },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("").to_string();
            let said = || service_said(err, status);
            if REFUSED_CREDENTIALS_CODES.contains(&code.as_str()) {
                return Answer::Credentials { detail: said(), refused: true };
            }
            if MISCONFIGURED_CODES.contains(&code.as_str()) {
                return Answer::Misconfigured { code, detail: said() };
            }
            match status {
                403 => Answer::Denied { code },
                404 => Answer::NotFound,
                412 => Answer::PreconditionFailed,
                429 => Answer::Transient(said()),
                s if s >= 500 => Answer::Transient(said()),
                _ if THROTTLING_CODES.contains(&code.as_str()) => Answer::Transient(said()),
                _ if code == "NoSuchKey" || code == "NotFound" => Answer::NotFound,
                _ => Answer::Other { code, detail: said() },
            }
        }
        _ => Answer::Transient(chain()),
    }
}

/// What the credential chain's failure means: whatever its reason (no provider configured,
/// IMDS not answering, a profile that does not parse), the call cannot be made and retrying
/// it will not change that; the chain has its own timeouts and retries.
pub(crate) fn credentials_answer(err: &CredentialsError) -> Answer {
    Answer::Credentials { detail: describe_chain_failure(err), refused: false }
}

impl Answer {
    /// The kind this answer is, wherever it came from: the store, the queue and doctor's
    /// probes all take it from here.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Answer::Denied { .. } => Kind::Denied,
            Answer::NotFound => Kind::Missing,
            Answer::PreconditionFailed => Kind::Unexpected,
            Answer::Transient(_) => Kind::Transient,
            Answer::Credentials { .. } => Kind::Credentials,
            Answer::Misconfigured { .. } => Kind::Config,
            Answer::Other { .. } => Kind::Unexpected,
        }
    }

    /// What the service or the client said, in one line, without the operation.
    pub(crate) fn detail(&self) -> String {
        match self {
            Answer::Denied { code } if code.is_empty() => "denied (HTTP 403)".to_string(),
            Answer::Denied { code } => format!("denied (HTTP 403 {code})"),
            Answer::NotFound => "not found (HTTP 404)".to_string(),
            Answer::PreconditionFailed => "precondition failed (HTTP 412)".to_string(),
            Answer::Credentials { detail, refused: false } => {
                format!("no usable AWS credentials: {detail}")
            }
            Answer::Credentials { detail, refused: true } => {
                format!("the AWS credentials were refused: {detail}")
            }
            Answer::Transient(detail)
            | Answer::Misconfigured { detail, .. }
            | Answer::Other { detail, .. } => detail.clone(),
        }
    }

    /// What to do about it, for `operation` through `endpoint`, when that is known.
    pub(crate) fn advice(&self, operation: Operation, endpoint: &str) -> Option<String> {
        match self {
            Answer::Denied { .. } => Some(operation.denial_hint().to_string()),
            Answer::Credentials { refused: false, .. } => Some(NO_CREDENTIALS_HINT.to_string()),
            Answer::Credentials { refused: true, .. } => Some(REFUSED_CREDENTIALS_HINT.to_string()),
            Answer::Misconfigured { code, .. } => {
                Some(misconfigured_advice(code, operation, endpoint))
            }
            _ => None,
        }
    }

    /// The failure this answer is, for `operation` on `resource` through `endpoint`.
    pub(crate) fn into_error(self, operation: Operation, resource: &str, endpoint: &str) -> Error {
        let kind = self.kind();
        let advice = self.advice(operation, endpoint);
        let error = match &self {
            Answer::Denied { code } => return Error::denied(operation, resource, code),
            // Only a request that got no answer names the endpoint: the one that answered is
            // in the request id.
            Answer::Transient(detail) => Error::new(
                kind,
                operation,
                resource,
                format!("{operation} on {resource} via {endpoint}: {detail}"),
            ),
            _ => Error::new(
                kind,
                operation,
                resource,
                format!("{operation} on {resource}: {}", self.detail()),
            ),
        };
        match advice {
            Some(advice) => error.hint(advice),
            None => error,
        }
    }
}

/// What to check when the configuration names what the service does not have.
fn misconfigured_advice(code: &str, operation: Operation, endpoint: &str) -> String {
    match (code, operation.service()) {
        (
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
            _,
        ) => "The bucket is in another region than `region`: set `region` to the bucket's \
             (the stack's region)."
            .to_string(),
        (_, Some(Service::Sqs)) => format!(
            "`queue_url` names no queue that {endpoint} knows in this region: check `queue_url` \
             (the stack's SQSQueueURL output) and that `region` is the queue's region."
        ),
        _ => format!(
            "`bucket` names no bucket that {endpoint} knows: check `bucket` (the stack's \
             RestrictedS3Bucket output) and `endpoints.s3`."
        ),
    }
}

/// The credential chain's error behind a request that could not be signed, if that is why
/// it failed (the SDK reports it as a dispatch failure).
fn credentials_cause<E>(err: &SdkError<E, HttpResponse>) -> Option<&CredentialsError>
where
    E: std::error::Error + 'static,
{
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(c) = cause {
        if let Some(credentials) = c.downcast_ref::<CredentialsError>() {
            return Some(credentials);
        }
        cause = c.source();
    }
    None
}

/// The chain's failure in one line. The SDK lists the providers it tried on lines of their
/// own (`  Environment: the credential provider was not enabled: …`): they become
/// `Environment: …; Profile: …`, the phrase each repeats left out.
fn describe_chain_failure(err: &CredentialsError) -> String {
    const NOT_ENABLED: &str = "the credential provider was not enabled";
    let text = one_line_chain(err);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let providers: Vec<String> = lines
        .map(|line| {
            let line = line.replace(&format!("{NOT_ENABLED}: "), "");
            line.replace(NOT_ENABLED, "not enabled")
        })
        .collect();
    if providers.is_empty() {
        return first.replace(&format!("{NOT_ENABLED}: "), "");
    }
    format!("no provider of the credential chain answered ({})", providers.join("; "))
}

/// What an answer of the service said: `CODE: message (request id ID)`, or the HTTP status
/// when the answer carried no code (a HEAD has no body).
fn service_said<E>(err: &SdkError<E, HttpResponse>, status: u16) -> String
where
    E: ProvideErrorMetadata,
{
    let code =
        err.code().filter(|c| !c.is_empty()).map_or(format!("HTTP {status}"), str::to_string);
    let mut said = match err.message().filter(|m| !m.is_empty()) {
        Some(message) => format!("{code}: {message}"),
        None => code,
    };
    if let Some(id) = request_id(err) {
        said.push_str(&format!(" (request id {id})"));
    }
    said
}

/// The request id AWS gave the failed request: what AWS support asks for.
fn request_id<E>(err: &SdkError<E, HttpResponse>) -> Option<String>
where
    E: ProvideErrorMetadata,
{
    let from_metadata = err.meta().extra("aws_request_id").map(str::to_string);
    from_metadata
        .or_else(|| {
            let raw = err.raw_response()?;
            ["x-amz-request-id", "x-amzn-requestid"]
                .iter()
                .find_map(|h| raw.headers().get(*h))
                .map(str::to_string)
        })
        .filter(|id| !id.is_empty())
}

/// The `Display` texts of an error and its causes, each once, joined with `: ` (the SDK's
/// own `Display` says only "dispatch failure"). Only `Display`: no cause's `Debug` is shown.
fn cause_chain<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + 'static,
{
    one_line_chain(err)
}

fn one_line_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(
        status: u16,
        code: &str,
        message: &str,
    ) -> SdkError<PutObjectError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message(message)
            .custom("aws_request_id", "REQ123")
            .build();
        let raw = HttpResponse::new(status.try_into().expect("status"), SdkBody::empty());
        SdkError::service_error(PutObjectError::generic(meta), raw)
    }

    #[test]
    fn denials_name_the_action_and_the_controls() {
        let deny = |code: &str| Answer::Denied { code: code.into() };
        let e = deny("AccessDenied").into_error(Operation::UploadPart, "s3://b/k", "https://s3");
        let text = e.to_string();
        assert!(text.starts_with("UploadPart on s3://b/k was denied (HTTP 403 AccessDenied)"));
        assert!(text.contains("needs s3:PutObject"), "{text}");
        assert!(text.contains("bucket's policy"), "{text}");
        assert_eq!(e.exit_code(), crate::failure::exit::NOPERM);
        let e = deny("").into_error(Operation::DeleteMessageBatch, "https://q", "https://sqs");
        assert!(e.to_string().contains("(HTTP 403). It needs sqs:DeleteMessage"), "{e}");
        assert!(e.to_string().contains("queue policy"), "{e}");
    }

    #[test]
    fn answers_become_kinds() {
        let kind = |a: Answer| a.into_error(Operation::GetObject, "s3://b/k", "http://e").kind();
        assert_eq!(kind(Answer::NotFound), Kind::Missing);
        assert_eq!(kind(Answer::Transient("refused".into())), Kind::Transient);
        assert_eq!(kind(Answer::PreconditionFailed), Kind::Unexpected);
        let misconfigured =
            |code: &str| Answer::Misconfigured { code: code.into(), detail: "x".into() };
        assert_eq!(kind(misconfigured("NoSuchBucket")), Kind::Config);
        let other = |code: &str| Answer::Other { code: code.into(), detail: "x".into() };
        assert_eq!(kind(other("InvalidArgument")), Kind::Unexpected);
        let creds = Answer::Credentials { detail: "none".into(), refused: false };
        assert_eq!(kind(creds), Kind::Credentials);
        let e = Answer::Transient("connection refused".into()).into_error(
            Operation::ReceiveMessage,
            "http://q/1/q",
            "http://127.0.0.1:9",
        );
        assert_eq!(
            e.to_string(),
            "ReceiveMessage on http://q/1/q via http://127.0.0.1:9: connection refused"
        );
    }

    /// `operation on resource: code: message (request id)`, and no `Debug` structure.
    #[test]
    fn service_errors_are_said_in_one_line_without_debug() {
        let e = service_error(404, "NoSuchBucket", "The specified bucket does not exist");
        let answer = classify(&e);
        assert_eq!(answer.kind(), Kind::Config);
        let failure = answer.into_error(Operation::PutObject, "s3://nope/k", "http://127.0.0.1:1");
        assert_eq!(
            failure.summary(),
            "PutObject on s3://nope/k: NoSuchBucket: The specified bucket does not exist \
             (request id REQ123)"
        );
        assert_eq!(failure.exit_code(), 78);
        let advice = failure.advice().unwrap_or_default();
        assert!(
            advice.contains("`bucket` names no bucket that http://127.0.0.1:1 knows"),
            "{advice}"
        );
        assert!(!failure.to_string().contains('{'), "{failure}");

        let queue = service_error(400, "AWS.SimpleQueueService.NonExistentQueue", "no queue");
        let failure =
            classify(&queue).into_error(Operation::SendMessage, "http://q/1/q", "http://e");
        assert_eq!(failure.kind(), Kind::Config);
        assert!(failure.to_string().contains("`region` is the queue's region"), "{failure}");

        let throttled = service_error(503, "SlowDown", "Please reduce your request rate");
        assert_eq!(
            classify(&throttled),
            Answer::Transient(
                "SlowDown: Please reduce your request rate (request id REQ123)".into()
            )
        );
        let odd = service_error(400, "InvalidArgument", "");
        assert_eq!(
            classify(&odd),
            Answer::Other {
                code: "InvalidArgument".into(),
                detail: "InvalidArgument (request id REQ123)".into()
            }
        );
    }

    /// Keys AWS refuses, and no keys at all, are one kind: the credentials, said as such,
    /// with the advice doctor gives; never retried.
    #[test]
    fn credentials_failures_are_their_own_kind() {
        for code in
            ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidClientTokenId"]
        {
            let answer = classify(&service_error(403, code, "refused"));
            assert_eq!(answer.kind(), Kind::Credentials, "{code}");
            let e = answer.into_error(Operation::PutObject, "s3://b/k", "http://e");
            assert!(e.summary().contains("the AWS credentials were refused"), "{e}");
            assert_eq!(e.advice(), Some(REFUSED_CREDENTIALS_HINT));
            assert_eq!(e.exit_code(), 77);
        }

        let chain = CredentialsError::not_loaded(
            "no credentials found in chain. Attempted:\n  Environment: the credential provider \
             was not enabled: environment variable not set\n  Profile: the credential provider \
             was not enabled\n",
        );
        let unsigned: SdkError<PutObjectError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(chain), None));
        let answer = classify(&unsigned);
        assert_eq!(
            answer,
            Answer::Credentials {
                detail: "no provider of the credential chain answered (Environment: environment \
                         variable not set; Profile: not enabled)"
                    .into(),
                refused: false
            }
        );
        let e = answer.into_error(Operation::HeadObject, "s3://b/k", "http://e");
        assert_eq!(e.kind(), Kind::Credentials);
        assert!(
            e.summary().starts_with("HeadObject on s3://b/k: no usable AWS credentials: "),
            "{e}"
        );
        assert_eq!(e.advice(), Some(NO_CREDENTIALS_HINT));
    }

    #[test]
    fn a_request_that_got_no_answer_is_said_by_its_causes() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e: SdkError<PutObjectError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let Answer::Transient(detail) = classify(&e) else { panic!("not transient") };
        assert!(detail.starts_with("dispatch failure: io error"), "{detail}");
        assert!(detail.ends_with("Connection refused"), "{detail}");
    }
}
