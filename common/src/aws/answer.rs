//! What the SDK reports, classified: the status and error code of an answer decide what it
//! means for us, then the store and the queue turn it into a failure of the one model.

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

/// Error codes that mean the configuration names something that does not exist.
const MISCONFIGURED_CODES: &[&str] = &[
    "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAddress",
];

/// Classifies any SDK error by its kind, HTTP status and error code.
///
/// SQS denials under moto come back as HTTP 403 with no code the SDK can read, and AWS
/// itself varies the code (`AccessDenied`, `AccessDeniedException`,
/// `AWS.SimpleQueueService.AccessDenied`…), so the status decides, not the code.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = || sdk_error_detail(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Answer::Transient(detail())
        }
        SdkError::ConstructionFailure(_) => Answer::Other { code: String::new(), detail: detail() },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("").to_string();
            match status {
                403 => Answer::Denied { code },
                404 if !MISCONFIGURED_CODES.contains(&code.as_str()) => Answer::NotFound,
                412 => Answer::PreconditionFailed,
                429 => Answer::Transient(detail()),
                s if s >= 500 => Answer::Transient(detail()),
                _ if THROTTLING_CODES.contains(&code.as_str()) => Answer::Transient(detail()),
                _ if code == "NoSuchKey" || code == "NotFound" => Answer::NotFound,
                _ => Answer::Other { code, detail: detail() },
            }
        }
        _ => Answer::Transient(detail()),
    }
}

impl Answer {
    /// The failure this answer is, for `operation` on `resource` through `endpoint`.
    pub(crate) fn into_error(self, operation: Operation, resource: &str, endpoint: &str) -> Error {
        match self {
            Answer::Denied { code } => Error::denied(operation, resource, &code),
            Answer::NotFound => Error::new(
                Kind::Missing,
                operation,
                resource,
                format!("{operation} on {resource}: not found (HTTP 404)"),
            ),
            Answer::PreconditionFailed => Error::new(
                Kind::Unexpected,
                operation,
                resource,
                format!("{operation} on {resource}: precondition failed (HTTP 412)"),
            ),
            Answer::Transient(detail) => Error::new(
                Kind::Transient,
                operation,
                resource,
                format!("{operation} on {resource} via {endpoint} failed: {detail}"),
            ),
            Answer::Other { code, detail } if MISCONFIGURED_CODES.contains(&code.as_str()) => {
                let what = match operation.service() {
                    Some(Service::Sqs) => "`queue_url` names no queue this endpoint knows",
                    _ => "`bucket` names no bucket this endpoint knows",
                };
                Error::new(
                    Kind::Config,
                    operation,
                    resource,
                    format!("{operation} on {resource} via {endpoint} failed: {what} ({detail})"),
                )
            }
            Answer::Other { detail, .. } => Error::new(
                Kind::Unexpected,
                operation,
                resource,
                format!("{operation} on {resource} via {endpoint} failed: {detail}"),
            ),
        }
    }
}

/// A one-line description of an SDK error with its whole cause chain (the SDK's own
/// `Display` says only "service error"). Credentials never appear in SDK errors.
fn sdk_error_detail<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + 'static,
{
    use std::error::Error as _;
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
        let other = |code: &str| Answer::Other { code: code.into(), detail: "x".into() };
        assert_eq!(kind(other("NoSuchBucket")), Kind::Config);
        assert_eq!(kind(other("InvalidArgument")), Kind::Unexpected);
        let e = Answer::Transient("connection refused".into()).into_error(
            Operation::ReceiveMessage,
            "http://q/1/q",
            "http://127.0.0.1:9",
        );
        assert_eq!(
            e.to_string(),
            "ReceiveMessage on http://q/1/q via http://127.0.0.1:9 failed: connection refused"
        );
    }
}
