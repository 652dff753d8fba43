//! Builds the S3 and SQS clients in one place, and classifies what the SDK reports.
//!
//! Every call the daemons make gets: a pinned region and endpoint (a VPC endpoint must be
//! used, never "whatever the default resolves to" by accident), an explicit connect timeout,
//! an explicit per-attempt timeout (ReceiveMessage's is longer than the long poll, see
//! [`receive_attempt_timeout`]), and the SDK's standard retry mode (exponential backoff with
//! jitter, at most [`SDK_MAX_ATTEMPTS`] attempts) beneath our own backoff in the daemons.

use std::time::Duration;

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::config::Config;
use crate::error::Error;

/// Attempts per call inside the SDK (the first try plus two retries).
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// A TCP connect to a VPC endpoint takes milliseconds; a security group that drops packets
/// makes it hang instead, and this turns the hang into a clear, fast error.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt of any call but ReceiveMessage (an 8 MiB part at a slow 1 MiB/s fits).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// A body that sends nothing for this long is treated as stalled (no SDK timeout covers
/// the body of a streaming GetObject once the headers have arrived).
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The per-attempt timeout of ReceiveMessage: the long poll plus a margin, so a healthy
/// 20 s poll is never cut short and a dead connection still ends.
pub fn receive_attempt_timeout(wait_time: Duration) -> Duration {
    wait_time + Duration::from_secs(10)
}

/// The SDK configuration shared by both clients.
pub async fn sdk_config(config: &Config) -> Result<SdkConfig, Error> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS));
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(Error::Config(
            "no AWS region: set `region` in the configuration or AWS_REGION".into(),
        ));
    }
    Ok(sdk)
}

/// The S3 client: pinned endpoint and path style from `[endpoints]`.
pub fn s3_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let mut builder =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.endpoints.force_path_style);
    if let Some(url) = &config.endpoints.s3 {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The SQS client: pinned endpoint from `[endpoints]` (e.g. the interface endpoint's name).
pub fn sqs_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(url) = &config.endpoints.sqs {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

/// What an SDK failure means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 403. Under the lab's policy this includes a GetObject of a missing key.
    Denied { code: String },
    /// HTTP 404 (the emulator, or AWS with `s3:ListBucket`).
    NotFound,
    /// HTTP 412: a conditional write lost a race.
    PreconditionFailed,
    /// Worth retrying later: timeouts, connection failures, 5xx, throttling.
    Transient(String),
    /// Anything else: retrying the same request will not help.
    Other(String),
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

/// Classifies any SDK error by its kind, HTTP status and error code.
///
/// SQS denials under moto come back as HTTP 403 with no code the SDK can read, and AWS
/// itself varies the code (`AccessDenied`, `AccessDeniedException`,
/// `AWS.SimpleQueueService.AccessDenied`…), so the status decides, not the code.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = || aws_smithy_error_detail(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient(detail())
        }
        SdkError::ConstructionFailure(_) => Failure::Other(detail()),
        SdkError::ServiceError(service) => {
            let status = Some(service.raw().status().as_u16());
            let code = err.code().unwrap_or("").to_string();
            match status {
                Some(403) => Failure::Denied { code },
                Some(404) => Failure::NotFound,
                Some(412) => Failure::PreconditionFailed,
                Some(429) => Failure::Transient(detail()),
                Some(s) if s >= 500 => Failure::Transient(detail()),
                _ if THROTTLING_CODES.contains(&code.as_str()) => Failure::Transient(detail()),
                _ if code == "NoSuchKey" || code == "NotFound" => Failure::NotFound,
                _ => Failure::Other(detail()),
            }
        }
        _ => Failure::Transient(detail()),
    }
}

/// A one-line description of an SDK error with its whole cause chain (the SDK's own
/// `Display` says only "service error"). Credentials never appear in SDK errors.
fn aws_smithy_error_detail<E>(err: &SdkError<E, HttpResponse>) -> String
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

/// Which of the lab's controls typically causes a 403 on `operation`, for operators.
pub fn denial_hint(operation: &str) -> &'static str {
    match operation {
        "GetObject" | "HeadObject" => {
            "Under the lab's policy a missing object also answers 403 (there is no s3:ListBucket). \
             Otherwise the usual cause is the S3 gateway endpoint policy (only s3:GetObject and \
             s3:PutObject on the restricted bucket) or the instance role lacking s3:GetObject."
        }
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            "Usual causes: the restricted bucket's policy denies s3:PutObject unless it arrives \
             through the S3 gateway endpoint (aws:sourceVpce) — check that this subnet's route \
             table is associated with the endpoint; the gateway endpoint policy (only the \
             restricted bucket); or the instance role lacking s3:PutObject."
        }
        "SendMessage" | "ReceiveMessage" | "DeleteMessage" | "DeleteMessageBatch" => {
            "Usual causes: the SQS interface endpoint policy (only SendMessage, ReceiveMessage, \
             DeleteMessage on the lab's queue); the queue policy, which allows them only through \
             the interface endpoint (aws:sourceVpce) — check that endpoints.sqs or private DNS \
             points at the endpoint; or the instance role lacking the action."
        }
        _ => "Check the instance role and the VPC endpoint and resource policies of the lab.",
    }
}

/// Turns a classified failure into the library's error, naming operation and resource.
pub fn to_error(operation: &'static str, resource: impl Into<String>, failure: Failure) -> Error {
    let resource = resource.into();
    match failure {
        Failure::Denied { code } => Error::Denied {
            operation,
            resource,
            code: if code.is_empty() { String::new() } else { format!(" {code}") },
            hint: denial_hint(operation).to_string(),
        },
        Failure::NotFound => {
            Error::Service { operation, resource, detail: "not found (404)".into() }
        }
        Failure::PreconditionFailed => Error::Service {
            operation,
            resource,
            detail: "precondition failed (412): another writer changed it first".into(),
        },
        Failure::Transient(detail) => Error::Unavailable { operation, resource, detail },
        Failure::Other(detail) => Error::Service { operation, resource, detail },
    }
}

/// Capped exponential backoff with full jitter, for the daemons' own retry loops on top of
/// the SDK's: a dead endpoint is probed at most every `cap`, not hammered.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, attempt: 0 }
    }
    /// The next delay: uniform in [d/2, d] with d = min(cap, base × 2^attempt).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(16));
        let ceiling = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(fastrand::f64())
    }
    /// After a success: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// The SQS endpoint's host: the pinned `endpoints.sqs`, else the regional default.
pub fn sqs_endpoint_host(config: &Config, region: &str) -> (String, u16) {
    match &config.endpoints.sqs {
        Some(url) => (
            crate::config::url_host(url).unwrap_or_default().to_string(),
            crate::config::url_port(url),
        ),
        None => (format!("sqs.{region}.amazonaws.com"), 443),
    }
}

/// With `require_private_sqs`, resolves the SQS endpoint's host before anything is sent and
/// refuses to start when any answer is a public address: then the interface endpoint's
/// private DNS is not in effect and messages would leave through the NAT gateway.
pub async fn check_private_sqs(config: &Config) -> Result<(), Error> {
    if !config.endpoints.require_private_sqs {
        return Ok(());
    }
    let region =
        config.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).unwrap_or_default();
    let (host, port) = sqs_endpoint_host(config, &region);
    let addrs: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::Config(format!("require_private_sqs: cannot resolve {host}: {e}")))?
        .map(|a| a.ip())
        .collect();
    let public: Vec<String> = addrs
        .iter()
        .filter(|ip| !crate::net::AddressClass::of(**ip).is_private())
        .map(|ip| ip.to_string())
        .collect();
    if addrs.is_empty() || !public.is_empty() {
        return Err(Error::Config(format!(
            "require_private_sqs: the SQS endpoint {host} resolves to public address(es) {} \
             (all answers: {}); the interface endpoint's private DNS is not in effect here. \
             Set endpoints.sqs to the endpoint's vpce-… DNS name or enable private DNS",
            public.join(", "),
            addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_secs(1), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn receive_timeout_outlasts_the_long_poll() {
        assert!(receive_attempt_timeout(Duration::from_secs(20)) > Duration::from_secs(20));
    }

    #[test]
    fn denial_hints_name_the_controls() {
        assert!(denial_hint("PutObject").contains("aws:sourceVpce"));
        assert!(denial_hint("GetObject").contains("missing object"));
        assert!(denial_hint("SendMessage").contains("interface endpoint"));
    }
}
